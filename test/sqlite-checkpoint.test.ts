import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Execution } from "../gen/vmsystem/v1/execution";
import type { Session } from "../gen/vmsystem/v1/session";
import type { Template } from "../gen/vmsystem/v1/template";
import { TEST_DB } from "./support/database";
import { unary, useTestServer } from "./support/server";

/** Executions stored in the database file itself, leaving out what is only in its WAL. */
function executionsInMainFile(dataDir: string, scratch: string): number {
  const copy = join(scratch, "main-only.db");
  copyFileSync(join(dataDir, "vmsystem.db"), copy);
  const db = new Database(copy, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM executions").get() as { n: number }).n;
  } catch {
    return 0; // not even the schema has been copied in yet (or the copy caught a page mid-write)
  } finally {
    db.close();
  }
}

describe.runIf(TEST_DB === "sqlite")("the embedded database's checkpoints", () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "vmsystem-checkpoint-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const s = useTestServer();

  it("copy what executions wrote into the database file in the background, long before the WAL reaches the autocheckpoint size", async () => {
    const t = await unary<Template>((cb) => s.templates.createTemplate({ name: "ckpt", engine: "", settings: undefined }, cb));
    const session = await unary<Session>((cb) =>
      s.sessions.createSession({ templateId: t.id, workspaceId: "w", baseCommitOid: "0", worktreePath: scratch }, cb),
    );
    for (let i = 0; i < 30; i++) await unary<Execution>((cb) => s.executions.executeRepl({ sessionId: session.id, input: `${i}`, requestId: "" }, cb));
    // ~150 WAL pages: the server's own connection would checkpoint only at 10,000.
    const deadline = Date.now() + 10_000;
    let stored: number;
    while ((stored = executionsInMainFile(s.db.dataDir, scratch)) < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(stored).toBe(30);
  });
});
