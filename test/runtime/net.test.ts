/**
 * The `net` capability at the runtime level: fetch() exists only when
 * RuntimeOptions.net is set, reaches only allowed hosts (every redirect hop
 * checked), reads bodies fully on the host with a cap, and never outlives
 * its run (wall limit, cancellation, the run's end). Served by a real HTTP
 * server on loopback (async I/O: the isolate waits for the host, which keeps
 * serving).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SessionRuntime } from "../../src/runtime";
import { NetPolicy } from "../../src/runtime/net";
import { exceptionOf, options, repl, valueOf, runtimes } from "./helpers";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

let server: Server;
let port: number;
let base: string;
const seen: Seen[] = [];
/** Requests to /hang?id=… received, and those whose connection closed since (the host aborted them). */
const hangsOpened = new Set<string>();
const hangsClosed = new Set<string>();
let hangIds = 0;
const hangUrl = () => `${base}/hang?id=${++hangIds}`;

function route(req: IncomingMessage, res: ServerResponse, body: string): void {
  const url = new URL(req.url ?? "/", base);
  switch (url.pathname) {
    case "/text":
      res.setHeader("content-type", "text/plain; charset=utf-8");
      res.setHeader("x-custom", "custom-value");
      res.end("hello from the host");
      return;
    case "/json":
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ a: 1, list: [1, 2, 3], nested: { ok: true } }));
      return;
    case "/echo":
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
      return;
    case "/status":
      res.statusCode = Number(url.searchParams.get("code") ?? 500);
      res.statusMessage = "Custom Status";
      res.end("status body");
      return;
    case "/redirect":
      res.statusCode = Number(url.searchParams.get("code") ?? 302);
      res.setHeader("location", url.searchParams.get("to") ?? "/text");
      res.end();
      return;
    case "/loop":
      res.statusCode = 302;
      res.setHeader("location", "/loop");
      res.end();
      return;
    case "/big": {
      // 9 MB in 64 KB chunks, no content-length: the cap must count.
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let left = 9 * 16;
      const write = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) {
            res.once("drain", write);
            return;
          }
        }
        res.end();
      };
      write();
      return;
    }
    case "/big-declared":
      res.setHeader("content-length", String(20 * 1024 * 1024));
      res.write("x".repeat(1024));
      return; // never finishes: the declared size alone is refused
    case "/gzip":
      res.setHeader("content-encoding", "gzip");
      res.setHeader("content-type", "text/plain");
      res.end(gzipSync("unzipped text"));
      return;
    case "/slow":
      setTimeout(() => res.end("slow answer"), 300);
      return;
    case "/hang": {
      const id = url.searchParams.get("id") ?? "";
      hangsOpened.add(id);
      req.socket.once("close", () => hangsClosed.add(id));
      return; // never answers
    }
    default:
      res.statusCode = 404;
      res.end("not found");
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      route(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen.length = 0;
});

const abortAfter = (ms: number) => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), ms);
  return ac.signal;
};

describe("without the capability", () => {
  it("there is no fetch (nor any other network API)", async () => {
    const rt = await runtimes.create(options());
    try {
      const v = valueOf((await repl(rt, "[typeof fetch, typeof XMLHttpRequest, typeof WebSocket, typeof Headers, typeof Response, typeof Request]")).outcome);
      expect(v.json).toEqual(Array(6).fill("undefined"));
    } finally {
      rt.dispose();
    }
  });
});

