import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { ErrorInfo } from "../../gen/google/rpc/error_details";
import { Status } from "../../gen/google/rpc/status";
import { DomainError, type ErrorReason } from "../core/errors";
import type { Logger } from "../log";

const ERROR_DOMAIN = "vmsystem.v1";

const CODE_OF: Record<ErrorReason, status> = {
  VALIDATION_ERROR: status.INVALID_ARGUMENT,
  TEMPLATE_NOT_FOUND: status.NOT_FOUND,
  SESSION_NOT_FOUND: status.NOT_FOUND,
  EXECUTION_NOT_FOUND: status.NOT_FOUND,
  FILE_NOT_FOUND: status.NOT_FOUND,
  SESSION_NOT_READY: status.FAILED_PRECONDITION,
  SESSION_BUSY: status.ABORTED,
  INVALID_PATH: status.INVALID_ARGUMENT,
  STARTUP_MODE_UNSUPPORTED: status.INVALID_ARGUMENT,
  MODULE_NOT_ALLOWED: status.INVALID_ARGUMENT,
  LIBRARY_NOT_FOUND: status.INVALID_ARGUMENT,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  SESSION_LIMIT: status.RESOURCE_EXHAUSTED,
  CANCELLED: status.CANCELLED,
  UNAVAILABLE: status.UNAVAILABLE,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
};

/**
 * The one mapping from anything thrown by a handler to a gRPC error: the
 * status code of SPEC.md's table plus a google.rpc.Status carrying an
 * ErrorInfo in `grpc-status-details-bin`. Unexpected errors become INTERNAL;
 * their stack is logged and never sent.
 */
export function toServiceError(err: unknown, log: Logger): Partial<ServiceError> {
  let domainError: DomainError;
  if (err instanceof DomainError) {
    domainError = err;
    if (err.reason === "INTERNAL" && err.cause !== undefined) log.error({ err: err.cause }, err.message);
  } else {
    log.error({ err }, "unexpected error");
    domainError = new DomainError("INTERNAL", "internal error (see the server log)");
  }
  const code = CODE_OF[domainError.reason];
  const info = ErrorInfo.create({ reason: domainError.reason, domain: ERROR_DOMAIN, metadata: domainError.metadata });
  const details = Status.encode(
    Status.create({
      code,
      message: domainError.message,
      details: [{ typeUrl: "type.googleapis.com/google.rpc.ErrorInfo", value: Buffer.from(ErrorInfo.encode(info).finish()) }],
    }),
  ).finish();
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(details));
  return { code, details: domainError.message, metadata };
}

/** Reads the ErrorInfo back from an error's trailers (clients and tests). */
export function errorInfoOf(err: { metadata?: Metadata }): ErrorInfo | undefined {
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  if (!raw) return undefined;
  const decoded = Status.decode(typeof raw === "string" ? Buffer.from(raw, "base64") : raw);
  const any = decoded.details.find((d) => d.typeUrl.endsWith("google.rpc.ErrorInfo"));
  return any ? ErrorInfo.decode(any.value) : undefined;
}
