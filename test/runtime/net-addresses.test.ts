/**
 * The `net` capability checks where a name leads, not only the name: every
 * address of every hop is checked, non-public ones need an allow_hosts entry
 * naming the address itself, and the socket connects to the address that
 * was checked (no second lookup). Through the real resolver (`localhost`
 * resolves to loopback here) and through an injected one for names that
 * resolve to private, metadata or rebinding answers, without touching the
 * machine's /etc/hosts.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { LookupAddress } from "node:dns";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { hostFetch, NetPolicy, parseFetchRequest, type NetResolver } from "../../src/runtime/net";
import { specialAddress } from "../../src/runtime/net-address";
import { SandboxError } from "../../src/runtime/modules/errors";
import { exceptionOf, options, repl, valueOf, runtimes } from "./helpers";

/** `public`: the allowed service; `secret`: another port of the same machine, on no list. */
const servers: Record<"public" | "secret", { server?: Server; port: number; seen: Array<{ url: string; host: string }> }> = {
  public: { port: 0, seen: [] },
  secret: { port: 0, seen: [] },
};

async function listen(name: "public" | "secret"): Promise<void> {
  const entry = servers[name];
  entry.server = createServer((req: IncomingMessage, res) => {
    entry.seen.push({ url: req.url ?? "", host: req.headers.host ?? "" });
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/redirect") {
      res.statusCode = 302;
      res.setHeader("location", url.searchParams.get("to") ?? "/");
      res.end();
      return;
    }
    res.end(`${name} says hello`);
  });
  await new Promise<void>((resolve) => entry.server!.listen(0, "127.0.0.1", resolve));
  entry.port = (entry.server.address() as AddressInfo).port;
}

beforeAll(async () => {
  await listen("public");
  await listen("secret");
});

