import type { HotSql, Statement } from "./sql";

/** At most this many executions a transaction (PostgreSQL takes at most 65,535 parameters a statement). */
const MAX_GROUP = 64;

interface Member {
  statements: Statement[];
  resolve(counts: number[]): void;
  reject(err: unknown): void;
}

/**
 * Group commit: the finishing writes of executions that end in the same turn
 * of the event loop go to the database in one transaction (one commit, one
 * WAL flush, one round trip on PostgreSQL). None waits for an execution that
 * has not ended: a group is what was asked for before the turn ends
 * (setImmediate), and a lone write goes as it did alone. When a shared
 * transaction fails, each member is tried again alone, so one execution's
 * bad write fails only that execution; a fault that fails them alone as well
 * (the database gone) fails each of them.
 */
export class GroupCommit {
  private members: Member[] = [];

  constructor(private readonly sql: HotSql) {}

  /** Runs `statements` in a transaction, maybe shared; resolves with their affected row counts. */
  run(statements: Statement[]): Promise<number[]> {
    return new Promise((resolve, reject) => {
      if (this.members.push({ statements, resolve, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const members = this.members;
    this.members = [];
    for (let at = 0; at < members.length; at += MAX_GROUP) void this.commit(members.slice(at, at + MAX_GROUP));
  }

  private async commit(group: Member[]): Promise<void> {
    if (group.length === 1) return this.alone(group[0]);
    let counts: number[];
    try {
      counts = await this.sql.transaction(
        group.flatMap((m) => m.statements),
        { shared: true },
      );
    } catch {
      for (const member of group) await this.alone(member);
      return;
    }
    let at = 0;
    for (const member of group) member.resolve(counts.slice(at, (at += member.statements.length)));
  }

  private async alone(member: Member): Promise<void> {
    try {
      member.resolve(await this.sql.transaction(member.statements));
    } catch (err) {
      member.reject(err);
    }
  }
}
