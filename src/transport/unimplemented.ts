import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { DomainError } from "../core/errors";
import type { Logger } from "../log";
import { serverStream, unary } from "./call";

/**
 * Handlers for RPCs of the contract that are not built yet: each answers
 * UNIMPLEMENTED with an ErrorInfo, like every other error.
 */
export function unimplementedHandlers(definition: ServiceDefinition, log: Logger): UntypedServiceImplementation {
  const handlers: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const fail = async () => {
      throw new DomainError("UNIMPLEMENTED", `${method.path} is not implemented yet`);
    };
    handlers[name] = method.responseStream ? serverStream(log, method.path, fail) : unary(log, method.path, fail);
  }
  return handlers;
}