afterAll(async () => {
  for (const { server } of Object.values(servers)) {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
});

beforeEach(() => {
  servers.public.seen.length = 0;
  servers.secret.seen.length = 0;
});

const pub = () => `http://127.0.0.1:${servers.public.port}`;
const redirectTo = (to: string) => `${pub()}/redirect?to=${encodeURIComponent(to)}`;

describe("which addresses are special", () => {
  it("loopback, unspecified, private, CGNAT, link-local, metadata, multicast, broadcast and reserved IPv4", () => {
    const cases: Array<[string, string]> = [
      ["127.0.0.1", "loopback"],
      ["127.255.0.9", "loopback"],
      ["0.0.0.0", "unspecified"],
      ["0.1.2.3", "unspecified"],
      ["10.0.0.5", "private"],
      ["172.16.0.1", "private"],
      ["172.31.255.255", "private"],
      ["192.168.1.1", "private"],
      ["100.64.0.1", "private (shared/CGNAT)"],
      ["100.127.255.254", "private (shared/CGNAT)"],
      ["169.254.1.1", "link-local"],
      ["169.254.169.254", "cloud metadata"],
      ["224.0.0.1", "multicast"],
      ["239.255.255.250", "multicast"],
      ["255.255.255.255", "broadcast"],
      ["240.0.0.1", "reserved"],
      ["192.0.2.1", "documentation"],
      ["198.18.0.1", "benchmarking"],
      ["192.0.0.8", "reserved"],
    ];
    for (const [address, label] of cases) expect(specialAddress(address), address).toBe(label);
  });

  it("IPv6, and IPv6 forms that carry a special IPv4 address", () => {
    const cases: Array<[string, string]> = [
      ["::1", "loopback"],
      ["0:0:0:0:0:0:0:1", "loopback"],
      ["::", "unspecified"],
      ["fe80::1", "link-local"],
      ["fe80::1%eth0", "link-local"],
      ["febf::1", "link-local"],
      ["fc00::1", "private (unique local)"],
      ["fd12:3456::1", "private (unique local)"],
      ["fd00:ec2::254", "cloud metadata"],
      ["ff02::1", "multicast"],
      ["2001:db8::1", "documentation"],
      ["::ffff:0:0:1", "reserved (IPv4-translated)"],
      ["::ffff:127.0.0.1", "loopback (IPv4-mapped form)"],
      ["::ffff:7f00:1", "loopback (IPv4-mapped form)"],
      ["[::FFFF:10.1.2.3]", "private (IPv4-mapped form)"],
      ["::ffff:169.254.169.254", "cloud metadata (IPv4-mapped form)"],
      ["::127.0.0.1", "loopback (IPv4-compatible form)"],
      ["::8.8.8.8", "reserved (IPv4-compatible)"],
      ["64:ff9b::7f00:1", "loopback (NAT64 form)"],
      ["64:ff9b::192.168.0.1", "private (NAT64 form)"],
      ["64:ff9b:1::808:808", "private (local-use NAT64)"],
      ["2002:a00:1::1", "private (6to4 form)"],
      ["2002:7f00:1::", "loopback (6to4 form)"],
      ["2001::1", "reserved"],
      ["100::1", "reserved (discard)"],
      ["4000::1", "reserved"],
      ["fec0::1", "site-local"],
    ];
    for (const [address, label] of cases) expect(specialAddress(address), address).toBe(label);
  });

  it("public addresses, in every form, are not special; what is not an address is", () => {
    for (const address of [
      "8.8.8.8",
      "1.1.1.1",
      "172.32.0.1",
      "100.128.0.1",
      "169.255.0.1",
      "2606:4700:4700::1111",
      "::ffff:8.8.8.8",
      "64:ff9b::808:808",
      "2002:808:808::1",
    ]) {
      expect(specialAddress(address), address).toBeUndefined();
    }
    for (const junk of ["", "localhost", "127.1", "1.2.3.4.5", "::ffff:1.2.3", "[::1"]) expect(specialAddress(junk), junk).toBe("not an IP address");
  });
});

describe("through the real resolver", () => {
  it("a listed name that resolves to loopback is denied unless the address is listed", async () => {
    const port = servers.secret.port;
    const rt = await runtimes.create(options({ net: { allowHosts: ["localhost"] } }));
    try {
      const e = exceptionOf((await repl(rt, `await fetch("http://localhost:${port}/")`)).outcome);
      expect(e).toMatchObject({ name: "Error", message: expect.stringMatching(/^fetch denied: host "localhost" resolves to (127\.0\.0\.1|::1) \(loopback\)/) });
      expect(e.message).toMatch(/a non-public address must be named itself in the template's net allow_hosts$/);
      expect(valueOf((await repl(rt, `await fetch("http://localhost:${port}/").catch((e) => e.code)`)).outcome).json).toBe("ERR_NET_DENIED");
      expect(servers.secret.seen).toHaveLength(0);
    } finally {
      rt.dispose();
    }
    // Named with its port, the same address is allowed on that port only.
    const listed = await runtimes.create(options({ net: { allowHosts: ["localhost", `127.0.0.1:${port}`, `[::1]:${port}`] } }));
    try {
      expect(valueOf((await repl(listed, `await (await fetch("http://localhost:${port}/")).text()`)).outcome).json).toBe("secret says hello");
      expect(servers.secret.seen).toEqual([{ url: "/", host: `localhost:${port}` }]);
      const other = exceptionOf((await repl(listed, `await fetch("http://localhost:${servers.public.port}/")`)).outcome);
      expect(other.message).toMatch(new RegExp(`port ${servers.public.port} of that address is not in the template's net allow_hosts$`));
      expect(servers.public.seen).toHaveLength(0);
    } finally {
      listed.dispose();
    }
  });

  it("a redirect from an allowed address to a listed name that leads to another port of the machine is denied", async () => {
    const rt = await runtimes.create(options({ net: { allowHosts: [`127.0.0.1:${servers.public.port}`, "localhost"] } }));
    try {
      const e = exceptionOf((await repl(rt, `await fetch(${JSON.stringify(redirectTo(`http://localhost:${servers.secret.port}/`))})`)).outcome);
      expect(e.message).toMatch(/^fetch denied: redirect to host "localhost" resolves to (127\.0\.0\.1|::1) \(loopback\)/);
      expect(servers.public.seen.map((s) => s.url.split("?")[0])).toEqual(["/redirect"]);
      expect(servers.secret.seen).toHaveLength(0);
    } finally {
      rt.dispose();
    }
  });
});

describe("through an injected resolver", () => {
  /** Answers `answers[i]` to the i-th lookup (the last one from then on), and counts them. */
  function resolver(...answers: string[][]): NetResolver & { calls: string[] } {
    const calls: string[] = [];
    const fn = async (hostname: string): Promise<LookupAddress[]> => {
      const answer = answers[Math.min(calls.length, answers.length - 1)]!;
      calls.push(hostname);
      return answer.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    };
    return Object.assign(fn, { calls });
  }
  const get = (policy: NetPolicy, url: string) => hostFetch(policy, parseFetchRequest(url, "GET", [], undefined, "follow"), new AbortController().signal);
  const denial = async (p: Promise<unknown>) => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(SandboxError);
    expect((e as SandboxError).code).toBe("ERR_NET_DENIED");
    return (e as SandboxError).message;
  };

  it("a listed name that resolves to a private, metadata or otherwise special address is denied, without connecting", async () => {
    for (const address of [
      "10.0.0.5",
      "192.168.1.20",
      "169.254.169.254",
      "fd00:ec2::254",
      "::ffff:127.0.0.1",
      "64:ff9b::a00:5",
      "100.64.1.1",
      "0.0.0.0",
      "::",
      "fe80::1",
      "224.0.0.1",
      "255.255.255.255",
    ]) {
      const policy = new NetPolicy(["internal.test"], resolver([address]));
      const message = await denial(get(policy, `http://internal.test:${servers.secret.port}/`));
      expect(message, address).toContain(`fetch denied: host "internal.test" resolves to ${address} (`);
    }
    // Every address is checked: a public one does not let a special one through, nor the other way round.
    const mixed = await denial(get(new NetPolicy(["internal.test"], resolver(["10.0.0.5", "127.0.0.1"])), "http://internal.test/"));
    expect(mixed).toContain("resolves to 10.0.0.5 (private), 127.0.0.1 (loopback):");
    expect(servers.secret.seen).toHaveLength(0);
  });

  it("the socket goes only to addresses that passed, and the name is resolved once per hop (no rebinding)", async () => {
    // First answer: a private address the list does not name, then the named loopback one; later lookups would say elsewhere.
    const dns = resolver(["10.255.255.1", "127.0.0.1"], ["192.168.7.7"]);
    const policy = new NetPolicy(["rebind.test", "127.0.0.1"], dns);
    const res = await get(policy, `http://rebind.test:${servers.public.port}/hello`);
    expect(res).toMatchObject({ status: 200, body: "public says hello", url: `http://rebind.test:${servers.public.port}/hello` });
    expect(servers.public.seen).toEqual([{ url: "/hello", host: `rebind.test:${servers.public.port}` }]);
    expect(dns.calls).toEqual(["rebind.test"]);
  });

  it("every redirect hop is resolved and checked", async () => {
    const dns = resolver(["192.168.1.1"]);
    const policy = new NetPolicy([`127.0.0.1:${servers.public.port}`, "*.corp.test"], dns);
    const message = await denial(get(policy, redirectTo(`http://db.corp.test:${servers.secret.port}/`)));
    expect(message).toBe(
      `fetch denied: redirect to host "db.corp.test" resolves to 192.168.1.1 (private): a non-public address must be named itself in the template's net allow_hosts`,
    );
    expect(dns.calls).toEqual(["db.corp.test"]);
    expect(servers.public.seen).toHaveLength(1);
    expect(servers.secret.seen).toHaveLength(0);
  });

  it("an IPv4-mapped answer counts as the IPv4 address the list names", async () => {
    const policy = new NetPolicy(["mapped.test", "127.0.0.1"], resolver(["::ffff:127.0.0.1"]));
    expect((await get(policy, `http://mapped.test:${servers.public.port}/`)).body).toBe("public says hello");
  });

  it("a lookup that never answers ends when the request is aborted", async () => {
    const controller = new AbortController();
    const reason = new SandboxError("aborted by the test", "ETIMEDOUT");
    const stuck: NetResolver = () => {
      controller.abort(reason);
      return new Promise<LookupAddress[]>(() => {});
    };
    const request = parseFetchRequest("http://stuck.test/", "GET", [], undefined, "follow");
    await expect(hostFetch(new NetPolicy(["stuck.test"], stuck), request, controller.signal)).rejects.toBe(reason);
  });

  it("a resolver that finds nothing, or answers junk, fails the request", async () => {
    const none = await get(new NetPolicy(["none.test"], resolver([])), "http://none.test/").catch((e: unknown) => e);
    expect(none).toMatchObject({ code: "ENOTFOUND", message: 'fetch failed: no address found for "none.test"' });
    expect(await denial(get(new NetPolicy(["junk.test"], resolver(["not-an-ip"])), "http://junk.test/"))).toContain("not-an-ip (not an IP address)");
  });
});