describe("with net allow_hosts [127.0.0.1]", () => {
  let rt: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options({ net: { allowHosts: ["127.0.0.1"] } }));
  });
  afterAll(() => rt.dispose());

  // Snippets run in a function of their own: the session keeps its globals, and each test may reuse names.
  const scoped = (body: string) => `(async () => {\n${body}\n})()`;
  const value = async (body: string) => valueOf((await repl(rt, scoped(body))).outcome).json;
  const thrown = async (body: string) => exceptionOf((await repl(rt, scoped(body))).outcome);

  it("fetch is a plain sandbox function; only fetch is added", async () => {
    expect(await value("return [typeof fetch, fetch.name, Object.getOwnPropertyNames(fetch).sort(), typeof Headers, typeof Response]")).toEqual([
      "function",
      "fetch",
      ["length", "name"],
      "undefined",
      "undefined",
    ]);
    expect(await value("return Object.getOwnPropertyDescriptor(globalThis, 'fetch').enumerable")).toBe(false);
    expect(await value("try { new fetch('http://127.0.0.1/'); return 'constructed' } catch (e) { return e.name }")).toBe("TypeError");
  });

  it("GET: text, status and headers", async () => {
    const v = await value(`
      const res = await fetch(${JSON.stringify(`${base}/text`)});
      const text = await res.text();
      return ({ ok: res.ok, status: res.status, statusText: res.statusText, url: res.url, redirected: res.redirected,
         type: res.headers.get('Content-Type'), custom: res.headers.get('x-custom'), missing: res.headers.get('nope'),
         has: res.headers.has('X-CUSTOM'), text, used: res.bodyUsed, keys: [...res.headers.keys()] })
    `);
    expect(v).toMatchObject({
      ok: true,
      status: 200,
      statusText: "OK",
      url: `${base}/text`,
      redirected: false,
      type: "text/plain; charset=utf-8",
      custom: "custom-value",
      missing: null,
      has: true,
      text: "hello from the host",
      used: true,
    });
    expect((v as { keys: string[] }).keys).toEqual([...(v as { keys: string[] }).keys].sort());
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "GET", url: "/text" });
  });

  it("GET: json(); a body is read once; clone() before reading", async () => {
    expect(await value(`return (await fetch(${JSON.stringify(`${base}/json`)})).json()`)).toEqual({ a: 1, list: [1, 2, 3], nested: { ok: true } });
    const e = await thrown(`const r = await fetch(${JSON.stringify(`${base}/text`)}); await r.text(); await r.text()`);
    expect(e).toMatchObject({ name: "TypeError", message: expect.stringContaining("already been read") });
    expect(await value(`const r2 = await fetch(${JSON.stringify(`${base}/text`)}); const c = r2.clone(); return [await r2.text(), await c.text()]`)).toEqual([
      "hello from the host",
      "hello from the host",
    ]);
    expect(exceptionOf((await repl(rt, `await (await fetch(${JSON.stringify(`${base}/text`)})).json()`)).outcome).name).toBe("SyntaxError");
  });

  it("non-2xx statuses resolve with ok false", async () => {
    expect(await value(`const s = await fetch(${JSON.stringify(`${base}/status?code=503`)}); return [s.ok, s.status, s.statusText, await s.text()]`)).toEqual([
      false,
      503,
      "Custom Status",
      "status body",
    ]);
  });

  it("POST: method, body and headers reach the server", async () => {
    const v = (await value(`
      const res = await fetch(${JSON.stringify(`${base}/echo?q=1`)}, {
        method: 'post',
        headers: { 'Content-Type': 'application/json', 'X-Trace': 'abc', Authorization: 'Bearer t' },
        body: JSON.stringify({ hello: 'world' }),
      });
      return await res.json()
    `)) as { method: string; url: string; headers: Record<string, string>; body: string };
    expect(v.method).toBe("POST");
    expect(v.url).toBe("/echo?q=1");
    expect(JSON.parse(v.body)).toEqual({ hello: "world" });
    expect(v.headers).toMatchObject({ "content-type": "application/json", "x-trace": "abc", authorization: "Bearer t" });
    expect(seen[0]!.body).toBe('{"hello":"world"}');
  });

  it("headers as pairs, binary bodies, other methods, default content type", async () => {
    const v = (await value(`
      const bytes = new Uint8Array([104, 105, 33]);
      const a = await (await fetch(${JSON.stringify(`${base}/echo`)}, { method: 'PUT', headers: [['x-a', '1'], ['X-A', '2']], body: bytes })).json();
      const b = await (await fetch(${JSON.stringify(`${base}/echo`)}, { method: 'PATCH', body: 'plain' })).json();
      const c = await (await fetch(${JSON.stringify(`${base}/echo`)}, { method: 'DELETE' })).json();
      const d = await fetch(${JSON.stringify(`${base}/text`)}, { method: 'HEAD' });
      const e = await (await fetch(${JSON.stringify(`${base}/echo`)}, { headers: d.headers })).json();
      const f = await (await fetch(${JSON.stringify(`${base}/echo`)}, { method: 'POST', body: new DataView(new Uint8Array([0, 111, 107, 0]).buffer, 1, 2) })).json();
      return [a.method, a.body, a.headers['x-a'], b.method, b.headers['content-type'], c.method, d.status, await d.text(), e.headers['x-custom'], f.body]
    `)) as unknown[];
    expect(v).toEqual(["PUT", "hi!", "1, 2", "PATCH", "text/plain;charset=UTF-8", "DELETE", 200, "", "custom-value", "ok"]);
  });

  it("the host cannot be forged through headers", async () => {
    const v = (await value(
      `return (await fetch(${JSON.stringify(`${base}/echo`)}, { headers: { Host: 'evil.test', 'Content-Length': '5', 'Transfer-Encoding': 'chunked' } })).json()`,
    )) as {
      headers: Record<string, string>;
    };
    expect(v.headers.host).toBe(`127.0.0.1:${port}`);
    expect(v.headers["transfer-encoding"]).toBeUndefined();
  });

  it("gzip bodies are decoded", async () => {
    expect(await value(`return (await fetch(${JSON.stringify(`${base}/gzip`)})).text()`)).toBe("unzipped text");
  });

  it("concurrent requests", async () => {
    expect(
      await value(
        `return (await Promise.all([1, 2, 3, 4, 5].map(async (i) => (await fetch(${JSON.stringify(`${base}/echo?i=`)} + i)).json()))).map((r) => r.url)`,
      ),
    ).toEqual(["/echo?i=1", "/echo?i=2", "/echo?i=3", "/echo?i=4", "/echo?i=5"]);
  });

  it("denies other hosts before connecting", async () => {
    const e = await thrown(`await fetch(${JSON.stringify(`http://localhost:${port}/text`)})`);
    expect(e).toMatchObject({ name: "Error", message: `fetch denied: host "localhost" is not in the template's net allow_hosts` });
    expect(e.stack).not.toMatch(/node:|\/work\/|src\/runtime/);
    const other = await thrown("await fetch('https://evil.test/steal')");
    expect(other.message).toBe(`fetch denied: host "evil.test" is not in the template's net allow_hosts`);
    expect(await value("try { await fetch('http://[::1]/'); return 'reached' } catch (e) { return e.message }")).toMatch(/^fetch denied: host "\[::1\]"/);
    expect(seen).toHaveLength(0);
    expect(await value("try { await fetch('http://evil.test/') } catch (e) { return [e instanceof Error, e.code] }")).toEqual([true, "ERR_NET_DENIED"]);
  });

  it("only http: and https: URLs; invalid URLs reject with TypeError", async () => {
    for (const url of ["ftp://127.0.0.1/x", "file:///etc/passwd", "data:text/plain,hi", "/relative", "not a url", `http://user:pw@127.0.0.1:${port}/text`]) {
      const e = await thrown(`await fetch(${JSON.stringify(url)})`);
      expect(e.name, url).toBe("TypeError");
      expect(e.message, url).toMatch(/^fetch: /);
    }
    expect(seen).toHaveLength(0);
  });

  it("follows redirects within the allow list", async () => {
    const v = await value(`const r = await fetch(${JSON.stringify(`${base}/redirect?to=/text`)}); return [r.status, r.redirected, r.url, await r.text()]`);
    expect(v).toEqual([200, true, `${base}/text`, "hello from the host"]);
    // 303 after a POST becomes a GET without the body
    const echoed = (await value(`return (await fetch(${JSON.stringify(`${base}/redirect?code=303&to=/echo`)}, { method: 'POST', body: 'x' })).json()`)) as {
      method: string;
      body: string;
    };
    expect(echoed).toMatchObject({ method: "GET", body: "" });
    // 307 keeps method and body
    const kept = (await value(`return (await fetch(${JSON.stringify(`${base}/redirect?code=307&to=/echo`)}, { method: 'POST', body: 'x' })).json()`)) as {
      method: string;
      body: string;
    };
    expect(kept).toMatchObject({ method: "POST", body: "x" });
  });

  it("a redirect to a host that is not allowed rejects, without connecting to it", async () => {
    for (const to of [`http://localhost:${port}/text`, "http://evil.test/"]) {
      const e = await thrown(`await fetch(${JSON.stringify(`${base}/redirect?to=${encodeURIComponent(to)}`)})`);
      expect(e.message).toMatch(/^fetch denied: redirect to host "(localhost|evil\.test)" is not in the template's net allow_hosts$/);
    }
    expect(seen.map((s) => s.url.split("?")[0])).toEqual(["/redirect", "/redirect"]);
    const scheme = await thrown(`await fetch(${JSON.stringify(`${base}/redirect?to=${encodeURIComponent("file:///etc/passwd")}`)})`);
    expect(scheme).toMatchObject({ name: "TypeError", message: expect.stringContaining("unsupported protocol") });
  });

  it("redirect modes manual and error; redirect loops end", async () => {
    expect(
      await value(
        `const m = await fetch(${JSON.stringify(`${base}/redirect?to=http://evil.test/`)}, { redirect: 'manual' }); return [m.status, m.headers.get('location')]`,
      ),
    ).toEqual([302, "http://evil.test/"]);
    expect((await thrown(`await fetch(${JSON.stringify(`${base}/redirect`)}, { redirect: 'error' })`)).name).toBe("TypeError");
    expect((await thrown(`await fetch(${JSON.stringify(`${base}/loop`)})`)).message).toMatch(/more than 20 redirects/);
  });

  it("response bodies are capped at 8 MB", async () => {
    for (const path of ["/big", "/big-declared"]) {
      const e = await thrown(`await (await fetch(${JSON.stringify(`${base}${path}`)})).text()`);
      expect(e, path).toMatchObject({ name: "RangeError", message: "fetch: the response body exceeds the 8 MB limit" });
    }
    expect(await value("return 1 + 1")).toBe(2);
  });

  it("hostile arguments end as sandbox errors", async () => {
    const cases: Array<[string, string | RegExp]> = [
      ["await fetch({ toString() { throw new RangeError('mine') } })", "mine"],
      ["await fetch(Symbol('s'))", /Symbol/],
      ["await fetch('http://127.0.0.1/', { get method() { throw new Error('getter') } })", "getter"],
      [`await fetch('http://127.0.0.1/', { headers: { 'x-big': 'v'.repeat(100000) } })`, /request headers exceed 65536 bytes/],
      [`await fetch('http://127.0.0.1/', { headers: { 'x-bad': 'a\\r\\nInjected: 1' } })`, /invalid value for header/],
      [`await fetch('http://127.0.0.1/', { headers: { 'bad name': 'v' } })`, /invalid header name/],
      [`await fetch('http://127.0.0.1/', { headers: [['only-one']] })`, /pair/],
      [`await fetch('http://127.0.0.1/', { headers: 5 })`, /init.headers/],
      [`await fetch('http://127.0.0.1/', { method: 'CONNECT' })`, /not allowed/],
      [`await fetch('http://127.0.0.1/', { method: 'GE T' })`, /invalid method/],
      [`await fetch('http://127.0.0.1/', { body: 'x' })`, /GET or HEAD/],
      [`await fetch('http://127.0.0.1/', { redirect: 'sideways' })`, /redirect must be/],
      [`await fetch('http://' + 'a'.repeat(40000))`, /longer than/],
      [`await fetch('http://127.0.0.1/', 'init')`, /init must be an object/],
      [`await fetch('http://127.0.0.1/', { method: 'POST', body: 'x'.repeat(9 * 1024 * 1024) })`, /request body exceeds/],
    ];
    for (const [code, message] of cases) {
      const e = await thrown(code);
      if (typeof message === "string") expect(e.message, code).toBe(message);
      else expect(e.message, code).toMatch(message);
      expect(e.stack, code).not.toMatch(/node:|\/work\/|src\/runtime|isolated-vm/);
    }
    expect(seen).toHaveLength(0);
    // getters and proxies run in the sandbox, once, and their values are what is sent
    const v = (await value(`
      let reads = 0;
      const headers = new Proxy({}, { ownKeys: () => ['x-p'], getOwnPropertyDescriptor: () => ({ value: 'pv', enumerable: true, configurable: true }), get: (t, k) => { if (k !== 'x-p') return undefined; reads++; return 'pv' } });
      const r = await (await fetch({ toString: () => ${JSON.stringify(`${base}/echo`)} }, { headers })).json();
      return [r.headers['x-p'], reads]
    `)) as unknown[];
    expect(v).toEqual(["pv", 1]);
  });

  it("responses and their methods are sandbox objects", async () => {
    const v = await value(`
      const r = await fetch(${JSON.stringify(`${base}/text`)});
      const proto = Object.getPrototypeOf(r);
      return [
        Object.getPrototypeOf(proto) === Object.prototype,
        Object.isFrozen(proto),
        r.clone.constructor === Function,
        r.clone.constructor('return typeof process')(),
        Object.getPrototypeOf(r.text) === Object.getPrototypeOf(async () => {}),
        r.headers.get.constructor('return typeof require')(),
        Object.keys(r).sort(),
        Object.prototype.toString.call(r.headers),
        (() => { try { new r.constructor(); return 'constructed' } catch (e) { return e.name } })(),
        (() => { try { r.headers.get.call({}, 'x'); return 'called' } catch (e) { return e.name } })(),
      ]
    `);
    expect(v).toEqual([
      true,
      true,
      true,
      "undefined",
      true,
      "undefined",
      ["headers", "ok", "redirected", "status", "statusText", "url"],
      "[object Headers]",
      "TypeError",
      "TypeError",
    ]);
  });

  it("continuations after await fetch run under the run's limits (the isolate is kept)", async () => {
    const r = await repl(rt, `await fetch(${JSON.stringify(`${base}/text`)}); for (;;) {}`, { wallMs: 800 });
    expect(r.outcome).toEqual({ kind: "timeout", limit: "wall", isolateDisposed: false });
    expect(await value("return 'still here'")).toBe("still here");
  });

  it("more than 16 requests in flight reject", async () => {
    const v = await value(`
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => fetch(${JSON.stringify(`${base}/slow`)})));
      return results.map((r) => r.status === 'fulfilled' ? 'ok' : r.reason.message.includes('too many') ? 'busy' : r.reason.message)
    `);
    expect((v as string[]).filter((s) => s === "ok")).toHaveLength(16);
    expect((v as string[]).filter((s) => s === "busy")).toHaveLength(4);
  });
});

