/**
 * One server per embedded data directory: a second `vmsystem serve` on the
 * same --data-dir is refused at start with a clear error and changes
 * nothing (the first server's sessions stay live and keep their state).
 * The lock dies with its process, kill -9 included.
 */
import { describe, expect, it } from "vitest";
import { testDatabase } from "./support/database";
import { Api, okValue, SessionStatus } from "./support/fixtures";
import { cli, spawnServer } from "./support/process";
import { startTestServer } from "./support/server";

// With PostgreSQL the data directory holds no database (replicas share the server).
describe.runIf(process.env.VMSYSTEM_TEST_DB !== "postgres")("embedded data directory lock", () => {
  it("refuses a second server on the same data directory and leaves the first one's sessions alone", async () => {
    const first = await startTestServer();
    const api = new Api(first);
    try {
      const session = await api.ready();
      await api.repl(session.id, "var x = 41");
      await expect(startTestServer({}, first.db)).rejects.toThrow(/in use by another vmsystem server/);
      expect(okValue(await api.repl(session.id, "x + 1")).json).toBe(42);
      expect((await api.getSession(session.id)).status).toBe(SessionStatus.SESSION_STATUS_READY);

      // Once the first has stopped, the directory is free again.
      await api.closeAll();
      await first.stop();
      const second = await startTestServer({}, first.db);
      const after = await new Api(second).getSession(session.id);
      expect(after.status).toBe(SessionStatus.SESSION_STATUS_CLOSED);
      await second.close();
    } finally {
      await api.closeAll();
      await first.stop().catch(() => undefined);
    }
  });

  it("a second `vmsystem serve` exits non-zero with the reason; after kill -9 of the first, a new one starts", async () => {
    const db = testDatabase();
    const first = await spawnServer(db);
    try {
      const refused = await cli(["serve", "--listen", "127.0.0.1:0", "--data-dir", db.dataDir]);
      expect(refused.code).toBe(1);
      expect(refused.stdout + refused.stderr).toMatch(/in use by another vmsystem server/);
      expect(await first.stop("SIGKILL")).toBe(null);
      // spawnServer resolves once the new server logs "serving": it got the lock.
      const next = await spawnServer(db);
      await next.stop("SIGKILL");
    } finally {
      await first.stop("SIGKILL");
      await db.cleanup();
    }
  });
});
