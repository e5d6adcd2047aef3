/**
 * Host module failures become plain {name, message, code} records that the
 * sandbox turns into its own Error objects: no host Error (and so no host
 * stack or server path) ever crosses into the isolate.
 */
import { PathError } from "../paths";

export interface SandboxErrorInfo {
  name: string;
  message: string;
  code?: string;
}

export type Envelope = { ok: true; value: unknown } | { ok: false; error: SandboxErrorInfo };

/** Thrown by module code for errors meant for the sandbox as-is. */
export class SandboxError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    name = "Error",
  ) {
    super(message);
    this.name = name;
  }
}

/** Node fs errors name host paths: rebuild the message around the sandbox's own path. */
export function toErrorInfo(e: unknown, userPath?: string): SandboxErrorInfo {
  if (e instanceof SandboxError) return { name: e.name, message: e.message, code: e.code };
  if (e instanceof PathError) return { name: "Error", message: e.message, code: e.errno };
  if (e instanceof Error) {
    const err = e as NodeJS.ErrnoException;
    const name = e instanceof TypeError ? "TypeError" : e instanceof RangeError ? "RangeError" : "Error";
    if (err.syscall && err.code && userPath !== undefined) {
      const reason = err.message.split(",")[0];
      return { name, message: `${reason}, ${err.syscall} '${userPath}'`, code: err.code };
    }
    return { name, message: e.message, code: typeof err.code === "string" ? err.code : undefined };
  }
  return { name: "Error", message: String(e) };
}

export function requireString(value: unknown, what: string): string {
  if (typeof value !== "string") {
    throw new SandboxError(`The "${what}" argument must be of type string`, "ERR_INVALID_ARG_TYPE", "TypeError");
  }
  return value;
}

export function optionsObject(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new SandboxError(`The "${what}" argument must be an object`, "ERR_INVALID_ARG_TYPE", "TypeError");
  }
  return value as Record<string, unknown>;
}
