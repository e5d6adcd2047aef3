/**
 * Domain errors: a stable reason from SPEC.md's table plus a message for
 * people. transport/errors.ts is the one place that maps them to the wire.
 */
export type ErrorReason =
  | "VALIDATION_ERROR"
  | "TEMPLATE_NOT_FOUND"
  | "SESSION_NOT_FOUND"
  | "EXECUTION_NOT_FOUND"
  | "FILE_NOT_FOUND"
  | "SESSION_NOT_READY"
  | "SESSION_BUSY"
  | "INVALID_PATH"
  | "STARTUP_MODE_UNSUPPORTED"
  | "MODULE_NOT_ALLOWED"
  | "LIBRARY_NOT_FOUND"
  | "UNAUTHENTICATED"
  | "SESSION_LIMIT"
  | "CANCELLED"
  | "UNAVAILABLE"
  | "UNIMPLEMENTED"
  | "INTERNAL";

export class DomainError extends Error {
  constructor(
    readonly reason: ErrorReason,
    message: string,
    /** Extra context for ErrorInfo.metadata, e.g. {field: "name"}. */
    readonly metadata: Record<string, string> = {},
    /** What led to it, for the server log (never sent to clients). */
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DomainError";
  }
}

/**
 * Caller input quoted in an error message or ErrorInfo metadata, cut short:
 * echoing a multi-megabyte field back would make the trailers too large to send.
 */
export function clip(value: string, max = 200): string {
  return value.length <= max ? value : `${value.slice(0, max)}… (${value.length - max} more characters)`;
}

/** A request field that is missing or invalid. */
export function invalidField(field: string, problem: string): DomainError {
  return new DomainError("VALIDATION_ERROR", `${field}: ${problem}`, { field });
}

export function notFound(reason: "TEMPLATE_NOT_FOUND" | "SESSION_NOT_FOUND" | "EXECUTION_NOT_FOUND", id: string): DomainError {
  const what = reason.split("_")[0].toLowerCase();
  return new DomainError(reason, `${what} ${clip(id)} not found`, { id: clip(id) });
}
