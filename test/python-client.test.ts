import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ExecutionStatus, type ListExecutionsResponse } from "../gen/vmsystem/v1/execution";
import { SessionStatus, type Session } from "../gen/vmsystem/v1/session";
import { ROOT, run } from "./support/process";
import { unary, useTestServer } from "./support/server";
import { contiguous } from "./support/streams";

// The Python client in examples/python/ (stubs generated from proto/ and
// committed) against the real server. Runs under Debian's /usr/bin/python3
// with python3-grpcio and python3-protobuf; .ci/run installs them, so in CI
// (CI=true) a missing module fails the suite instead of skipping it.

const PYTHON = "/usr/bin/python3";
const EXAMPLE = join(ROOT, "examples", "python", "vmsystem_example.py");
const GENERATE = join(ROOT, "examples", "python", "generate.sh");
// Keep gen/ free of __pycache__ (the freshness check compares it).
const PY_ENV = { PYTHONDONTWRITEBYTECODE: "1", VMSYSTEM_AUTH_TOKEN: "" };

const s = useTestServer();
let missing: string | undefined; // why the Python side cannot run here
let noProtoc: string | undefined; // why stubs cannot be regenerated here

beforeAll(async () => {
  const probe = await run(PYTHON, ["-c", "import grpc, google.protobuf"], PY_ENV);
  if (probe.code !== 0)
    missing = `${PYTHON} cannot import grpc/google.protobuf (apt-get install python3-grpcio python3-protobuf): ${probe.stderr.trim().split("\n").pop()}`;
  const tools = await run("bash", ["-c", "command -v protoc && command -v grpc_python_plugin"]);
  if (tools.code !== 0) noProtoc = "protoc or grpc_python_plugin missing (apt-get install protobuf-compiler protobuf-compiler-grpc)";
});

/** Skips with the reason outside CI; in CI the prerequisites are installed, so their absence is a failure. */
function requires(ctx: { skip: (note?: string) => never }, why: string | undefined): void {
  if (!why) return;
  if (process.env.CI) throw new Error(`CI must run the Python client: ${why}`);
  ctx.skip(why);
}

interface Line {
  step: string;
  [key: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe("examples/python (generated stubs, real server)", () => {
  it("the committed stubs are what generate.sh writes from proto/ now", async (ctx) => {
    requires(ctx, noProtoc);
    const r = await run(GENERATE, ["--check"]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  });

  it("runs the example: template, session, REPL state, a followed StreamExecution, an exception, ErrorInfo from the trailers", async (ctx) => {
    requires(ctx, missing);
    const r = await run(PYTHON, [EXAMPLE, s.address], PY_ENV);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const lines: Line[] = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const steps = (name: string) => lines.filter((l) => l.step === name);
    const one = (name: string) => {
      const found = steps(name);
      expect(found, name).toHaveLength(1);
      return found[0];
    };

    expect(one("health").status).toBe("SERVING");
    const template = one("template");
    expect(template).toMatchObject({ name: "python-example", engine: "isolated-vm", limits: { cpuMs: 2000, wallMs: 30000 } });
    const session = one("session");
    expect(session.status).toBe("SESSION_STATUS_READY");

    // State carries across executions: var x = 41, then x + 1.
    expect(steps("repl")).toMatchObject([
      { input: "var x = 41", number: 1, status: "EXECUTION_STATUS_OK", result: { type: "undefined" } },
      { input: "x + 1", number: 2, status: "EXECUTION_STATUS_OK", result: { type: "number", preview: "42", json: 42 } },
    ]);

    // StreamExecution: started (RUNNING, with the id) first, then the events in seq order, then finished.
    const stream = steps("stream");
    expect(stream[0]).toMatchObject({ update: "started", status: "EXECUTION_STATUS_RUNNING" });
    const id = stream[0].executionId;
    expect(stream[stream.length - 1]).toMatchObject({ update: "finished", executionId: id, status: "EXECUTION_STATUS_OK", result: { json: 82 } });
    const events = stream.slice(1, -1).map((l) => l.event);
    expect(stream.slice(1, -1).every((l) => l.update === "event")).toBe(true);
    expect(events.every((e) => e.executionId === id)).toBe(true);
    expect(contiguous(events.map((e) => e.seq))).toBe(true);
    expect(events.map((e) => e.type)).toEqual(["EVENT_TYPE_INPUT_ECHO", "EVENT_TYPE_CONSOLE", "EVENT_TYPE_CONSOLE", "EVENT_TYPE_CONSOLE", "EVENT_TYPE_VALUE"]);
    expect(events.filter((e) => e.console).map((e) => e.console.text)).toEqual(["tick 1", "tick 2", "tick 3"]);

    expect(one("exception")).toMatchObject({ status: "EXECUTION_STATUS_ERROR", errorCode: "EXCEPTION", name: "TypeError", message: "bad input" });

    // The RPC error's google.rpc.Status, decoded by Python from grpc-status-details-bin.
    expect(one("error")).toMatchObject({
      code: "NOT_FOUND",
      statusCode: 5,
      reason: "SESSION_NOT_FOUND",
      domain: "vmsystem.v1",
      metadata: { id: "00000000-0000-0000-0000-000000000000" },
    });
    expect(one("close")).toMatchObject({ id: session.id, status: "SESSION_STATUS_CLOSED" });
    expect(steps("failed")).toEqual([]);

    // The server saw it all: the session is closed, with the four executions the example ran.
    const stored = await unary<Session>((cb) => s.sessions.getSession({ sessionId: session.id }, cb));
    expect(stored.status).toBe(SessionStatus.SESSION_STATUS_CLOSED);
    const list = await unary<ListExecutionsResponse>((cb) => s.executions.listExecutions({ sessionId: session.id, pageSize: 10, pageToken: "" }, cb));
    expect(list.executions.map((e) => e.status)).toEqual([
      ExecutionStatus.EXECUTION_STATUS_ERROR,
      ExecutionStatus.EXECUTION_STATUS_OK,
      ExecutionStatus.EXECUTION_STATUS_OK,
      ExecutionStatus.EXECUTION_STATUS_OK,
    ]);
    expect(list.executions[1].id).toBe(id);
  });

  it("uses a given worktree, and fails with exit 1 and a `failed` line when the server is unreachable", async (ctx) => {
    requires(ctx, missing);
    const worktree = realpathSync(mkdtempSync(join(tmpdir(), "vmsystem-py-")));
    try {
      const r = await run(PYTHON, [EXAMPLE, "--worktree", worktree, s.address], PY_ENV);
      expect(r.code, r.stderr).toBe(0);
      const session = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .find((l) => l.step === "session");
      const stored = await unary<Session>((cb) => s.sessions.getSession({ sessionId: session.id }, cb));
      expect(stored.worktreePath).toBe(worktree);
    } finally {
      rmSync(worktree, { recursive: true, force: true });
    }

    const down = await run(PYTHON, [EXAMPLE, "127.0.0.1:1"], PY_ENV);
    expect(down.code).toBe(1);
    const last = JSON.parse(down.stdout.trim().split("\n").pop()!);
    expect(last).toMatchObject({ step: "failed", code: "UNAVAILABLE" });
  });
});
