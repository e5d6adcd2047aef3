import Table from "cli-table3";
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { errorInfoOf } from "../transport/errors";

export type OutputMode = "human" | "json";

/** Exit codes scripts rely on (SPEC.md, CLI). */
export const EXIT = { ok: 0, rpcError: 1, usage: 2, executionFailed: 3 } as const;

/** Thrown for bad usage detected before any call (exit 2). */
export class UsageError extends Error {}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** A table of rows (arrays of cells) under a header, for people. */
export function printTable(head: string[], rows: (string | number | boolean)[][]): void {
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) table.push(row.map(String));
  process.stdout.write(table.toString() + "\n");
}

/** Two columns, field and value, for one resource. */
export function printFields(fields: [string, unknown][]): void {
  const table = new Table({ style: { head: [], border: [] } });
  for (const [k, v] of fields) table.push({ [k]: typeof v === "string" ? v : JSON.stringify(v) });
  process.stdout.write(table.toString() + "\n");
}

/** Prints an RPC error as `REASON: message` (JSON in json mode) on stderr. */
export function printRpcError(err: ServiceError, mode: OutputMode): void {
  const info = errorInfoOf(err);
  const code = grpcStatus[err.code] ?? String(err.code);
  const reason = info?.reason ?? code;
  if (mode === "json") {
    process.stderr.write(JSON.stringify({ code, reason, message: err.details, metadata: info?.metadata ?? {} }) + "\n");
  } else {
    process.stderr.write(`error: ${reason} (${code}): ${err.details}\n`);
  }
}

export function isServiceError(err: unknown): err is ServiceError {
  return typeof err === "object" && err !== null && "code" in err && "details" in err && "metadata" in err;
}
