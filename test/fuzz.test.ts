/**
 * Thousands of malformed or hostile requests against the real server: raw
 * random bytes to every method of every service, truncated and mutated valid
 * messages, wrong wire types, invalid UTF-8, huge strings, unknown enum
 * values, negative page sizes, ids of other resources, deeply nested
 * capability configs, garbage update masks, forged page tokens, and the
 * same for the three server streams.
 *
 * Every answer must be a success (whose bytes decode as the method's
 * response) or a proper gRPC error: a status code plus an ErrorInfo of
 * domain vmsystem.v1 (SPEC "Errors"). Inputs are the caller's fault, so
 * INTERNAL ("a bug") is never a proper answer; each INTERNAL is listed with
 * the request that caused it. Between batches the server must still be
 * SERVING and take a normal CreateTemplate. Deterministic seed, bounded count
 * (about 6 500 requests per project). FUZZ_DEBUG=1 prints every request's
 * answer and latency.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  status,
  type Client,
  type ClientReadableStream,
  type MethodDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus, type HealthCheckResponse } from "../gen/grpc/health/v1/health";
import * as executionPb from "../gen/vmsystem/v1/execution";
import * as sessionPb from "../gen/vmsystem/v1/session";
import * as templatePb from "../gen/vmsystem/v1/template";
import { ExecutionServiceService } from "../gen/vmsystem/v1/execution";
import { SessionServiceService, SessionStatus } from "../gen/vmsystem/v1/session";
import { TemplateServiceService, type Capability, type StartupFile, type Template } from "../gen/vmsystem/v1/template";
import { errorInfoOf } from "../src/transport/errors";
import { Api, okValue, type Execution, type Session } from "./support/fixtures";
import { startTestServer, unary, type TestServer } from "./support/server";

// ---------------------------------------------------------------- raw calls

// Every method of every service, whatever its message types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyMethod = MethodDefinition<any, any>;
const SERVICES = {
  TemplateService: TemplateServiceService as unknown as Record<string, AnyMethod>,
  SessionService: SessionServiceService as unknown as Record<string, AnyMethod>,
  ExecutionService: ExecutionServiceService as unknown as Record<string, AnyMethod>,
};
type ServiceName = keyof typeof SERVICES;

interface MethodRef {
  service: ServiceName;
  key: string;
  def: AnyMethod;
  name: string;
}
const METHODS: MethodRef[] = Object.entries(SERVICES).flatMap(([service, def]) =>
  Object.entries(def).map(([key, m]) => ({ service: service as ServiceName, key, def: m, name: m.path.split("/").pop()! })),
);

const identity = (b: Buffer) => b;

/** A client per service that sends bytes as they are and hands back the raw response bytes. */
function rawClients(address: string, ownConnection = false): Record<ServiceName, Client & Record<string, (...args: unknown[]) => unknown>> {
  const out = {} as Record<ServiceName, Client & Record<string, (...args: unknown[]) => unknown>>;
  for (const [name, def] of Object.entries(SERVICES)) {
    const methods: Record<string, AnyMethod> = {};
    for (const [key, m] of Object.entries(def)) methods[key] = { ...m, requestSerialize: identity, responseDeserialize: identity };
    const Ctor = makeGenericClientConstructor(methods, name);
    const options = { "grpc.max_send_message_length": 32 * 1024 * 1024, ...(ownConnection ? { "grpc.use_local_subchannel_pool": 1 } : {}) };
    out[name as ServiceName] = new Ctor(address, credentials.createInsecure(), options) as never;
  }
  return out;
}

interface Answer {
  code: number;
  details: string;
  reason?: string;
  domain?: string;
  /** Response messages (one for unary calls). */
  messages: Buffer[];
}

const UNARY_DEADLINE_MS = 15_000;
const STREAM_DEADLINE_MS = 8_000;

function callRaw(clients: ReturnType<typeof rawClients>, m: MethodRef, bytes: Buffer, deadlineMs?: number): Promise<Answer> {
  const client = clients[m.service];
  const fn = client[m.key].bind(client);
  if (!m.def.responseStream) {
    return new Promise((resolve) => {
      fn(bytes, new Metadata(), { deadline: Date.now() + (deadlineMs ?? UNARY_DEADLINE_MS) }, (err: ServiceError | null, res: Buffer) => {
        if (err) {
          const info = errorInfoOf(err);
          resolve({ code: err.code, details: err.details, reason: info?.reason, domain: info?.domain, messages: [] });
        } else resolve({ code: status.OK, details: "", messages: [res] });
      });
    });
  }
  return new Promise((resolve) => {
    const call = fn(bytes, new Metadata(), { deadline: Date.now() + (deadlineMs ?? STREAM_DEADLINE_MS) }) as ClientReadableStream<Buffer>;
    const messages: Buffer[] = [];
    call.on("data", (b: Buffer) => messages.push(b));
    call.on("error", (err: ServiceError) => {
      const info = errorInfoOf(err);
      resolve({ code: err.code, details: err.details, reason: info?.reason, domain: info?.domain, messages });
    });
    call.on("end", () => resolve({ code: status.OK, details: "", messages }));
  });
}

// ---------------------------------------------------------------- judging answers

/** Codes a caller's bad input may get (with an ErrorInfo). Anything else, INTERNAL above all, is a finding. */
const PROPER_ERRORS = new Set([
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.FAILED_PRECONDITION,
  status.ABORTED,
  status.ALREADY_EXISTS,
  status.OUT_OF_RANGE,
]);

interface Finding {
  method: string;
  label: string;
  request: string;
  answer: string;
}

class Findings {
  readonly internal: Finding[] = [];
  readonly improper: Finding[] = [];
  count = 0;
  private readonly seen = new Set<string>();