describe("limits and the end of a run", () => {
  let rt: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options({ net: { allowHosts: ["127.0.0.1"] } }));
  });
  afterAll(() => rt.dispose());

  const waitFor = async (cond: () => boolean, ms = 2000) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return cond();
  };

  it("a server that never answers ends at the wall limit; the request is aborted; the session stays usable", async () => {
    await repl(rt, "globalThis.kept = 'state'");
    const url = hangUrl();
    const started = Date.now();
    const r = await repl(rt, `await fetch(${JSON.stringify(url)})`, { wallMs: 500 });
    expect(r.outcome).toEqual({ kind: "timeout", limit: "wall", isolateDisposed: false });
    expect(Date.now() - started).toBeLessThan(3000);
    const id = String(hangIds);
    expect(hangsOpened.has(id)).toBe(true);
    expect(await waitFor(() => hangsClosed.has(id))).toBe(true);
    expect(valueOf((await repl(rt, "kept")).outcome).json).toBe("state");
  });

  it("a caught fetch failure cannot outlive the wall limit either", async () => {
    const r = await repl(rt, `try { await fetch(${JSON.stringify(hangUrl())}) } catch { for (;;) {} }`, { wallMs: 400 });
    expect(r.outcome).toMatchObject({ kind: "timeout", limit: "wall" });
    expect(valueOf((await repl(rt, "1 + 1")).outcome).json).toBe(2);
  });

  it("cancellation mid-fetch ends the run, aborts the request and keeps the isolate", async () => {
    const url = hangUrl();
    const id = String(hangIds);
    const r = await repl(rt, `await fetch(${JSON.stringify(url)})`, { wallMs: 30_000 }, { signal: abortAfter(150) });
    expect(r.outcome).toEqual({ kind: "cancelled", isolateDisposed: false });
    expect(hangsOpened.has(id)).toBe(true);
    expect(await waitFor(() => hangsClosed.has(id))).toBe(true);
    expect(valueOf((await repl(rt, "kept")).outcome).json).toBe("state");
  });

  it("requests the run did not wait for are aborted when the run ends and never settle later", async () => {
    const later = (url: string) => `fetch(${JSON.stringify(url)}).then(() => { late = 'resolved' }, () => { late = 'rejected' });`;
    // Ends at once (the host may not even have started the requests), or once they are surely in flight.
    const ids: string[] = [];
    for (const tail of ["'started'", "await new Promise((r) => setTimeout(r, 100)); 'started'"]) {
      const url = hangUrl();
      ids.push(String(hangIds));
      const r = await repl(rt, `globalThis.late = 'no'; ${later(`${base}/slow`)} ${later(url)} ${tail}`);
      expect(valueOf(r.outcome).json).toBe("started");
    }
    expect(hangsOpened.has(ids[1]!)).toBe(true);
    expect(await waitFor(() => ids.every((id) => !hangsOpened.has(id) || hangsClosed.has(id)))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(valueOf((await repl(rt, "late")).outcome).json).toBe("no");
  });

  it("fetch in a timer callback works within the run", async () => {
    const v = valueOf(
      (await repl(rt, `await new Promise((resolve) => setTimeout(async () => resolve(await (await fetch(${JSON.stringify(`${base}/text`)})).text()), 10))`))
        .outcome,
    );
    expect(v.json).toBe("hello from the host");
  });
});

