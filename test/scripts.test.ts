import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecutionServiceService, ExecutionStatus, type Execution, type ListEventsResponse, type StreamExecutionResponse } from "../gen/vmsystem/v1/execution";
import { SessionServiceService, SessionStatus, type Session } from "../gen/vmsystem/v1/session";
import { TemplateServiceService, type Template } from "../gen/vmsystem/v1/template";
import { ROOT, run, selfSignedCertificate, type CliResult } from "./support/process";
import { unary, useTestServer } from "./support/server";
import { collect, contiguous, until } from "./support/streams";

// scripts/*.sh against the real server: each script's JSON, its errors and
// exit codes, the grpcurl branch (through a stand-in grpcurl), and every
// block of the docs marked `<!-- tested -->`, run as written.

const SCRIPTS = join(ROOT, "scripts");
const BUF = join(ROOT, "node_modules", ".bin", "buf");

const s = useTestServer();
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "vmsystem-scripts-"));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The scripts' environment: this server, buf curl, nothing inherited that changes their behaviour. */
const scriptEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  VMSYSTEM_SERVER: s.address,
  VMSYSTEM_GRPC_TOOL: "buf",
  VMSYSTEM_AUTH_TOKEN: "",
  VMSYSTEM_JSON: "",
  ...extra,
});

const script = (name: string, args: string[], extra: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> =>
  run(join(SCRIPTS, name), args, scriptEnv(extra), input);

/** Every non-empty stdout line must be one whole JSON value. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const jsonLines = (stdout: string): any[] =>
  stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function ok(name: string, args: string[], extra: NodeJS.ProcessEnv = {}, input?: string): Promise<any[]> {
  const r = await script(name, args, extra, input);
  expect(r.code, `${name} ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return jsonLines(r.stdout);
}

async function newTemplate(name = "scripts"): Promise<string> {
  const [t] = await ok("create-template.sh", [name]);
  return t.id as string;
}

async function newSession(): Promise<string> {
  const [session] = await ok("start-session.sh", [await newTemplate(), work]);
  expect(session.status).toBe("SESSION_STATUS_READY");
  return session.id as string;
}

/** Spawns a command and hands over stdout lines as they arrive (for following streams). */
function spawnLines(command: string, args: string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  createInterface({ input: child.stdout }).on("line", onLine);
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on("close", (code) => resolve({ code, stderr })));
  return { child, exited };
}