  judge(m: MethodRef, label: string, bytes: Buffer, a: Answer, extra?: (a: Answer) => string | undefined): void {
    this.count++;
    const problem = this.problemOf(m, a) ?? extra?.(a);
    if (!problem) return;
    const finding = {
      method: `${m.service}/${m.name}`,
      label,
      request: bytes.length > 96 ? `${bytes.subarray(0, 48).toString("hex")}… (${bytes.length} bytes)` : bytes.toString("hex"),
      answer: problem,
    };
    // One line per method and answer: a fuzzer repeats the same bug many times.
    // Hand-written cases (with an expectation) are each their own finding.
    const key = `${finding.method} ${extra ? label : ""} ${problem.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, "<id>")}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    (a.code === status.INTERNAL ? this.internal : this.improper).push(finding);
  }

  private problemOf(m: MethodRef, a: Answer): string | undefined {
    if (a.code === status.OK) {
      try {
        for (const b of a.messages) m.def.responseDeserialize(b);
      } catch (err) {
        return `OK with a response that does not decode: ${(err as Error).message}`;
      }
      if (!m.def.responseStream && a.messages.length !== 1) return `OK with ${a.messages.length} responses`;
      return undefined;
    }
    const shown = `${status[a.code]} reason=${a.reason ?? "-"} domain=${a.domain ?? "-"}: ${a.details.slice(0, 200)}`;
    if (a.code === status.INTERNAL) return shown;
    if (a.code === status.DEADLINE_EXCEEDED) return `no answer before the deadline (a hang): ${shown}`;
    if (!PROPER_ERRORS.has(a.code)) return `improper code ${shown}`;
    if (a.domain !== "vmsystem.v1" || !a.reason) return `no ErrorInfo: ${shown}`;
    return undefined;
  }

  /** Fails with every finding listed (INTERNAL answers are bugs: the input was the caller's fault). */
  expectClean(): void {
    const list = (fs: Finding[]) => fs.map((f) => `  ${f.method} [${f.label}] request=${f.request}\n    → ${f.answer}`).join("\n");
    expect(this.internal.length + this.improper.length, `\nINTERNAL answers:\n${list(this.internal)}\nimproper answers:\n${list(this.improper)}\n`).toBe(0);
  }
}

// ---------------------------------------------------------------- wire helpers

/** mulberry32: small, fast, deterministic. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)],
  };
}

function varint(value: bigint | number): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}
const tag = (field: number, wireType: number) => varint((BigInt(field) << 3n) | BigInt(wireType));
const lenDelim = (field: number, payload: Buffer | number[]) =>
  Buffer.concat([Buffer.from([...tag(field, 2), ...varint(payload.length)]), Buffer.from(payload)]);
const varintField = (field: number, value: bigint | number) => Buffer.from([...tag(field, 0), ...varint(value)]);

/** Top-level fields of a (valid) encoded message, each with its full encoding. */
function topLevelFields(buf: Buffer): { no: number; wt: number; start: number; end: number; payloadStart: number }[] {
  const out: { no: number; wt: number; start: number; end: number; payloadStart: number }[] = [];
  let pos = 0;
  const readVarint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const start = pos;
    const t = readVarint();
    const no = Number(t >> 3n);
    const wt = Number(t & 7n);
    let payloadStart = pos;
    if (wt === 0) readVarint();
    else if (wt === 1) pos += 8;
    else if (wt === 5) pos += 4;
    else if (wt === 2) {
      const len = Number(readVarint());
      payloadStart = pos;
      pos += len;
    } else throw new Error(`unexpected wire type ${wt} in a seed`);
    out.push({ no, wt, start, end: pos, payloadStart });
  }
  return out;
}

/** Replaces every occurrence of `marker` (same length) in an encoding: a way to put raw bytes into nested string fields. */
function replaceMarker(buf: Buffer, marker: string, replacement: Buffer): Buffer {
  const m = Buffer.from(marker);
  if (m.length !== replacement.length) throw new Error("marker and replacement must have the same length");
  const out = Buffer.from(buf);
  let i = out.indexOf(m);
  if (i < 0) throw new Error(`marker ${marker} not in the encoding`);
  while (i >= 0) {
    replacement.copy(out, i);
    i = out.indexOf(m, i + m.length);
  }
  return out;
}

const INVALID_UTF8: Buffer[] = [
  Buffer.from([0xff, 0xfe, 0xfd]), // never valid
  Buffer.from([0xc0, 0x80]), // overlong NUL
  Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate half
  Buffer.from([0xe2, 0x82]), // truncated sequence
  Buffer.from([0x61, 0x00, 0x62]), // an embedded NUL (valid UTF-8, hostile for databases)
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
];

// ---------------------------------------------------------------- the suite

let s: TestServer;
let api: Api;
let clients: ReturnType<typeof rawClients>;
let root: string;
let outside: string;
/** Fixture resources: ids the seeds use and the "ids of other resources" cases swap around. */
let T: Template;
let victimT: Template;
/** The template whose sub-resources the Add, Remove and List seeds touch. */
let subT: Template;
let S: Session;
let victimS: Session;
let closedS: Session;
let E: Execution;
let startupFile: StartupFile;
let capability: Capability;
/** A valid encoded request per method (the seed that truncation and mutation start from). */
let seeds: Map<string, Buffer>;
const protoKeysBefore = Object.getOwnPropertyNames(Object.prototype).sort();
const objectKeysBefore = Object.getOwnPropertyNames(Object).sort();

const ref = (service: ServiceName, name: string) => METHODS.find((m) => m.service === service && m.name === name)!;
const GEN: Record<string, unknown> = { ...templatePb, ...sessionPb, ...executionPb };
/** Encodes a partial request message with the generated code (fromPartial fills in the defaults). */
const encode = (m: MethodRef, message: unknown) => {
  const type = GEN[`${m.name}Request`] as { fromPartial(o: unknown): unknown } | undefined;
  if (!type) throw new Error(`no generated type ${m.name}Request`);
  return m.def.requestSerialize(type.fromPartial(message)) as Buffer;
};

/** Runs `jobs` with bounded concurrency. */
async function pool<T>(items: T[], concurrency: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await job(items[next++]);
    }),
  );
}

interface Case {
  m: MethodRef;
  label: string;
  bytes: Buffer;
  /** An extra check on the answer; returns a problem or undefined. */
  expect?: (a: Answer) => string | undefined;
}

async function send(cases: Case[], findings: Findings, concurrency = 16, opts: { ownConnection?: boolean; deadlineMs?: number } = {}): Promise<void> {
  await pool(cases, concurrency, async (c) => {
    const t0 = Date.now();
    // A connection per case where one answer could wreck the connection for the others.
    const via = opts.ownConnection ? rawClients(s.address, true) : clients;
    const a = await callRaw(via, c.m, c.bytes, opts.deadlineMs);
    if (via !== clients) for (const client of Object.values(via)) client.close();
    if (process.env.FUZZ_DEBUG) console.log(`${Date.now() - t0}ms ${c.m.name} ${c.label.slice(0, 150)} → ${status[a.code]} ${a.details.slice(0, 150)}`);
    findings.judge(c.m, c.label, c.bytes, a, c.expect);
  });
}

/** Health SERVING and a normal CreateTemplate round trip. */
async function expectServing(): Promise<void> {
  for (const service of ["", "vmsystem.v1.TemplateService", "vmsystem.v1.SessionService", "vmsystem.v1.ExecutionService"]) {
    const h = await unary<HealthCheckResponse>((cb) => s.health.check({ service }, cb));
    expect(h.status, `health of "${service}"`).toBe(HealthCheckResponse_ServingStatus.SERVING);
  }
  const t = await unary<Template>((cb) => s.templates.createTemplate({ name: "still-serving", engine: "" }, cb));
  expect(t).toMatchObject({ name: "still-serving", engine: "isolated-vm", settings: { limits: { cpuMs: 5000 } } });
  expect((await unary<Template>((cb) => s.templates.getTemplate({ templateId: t.id }, cb))).id).toBe(t.id);
  // Reads of the other services too (the fixture session may have been closed by a mutated CloseSession: either is fine).
  expect((await api.getSession(S.id)).id).toBe(S.id);
  expect((await api.getExecution(E.id)).id).toBe(E.id);
}

const expectCode = (code: status, reason?: string) => (a: Answer) =>
  a.code === code && (!reason || a.reason === reason)
    ? undefined
    : `expected ${status[code]}${reason ? `/${reason}` : ""}, got ${status[a.code]}/${a.reason ?? "-"}: ${a.details.slice(0, 160)}`;

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "vmsystem-fuzz-root-")));
  outside = realpathSync(mkdtempSync(join(tmpdir(), "vmsystem-fuzz-out-")));
  // Sessions may only live under `root`: CreateSession seeds point outside it, so mutations cannot start isolates by the hundred.
  s = await startTestServer({ worktreeRoots: [root] });
  api = new Api(s);
  clients = rawClients(s.address);

  const wt = (name: string) => {
    const dir = join(root, name);
    mkdirSync(dir);
    return dir;
  };
  const main = wt("main");
  writeFileSync(join(main, "main.js"), "console.log('main', argv.length); 'ran'");
  writeFileSync(join(main, "boot.js"), "var booted = true");

  T = await api.template({ name: "fuzz", settings: { limits: { wallMs: 2000, cpuMs: 1000, memMb: 64 } } });
  victimT = await api.template({ name: "fuzz-victim" });
  subT = await api.template({ name: "fuzz-sub" });
  startupFile = await unary<StartupFile>((cb) => s.templates.addStartupFile({ templateId: subT.id, path: "boot.js", orderIndex: 0, mode: "eval" }, cb));
  capability = await unary<Capability>((cb) =>
    s.templates.addCapability({ templateId: subT.id, kind: "global", name: "cfg", enabled: true, config: { a: 1 } }, cb),
  );
  S = await api.session(T.id, main);
  victimS = await api.session(T.id, wt("victim"));
  closedS = await api.session(T.id, wt("closed"));
  await api.closeSession(closedS.id);
  expect(S.status).toBe(SessionStatus.SESSION_STATUS_READY);
  E = await api.repl(S.id, "console.log('fixture'); 40 + 2");
  expect(okValue(E).json).toBe(42);

  const t = (n: string) => ref("TemplateService", n);
  const ss = (n: string) => ref("SessionService", n);
  const x = (n: string) => ref("ExecutionService", n);
  seeds = new Map<string, Buffer>([
    [
      "CreateTemplate",
      encode(t("CreateTemplate"), {
        name: "fz",
        engine: "isolated-vm",
        settings: { limits: { cpuMs: 100, wallMs: 200 }, resolver: { roots: ["lib"], extensions: [".js"] }, runtime: { esm: true } },
      }),
    ],
    ["GetTemplate", encode(t("GetTemplate"), { templateId: T.id })],
    ["ListTemplates", encode(t("ListTemplates"), { pageSize: 3, pageToken: "" })],
    ["DeleteTemplate", encode(t("DeleteTemplate"), { templateId: victimT.id })],
    [
      "UpdateTemplateSettings",
      encode(t("UpdateTemplateSettings"), {
        templateId: subT.id,
        settings: { limits: { wallMs: 2500 }, resolver: { roots: ["src"] } },
        updateMask: ["limits.wall_ms", "resolver.roots"],
      }),
    ],
    ["AddStartupFile", encode(t("AddStartupFile"), { templateId: subT.id, path: "boot.js", orderIndex: 3, mode: "eval" })],
    ["ListStartupFiles", encode(t("ListStartupFiles"), { templateId: subT.id })],
    ["RemoveStartupFile", encode(t("RemoveStartupFile"), { templateId: subT.id, startupFileId: startupFile.id })],
    [
      "AddCapability",
      encode(t("AddCapability"), {
        templateId: subT.id,
        kind: "env",
        name: "vars",
        enabled: true,
        config: { allow: ["HOME"], nested: { n: 1, list: [true, null, "x"] } },
      }),
    ],
    ["ListCapabilities", encode(t("ListCapabilities"), { templateId: subT.id })],
    ["RemoveCapability", encode(t("RemoveCapability"), { templateId: subT.id, capabilityId: capability.id })],
    ["AddModule", encode(t("AddModule"), { templateId: subT.id, name: "path" })],
    ["RemoveModule", encode(t("RemoveModule"), { templateId: subT.id, name: "path" })],
    ["ListModules", encode(t("ListModules"), { templateId: subT.id })],
    ["ListAvailableModules", encode(t("ListAvailableModules"), {})],
    ["AddLibrary", encode(t("AddLibrary"), { templateId: subT.id, name: "lodash" })],
    ["RemoveLibrary", encode(t("RemoveLibrary"), { templateId: subT.id, name: "lodash" })],
    ["ListLibraries", encode(t("ListLibraries"), { templateId: subT.id })],
    ["ListAvailableLibraries", encode(t("ListAvailableLibraries"), {})],
    ["CreateSession", encode(ss("CreateSession"), { templateId: T.id, workspaceId: "w", baseCommitOid: "c0ffee", worktreePath: outside })],
    ["GetSession", encode(ss("GetSession"), { sessionId: S.id })],
    ["ListSessions", encode(ss("ListSessions"), { status: SessionStatus.SESSION_STATUS_READY, pageSize: 3, pageToken: "" })],
    ["CloseSession", encode(ss("CloseSession"), { sessionId: victimS.id })],
    ["GetRuntimeSummary", encode(ss("GetRuntimeSummary"), {})],
    // Into a worktree outside the roots: a fork the fuzzing makes must not start (INVALID_PATH).
    ["ForkSession", encode(ss("ForkSession"), { sessionId: S.id, atExecutionNumber: 0, worktreePath: outside })],
    ["ExecuteRepl", encode(x("ExecuteRepl"), { sessionId: S.id, input: "1 + 1", requestId: "" })],
    ["ExecuteRunFile", encode(x("ExecuteRunFile"), { sessionId: S.id, path: "main.js", args: ["a", "b"], env: { K: "v" }, requestId: "" })],
    ["GetExecution", encode(x("GetExecution"), { executionId: E.id })],
    ["ListExecutions", encode(x("ListExecutions"), { sessionId: S.id, pageSize: 2, pageToken: "" })],
    ["ListEvents", encode(x("ListEvents"), { executionId: E.id, afterSeq: 1, limit: 2 })],
    ["TailEvents", encode(x("TailEvents"), { executionId: E.id, afterSeq: 0, follow: true })],
    // A closed session: a live one would keep a well-formed watch open until the deadline.
    ["WatchSession", encode(x("WatchSession"), { sessionId: closedS.id })],
    ["StreamExecution", encode(x("StreamExecution"), { sessionId: S.id, repl: { input: "console.log('s'); 2" }, requestId: "" })],
    ["CancelExecution", encode(x("CancelExecution"), { executionId: E.id })],
  ]);
  expect([...seeds.keys()].sort()).toEqual(METHODS.map((m) => m.name).sort());
}, 60_000);

afterAll(async () => {
  for (const c of Object.values(clients ?? {})) c.close();
  await api?.closeAll();
  // Close whatever the fuzzing left open (nothing should: sessions may only start under `root`).
  if (s) {
    const open = await unary<{ sessions: Session[] }>((cb) =>
      s.sessions.listSessions({ status: SessionStatus.SESSION_STATUS_READY, pageSize: 1000, pageToken: "" }, cb),
    ).catch(() => ({ sessions: [] }));
    for (const x of open.sessions) await api.closeSession(x.id).catch(() => undefined);
  }
  await s?.close();
  for (const d of [root, outside]) if (d) rmSync(d, { recursive: true, force: true });
});

describe("fuzzing every method", { timeout: 60_000 }, () => {
  it("raw random bytes as the request of every method (34 methods × 40)", async () => {
    const rnd = prng(0xf022);
    const findings = new Findings();
    const cases: Case[] = [];
    for (const m of METHODS) {
      for (let i = 0; i < 40; i++) {
        const len = i < 30 ? rnd.int(48) : 200 + rnd.int(4000);
        cases.push({ m, label: `random#${i}`, bytes: rnd.bytes(len) });
      }
    }
    await send(cases, findings);
    expect(findings.count).toBe(METHODS.length * 40);
    await expectServing();
    findings.expectClean();
  });

  it("truncated valid messages and byte-level mutations of them", async () => {
    const rnd = prng(0x7a11);
    const findings = new Findings();
    const cases: Case[] = [];
    for (const m of METHODS) {
      const seed = seeds.get(m.name)!;
      // Every prefix (capped at 40, spread evenly) of the valid message.
      const cuts = Math.min(seed.length, 40);
      for (let i = 0; i < cuts; i++) {
        const at = Math.floor((i * seed.length) / cuts);
        cases.push({ m, label: `truncated@${at}/${seed.length}`, bytes: seed.subarray(0, at) });
      }
      for (let i = 0; i < 30; i++) {
        const b = Buffer.from(seed);
        const kind = i % 5;
        let mutated: Buffer;
        if (kind === 0 && b.length) {
          b[rnd.int(b.length)] ^= 1 << rnd.int(8); // bit flip
          mutated = b;
        } else if (kind === 1 && b.length) {
          b[rnd.int(b.length)] = rnd.int(256); // byte replaced
          mutated = b;
        } else if (kind === 2) {
          const at = rnd.int(b.length + 1);
          mutated = Buffer.concat([b.subarray(0, at), rnd.bytes(1 + rnd.int(4)), b.subarray(at)]); // bytes inserted
        } else if (kind === 3 && b.length) {
          const at = rnd.int(b.length);
          mutated = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rnd.int(3))]); // bytes deleted
        } else {
          mutated = Buffer.concat([b, b.subarray(rnd.int(Math.max(1, b.length)))]); // a tail repeated
        }
        cases.push({ m, label: `mutation#${i}`, bytes: mutated });
      }
    }
    await send(cases, findings);
    await expectServing();
    findings.expectClean();
  });

  it("wrong wire types, out-of-range varints and unknown fields after a valid message", async () => {
    const findings = new Findings();
    const cases: Case[] = [];
    const payloads: Record<number, number[]> = {
      0: varint(-1n), // ten-byte varint: 2^64-1
      1: [1, 2, 3, 4, 5, 6, 7, 8],
      2: [...varint(3), 0x61, 0x62, 0x63],
      3: [], // start group, closed below
      4: [], // a lone end group
      5: [0xff, 0xff, 0xff, 0x7f],
      6: [0, 0], // no such wire type
      7: [0, 0],
    };
    for (const m of METHODS) {
      const seed = seeds.get(m.name)!;
      for (const field of [1, 2, 3, 4, 5, 6, 19000, 536870911]) {
        for (const wt of [0, 1, 2, 3, 4, 5, 6, 7]) {
          const extra = wt === 3 ? [...tag(field, 3), ...tag(field, 4)] : [...tag(field, wt), ...payloads[wt]];
          cases.push({ m, label: `field ${field} as wire type ${wt}`, bytes: Buffer.concat([seed, Buffer.from(extra)]) });
        }
      }
      // A length prefix longer than the message; a varint that never ends.
      cases.push({ m, label: "length beyond the end", bytes: Buffer.from([...tag(1, 2), ...varint(1_000_000), 0x61]) });
      cases.push({ m, label: "endless varint", bytes: Buffer.from([...tag(2, 0), ...Array(12).fill(0xff)]) });
    }
    await send(cases, findings);
    await expectServing();
    findings.expectClean();
  });

  it("invalid UTF-8 and NUL characters in every string field, top-level and nested", async () => {
    const findings = new Findings();
    const cases: Case[] = [];
    for (const m of METHODS) {
      const seed = seeds.get(m.name)!;
      for (const f of topLevelFields(seed).filter((f) => f.wt === 2)) {
        for (const [i, bad] of INVALID_UTF8.entries()) {
          // The field's payload with a bad sequence spliced into its middle.
          const payload = seed.subarray(f.payloadStart, f.end);
          const mid = payload.length >> 1;
          const spliced = Buffer.concat([payload.subarray(0, mid), bad, payload.subarray(mid)]);
          cases.push({
            m,
            label: `field ${f.no} with bad sequence #${i}`,
            bytes: Buffer.concat([seed.subarray(0, f.start), lenDelim(f.no, spliced), seed.subarray(f.end)]),
          });
        }
      }
    }
    // Nested string fields: encode with a marker, then overwrite the marker's bytes.
    const MARK = "\u0001MARK\u0001"; // 6 bytes
    const bad6 = [Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0]), Buffer.from([0x61, 0x00, 0x00, 0x62, 0x00, 0x63])];
    const nested: [string, unknown][] = [
      ["StreamExecution", { sessionId: S.id, repl: { input: `'${MARK}'` }, requestId: "" }],
      ["StreamExecution", { sessionId: S.id, runFile: { path: MARK, args: [], env: {} }, requestId: "" }],
      ["StreamExecution", { sessionId: S.id, runFile: { path: "main.js", args: [MARK], env: { [MARK]: MARK } }, requestId: "" }],
      ["ExecuteRunFile", { sessionId: S.id, path: "main.js", args: [MARK], env: { [MARK]: MARK }, requestId: "" }],
      ["ExecuteRepl", { sessionId: S.id, input: `'${MARK}'`, requestId: MARK }],
      ["ExecuteRepl", { sessionId: S.id, input: `'${MARK}'.length`, requestId: "" }],
      ["UpdateTemplateSettings", { templateId: subT.id, settings: { resolver: { roots: [MARK], extensions: [".js"] } }, updateMask: ["resolver.roots"] }],
      ["UpdateTemplateSettings", { templateId: subT.id, settings: { resolver: { extensions: [`.${MARK}`] } }, updateMask: ["resolver.extensions"] }],
      ["UpdateTemplateSettings", { templateId: subT.id, settings: { limits: { cpuMs: 10 } }, updateMask: [MARK] }],
      ["AddCapability", { templateId: subT.id, kind: "global", name: "g1", enabled: true, config: { [MARK]: MARK } }],
      ["AddCapability", { templateId: subT.id, kind: "env", name: MARK, enabled: true, config: { allow: [MARK] } }],
      ["CreateTemplate", { name: `n${MARK}`, engine: "", settings: { resolver: { roots: [MARK] } } }],
      ["CreateSession", { templateId: T.id, workspaceId: MARK, baseCommitOid: MARK, worktreePath: join(root, "main") }],
      ["CreateSession", { templateId: T.id, workspaceId: "w", baseCommitOid: "c", worktreePath: join(root, MARK) }],
      ["ListTemplates", { pageSize: 1, pageToken: MARK }],
      ["ListExecutions", { sessionId: S.id, pageSize: 1, pageToken: MARK }],
      ["GetSession", { sessionId: MARK }],
      ["GetExecution", { executionId: MARK }],
      ["TailEvents", { executionId: MARK, afterSeq: 0, follow: false }],
      ["WatchSession", { sessionId: MARK }],
    ];
    for (const [name, message] of nested) {
      const m = METHODS.find((x) => x.name === name)!;
      for (const [i, bad] of bad6.entries())
        cases.push({ m, label: `nested marker #${i} in ${JSON.stringify(message).slice(0, 80)}`, bytes: replaceMarker(encode(m, message), MARK, bad) });
    }
    await send(cases, findings, 8);
    await expectServing();
    // Sessions whose ids the cases used are still fine (a session is only ever READY, CLOSED or CRASHED here).
    const got = await api.getSession(S.id);
    expect([SessionStatus.SESSION_STATUS_READY, SessionStatus.SESSION_STATUS_CLOSED]).toContain(got.status);
    findings.expectClean();
  });

  it("huge strings (3 MB) in string fields", async () => {
    const findings = new Findings();
    const huge = "x".repeat(3 * 1024 * 1024);
    const hugeUtf8 = "é".repeat(1536 * 1024);
    const cases: Case[] = [];
    const add = (name: string, message: unknown, expect?: Case["expect"]) => {
      const m = METHODS.find((x) => x.name === name)!;
      cases.push({
        m,
        label: `huge ${JSON.stringify(message, (_k, v) => (typeof v === "string" && v.length > 100 ? `<${v.length} chars>` : v))}`,
        bytes: encode(m, message),
        expect,
      });
    };
    const invalid = expectCode(status.INVALID_ARGUMENT);
    add("CreateTemplate", { name: huge, engine: "" }, invalid);
    add("CreateTemplate", { name: "n", engine: huge }, invalid);
    add("GetTemplate", { templateId: huge });
    add("ListTemplates", { pageSize: 1, pageToken: huge }, invalid);
    add("UpdateTemplateSettings", { templateId: subT.id, settings: { resolver: { extensions: [huge] } }, updateMask: [] }, invalid);
    add("UpdateTemplateSettings", { templateId: subT.id, settings: {}, updateMask: [huge] }, invalid);
    add("AddStartupFile", { templateId: subT.id, path: huge, orderIndex: 0, mode: "" }, invalid);
    add("AddStartupFile", { templateId: subT.id, path: "a.js", orderIndex: 0, mode: huge }, invalid);
    add("AddCapability", { templateId: subT.id, kind: "global", name: huge, enabled: true, config: {} }, invalid);
    add("AddCapability", { templateId: subT.id, kind: "global", name: "big", enabled: true, config: { v: huge } }, invalid);
    add("AddCapability", { templateId: subT.id, kind: huge, name: "k", enabled: true, config: {} }, invalid);
    add("AddModule", { templateId: subT.id, name: huge }, invalid);
    add("AddLibrary", { templateId: subT.id, name: huge }, invalid);
    add("RemoveLibrary", { templateId: subT.id, name: huge });
    add("CreateSession", { templateId: T.id, workspaceId: huge, baseCommitOid: "c", worktreePath: join(root, "main") }, invalid);
    add("CreateSession", { templateId: T.id, workspaceId: "w", baseCommitOid: "c", worktreePath: `/${huge}` }, invalid);
    add("GetSession", { sessionId: huge });
    add("ExecuteRepl", { sessionId: S.id, input: huge, requestId: "" }, invalid);
    add("ExecuteRepl", { sessionId: S.id, input: hugeUtf8, requestId: "" }, invalid);
    add("ExecuteRepl", { sessionId: S.id, input: "1", requestId: huge }, invalid);
    add("ExecuteRunFile", { sessionId: S.id, path: huge, args: [], env: {}, requestId: "" });
    add("ExecuteRunFile", { sessionId: S.id, path: "main.js", args: [huge.slice(0, 1024 * 1024)], env: { BIG: hugeUtf8.slice(0, 512 * 1024) }, requestId: "" });
    add("ListExecutions", { sessionId: S.id, pageSize: 1, pageToken: huge }, invalid);
    add("ListEvents", { executionId: huge, afterSeq: 0, limit: 0 });
    add("StreamExecution", { sessionId: S.id, repl: { input: huge }, requestId: "" }, invalid);
    add("TailEvents", { executionId: huge, afterSeq: 0, follow: true });
    add("WatchSession", { sessionId: huge });
    await send(cases, findings, 8, { ownConnection: true, deadlineMs: 4000 });
    await expectServing();
    findings.expectClean();
  });

  it("unknown enum values, negative and huge page sizes, forged page tokens, out-of-range numbers", async () => {
    const findings = new Findings();
    const cases: Case[] = [];
    const invalid = expectCode(status.INVALID_ARGUMENT, "VALIDATION_ERROR");
    const ok = expectCode(status.OK);
    const raw = (name: string, label: string, bytes: Buffer, check?: Case["expect"]) =>
      cases.push({ m: METHODS.find((x) => x.name === name)!, label, bytes, expect: check });
    const msg = (name: string, label: string, message: unknown, check?: Case["expect"]) =>
      raw(
        name,
        label,
        encode(
          METHODS.find((x) => x.name === name)!,
          message,
        ),
        check,
      );

    for (const v of [6, 99, 2147483647, -1, -2147483648]) raw("ListSessions", `status ${v}`, varintField(1, v), invalid);
    for (const size of [-1, -50, -2147483648]) {
      raw("ListTemplates", `page_size ${size}`, varintField(1, size), invalid);
      raw("ListSessions", `page_size ${size}`, varintField(2, size), invalid);
      raw("ListExecutions", `page_size ${size}`, Buffer.concat([lenDelim(1, Buffer.from(S.id)), varintField(2, size)]), invalid);
    }
    for (const size of [2147483647, 1001]) {
      raw("ListTemplates", `page_size ${size}`, varintField(1, size), ok);
      raw("ListSessions", `page_size ${size}`, varintField(2, size), ok);
      raw("ListExecutions", `page_size ${size}`, Buffer.concat([lenDelim(1, Buffer.from(S.id)), varintField(2, size)]), ok);
    }
    // Varints wider than the field (int32 fed 2^40, uint32 fed 2^63).
    raw("ListTemplates", "page_size 2^40", varintField(1, 2n ** 40n));
    raw("ListEvents", "after_seq 2^63", Buffer.concat([lenDelim(1, Buffer.from(E.id)), varintField(2, 2n ** 63n)]));
    raw("TailEvents", "after_seq 2^63", Buffer.concat([lenDelim(1, Buffer.from(E.id)), varintField(2, 2n ** 63n)]));
    raw(
      "AddStartupFile",
      "order_index -2^31",
      Buffer.concat([lenDelim(1, Buffer.from(subT.id)), lenDelim(2, Buffer.from("boot.js")), varintField(3, -2147483648)]),
    );
    raw(
      "AddCapability",
      "enabled = 7 (a bool)",
      Buffer.concat([lenDelim(1, Buffer.from(subT.id)), lenDelim(2, Buffer.from("global")), lenDelim(3, Buffer.from("b7")), varintField(4, 7)]),
    );

    // uint32 at its maximum where the database column is a 32-bit signed integer.
    msg("ListEvents", "after_seq 4294967295", { executionId: E.id, afterSeq: 4294967295, limit: 0 }, ok);
    msg("ListEvents", "after_seq 2147483648", { executionId: E.id, afterSeq: 2147483648, limit: 4294967295 }, ok);
    msg("TailEvents", "after_seq 4294967295", { executionId: E.id, afterSeq: 4294967295, follow: false }, ok);
    // Limits out of their documented range are VALIDATION_ERROR.
    for (const [field, value] of [
      ["cpuMs", 0],
      ["wallMs", 4294967295],
      ["memMb", 1],
      ["maxEvents", 1],
      ["maxOutputKb", 4294967295],
      ["memMb", 2147483648],
    ] as const) {
      msg("CreateTemplate", `limits.${field} = ${value}`, { name: "lim", engine: "", settings: { limits: { [field]: value } } }, invalid);
    }

    // Page tokens: garbage, and forged ones shaped like the server's own but out of range.
    const b64 = (text: string) => Buffer.from(text).toString("base64url");
    const forged = [
      "!!!",
      "not-a-token",
      b64("[]"),
      b64('["1","x"]'),
      b64('[1e308,"x"]'),
      b64('[1.5,"x"]'),
      b64('[-1e300,""]'),
      b64('[9007199254740993,"z"]'),
      b64('{"key":1}'),
    ];
    for (const token of forged) {
      msg("ListTemplates", `page_token ${token}`, { pageSize: 2, pageToken: token });
      msg("ListSessions", `page_token ${token}`, { status: 0, pageSize: 2, pageToken: token });
    }
    for (const token of ["!!!", b64("n:"), b64("n:-1"), b64("n:1.5"), b64("n:4294967296"), b64("n:99999999999999999999999"), b64("x:1")]) {
      msg("ListExecutions", `page_token ${token}`, { sessionId: S.id, pageSize: 2, pageToken: token });
    }
    await send(cases, findings, 8);
    await expectServing();
    findings.expectClean();
  });

  it("ids of other resources where an id goes: NOT_FOUND (or a no-op for Remove*), nothing else touched", async () => {
    const findings = new Findings();
    const cases: Case[] = [];
    const notFound = expectCode(status.NOT_FOUND);
    const ok = expectCode(status.OK);
    const msg = (name: string, label: string, message: unknown, check: Case["expect"]) => {
      const m = METHODS.find((x) => x.name === name)!;
      cases.push({ m, label, bytes: encode(m, message), expect: check });
    };
    // Fresh resources of this test's own, so the fuzz batches before cannot have touched them.
    const F = await api.template({ name: "ids-owner" });
    const sf = await unary<StartupFile>((cb) => s.templates.addStartupFile({ templateId: F.id, path: "boot.js", orderIndex: 0, mode: "eval" }, cb));
    const cap = await unary<Capability>((cb) =>
      s.templates.addCapability({ templateId: F.id, kind: "global", name: "own", enabled: true, config: { a: 1 } }, cb),
    );
    const G = await api.template({ name: "ids-other" });
    const notFoundOrInvalid = (a: Answer) =>
      a.code === status.NOT_FOUND || a.code === status.INVALID_ARGUMENT
        ? undefined
        : `expected NOT_FOUND or INVALID_ARGUMENT, got ${status[a.code]}: ${a.details.slice(0, 160)}`;
    const others = { template: F.id, session: S.id, execution: E.id, startupFile: sf.id, capability: cap.id, nul: "\u0000", sql: "' OR 1=1 --" };
    for (const [what, id] of Object.entries(others)) {
      const check = what === "nul" ? notFoundOrInvalid : notFound;
      if (what !== "template") {
        msg("GetTemplate", `${what} id as template_id`, { templateId: id }, check);
        msg("DeleteTemplate", `${what} id as template_id`, { templateId: id }, check);
        msg("AddModule", `${what} id as template_id`, { templateId: id, name: "path" }, check);
        msg("ListCapabilities", `${what} id as template_id`, { templateId: id }, check);
        msg("CreateSession", `${what} id as template_id`, { templateId: id, workspaceId: "w", baseCommitOid: "c", worktreePath: join(root, "main") }, check);
      }
      if (what !== "session") {
        msg("GetSession", `${what} id as session_id`, { sessionId: id }, check);
        msg("CloseSession", `${what} id as session_id`, { sessionId: id }, check);
        msg("ExecuteRepl", `${what} id as session_id`, { sessionId: id, input: "1", requestId: "" }, check);
        msg("ExecuteRunFile", `${what} id as session_id`, { sessionId: id, path: "main.js", args: [], env: {}, requestId: "" }, check);
        msg("ListExecutions", `${what} id as session_id`, { sessionId: id, pageSize: 0, pageToken: "" }, check);
        msg("WatchSession", `${what} id as session_id`, { sessionId: id }, check);
        msg("StreamExecution", `${what} id as session_id`, { sessionId: id, repl: { input: "1" }, requestId: "" }, check);
      }
      if (what !== "execution") {
        msg("GetExecution", `${what} id as execution_id`, { executionId: id }, check);
        msg("ListEvents", `${what} id as execution_id`, { executionId: id, afterSeq: 0, limit: 0 }, check);
        msg("CancelExecution", `${what} id as execution_id`, { executionId: id }, check);
        msg("TailEvents", `${what} id as execution_id`, { executionId: id, afterSeq: 0, follow: true }, check);
      }
    }
    // Remove* of something that is not there succeeds and changes nothing — also when the id is another resource's.
    msg("RemoveStartupFile", "capability id as startup_file_id", { templateId: F.id, startupFileId: cap.id }, ok);
    msg("RemoveCapability", "startup file id as capability_id", { templateId: F.id, capabilityId: sf.id }, ok);
    msg("RemoveStartupFile", "startup file of another template", { templateId: G.id, startupFileId: sf.id }, ok);
    msg("RemoveCapability", "capability of another template", { templateId: G.id, capabilityId: cap.id }, ok);
    msg("RemoveModule", "a module that was never added", { templateId: F.id, name: "fs" }, ok);
    await send(cases, findings, 8);
    // Nothing was touched: F keeps its startup file and capability, the fixtures exist.
    const after = await unary<Template>((cb) => s.templates.getTemplate({ templateId: F.id }, cb));
    expect.soft(after.startupFiles.map((f) => f.id)).toEqual([sf.id]);
    expect.soft(after.capabilities.map((c) => c.id)).toEqual([cap.id]);
    expect.soft((await unary<Template>((cb) => s.templates.getTemplate({ templateId: T.id }, cb))).id).toBe(T.id);
    expect.soft((await api.getExecution(E.id)).events).toEqual(E.events);
    await expectServing();
    findings.expectClean();
  });

  it("deeply nested and oversized JSON in capability configs", async () => {
    const findings = new Findings();
    const cases: Case[] = [];
    const m = ref("TemplateService", "AddCapability");
    const invalid = expectCode(status.INVALID_ARGUMENT, "VALIDATION_ERROR");
    const nest = (depth: number, leaf: unknown = 1): Record<string, unknown> => {
      let v: unknown = leaf;
      for (let i = 0; i < depth; i++) v = i % 2 ? { k: v } : { a: [v] };
      return v as Record<string, unknown>;
    };
    const config = (label: string, cfg: Record<string, unknown>, check?: Case["expect"]) =>
      cases.push({ m, label, bytes: encode(m, { templateId: subT.id, kind: "global", name: "nested", enabled: true, config: cfg }), expect: check });
    config("depth 10", nest(10), expectCode(status.OK));
    config("depth 25", nest(25), invalid);
    config("depth 60", nest(60), invalid);
    config("wide: 70 KB of keys", Object.fromEntries(Array.from({ length: 7000 }, (_, i) => [`key${i}`, i])), invalid);
    config("__proto__ and constructor keys", JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}'));
    config("non-finite numbers", { n: Number.NaN, i: Number.POSITIVE_INFINITY, m: -0 });
    // Deeper than the decoder allows: built by hand (Struct → field entry → Value → Struct …), 5000 levels.
    let inner = Buffer.alloc(0); // an empty Struct
    for (let i = 0; i < 5000; i++) {
      const value = lenDelim(5, inner); // Value.struct_value
      const entry = Buffer.concat([lenDelim(1, Buffer.from("k")), lenDelim(2, value)]); // Struct.FieldsEntry{key, value}
      inner = lenDelim(1, entry); // Struct.fields
    }
    const deep = Buffer.concat([
      lenDelim(1, Buffer.from(subT.id)),
      lenDelim(2, Buffer.from("global")),
      lenDelim(3, Buffer.from("deep")),
      varintField(4, 1),
      lenDelim(5, inner),
    ]);
    cases.push({ m, label: "5000 levels of Struct on the wire", bytes: deep, expect: invalid });
    // A list nested 3000 deep (Value.list_value → ListValue.values → Value …).
    let list = Buffer.alloc(0);
    for (let i = 0; i < 3000; i++) list = lenDelim(1, lenDelim(6, list)); // ListValue.values[Value{list_value}]
    const listConfig = lenDelim(1, Buffer.concat([lenDelim(1, Buffer.from("l")), lenDelim(2, lenDelim(6, list))]));
    cases.push({
      m,
      label: "3000 levels of ListValue on the wire",
      bytes: Buffer.concat([
        lenDelim(1, Buffer.from(subT.id)),
        lenDelim(2, Buffer.from("global")),
        lenDelim(3, Buffer.from("deepl")),
        varintField(4, 1),
        lenDelim(5, listConfig),
      ]),
      expect: invalid,
    });
    await send(cases, findings, 4);
    expect.soft(({} as Record<string, unknown>).polluted).toBeUndefined();
    await expectServing();
    findings.expectClean();
  });

  it("the three server streams with junk: random bytes, mutations, missing input, escaping paths", async () => {
    const rnd = prng(0x57e4);
    const findings = new Findings();
    const cases: Case[] = [];
    const streams = METHODS.filter((m) => m.def.responseStream);
    expect(streams.map((m) => m.name).sort()).toEqual(["StreamExecution", "TailEvents", "WatchSession"]);
    for (const m of streams) {
      for (let i = 0; i < 40; i++) cases.push({ m, label: `random#${i}`, bytes: rnd.bytes(rnd.int(64)) });
      const seed = seeds.get(m.name)!;
      for (let i = 0; i < 30; i++) {
        const b = Buffer.from(seed);
        b[rnd.int(b.length)] = rnd.int(256);
        cases.push({ m, label: `mutation#${i}`, bytes: b });
      }
    }
    const sx = ref("ExecutionService", "StreamExecution");
    const invalid = expectCode(status.INVALID_ARGUMENT);
    const semantic: [string, unknown, Case["expect"]][] = [
      ["no input at all", { sessionId: S.id, requestId: "" }, expectCode(status.INVALID_ARGUMENT, "VALIDATION_ERROR")],
      ["empty session id", { sessionId: "", repl: { input: "1" }, requestId: "" }, expectCode(status.INVALID_ARGUMENT, "VALIDATION_ERROR")],
      [
        "run_file escaping",
        { sessionId: S.id, runFile: { path: "../../etc/passwd", args: [], env: {} }, requestId: "" },
        expectCode(status.INVALID_ARGUMENT, "INVALID_PATH"),
      ],
      [
        "run_file absolute",
        { sessionId: S.id, runFile: { path: "/etc/passwd", args: [], env: {} }, requestId: "" },
        expectCode(status.INVALID_ARGUMENT, "INVALID_PATH"),
      ],
      ["run_file with an empty path", { sessionId: S.id, runFile: { path: "", args: [], env: {} }, requestId: "" }, invalid],
      // Whether a file exists is the session's state, checked under its lock: sent among
      // concurrent calls on the same session, SESSION_BUSY is as right as FILE_NOT_FOUND.
      [
        "run_file missing",
        { sessionId: S.id, runFile: { path: "nope.js", args: [], env: {} }, requestId: "" },
        (a) => expectCode(status.NOT_FOUND, "FILE_NOT_FOUND")(a) && expectCode(status.ABORTED, "SESSION_BUSY")(a),
      ],
      ["too many args", { sessionId: S.id, runFile: { path: "main.js", args: Array(1001).fill("a"), env: {} }, requestId: "" }, invalid],
      ["closed session", { sessionId: closedS.id, repl: { input: "1" }, requestId: "" }, expectCode(status.FAILED_PRECONDITION, "SESSION_NOT_READY")],
    ];
    for (const [label, message, check] of semantic) cases.push({ m: sx, label, bytes: encode(sx, message), expect: check });
    // Both oneof members on the wire: the last one wins (proto3), so this runs main.js.
    cases.push({
      m: sx,
      label: "repl and run_file both set",
      bytes: Buffer.concat([encode(sx, { sessionId: S.id, repl: { input: "1" }, requestId: "" }), lenDelim(3, lenDelim(1, Buffer.from("main.js")))]),
    });
    const tail = ref("ExecutionService", "TailEvents");
    cases.push({
      m: tail,
      label: "tail with after_seq past the end",
      bytes: encode(tail, { executionId: E.id, afterSeq: 1000, follow: true }),
      expect: expectCode(status.OK),
    });
    const watch = ref("ExecutionService", "WatchSession");
    cases.push({ m: watch, label: "watch with an empty id", bytes: Buffer.alloc(0), expect: expectCode(status.INVALID_ARGUMENT, "VALIDATION_ERROR") });
    await send(cases, findings, 8);
    await expectServing();
    // The fixture session still answers correctly.
    const live = await api.getSession(S.id);
    if (live.status === SessionStatus.SESSION_STATUS_READY) expect.soft(okValue(await api.repl(S.id, "[1, 2, 3].map((n) => n * 2)")).json).toEqual([2, 4, 6]);
    findings.expectClean();
  });
  it("identical Add* calls sent at once are idempotent (each OK, one row), never INTERNAL", async () => {
    const findings = new Findings();
    const F = await api.template({ name: "concurrent-adds" });
    const ok = expectCode(status.OK);
    const cases: Case[] = [];
    for (let i = 0; i < 12; i++) {
      cases.push({
        m: ref("TemplateService", "AddModule"),
        label: `AddModule path #${i}`,
        bytes: encode(ref("TemplateService", "AddModule"), { templateId: F.id, name: "path" }),
        expect: ok,
      });
      cases.push({
        m: ref("TemplateService", "AddLibrary"),
        label: `AddLibrary lodash #${i}`,
        bytes: encode(ref("TemplateService", "AddLibrary"), { templateId: F.id, name: "lodash" }),
        expect: ok,
      });
    }
    await send(cases, findings, 24);
    const t = await unary<Template>((cb) => s.templates.getTemplate({ templateId: F.id }, cb));
    expect.soft(t.modules.map((x) => x.name)).toEqual(["path"]);
    expect.soft(t.libraries.map((x) => x.name)).toEqual(["lodash"]);
    findings.expectClean();
  });

  it("NUL characters inside REPL input and console output are data, not an INTERNAL error", async () => {
    const findings = new Findings();
    const session = await api.session(T.id, join(root, "main"));
    const m = ref("ExecutionService", "ExecuteRepl");
    const proper = (a: Answer) =>
      a.code === status.OK || a.code === status.INVALID_ARGUMENT ? undefined : `expected OK or INVALID_ARGUMENT, got ${status[a.code]}: ${a.details}`;
    const inputs = [
      "'a\u0000b'.length", // a raw NUL inside a string literal
      "/* \u0000 in a comment */ 2",
      "console.log('x\\u0000y'); 'escaped: the output has a NUL, the input does not'",
      "'\\u0000' + 'as a value'",
    ];
    const cases: Case[] = inputs.map((input) => ({
      m,
      label: `input ${JSON.stringify(input)}`,
      bytes: encode(m, { sessionId: session.id, input, requestId: "" }),
      expect: proper,
    }));
    await send(cases, findings, 1);
    // The session is still usable and its stored executions are complete.
    expect.soft(okValue(await api.repl(session.id, "'still here'")).json).toBe("still here");
    for (const e of await api.allExecutions(session.id)) {
      if (e.status === executionPb.ExecutionStatus.EXECUTION_STATUS_OK) expect.soft((await api.listEvents(e.id)).length, e.input).toBe(e.metrics?.eventCount);
    }
    await expectServing();
    findings.expectClean();
  });

  it("update masks with garbage paths are INVALID_ARGUMENT and touch nothing in the host", async () => {
    const findings = new Findings();
    const cases: Case[] = [];
    const m = ref("TemplateService", "UpdateTemplateSettings");
    const invalid = expectCode(status.INVALID_ARGUMENT, "VALIDATION_ERROR");
    const garbage = [
      "",
      ".",
      "..",
      "limits.",
      ".limits",
      "limits..cpu_ms",
      "limits.cpu_ms.x",
      "nope",
      "LIMITS",
      "limits.CPU_MS",
      "limits.cpuMs",
      "settings.limits.cpu_ms",
      "limits.*",
      "*",
      "__proto__",
      "__proto__.polluted",
      "__proto__.toString",
      "constructor",
      "constructor.name",
      "constructor.prototype",
      "toString",
      "toString.length",
      "hasOwnProperty",
      "limits.__proto__",
      "limits.constructor",
      "limits.hasOwnProperty",
      "resolver.toString",
      "runtime.valueOf",
      "limits.cpu_ms\u0000",
      "limits/cpu_ms",
      "limits.cpu_ms ",
    ];
    for (const path of garbage) {
      cases.push({
        m,
        label: `update_mask ${JSON.stringify(path)}`,
        bytes: encode(m, { templateId: T.id, settings: { limits: { cpuMs: 999 } }, updateMask: [path] }),
        expect: invalid,
      });
      cases.push({
        m,
        label: `update_mask ["limits.cpu_ms", ${JSON.stringify(path)}]`,
        bytes: encode(m, { templateId: T.id, settings: { limits: { cpuMs: 999 } }, updateMask: ["limits.cpu_ms", path] }),
        expect: invalid,
      });
    }
    await send(cases, findings, 4);
    // The server runs in this process: whatever a mask did to the host's built-ins shows here.
    const added = (o: object, before: string[]) => Object.getOwnPropertyNames(o).filter((k) => !before.includes(k));
    const pollution = {
      "Object.prototype": added(Object.prototype, protoKeysBefore),
      Object: added(Object, objectKeysBefore),
      "Object.prototype.toString": added(Object.prototype.toString, ["length", "name"]),
    };
    // Still whole? Checked before the cleanup below, which lets the rest of this file run on a clean host.
    const servingProblem = await expectServing().then(
      () => undefined,
      (err: Error) => err.message,
    );
    for (const k of pollution["Object.prototype"]) delete (Object.prototype as Record<string, unknown>)[k];
    for (const k of pollution.Object) delete (Object as unknown as Record<string, unknown>)[k];
    for (const k of pollution["Object.prototype.toString"]) delete (Object.prototype.toString as unknown as Record<string, unknown>)[k];
    expect
      .soft(pollution, "update masks added properties to the host's built-ins")
      .toEqual({ "Object.prototype": [], Object: [], "Object.prototype.toString": [] });
    expect.soft(servingProblem, "after the garbage update masks the server no longer serves normal calls").toBeUndefined();
    // A rejected mask changes nothing: the template keeps its limits.
    const t = await unary<Template>((cb) => s.templates.getTemplate({ templateId: T.id }, cb));
    expect.soft(t.settings?.limits?.cpuMs, "a garbage update mask changed the template").toBe(1000);
    findings.expectClean();
  });
});
