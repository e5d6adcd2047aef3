import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { cli } from "./support/process";
import { rpcError, unary, useTestServer } from "./support/server";

// The contract side of durable sessions and forks: ForkSession is served, the
// CLI's `session fork` and `--status RESTORING` parse, `serve --session-restore`
// checks its value. What a fork holds is tested with the core.
const s = useTestServer();

// Nothing listens there: a command that gets as far as calling fails UNAVAILABLE (exit 1), bad usage exits 2 first.
const unreachable = ["--server", "127.0.0.1:1"];

describe("ForkSession on the wire", { timeout: 60_000 }, () => {
  it("is served, and a request without session_id is VALIDATION_ERROR through the error mapper", async () => {
    const err = await rpcError(unary((cb) => s.sessions.forkSession({ sessionId: "", atExecutionNumber: 0 }, cb)));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR", domain: "vmsystem.v1" });
    expect(err.message).toContain("session_id");
  });

  it("sessions show restore_count 0 and no fork source; the human view has a restores row", async () => {
    const session = await s.api.ready({ name: "fork-wire" });
    expect(session).toMatchObject({ restoreCount: 0, forkedFromSessionId: "", forkedFromExecutionNumber: 0 });
    const human = await cli(["--server", s.address, "session", "get", session.id]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/restores\s*│\s*0\s/);
    expect(human.stdout).toMatch(/forked from\s*│\s*│/);
  });
});

describe("vmsystem session fork and --status RESTORING", { timeout: 60_000 }, () => {
  it("exits 2 before calling on a missing ID or an --at that is not an execution number", async () => {
    for (const args of [
      ["session", "fork"],
      ["session", "fork", "--at", "2"],
      ["session", "fork", "some-id", "--at", "x"],
      ["session", "fork", "some-id", "--at", "-1"],
      ["session", "fork", "some-id", "--at", "1.5"],
      ["session", "fork", "some-id", "--worktree"],
    ]) {
      const r = await cli([...unreachable, ...args]);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(" ")).toContain("error:");
    }
  });

  it("with good flags, gets as far as the call", async () => {
    for (const args of [
      ["session", "fork", "some-id"],
      ["session", "fork", "some-id", "--at", "3", "--worktree", "/tmp"],
      ["--output", "json", "session", "fork", "--at", "0", "some-id"],
    ]) {
      const r = await cli([...unreachable, ...args]);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(1);
      expect(r.stderr, args.join(" ")).toContain("UNAVAILABLE");
    }
  });

  it("session list --status takes RESTORING in the short and the full form", async () => {
    for (const status of ["RESTORING", "restoring", "SESSION_STATUS_RESTORING"]) {
      const r = await cli(["--server", s.address, "--output", "json", "session", "list", "--status", status]);
      expect(r.code, `${status}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout).items, status).toEqual([]);
    }
    const bad = await cli([...unreachable, "session", "list", "--status", "RESTORED"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("RESTORING");
  });
});

describe("vmsystem serve --session-restore", { timeout: 60_000 }, () => {
  it("fails to start with a clear message on a value other than lazy, eager or off, from the flag or the environment", async () => {
    const flag = await cli(["serve", "--listen", "127.0.0.1:0", "--session-restore", "bogus"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--session-restore must be lazy, eager or off (got "bogus")');
    const env = await cli(["serve", "--listen", "127.0.0.1:0"], { VMSYSTEM_SESSION_RESTORE: "sometimes" });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('--session-restore must be lazy, eager or off (got "sometimes")');
  });
});