describe("allow_hosts entries", () => {
  const allows = (entries: string[], url: string) => new NetPolicy(entries).allows(new URL(url));

  it("exact names, case-insensitive, any port unless the entry names one", () => {
    expect(allows(["api.example.com"], "https://API.Example.com/x")).toBe(true);
    expect(allows(["API.EXAMPLE.COM"], "http://api.example.com:8080/x")).toBe(true);
    expect(allows(["api.example.com"], "http://example.com/")).toBe(false);
    expect(allows(["api.example.com"], "http://xapi.example.com/")).toBe(false);
    expect(allows(["api.example.com:8080"], "http://api.example.com:8080/")).toBe(true);
    expect(allows(["api.example.com:8080"], "http://api.example.com/")).toBe(false);
    expect(allows(["api.example.com:443"], "https://api.example.com/")).toBe(true);
    expect(allows(["api.example.com:80"], "https://api.example.com/")).toBe(false);
    expect(allows(["example.com."], "http://example.com/")).toBe(true);
    expect(allows(["example.com"], "http://example.com./")).toBe(true);
  });

  it("*.domain matches subdomains only", () => {
    expect(allows(["*.example.test"], "http://api.example.test/")).toBe(true);
    expect(allows(["*.example.test"], "http://a.b.example.test/")).toBe(true);
    expect(allows(["*.example.test"], "http://example.test/")).toBe(false);
    expect(allows(["*.example.test"], "http://badexample.test/")).toBe(false);
    expect(allows(["*.example.test"], "http://example.test.evil.com/")).toBe(false);
    expect(allows(["*.example.test:8443"], "https://api.example.test:8443/")).toBe(true);
    expect(allows(["*.example.test:8443"], "https://api.example.test/")).toBe(false);
  });

  it("IPv4 and IPv6 literals", () => {
    expect(allows(["127.0.0.1"], "http://127.0.0.1:9999/")).toBe(true);
    expect(allows(["127.0.0.1"], "http://127.1/")).toBe(true); // the same address, as URLs normalise it
    expect(allows(["127.0.0.1"], "http://2130706433/")).toBe(true);
    expect(allows(["127.0.0.1"], "http://127.0.0.2/")).toBe(false);
    expect(allows(["::1"], "http://[::1]:8080/")).toBe(true);
    expect(allows(["[::1]"], "http://[0:0:0:0:0:0:0:1]/")).toBe(true);
    expect(allows(["[::1]:8080"], "http://[::1]:8080/")).toBe(true);
    expect(allows(["[::1]:8080"], "http://[::1]:8081/")).toBe(false);
    expect(allows(["::1"], "http://127.0.0.1/")).toBe(false);
  });

  it("deny by default; entries it does not understand allow nothing", () => {
    expect(allows([], "http://127.0.0.1/")).toBe(false);
    for (const entry of ["*", "*.", "", " ", "http://127.0.0.1", "127.0.0.1/path", "user@127.0.0.1", "127.0.0.1:99999", "*.127.0.0.1", "[::1", "a b"]) {
      expect(allows([entry], "http://127.0.0.1/"), entry).toBe(false);
    }
    expect(new NetPolicy([5, null, { host: "x" }, "127.0.0.1"] as unknown[]).allows(new URL("http://127.0.0.1/"))).toBe(true);
  });
});

