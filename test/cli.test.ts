import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import type { Execution } from "../gen/vmsystem/v1/execution";
import { BIN, cli } from "./support/process";
import { unary, useTestServer } from "./support/server";

const s = useTestServer();

const json = async (args: string[]) => {
  const r = await cli(["--server", s.address, "--output", "json", ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

// Each test runs CLI processes one after another: generous timeouts for a loaded 2-core machine.
describe("vmsystem template …", { timeout: 90_000 }, () => {
  it("scripts the whole TemplateService in json mode", async () => {
    const t = await json(["template", "create", "--name", "cli", "--cpu-ms", "300", "--esm", "true", "--extensions", ".js,.cjs"]);
    expect(t).toMatchObject({
      name: "cli",
      engine: "isolated-vm",
      settings: { limits: { cpuMs: 300 }, runtime: { esm: true }, resolver: { extensions: [".js", ".cjs"] } },
    });

    const updated = await json(["template", "settings", t.id, "--wall-ms", "1234", "--console", "false"]);
    expect(updated.settings.limits).toMatchObject({ cpuMs: 300, wallMs: 1234 });
    expect(updated.settings.runtime.console).toBe(false);

    const file = await json(["template", "startup", "add", t.id, "boot.js", "--order", "2", "--mode", "module"]);
    expect(file).toMatchObject({ path: "boot.js", orderIndex: 2, mode: "module" });
    expect((await json(["template", "startup", "list", t.id])).items).toHaveLength(1);

    expect(await json(["template", "module", "add", t.id, "fs"])).toMatchObject({ name: "fs", templateId: t.id });
    expect(await json(["template", "library", "add", t.id, "lodash"])).toMatchObject({ name: "lodash" });
    const cap = await json(["template", "capability", "add", t.id, "--kind", "global", "--name", "CONFIG", "--config", '{"a":1}']);
    expect(cap).toMatchObject({ kind: "global", name: "CONFIG", enabled: true, config: { a: 1 } });

    const got = await json(["template", "get", t.id]);
    expect(got.modules.map((m: { name: string }) => m.name)).toEqual(["fs"]);
    expect(got.libraries.map((l: { name: string }) => l.name)).toEqual(["lodash"]);
    expect(got.capabilities).toHaveLength(1);
    expect(got.startupFiles).toHaveLength(1);

    expect((await json(["template", "module", "available"])).items.map((m: { name: string }) => m.name)).toContain("database");
    expect((await json(["template", "library", "available"])).items.map((m: { name: string }) => m.name)).toContain("ramda");

    await json(["template", "capability", "remove", t.id, cap.id]);
    await json(["template", "module", "remove", t.id, "fs"]);
    await json(["template", "library", "remove", t.id, "lodash"]);
    await json(["template", "startup", "remove", t.id, file.id]);
    const bare = await json(["template", "get", t.id]);
    expect([bare.modules, bare.libraries, bare.capabilities, bare.startupFiles]).toEqual([undefined, undefined, undefined, undefined]);

    const list = await json(["template", "list", "--all"]);
    expect(list.items.map((x: { id: string }) => x.id)).toContain(t.id);
    expect(list).toHaveProperty("nextPageToken");

    await json(["template", "delete", t.id]);
    const gone = await cli(["--server", s.address, "template", "get", t.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("TEMPLATE_NOT_FOUND");
  });

  it("pages with --page-size and --page-token", async () => {
    for (const n of ["p1", "p2", "p3"]) await json(["template", "create", "--name", n]);
    const first = await json(["template", "list", "--page-size", "2"]);
    expect(first.items).toHaveLength(2);
    expect(first.nextPageToken).not.toBe("");
    const second = await json(["template", "list", "--page-size", "2", "--page-token", first.nextPageToken]);
    expect(second.items[0].id).not.toBe(first.items[1].id);
  });

  it("prints tables for people and accepts global flags before or after the subcommand", async () => {
    const r = await cli(["template", "create", "--name", "human", "--server", s.address]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/name\s+│ human/);
    const l = await cli(["--server", s.address, "template", "list"]);
    expect(l.stdout).toContain("human");
  });

  it("exits 1 with reason and message on RPC errors, in json mode as JSON", async () => {
    const r = await cli(["--server", s.address, "template", "module", "add", "00000000-0000-0000-0000-000000000000", "fs"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("TEMPLATE_NOT_FOUND");
    const created = await json(["template", "create", "--name", "errs"]);
    const j = await cli(["--server", s.address, "--output", "json", "template", "module", "add", created.id, "math"]);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stderr)).toMatchObject({ code: "INVALID_ARGUMENT", reason: "MODULE_NOT_ALLOWED" });
  });

  it("exits 2 on bad usage before calling anything", async () => {
    const unreachable = ["--server", "127.0.0.1:1"];
    for (const args of [
      ["template", "create"],
      ["template", "get"],
      ["template", "startup", "add", "t", "a.js"],
      ["template", "startup", "add", "t", "a.js", "--order", "x"],
      ["template", "create", "--name", "n", "--esm", "maybe"],
      ["template", "nope"],
      ["--output", "yaml", "template", "list"],
    ]) {
      const r = await cli([...unreachable, ...args]);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
    }
  });

  it("exits 1 when the server cannot be reached", async () => {
    const r = await cli(["--server", "127.0.0.1:1", "template", "list"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("UNAVAILABLE");
  });

  it("reports health with ops health", async () => {
    const r = await cli(["--server", s.address, "ops", "health"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("SERVING");
  });
});

describe("vmsystem session … and exec …", { timeout: 90_000 }, () => {
  it("creates a session, runs code in both output modes and reads it back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsystem-cli-"));
    writeFileSync(join(dir, "main.js"), "console.log('args', argv.join('+'), env.GREETING); argv.length");
    try {
      const t = await json(["template", "create", "--name", "cli-session"]);
      const session = await json(["session", "create", "--template", t.id, "--workspace", "w", "--commit", "c0ffee", "--worktree", dir]);
      expect(session).toMatchObject({ status: "SESSION_STATUS_READY", worktreePath: dir });

      const human = await cli(["--server", s.address, "exec", "repl", "--session", session.id, "console.log('hello', {a: 1}); 6 * 7"]);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toBe("hello { a: 1 }\n42\n");

      const piped = await cli(
        ["--server", s.address, "--output", "json", "exec", "repl", "--session", session.id, "-"],
        {},
        "var fromStdin = 'yes'; fromStdin",
      );
      expect(piped.code).toBe(0);
      const pipedExec = JSON.parse(piped.stdout);
      expect(pipedExec).toMatchObject({ status: "EXECUTION_STATUS_OK", kind: "EXECUTION_KIND_REPL", result: { type: "string", json: "yes" } });
      expect(pipedExec.events.map((e: { type: string }) => e.type)).toEqual(["EVENT_TYPE_INPUT_ECHO", "EVENT_TYPE_VALUE"]);

      const failing = await cli(["--server", s.address, "exec", "repl", "--session", session.id, "throw new RangeError('nope')"]);
      expect(failing.code).toBe(3);
      expect(failing.stderr).toContain("RangeError: nope");

      const file = await cli([
        "--server",
        s.address,
        "--output",
        "json",
        "exec",
        "run-file",
        "--session",
        session.id,
        "--env",
        "GREETING=hi",
        "main.js",
        "--",
        "x",
        "--y",
      ]);
      expect(file.code, file.stderr).toBe(0);
      const fileExec = JSON.parse(file.stdout);
      expect(fileExec).toMatchObject({ kind: "EXECUTION_KIND_RUN_FILE", path: "main.js", args: ["x", "--y"], result: { json: 2 } });
      expect(fileExec.events[1].console.text).toBe("args x+--y hi");

      const missing = await cli(["--server", s.address, "exec", "run-file", "--session", session.id, "nope.js"]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("FILE_NOT_FOUND");

      const list = await json(["exec", "list", "--session", session.id]);
      expect(list.items.map((e: { number: number }) => e.number)).toEqual([4, 3, 2, 1]);
      const got = await json(["exec", "get", fileExec.id]);
      expect(got.events).toHaveLength(fileExec.events.length);
      const events = await json(["exec", "events", fileExec.id, "--after-seq", "1"]);
      expect(events.items[0].seq).toBe(2);

      const summary = await json(["ops", "runtime-summary"]);
      const mine = summary.sessions.find((x: { sessionId: string }) => x.sessionId === session.id);
      // uint64 fields as protojson writes them: decimal strings.
      expect(mine).toMatchObject({
        status: "SESSION_STATUS_READY",
        executionsRun: expect.stringMatching(/^\d+$/),
        heapUsedBytes: expect.stringMatching(/^[1-9]\d*$/),
      });
      const humanSummary = await cli(["--server", s.address, "ops", "runtime-summary"]);
      expect(humanSummary.stdout).toMatch(/live sessions: \d+/);
      expect(humanSummary.stdout).toContain(session.id);

      const ready = await json(["session", "list", "--status", "READY"]);
      expect(ready.items.map((x: { id: string }) => x.id)).toContain(session.id);
      const closed = await json(["session", "close", session.id]);
      expect(closed.status).toBe("SESSION_STATUS_CLOSED");
      const closedList = await json(["session", "list", "--status", "SESSION_STATUS_CLOSED"]);
      expect(closedList.items.map((x: { id: string }) => x.id)).toContain(session.id);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("checks required flags before calling", async () => {
    for (const args of [
      ["session", "create", "--template", "t"],
      ["session", "list", "--status", "SLEEPING"],
      ["exec", "repl", "1 + 1"],
      ["exec", "run-file", "--session", "s"],
      ["exec", "events", "e", "--after-seq", "x"],
    ]) {
      const r = await cli(["--server", "127.0.0.1:1", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
    }
  });
});

describe("live output in the CLI", { timeout: 90_000 }, () => {
  // About a dozen CLI processes: slow on a loaded 2-core machine.
  it("tails, watches and cancels; Ctrl-C on a running exec cancels the execution", { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsystem-cli-live-"));
    try {
      const t = await json(["template", "create", "--name", "cli-live"]);
      const session = await json(["session", "create", "--template", t.id, "--workspace", "w", "--commit", "c", "--worktree", dir]);

      const watcher = spawn(BIN, ["--server", s.address, "--output", "json", "session", "watch", session.id]);
      let watched = "";
      watcher.stdout.on("data", (d) => (watched += d));
      await new Promise((r) => setTimeout(r, 700));

      const e = await json(["exec", "repl", "--session", session.id, "console.log('one'); console.log('two'); 3"]);
      const tailed = await cli(["--server", s.address, "--output", "json", "exec", "tail", e.id, "--after-seq", "1", "--follow"]);
      expect(tailed.code).toBe(0);
      expect(
        tailed.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).event.seq),
      ).toEqual([2, 3, 4]);
      const human = await cli(["--server", s.address, "exec", "tail", e.id]);
      expect(human.stdout).toBe("one\ntwo\n3\n");

      // Ctrl-C on a running `exec repl` cancels the execution; the CLI exits 3.
      const running = spawn(BIN, ["--server", s.address, "exec", "repl", "--session", session.id, "console.log('waiting'); await new Promise(() => {})"]);
      let out = "";
      running.stdout.on("data", (d) => (out += d));
      const exited = new Promise<number | null>((r) => running.once("exit", (code) => r(code)));
      const deadline = Date.now() + 10_000;
      while (!out.includes("waiting") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      running.kill("SIGINT");
      expect(await exited).toBe(3);
      const list = await json(["exec", "list", "--session", session.id]);
      expect(list.items[0]).toMatchObject({ status: "EXECUTION_STATUS_CANCELLED" });

      const cancel = await json(["exec", "cancel", list.items[0].id]);
      expect(cancel.status).toBe("EXECUTION_STATUS_CANCELLED");

      const watcherExit = new Promise<number | null>((r) => watcher.once("exit", (code) => r(code)));
      await json(["session", "close", session.id]);
      expect(await watcherExit).toBe(0);
      const lines = watched
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).event);
      expect(lines.filter((ev) => ev.executionId === e.id).map((ev: { seq: number }) => ev.seq)).toEqual([1, 2, 3, 4]);
      expect(lines.some((ev) => ev.console?.text === "waiting")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The CLI asks for batches of up to 1,000 events: a flood arrives as a few
  // large batches, and every event of each must still be printed, once, in order.
  it("prints every line of a flood once, in order: session watch, live exec repl, exec tail (human and json)", { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsystem-cli-flood-"));
    try {
      const t = await json(["template", "create", "--name", "cli-flood", "--max-events", "5000"]);
      const session = await json(["session", "create", "--template", t.id, "--workspace", "w", "--commit", "c", "--worktree", dir]);
      const LINES = 3000;
      // Every third line is a warning: it goes to stderr, the others to stdout.
      const flood = `var n = 0; for (let i = 1; i <= ${LINES}; i++) { (i % 3 === 0 ? console.warn : console.log)("line", i); n++ } n`;
      const numbers = Array.from({ length: LINES }, (_, i) => i + 1);
      const expectedOut =
        numbers
          .filter((i) => i % 3 !== 0)
          .map((i) => `line ${i}\n`)
          .join("") + `${LINES}\n`;
      const expectedErr = numbers
        .filter((i) => i % 3 === 0)
        .map((i) => `line ${i}\n`)
        .join("");

      const watcher = spawn(BIN, ["--server", s.address, "session", "watch", session.id]);
      let watchedOut = "";
      let watchedErr = "";
      watcher.stdout.on("data", (d) => (watchedOut += d));
      watcher.stderr.on("data", (d) => (watchedErr += d));
      const watcherExit = new Promise<number | null>((r) => watcher.once("exit", (code) => r(code)));
      // Watching starts when the call reaches the server: ping until the watcher prints a ping.
      const deadline = Date.now() + 20_000;
      while (!watchedOut.includes("ping") && Date.now() < deadline) {
        await unary<Execution>((cb) => s.executions.executeRepl({ sessionId: session.id, input: "console.log('ping')", requestId: "" }, cb));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(watchedOut).toContain("ping");
      const beforeFlood = watchedOut.length;

      const live = await cli(["--server", s.address, "exec", "repl", "--session", session.id, flood]);
      expect(live.code, live.stderr).toBe(0);
      expect(live.stdout).toBe(expectedOut);
      expect(live.stderr).toBe(expectedErr);

      const executionId = (await json(["exec", "list", "--session", session.id])).items[0].id;
      const replayed = await cli(["--server", s.address, "exec", "tail", executionId]);
      expect(replayed.stdout).toBe(expectedOut);
      expect(replayed.stderr).toBe(expectedErr);
      const replayedJson = await cli(["--server", s.address, "--output", "json", "exec", "tail", executionId, "--follow"]);
      const events = replayedJson.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(events.every((l) => Object.keys(l).join() === "event")).toBe(true);
      expect(events.map((l) => l.event.seq)).toEqual(Array.from({ length: LINES + 2 }, (_, i) => i + 1));

      await json(["session", "close", session.id]);
      expect(await watcherExit).toBe(0);
      expect(watchedOut.slice(beforeFlood)).toBe(expectedOut);
      expect(watchedErr).toBe(expectedErr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
