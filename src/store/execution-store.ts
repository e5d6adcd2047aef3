import { DataSource, LessThan } from "typeorm";
import type { Execution, ExecutionEvent, ExecutionKind, ExecutionStatus } from "../core/model";
import type { EventEncoding, ExecutionFinish, ExecutionStore, RecordedExecution, RecordedSource } from "../core/ports";
import { ExecutionEntity } from "./entities/execution.entity";
import { eventPageStatements, readEvents } from "./event-pages";
import { GroupCommit } from "./group-commit";
import { openHotSql, type HotSql, type Statement } from "./sql";

/** Reads go through TypeORM; the per-execution writes take the raw hot path (see sql.ts). */
export class TypeormExecutionStore implements ExecutionStore {
  private readonly sql: HotSql;
  /** Finishing writes of executions that end together share one transaction. */
  private readonly commits: GroupCommit;

  constructor(
    private readonly db: DataSource,
    /** The form pages hold their events in (see event-pages.ts). */
    private readonly encoding: EventEncoding,
  ) {
    this.sql = openHotSql(db);
    this.commits = new GroupCommit(this.sql);
  }

  private get repo() {
    return this.db.getRepository(ExecutionEntity);
  }

  private insertStatement(e: Execution, f?: ExecutionFinish): Statement {
    const m = f?.metrics ?? e.metrics;
    return [
      `INSERT INTO ${this.sql.table("executions")} (id, session_id, number, kind, input, path, args, env, status, request_id, started_at, ended_at, result, error_code, error_message, duration_ms, cpu_ms, event_count, output_bytes, recording) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        e.id,
        e.sessionId,
        e.number,
        e.kind,
        e.input,
        e.path,
        JSON.stringify(e.args),
        JSON.stringify(e.env),
        f?.status ?? e.status,
        e.requestId,
        e.startedAt,
        f?.endedAt ?? null,
        f?.result ? JSON.stringify(f.result) : null,
        f?.error?.code ?? null,
        f?.error?.message ?? null,
        m.durationMs,
        m.cpuMs,
        m.eventCount,
        m.outputBytes,
        f?.recording ?? null,
      ],
    ];
  }

  async get(id: string): Promise<Execution | undefined> {
    const row = await this.repo.findOneBy({ id });
    return row ? toExecution(row) : undefined;
  }

  async findByRequestId(sessionId: string, requestId: string): Promise<Execution | undefined> {
    const row = await this.repo.findOneBy({ sessionId, requestId });
    return row ? toExecution(row) : undefined;
  }

  async listBySession(sessionId: string, limit: number, beforeNumber?: number): Promise<Execution[]> {
    const rows = await this.repo.find({
      where: beforeNumber === undefined ? { sessionId } : { sessionId, number: LessThan(beforeNumber) },
      order: { number: "DESC" },
      take: limit,
    });
    return rows.map(toExecution);
  }

  async finish(execution: Execution, f: ExecutionFinish, remaining: ExecutionEvent[], insert: boolean): Promise<void> {
    const m = f.metrics;
    const row: Statement = insert
      ? this.insertStatement(execution, f)
      : [
          `UPDATE ${this.sql.table("executions")} SET status = ?, ended_at = ?, result = ?, error_code = ?, error_message = ?, duration_ms = ?, cpu_ms = ?, event_count = ?, output_bytes = ?, recording = ? WHERE id = ?`,
          [
            f.status,
            f.endedAt,
            f.result ? JSON.stringify(f.result) : null,
            f.error?.code ?? null,
            f.error?.message ?? null,
            m.durationMs,
            m.cpuMs,
            m.eventCount,
            m.outputBytes,
            f.recording ?? null,
            execution.id,
          ],
        ];
    // Events reference the row: a new row goes first, an update may go last.
    // The session's last_activity_at is not written here: the live session
    // holds it (see SessionService), which spares every execution a write to
    // the sessions row (on PostgreSQL that row lock cost ~0.15 ms a call).
    const middle = [...this.sourceStatements(f.sources), ...eventPageStatements(this.sql, remaining, this.encoding)];
    const statements = insert ? [row, ...middle] : [...middle, row];
    const counts = await this.commits.run(statements);
    if (counts[insert ? 0 : statements.length - 1] === 0) throw new Error(`execution ${execution.id} vanished from the store`);
  }

  /** A source already stored (same hash, same text) is left as it is. */
  private sourceStatements(sources: RecordedSource[] | undefined): Statement[] {
    if (!sources?.length) return [];
    const insert = `INSERT INTO ${this.sql.table("recorded_sources")} (hash, source) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING`;
    return sources.map((s) => [insert, [s.hash, s.text]]);
  }

  async listRecorded(sessionId: string, upTo?: number): Promise<RecordedExecution[]> {
    const rows = await this.sql.query<RecordedRow>(
      `SELECT number, kind, input, path, args, env, status, result, error_code, error_message, recording FROM ${this.sql.table("executions")} WHERE session_id = ? AND number <= ? ORDER BY number`,
      [sessionId, upTo ?? 0x7fffffff],
    );
    return rows.map((r) => ({
      number: Number(r.number),
      kind: r.kind,
      input: r.input,
      path: r.path,
      args: JSON.parse(r.args) as string[],
      env: JSON.parse(r.env) as Record<string, string>,
      status: r.status,
      result: r.result ? (JSON.parse(r.result) as RecordedExecution["result"]) : null,
      error: r.error_code ? { code: r.error_code, message: r.error_message ?? "" } : null,
      recording: r.recording,
    }));
  }

  async loadSources(hashes: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const unique = [...new Set(hashes)];
    for (let i = 0; i < unique.length; i += 500) {
      const part = unique.slice(i, i + 500);
      const rows = await this.sql.query<{ hash: string; source: string }>(
        `SELECT hash, source FROM ${this.sql.table("recorded_sources")} WHERE hash IN (${part.map(() => "?").join(", ")})`,
        part,
      );
      for (const r of rows) found.set(r.hash, r.source);
    }
    return found;
  }

  async appendEvents(events: ExecutionEvent[], insertFirst?: Execution): Promise<void> {
    // Batches written while the execution runs need not wait for their
    // commit's WAL flush: the finishing write is durable, and flushing the WAL
    // up to its commit flushes every earlier batch with it (the WAL is one
    // sequence). A crash before that loses an unfinished execution's tail,
    // which the next start reports CANCELLED anyway.
    await this.sql.transaction([...(insertFirst ? [this.insertStatement(insertFirst)] : []), ...eventPageStatements(this.sql, events, this.encoding)], {
      durable: false,
    });
  }

  async listEvents(executionId: string, afterSeq: number, limit: number): Promise<ExecutionEvent[]> {
    return readEvents(this.sql, executionId, afterSeq, limit, this.encoding);
  }

  async cancelOrphans(message: string, now: number): Promise<number> {
    // 'RUNNING' is a literal so that the partial status index applies.
    const [count] = await this.sql.transaction([
      [
        `UPDATE ${this.sql.table("executions")} SET status = 'CANCELLED', error_code = 'CANCELLED', error_message = ?, ended_at = ? WHERE status = 'RUNNING'`,
        [message, now],
      ],
    ]);
    return count;
  }
}

interface RecordedRow {
  number: number | string;
  kind: ExecutionKind;
  input: string;
  path: string;
  args: string;
  env: string;
  status: ExecutionStatus;
  result: string | null;
  error_code: string | null;
  error_message: string | null;
  recording: Uint8Array | null;
}

function toExecution(e: ExecutionEntity): Execution {
  return {
    id: e.id,
    number: e.number,
    sessionId: e.sessionId,
    kind: e.kind,
    input: e.input,
    path: e.path,
    args: e.args ?? [],
    env: e.env ?? {},
    status: e.status,
    requestId: e.requestId,
    startedAt: e.startedAt,
    endedAt: e.endedAt,
    result: e.result,
    error: e.errorCode ? { code: e.errorCode, message: e.errorMessage ?? "" } : null,
    metrics: { durationMs: e.durationMs, cpuMs: e.cpuMs, eventCount: e.eventCount, outputBytes: e.outputBytes },
  };
}