describe("a denied pattern in the sandbox", () => {
  it("*.example.test does not match example.test; a port-limited entry names the port", async () => {
    const rt = await runtimes.create(options({ net: { allowHosts: ["*.example.test", `127.0.0.1:${port + 1 > 65535 ? 1 : port + 1}`] } }));
    try {
      expect(exceptionOf((await repl(rt, "await fetch('http://example.test/')")).outcome).message).toBe(
        `fetch denied: host "example.test" is not in the template's net allow_hosts`,
      );
      expect(exceptionOf((await repl(rt, `await fetch(${JSON.stringify(`${base}/text`)})`)).outcome).message).toBe(
        `fetch denied: port ${port} of host "127.0.0.1" is not in the template's net allow_hosts`,
      );
      expect(seen).toHaveLength(0);
    } finally {
      rt.dispose();
    }
  });

  it("an empty allow list gives a fetch that denies everything", async () => {
    const rt = await runtimes.create(options({ net: { allowHosts: [] } }));
    try {
      expect(exceptionOf((await repl(rt, `await fetch(${JSON.stringify(`${base}/text`)})`)).outcome).message).toMatch(/^fetch denied: host "127.0.0.1"/);
      expect(seen).toHaveLength(0);
    } finally {
      rt.dispose();
    }
  });
});
