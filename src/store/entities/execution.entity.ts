import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { epochMs, jsonText } from "../columns";
import type { ExecutionKind, ExecutionStatus, ValueDescription } from "../../core/model";

@Entity({ name: "executions" })
@Index("uq_executions_session_number", ["sessionId", "number"], { unique: true })
@Index("uq_executions_session_request", ["sessionId", "requestId"], { unique: true })
export class ExecutionEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id: string;

  @Column({ name: "session_id", type: "varchar", length: 36 })
  sessionId: string;

  @Column({ type: "integer" })
  number: number;

  @Column({ type: "varchar", length: 20 })
  kind: ExecutionKind;

  @Column({ type: "text", default: "" })
  input: string;

  @Column({ type: "text", default: "" })
  path: string;

  @Column({ type: "text", transformer: jsonText })
  args: string[];

  @Column({ type: "text", transformer: jsonText })
  env: Record<string, string>;

  @Column({ type: "varchar", length: 20 })
  status: ExecutionStatus;

  /** Null when the caller sent none; NULLs never collide in the unique index. */
  @Column({ name: "request_id", type: "varchar", length: 200, nullable: true })
  requestId: string | null;

  @Column({ name: "started_at", type: "bigint", transformer: epochMs })
  startedAt: number;

  @Column({ name: "ended_at", type: "bigint", nullable: true, transformer: epochMs })
  endedAt: number | null;

  @Column({ type: "text", nullable: true, transformer: jsonText })
  result: ValueDescription | null;

  @Column({ name: "error_code", type: "varchar", length: 50, nullable: true })
  errorCode: string | null;

  @Column({ name: "error_message", type: "text", nullable: true })
  errorMessage: string | null;

  @Column({ name: "duration_ms", type: "integer", default: 0 })
  durationMs: number;

  @Column({ name: "cpu_ms", type: "integer", default: 0 })
  cpuMs: number;

  @Column({ name: "event_count", type: "integer", default: 0 })
  eventCount: number;

  @Column({ name: "output_bytes", type: "integer", default: 0 })
  outputBytes: number;
}