describe("scripts/*.sh against a real server (buf curl)", () => {
  it("create-template.sh prints the Template on one line, settings merged with the defaults, any name verbatim", async () => {
    const lines = await ok("create-template.sh", ["scripted", '{"limits":{"cpuMs":2000}}']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ name: "scripted", engine: "isolated-vm", settings: { limits: { cpuMs: 2000, wallMs: 30000, memMb: 128 } } });
    const stored = await unary<Template>((cb) => s.templates.getTemplate({ templateId: lines[0].id }, cb));
    expect(stored.settings?.limits?.cpuMs).toBe(2000);

    // Quotes, backslashes, control characters and non-ASCII survive the trip into the JSON request.
    const name = 'say "hi" \\ tab\t bell\x07 snow ☃';
    const [odd] = await ok("create-template.sh", [name]);
    expect(odd.name).toBe(name);
  });

  it("start-session.sh makes the worktree absolute and starts a READY session", async () => {
    const t = await newTemplate();
    const [session] = await ok("start-session.sh", [t, work]);
    expect(session).toMatchObject({
      templateId: t,
      status: "SESSION_STATUS_READY",
      workspaceId: "default",
      baseCommitOid: "none",
      worktreePath: realpathSync(work),
    });
    const live = await unary<Session>((cb) => s.sessions.getSession({ sessionId: session.id }, cb));
    expect(live.status).toBe(SessionStatus.SESSION_STATUS_READY);

    // A relative worktree, from inside it; workspace and commit as given.
    const r = await run("bash", ["-c", 'cd "$1" && "$2" "$3" . ws-1 abc123', "_", work, join(SCRIPTS, "start-session.sh"), t], scriptEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ worktreePath: realpathSync(work), workspaceId: "ws-1", baseCommitOid: "abc123" });
  });

  it("run-snippet.sh keeps state across calls, sends the code verbatim, reads it from stdin", async () => {
    const session = await newSession();
    const [declared] = await ok("run-snippet.sh", [session, "var x = 41"]);
    expect(declared).toMatchObject({ number: 1, status: "EXECUTION_STATUS_OK", result: { type: "undefined" } });
    const [sum] = await ok("run-snippet.sh", [session, "x + 1"]);
    expect(sum).toMatchObject({ number: 2, status: "EXECUTION_STATUS_OK", result: { type: "number", preview: "42", json: 42 } });
    expect(sum.events.map((e: { type: string }) => e.type)).toEqual(["EVENT_TYPE_INPUT_ECHO", "EVENT_TYPE_VALUE"]);

    // Escaped quotes and a newline inside a string literal, a real newline, a tab and a control character.
    const code = 'var s = "say \\"hi\\"\\n"; // tab:\t ctl:\x01 snow:☃\ns.length';
    const [tricky] = await ok("run-snippet.sh", [session, code]);
    expect(tricky.input).toBe(code);
    expect(tricky.result.json).toBe('say "hi"\n'.length);

    const [fromStdin] = await ok("run-snippet.sh", [session, "-"], {}, "x * 2\n");
    expect(fromStdin.result.json).toBe(82);
  });

  it("run-snippet.sh: a JavaScript exception is an ERROR execution, not a failed call", async () => {
    const session = await newSession();
    const [thrown] = await ok("run-snippet.sh", [session, 'throw new RangeError("boom")']);
    expect(thrown).toMatchObject({ status: "EXECUTION_STATUS_ERROR", error: { code: "EXCEPTION" } });
    expect(thrown.events.find((e: { type: string }) => e.type === "EVENT_TYPE_EXCEPTION").exception).toMatchObject({ name: "RangeError", message: "boom" });
  });

  it("run-snippet.sh --stream prints started, each event, finished: one JSON line per update (jq or node)", async () => {
    const session = await newSession();
    await ok("run-snippet.sh", [session, "var x = 41"]);
    const code = 'console.log("tick", 1); await null; console.log("tick", 2); x';
    for (const compactor of ["jq", "node"]) {
      const lines = await ok("run-snippet.sh", ["--stream", session, code], { VMSYSTEM_JSON: compactor });
      const [first, last] = [lines[0], lines[lines.length - 1]];
      expect(first.started, compactor).toMatchObject({ status: "EXECUTION_STATUS_RUNNING", input: code });
      expect(last.finished, compactor).toMatchObject({ id: first.started.id, status: "EXECUTION_STATUS_OK", result: { json: 41 } });
      const events = lines.slice(1, -1).map((l) => l.event);
      expect(
        events.every((e) => e && e.executionId === first.started.id),
        compactor,
      ).toBe(true);
      expect(contiguous(events.map((e) => e.seq))).toBe(true);
      expect(events.filter((e) => e.console).map((e) => e.console.text)).toEqual(["tick 1", "tick 2"]);
      expect(events[events.length - 1].value.json).toBe(41);
    }
  });

  it("tail-execution.sh replays an execution's stored events, and resumes after AFTER_SEQ", async () => {
    const session = await newSession();
    const [execution] = await ok("run-snippet.sh", [session, 'console.log("a"); console.warn("b"); 7']);
    const stored = await unary<ListEventsResponse>((cb) => s.executions.listEvents({ executionId: execution.id, afterSeq: 0, limit: 0 }, cb));

    const all = (await ok("tail-execution.sh", [execution.id])).map((l) => l.event);
    expect(all.map((e) => e.seq)).toEqual(stored.events.map((e) => e.seq));
    expect(all.map((e) => e.type)).toEqual(["EVENT_TYPE_INPUT_ECHO", "EVENT_TYPE_CONSOLE", "EVENT_TYPE_CONSOLE", "EVENT_TYPE_VALUE"]);
    expect(all[2].console).toEqual({ level: "warn", text: "b" });

    const rest = (await ok("tail-execution.sh", [execution.id, "2"])).map((l) => l.event);
    expect(rest.map((e) => e.seq)).toEqual([3, 4]);
  });

  it("tail-execution.sh follows a running execution and returns when it ends", async () => {
    const session = await newSession();
    // Runs until cancelled: awaits a promise nothing resolves.
    const streamed = collect<StreamExecutionResponse>(
      s.executions.streamExecution({ sessionId: session, requestId: "", repl: { input: 'console.log("waiting"); await new Promise(() => {})' }, maxBatch: 0 }),
    );
    await until(() => streamed.messages.some((m) => m.event?.console?.text === "waiting"));
    const executionId = streamed.messages[0].started!.id;

    const events: { seq: number; type: string; console?: { text: string } }[] = [];
    let cancelled: Promise<Execution> | undefined;
    const tail = spawnLines(join(SCRIPTS, "tail-execution.sh"), [executionId], scriptEnv(), (line) => {
      const event = JSON.parse(line).event;
      events.push(event);
      // The replayed console line proves the tail is connected: only now end the execution,
      // so what follows can reach the tail only by following live.
      if (event.console?.text === "waiting" && !cancelled) cancelled = unary<Execution>((cb) => s.executions.cancelExecution({ executionId }, cb));
    });
    const { code, stderr } = await tail.exited;
    expect(code, stderr).toBe(0);
    expect(cancelled, "the tail never printed the replayed console line").toBeDefined();
    const ended = await cancelled!;
    expect(ended.status).toBe(ExecutionStatus.EXECUTION_STATUS_CANCELLED);
    await streamed.done;

    expect(contiguous(events.map((e) => e.seq))).toBe(true);
    expect(events.length).toBe(ended.metrics!.eventCount);
    const waiting = events.findIndex((e) => e.console?.text === "waiting");
    expect(events.slice(waiting + 1).map((e) => e.type)).toContain("EVENT_TYPE_SYSTEM");
  });

  it("close-session.sh closes (twice is a no-op)", async () => {
    const session = await newSession();
    const [closed] = await ok("close-session.sh", [session]);
    expect(closed).toMatchObject({ id: session, status: "SESSION_STATUS_CLOSED" });
    expect((await ok("close-session.sh", [session]))[0].status).toBe("SESSION_STATUS_CLOSED");
  });

  it("a failed RPC exits 1 with the google.rpc.Status as JSON on stderr, ErrorInfo decoded", async () => {
    const r = await script("close-session.sh", ["00000000-0000-0000-0000-000000000000"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const err = JSON.parse(r.stderr);
    expect(err).toMatchObject({ code: "not_found" });
    expect(err.details[0]).toMatchObject({ type: "google.rpc.ErrorInfo", debug: { reason: "SESSION_NOT_FOUND", domain: "vmsystem.v1" } });

    const missing = await script("start-session.sh", [await newTemplate(), "no/such/dir"]);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr).details[0].debug.reason).toBe("INVALID_PATH");

    const unreachable = await script("create-template.sh", ["x"], { VMSYSTEM_SERVER: "127.0.0.1:1" });
    expect(unreachable.code).toBe(1);

    // Without VMSYSTEM_SERVER the scripts, describe.sh's Node client included, call the default address.
    const byDefault = await script("describe.sh", ["SessionService/GetSession"], { VMSYSTEM_SERVER: undefined });
    if (byDefault.code !== 0) expect(JSON.parse(byDefault.stderr).error).toContain("127.0.0.1:50051");
  });

  it("bad usage exits 2 before calling anything", async () => {
    const offline = { VMSYSTEM_SERVER: "127.0.0.1:1" };
    for (const [name, args, extra] of [
      ["create-template.sh", []],
      ["create-template.sh", ["a", "{}", "extra"]],
      ["start-session.sh", ["only-template"]],
      ["run-snippet.sh", ["only-session"]],
      ["run-snippet.sh", ["--stream"]],
      ["tail-execution.sh", []],
      ["tail-execution.sh", ["e", "not-a-number"]],
      ["close-session.sh", []],
      ["describe.sh", []],
      ["rpc.sh", []],
      ["create-template.sh", ["x"], { VMSYSTEM_GRPC_TOOL: "curl" }],
    ] as [string, string[], NodeJS.ProcessEnv?][]) {
      const r = await script(name, args, { ...offline, ...extra });
      expect(r.code, `${name} ${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe("");
    }
  });

  it("rpc.sh calls any method (request as an argument or on stdin) and lists services", async () => {
    const listed = await script("rpc.sh", ["list"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split("\n")).toEqual(
      expect.arrayContaining(["vmsystem.v1.TemplateService", "vmsystem.v1.SessionService", "vmsystem.v1.ExecutionService", "grpc.health.v1.Health"]),
    );

    const t = await newTemplate();
    const [added] = await ok("rpc.sh", ["vmsystem.v1.TemplateService/AddModule", JSON.stringify({ templateId: t, name: "fs" })]);
    expect(added).toMatchObject({ templateId: t, name: "fs" });
    const [modules] = await ok("rpc.sh", ["vmsystem.v1.TemplateService/ListModules", "-"], {}, JSON.stringify({ templateId: t }));
    expect(modules.modules.map((m: { name: string }) => m.name)).toEqual(["fs"]);
    const [health] = await ok("rpc.sh", ["grpc.health.v1.Health/Check"]);
    expect(health).toEqual({ status: "SERVING" });
  });
});

describe("scripts/describe.sh: request shapes through reflection", () => {
  const methods = [TemplateServiceService, SessionServiceService, ExecutionServiceService].flatMap((service) => Object.values(service));

  it("describes every method of every vmsystem service, every message resolved", async () => {
    expect(methods.length).toBeGreaterThan(30);
    const described = new Map<string, { code: number | null; stderr: string; out: ReturnType<typeof jsonLines> }>();
    // A few at a time: each is a node process.
    for (let i = 0; i < methods.length; i += 4) {
      await Promise.all(
        methods.slice(i, i + 4).map(async (m) => {
          const r = await script("describe.sh", [m.path.slice(1)]);
          described.set(m.path, { code: r.code, stderr: r.stderr, out: r.code === 0 ? jsonLines(r.stdout) : [] });
        }),
      );
    }
    for (const m of methods) {
      const { code, stderr, out } = described.get(m.path)!;
      expect(code, `${m.path}: ${stderr}`).toBe(0);
      expect(out).toHaveLength(1);
      const d = out[0];
      expect(d.method).toBe(m.path.slice(1));
      expect(d.requestType).toMatch(/^vmsystem\.v1\.\w+Request$/);
      expect(d.serverStreaming, m.path).toBe(m.responseStream);
      expect(d.clientStreaming).toBe(false);
      // The template has exactly the request's fields, by their JSON names.
      expect(Object.keys(d.template).sort()).toEqual(d.fields.map((f: { jsonName: string }) => f.jsonName).sort());
    }
  });

  it("shows nested messages, enums, maps and oneofs; a filled-in template is a valid request", async () => {
    const [create] = await ok("describe.sh", ["vmsystem.v1.TemplateService/CreateTemplate"]);
    expect(create.template).toMatchObject({
      name: "",
      engine: "",
      settings: { limits: { cpuMs: 0 }, resolver: { extensions: [""] }, runtime: { esm: false } },
    });

    const [stream] = await ok("describe.sh", ["ExecutionService.StreamExecution"]);
    expect(stream).toMatchObject({
      method: "vmsystem.v1.ExecutionService/StreamExecution",
      responseType: "vmsystem.v1.StreamExecutionResponse",
      serverStreaming: true,
    });
    expect(stream.fields.filter((f: { oneof?: string }) => f.oneof === "input").map((f: { name: string }) => f.name)).toEqual(["repl", "run_file"]);
    expect(stream.template.runFile.env).toEqual({ "": "" });

    const [list] = await ok("describe.sh", ["SessionService/ListSessions"]);
    expect(list.fields[0]).toMatchObject({ name: "status", type: "vmsystem.v1.SessionStatus", enumValues: expect.arrayContaining(["SESSION_STATUS_READY"]) });

    const t = await newTemplate("described");
    const [get] = await ok("describe.sh", ["TemplateService/GetTemplate"]);
    const [got] = await ok("rpc.sh", ["vmsystem.v1.TemplateService/GetTemplate", JSON.stringify({ ...get.template, templateId: t })]);
    expect(got).toMatchObject({ id: t, name: "described" });
  });

  it("fails with exit 1 and a JSON error for an unknown service or method", async () => {
    for (const target of ["SessionService/Nope", "NoSuchService/Get"]) {
      const r = await script("describe.sh", [target]);
      expect(r.code, target).toBe(1);
      expect(JSON.parse(r.stderr).error).toMatch(/Nope|NoSuchService/);
    }
  });
});

/**
 * grpcurl is not installable here. This stand-in accepts only grpcurl's
 * argument grammar (flags first, then the address, then `list [SERVICE]` or
 * a method) for the flags the scripts and docs use, records each call, and
 * forwards it to buf curl: it checks what the scripts' grpcurl branch sends,
 * not grpcurl itself.
 */
function writeGrpcurlStandIn(dir: string, log: string): void {
  const path = join(dir, "grpcurl");
  writeFileSync(
    path,
    `#!/usr/bin/env bash
set -euo pipefail
printf '%s\\n' "$*" >> ${JSON.stringify(log)}
headers=() data="" plaintext=false
while [[ $# -gt 0 && $1 == -* ]]; do
  case $1 in
    -plaintext) plaintext=true ;;
    -format-error) ;;
    -H) headers+=(-H "$2"); shift ;;
    -d) data=$2; shift ;;
    *) echo "grpcurl stand-in: unsupported flag $1" >&2; exit 99 ;;
  esac
  shift
done
$plaintext || { echo "grpcurl stand-in: expected -plaintext" >&2; exit 99; }
[[ $# -ge 2 ]] || { echo "grpcurl stand-in: expected ADDRESS and a method or list" >&2; exit 99; }
address=$1 target=$2
[[ $address =~ ^[^/]+:[0-9]+$ ]] || { echo "grpcurl stand-in: bad address $address" >&2; exit 99; }
buf=(${JSON.stringify(BUF)} curl --protocol grpc --http2-prior-knowledge)
if [[ $target == list ]]; then
  if [[ $# -eq 3 ]]; then "\${buf[@]}" --list-methods "http://$address" | grep "^$3/" | sed 's|/|.|'; else "\${buf[@]}" --list-services "http://$address"; fi
  exit
fi
[[ $# -eq 2 && $target == */* ]] || { echo "grpcurl stand-in: bad method $target" >&2; exit 99; }
if [[ $data == @ ]]; then data=$(cat); fi
exec "\${buf[@]}" \${headers[@]+"\${headers[@]}"} -d "\${data:-{\\}}" "http://$address/$target"
`,
  );
  chmodSync(path, 0o755);
}

describe("scripts/*.sh through grpcurl (a stand-in on PATH)", () => {
  let bin: string;
  let log: string;
  beforeAll(() => {
    bin = mkdtempSync(join(tmpdir(), "vmsystem-grpcurl-"));
    log = join(bin, "calls.log");
    writeFileSync(log, "");
    writeGrpcurlStandIn(bin, log);
  });
  afterAll(() => rmSync(bin, { recursive: true, force: true }));
  const viaGrpcurl = (extra: NodeJS.ProcessEnv = {}) => ({ PATH: `${bin}:${process.env.PATH}`, VMSYSTEM_GRPC_TOOL: "", ...extra });

  it("prefers grpcurl when installed: -plaintext, -format-error, the token as a header, the request on stdin", async () => {
    const [t] = await ok("create-template.sh", ["via-grpcurl"], viaGrpcurl({ VMSYSTEM_AUTH_TOKEN: "s3cret" }));
    expect(t).toMatchObject({ name: "via-grpcurl", engine: "isolated-vm" });
    expect(readFileSync(log, "utf8")).toContain(
      `-plaintext -format-error -H authorization: Bearer s3cret -d @ ${s.address} vmsystem.v1.TemplateService/CreateTemplate`,
    );

    const [session] = await ok("start-session.sh", [t.id, work], viaGrpcurl());
    const lines = await ok("run-snippet.sh", ["--stream", session.id, 'console.log("via grpcurl"); 1'], viaGrpcurl());
    expect(lines[0].started.status).toBe("EXECUTION_STATUS_RUNNING");
    expect(lines.some((l) => l.event?.console?.text === "via grpcurl")).toBe(true);
    expect(lines[lines.length - 1].finished.result.json).toBe(1);

    const listed = await script("rpc.sh", ["list"], viaGrpcurl());
    expect(listed.stdout).toContain("vmsystem.v1.ExecutionService");
    expect(readFileSync(log, "utf8")).toContain(`-plaintext ${s.address} list`);
  });
});

/** Fenced ```sh blocks right after a `<!-- tested -->` (or `<!-- tested: grpcurl stand-in -->`) line. */
function testedBlocks(file: string): { code: string; grpcurl: boolean; line: number }[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const blocks: { code: string; grpcurl: boolean; line: number }[] = [];
  lines.forEach((line, i) => {
    const marker = /^<!-- tested(: grpcurl stand-in)? -->$/.exec(line.trim());
    if (!marker) return;
    expect(lines[i + 1], `${file}:${i + 2} must open a sh block`).toBe("```sh");
    const end = lines.indexOf("```", i + 2);
    blocks.push({ code: lines.slice(i + 2, end).join("\n"), grpcurl: Boolean(marker[1]), line: i + 1 });
  });
  return blocks;
}

/** The `# → a / b` annotations of a block: the stdout lines it must print, in order. */
function expectedLines(code: string): string[] {
  return [...code.matchAll(/# → (.*)$/gm)].flatMap((m) => m[1].trim().split(" / "));
}

describe("the documented shell examples, run as written", () => {
  const docs = ["docs/scripting.md", "README.md"].flatMap((file) => testedBlocks(file).map((b) => ({ file, ...b })));
  let bin: string;
  beforeAll(() => {
    bin = mkdtempSync(join(tmpdir(), "vmsystem-grpcurl-"));
    writeGrpcurlStandIn(bin, join(bin, "calls.log"));
  });
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  it("finds the tested blocks", () => {
    expect(docs.filter((d) => d.file === "docs/scripting.md").length).toBeGreaterThanOrEqual(5);
    expect(docs.filter((d) => d.file === "README.md").length).toBeGreaterThanOrEqual(1);
  });

  it.each(docs.map((d) => [`${d.file}:${d.line}`, d] as const))("%s", async (_, block) => {
    // The docs name the default address; the test server listens elsewhere.
    const code = block.code.replaceAll("127.0.0.1:50051", s.address);
    const env = block.grpcurl ? { PATH: `${bin}:${process.env.PATH}`, VMSYSTEM_GRPC_TOOL: "" } : { VMSYSTEM_GRPC_TOOL: "buf" };
    const r = await run("bash", ["-c", `set -euo pipefail\ncd "$1"\n${code}`, "bash", ROOT], { ...scriptEnv(), ...env });
    expect(r.code, `${block.file}:${block.line}\n${r.stderr}`).toBe(0);
    const printed = r.stdout.split("\n");
    let at = 0;
    for (const want of expectedLines(block.code)) {
      const found = printed.indexOf(want, at);
      expect(found, `${block.file}:${block.line} should print ${JSON.stringify(want)} (after line ${at}); printed:\n${r.stdout}`).toBeGreaterThanOrEqual(0);
      at = found + 1;
    }
  });
});

describe("scripts/*.sh over TLS and with a token (VMSYSTEM_TLS_CA, VMSYSTEM_AUTH_TOKEN)", () => {
  let dir: string;
  const TOKEN = "script-token";
  // Registered before the server's hooks: the certificate exists before it starts.
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vmsystem-scripts-tls-"));
    await selfSignedCertificate(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tls = useTestServer(() => ({ tlsCert: join(dir, "cert.pem"), tlsKey: join(dir, "key.pem"), authToken: TOKEN }));

  it("create-template.sh, rpc.sh list and describe.sh connect with TLS trusting the CA and send the token", async () => {
    const env = { VMSYSTEM_SERVER: `localhost:${tls.app.port}`, VMSYSTEM_TLS_CA: join(dir, "cert.pem"), VMSYSTEM_AUTH_TOKEN: TOKEN };
    const created = await script("create-template.sh", ["over-tls"], env);
    expect(created.code, created.stderr).toBe(0);
    expect(jsonLines(created.stdout)[0]).toMatchObject({ name: "over-tls" });
    const listed = await script("rpc.sh", ["list"], env);
    expect(listed.stdout).toContain("vmsystem.v1.SessionService");
    const described = await script("describe.sh", ["vmsystem.v1.TemplateService/CreateTemplate"], env);
    expect(described.code, described.stderr).toBe(0);
    // Without the token the call is refused; without the CA it does not connect.
    const noToken = await script("create-template.sh", ["x"], { ...env, VMSYSTEM_AUTH_TOKEN: "" });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain("UNAUTHENTICATED");
    const noCa = await script("create-template.sh", ["x"], { ...env, VMSYSTEM_TLS_CA: "" });
    expect(noCa.code).toBe(1);
  });
});
