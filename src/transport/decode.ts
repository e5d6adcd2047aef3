import type { ServiceDefinition } from "@grpc/grpc-js";
import { DomainError } from "../core/errors";

const DECODE_FAILURE = Symbol("decode failure");

interface DecodeFailure {
  [DECODE_FAILURE]: Error;
}

/**
 * Wraps a service definition's request decoders so that a request that does
 * not decode (nesting past the recursion limit, broken wire data) reaches the
 * handler as a marker instead of failing inside grpc-js as a bare INTERNAL.
 */
export function withSafeDecoding<D extends ServiceDefinition>(definition: D): D {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return { [DECODE_FAILURE]: err instanceof Error ? err : new Error(String(err)) } satisfies DecodeFailure;
        }
      },
    };
  }
  return wrapped as D;
}

/** Throws VALIDATION_ERROR when the request did not decode. */
export function assertDecoded(request: unknown): void {
  const failure = (request as Partial<DecodeFailure> | null)?.[DECODE_FAILURE];
  if (failure) throw new DomainError("VALIDATION_ERROR", `request: could not be decoded (${failure.message})`, { field: "request" });
}
