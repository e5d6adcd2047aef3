/**
 * The `net` capability end to end: a template's enabled net capabilities
 * give the session a fetch() limited to their allow_hosts (lists merged);
 * disabled ones, or none, give no fetch at all. A request that hangs ends
 * at the wall limit, and CancelExecution ends one mid-fetch, with the
 * session READY and its state kept. Served by an HTTP server on loopback;
 * a second one stands for another port of the server's machine that no
 * list names (a listed name that resolves to loopback must not reach it).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api, describeExecution, EventType, ExecutionStatus, okValue, SessionStatus, sleep, type Execution } from "./support/fixtures";
import { startTestServer, unary, type TestServer } from "./support/server";

let s: TestServer;
let api: Api;
let http: Server;
let base: string;
let port: number;
const received: Array<{ method: string; url: string; headers: IncomingMessage["headers"]; body: string }> = [];
const hangs = new Set<string>();
const hangsClosed = new Set<string>();
let secret: Server;
let secretPort: number;
const secretSeen: string[] = [];

beforeAll(async () => {
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname === "/hang") {
        const id = url.searchParams.get("id") ?? "";
        hangs.add(id);
        req.socket.once("close", () => hangsClosed.add(id));
        return;
      }
      if (url.pathname === "/redirect") {
        res.statusCode = 302;
        res.setHeader("location", url.searchParams.get("to") ?? "/");
        res.end();
        return;
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ method: req.method, path: url.pathname, body, header: req.headers["x-test"] ?? null }));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  port = (http.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  secret = createServer((req, res) => {
    secretSeen.push(req.url ?? "");
    res.end("secret");
  });
  await new Promise<void>((resolve) => secret.listen(0, "127.0.0.1", resolve));
  secretPort = (secret.address() as AddressInfo).port;
  s = await startTestServer();
  api = new Api(s);
});

afterAll(async () => {
  await api?.closeAll();
  await s?.close();
  http?.closeAllConnections();
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  secret?.closeAllConnections();
  await new Promise<void>((resolve) => (secret ? secret.close(() => resolve()) : resolve()));
});

const value = async (sessionId: string, input: string) => okValue(await api.repl(sessionId, input)).json;

function exceptionOf(e: Execution) {
  expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
  expect(e.error?.code).toBe("EXCEPTION");
  return e.events.find((ev) => ev.type === EventType.EVENT_TYPE_EXCEPTION)!.exception!;
}

const waitFor = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
  return cond();
};

describe("net capability", () => {
  it("enabled: fetch reaches allowed hosts (GET and POST with body and headers)", async () => {
    const session = await api.ready({ name: "net-on", capabilities: [{ kind: "net", name: "api", config: { allow_hosts: ["127.0.0.1"] } }] });
    expect(await value(session.id, "typeof fetch")).toBe("function");
    expect(await value(session.id, `const got = await fetch(${JSON.stringify(`${base}/hello`)}); [got.status, got.ok, await got.json()]`)).toEqual([
      200,
      true,
      { method: "GET", path: "/hello", body: "", header: null },
    ]);
    const posted = await value(
      session.id,
      `const sent = await fetch(${JSON.stringify(`${base}/submit`)}, { method: 'POST', headers: { 'X-Test': 'yes', 'Content-Type': 'application/json' }, body: JSON.stringify({ n: 1 }) }); await sent.json()`,
    );
    expect(posted).toEqual({ method: "POST", path: "/submit", body: '{"n":1}', header: "yes" });
    expect(received.find((r) => r.url === "/submit")?.headers["content-type"]).toBe("application/json");
  });

  it("enabled: other hosts and redirects to them are denied with a clear error", async () => {
    const session = await api.ready({ name: "net-deny", capabilities: [{ kind: "net", name: "api", config: { allow_hosts: ["127.0.0.1"] } }] });
    const before = received.length;
    const denied = exceptionOf(await api.repl(session.id, `await fetch(${JSON.stringify(`http://localhost:${port}/x`)})`));
    expect(denied).toMatchObject({ name: "Error", message: `fetch denied: host "localhost" is not in the template's net allow_hosts` });
    expect(received.length).toBe(before);
    const hop = exceptionOf(await api.repl(session.id, `await fetch(${JSON.stringify(`${base}/redirect?to=${encodeURIComponent("http://evil.test/")}`)})`));
    expect(hop.message).toBe(`fetch denied: redirect to host "evil.test" is not in the template's net allow_hosts`);
    expect(await value(session.id, "await fetch('file:///etc/passwd').catch((e) => e.name)")).toBe("TypeError");
  });

  it("a listed name that resolves to loopback is denied, directly and as a redirect from an allowed address", async () => {
    const session = await api.ready({
      name: "net-resolved",
      capabilities: [{ kind: "net", name: "api", config: { allow_hosts: [`127.0.0.1:${port}`, "localhost"] } }],
    });
    const direct = exceptionOf(await api.repl(session.id, `await fetch(${JSON.stringify(`http://localhost:${secretPort}/`)})`));
    // localhost is 127.0.0.1 here, and ::1 too on some machines.
    const denial = (what: string) =>
      new RegExp(
        `^fetch denied: ${what} "localhost" resolves to .*\\(loopback\\): port ${secretPort} of (that address|these addresses) is not in the template's net allow_hosts$`,
      );
    expect(direct.name).toBe("Error");
    expect(direct.message).toMatch(denial("host"));
    const hop = exceptionOf(
      await api.repl(session.id, `await fetch(${JSON.stringify(`${base}/redirect?to=${encodeURIComponent(`http://localhost:${secretPort}/`)}`)})`),
    );
    expect(hop.message).toMatch(denial("redirect to host"));
    expect(secretSeen).toEqual([]);
    // The allowed port of that address stays reachable by the name.
    expect(await value(session.id, `(await (await fetch(${JSON.stringify(`http://localhost:${port}/by-name`)})).json()).path`)).toBe("/by-name");
  });

  it("enabled: false switches it off; no capability, no fetch", async () => {
    const off = await api.ready({ name: "net-off", capabilities: [{ kind: "net", name: "api", config: { allow_hosts: ["127.0.0.1"] }, enabled: false }] });
    expect(await value(off.id, "typeof fetch")).toBe("undefined");
    const none = await api.ready({ name: "net-none" });
    expect(await value(none.id, "typeof fetch")).toBe("undefined");
  });

  it("several net capabilities merge their lists; disabled ones add nothing", async () => {
    const session = await api.ready({
      name: "net-merge",
      capabilities: [
        { kind: "net", name: "one", config: { allow_hosts: ["*.example.test"] } },
        { kind: "net", name: "two", config: { allow_hosts: [`127.0.0.1:${port}`] } },
        { kind: "net", name: "off", config: { allow_hosts: ["localhost"] }, enabled: false },
      ],
    });
    expect(await value(session.id, `(await (await fetch(${JSON.stringify(`${base}/merged`)})).json()).path`)).toBe("/merged");
    expect(exceptionOf(await api.repl(session.id, `await fetch(${JSON.stringify(`http://localhost:${port}/`)})`)).message).toMatch(
      /^fetch denied: host "localhost"/,
    );
    expect(exceptionOf(await api.repl(session.id, "await fetch('http://example.test/')")).message).toMatch(/^fetch denied: host "example.test"/);
  });

  it("a server that never answers: TIMEOUT at the wall limit, the session stays READY with its state", async () => {
    const session = await api.ready({
      name: "net-hang",
      settings: { limits: { wallMs: 600 } },
      capabilities: [{ kind: "net", name: "api", config: { allow_hosts: ["127.0.0.1"] } }],
    });
    await api.repl(session.id, "var kept = 'state'");
    const e = await api.repl(session.id, `await fetch(${JSON.stringify(`${base}/hang?id=timeout`)})`);
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_TIMEOUT);
    expect(e.error?.code).toBe("TIMEOUT");
    expect(await waitFor(() => hangsClosed.has("timeout"))).toBe(true);
    const after = await api.getSession(session.id);
    expect(after.status).toBe(SessionStatus.SESSION_STATUS_READY);
    expect(after.restartCount).toBe(0);
    expect(await value(session.id, "kept")).toBe("state");
  });

  it("CancelExecution mid-fetch: CANCELLED, the request is aborted, the session keeps its state", async () => {
    const session = await api.ready({ name: "net-cancel", capabilities: [{ kind: "net", name: "api", config: { allow_hosts: ["127.0.0.1"] } }] });
    await api.repl(session.id, "var kept = 'state'");
    const running = api.repl(session.id, `await fetch(${JSON.stringify(`${base}/hang?id=cancel`)})`);
    expect(await waitFor(() => hangs.has("cancel"))).toBe(true);
    // The running execution (its row may be written a moment after the run started).
    let runningId: string | undefined;
    for (let i = 0; i < 200 && !runningId; i++) {
      const [newest] = (await api.listExecutions(session.id)).executions;
      if (newest?.status === ExecutionStatus.EXECUTION_STATUS_RUNNING) runningId = newest.id;
      else await sleep(10);
    }
    expect(runningId).toBeDefined();
    const cancelled = await unary<Execution>((cb) => s.executions.cancelExecution({ executionId: runningId! }, cb));
    expect(cancelled.status).toBe(ExecutionStatus.EXECUTION_STATUS_CANCELLED);
    expect((await running).status).toBe(ExecutionStatus.EXECUTION_STATUS_CANCELLED);
    expect(await waitFor(() => hangsClosed.has("cancel"))).toBe(true);
    const after = await api.getSession(session.id);
    expect(after.status).toBe(SessionStatus.SESSION_STATUS_READY);
    expect(after.restartCount).toBe(0);
    expect(await value(session.id, "kept")).toBe("state");
  });
});
