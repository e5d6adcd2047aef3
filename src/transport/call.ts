import type {
  handleServerStreamingCall,
  handleUnaryCall,
  Metadata,
  ServerUnaryCall,
  ServerWritableStream,
} from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { Logger } from "../log";
import { assertDecoded } from "./decode";
import { toServiceError } from "./errors";

/** What a handler sees of its call: no grpc types beyond metadata. */
export interface CallContext {
  /** Aborted when the client cancels or its deadline passes. */
  signal: AbortSignal;
  metadata: Metadata;
}

function contextOf(call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): CallContext {
  const controller = new AbortController();
  call.on("cancelled", () => controller.abort(new Error("the client cancelled the call or its deadline passed")));
  return { signal: controller.signal, metadata: call.metadata };
}

/**
 * Turns `(request, ctx) => Promise<response>` into a grpc-js unary handler:
 * the one place that maps errors and writes the per-RPC log line.
 */
export function unary<Req, Res>(log: Logger, method: string, fn: (req: Req, ctx: CallContext) => Promise<Res> | Res): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    const finish = (code: status) =>
      log.info({ method, code: status[code], durationMs: +(performance.now() - started).toFixed(3) }, "rpc");
    Promise.resolve()
      .then(() => {
        assertDecoded(call.request);
        return fn(call.request, contextOf(call));
      })
      .then(
        (response) => {
          finish(status.OK);
          callback(null, response);
        },
        (err: unknown) => {
          const mapped = toServiceError(err, log.child({ method }));
          finish(mapped.code ?? status.UNKNOWN);
          callback(mapped, null);
        },
      );
  };
}

/**
 * The server-streaming twin of `unary`: `fn` writes with `send` (which
 * resolves once the stream can take more: backpressure) and resolves when done.
 */
export function serverStream<Req, Res>(
  log: Logger,
  method: string,
  fn: (req: Req, send: (message: Res) => Promise<void>, ctx: CallContext) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const started = performance.now();
    const finish = (code: status) =>
      log.info({ method, code: status[code], durationMs: +(performance.now() - started).toFixed(3) }, "rpc");
    const ctx = contextOf(call);
    const send = (message: Res) =>
      new Promise<void>((resolve) => {
        if (ctx.signal.aborted || call.write(message)) return resolve();
        const done = () => {
          call.off("drain", done);
          ctx.signal.removeEventListener("abort", done);
          resolve();
        };
        call.on("drain", done);
        ctx.signal.addEventListener("abort", done);
      });
    Promise.resolve()
      .then(() => {
        assertDecoded(call.request);
        return fn(call.request, send, ctx);
      })
      .then(
        () => {
          finish(ctx.signal.aborted ? status.CANCELLED : status.OK);
          if (!ctx.signal.aborted) call.end();
        },
        (err: unknown) => {
          const mapped = toServiceError(err, log.child({ method }));
          finish(mapped.code ?? status.UNKNOWN);
          // grpc-js turns an 'error' event into the stream's final status.
          call.emit("error", mapped);
        },
      );
  };
}
