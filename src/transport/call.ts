import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { handleServerStreamingCall, handleUnaryCall, MethodDefinition, ServerUnaryCall, ServerWritableStream } from "@grpc/grpc-js";
import { Metadata, status } from "@grpc/grpc-js";
import { DomainError } from "../core/errors";
import { logSoon, type Logger } from "../log";
import { assertDecoded } from "./decode";
import { toServiceError } from "./errors";

/** What a handler sees of its call: no grpc types beyond metadata. */
export interface CallContext {
  /** Aborted when the client cancels or its deadline passes. */
  signal: AbortSignal;
  metadata: Metadata;
  requestId: string;
}

export interface RpcOptions {
  log: Logger;
  /** When set, every call must carry `authorization: Bearer <token>`. */
  authToken?: string;
}

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

const digest = (text: string) => createHash("sha256").update(text).digest();

/** "vmsystem.v1.ExecutionService/ExecuteRepl", as the log line names it. */
const methodName = (definition: { path: string }) => definition.path.replace(/^\//, "");

/**
 * Turns plain `(request, ctx) => …` functions into grpc-js handlers. The one
 * place for what every vmsystem RPC shares: request id (`x-request-id`, sent
 * back in the response metadata), bearer-token check, undecodable requests,
 * error mapping, and the per-RPC log line. Health and reflection are
 * registered without it, so they stay open when auth is on.
 */
export class Rpc {
  private readonly expected: Buffer | undefined;

  constructor(private readonly options: RpcOptions) {
    this.expected = options.authToken ? digest(options.authToken) : undefined;
  }

  /** `definition` is the generated service's (its path names the method in logs). */
  unary<Req, Res>(definition: MethodDefinition<Req, Res>, fn: (req: Req, ctx: CallContext) => Promise<Res> | Res): handleUnaryCall<Req, Res> {
    const method = methodName(definition);
    return (call, callback) => {
      const { ctx, finish, sendMetadata } = this.begin(call, method);
      Promise.resolve()
        .then(() => this.admit(call))
        .then(() => fn(call.request, ctx))
        .then(
          (response) => {
            finish(status.OK);
            sendMetadata();
            callback(null, response);
          },
          (err: unknown) => {
            const mapped = toServiceError(err, this.options.log.child({ method, requestId: ctx.requestId }));
            finish(mapped.code ?? status.UNKNOWN);
            sendMetadata();
            callback(mapped, null);
          },
        );
    };
  }

  /**
   * Server streaming: `fn` writes with `send`, which resolves once the
   * stream can take more (backpressure), or, with `flushed`, once the
   * message has been handed to the connection (what a batched stream waits
   * for before it takes the next batch: see EventBatches).
   */
  stream<Req, Res>(
    definition: MethodDefinition<Req, Res>,
    fn: (req: Req, send: (message: Res, flushed?: boolean) => Promise<void>, ctx: CallContext) => Promise<void>,
  ): handleServerStreamingCall<Req, Res> {
    const method = methodName(definition);
    return (call) => {
      const { ctx, finish, sendMetadata } = this.begin(call, method);
      // A stream's client may wait long for its first message: the request id goes out now.
      sendMetadata();
      const send = (message: Res, flushed = false) =>
        new Promise<void>((resolve) => {
          if (ctx.signal.aborted) return resolve();
          const done = () => {
            call.off("drain", done);
            ctx.signal.removeEventListener("abort", done);
            resolve();
          };
          if (flushed) {
            ctx.signal.addEventListener("abort", done);
            call.write(message, done);
            return;
          }
          if (call.write(message)) return resolve();
          call.on("drain", done);
          ctx.signal.addEventListener("abort", done);
        });
      Promise.resolve()
        .then(() => this.admit(call))
        .then(() => fn(call.request, send, ctx))
        .then(
          () => {
            finish(ctx.signal.aborted ? status.CANCELLED : status.OK);
            if (!ctx.signal.aborted) call.end();
          },
          (err: unknown) => {
            const mapped = toServiceError(err, this.options.log.child({ method, requestId: ctx.requestId }));
            finish(mapped.code ?? status.UNKNOWN);
            // grpc-js turns an 'error' event into the stream's final status.
            call.emit("error", mapped);
          },
        );
    };
  }

  private begin(call: AnyCall, method: string) {
    const started = performance.now();
    const sent = call.metadata.get("x-request-id")[0];
    const requestId = typeof sent === "string" && sent.length > 0 && sent.length <= 200 ? sent : randomUUID();
    // A unary call sends it with its answer: headers written apart cost a
    // write (and a packet) of their own on both ends.
    const sendMetadata = () => {
      const response = new Metadata();
      response.set("x-request-id", requestId);
      call.sendMetadata(response);
    };
    const controller = new AbortController();
    let finished = false;
    // grpc-js also emits "cancelled" once a call has ended normally (after its
    // status went out): only a call still running is cancelled.
    const cancelled = () => {
      if (!finished) controller.abort(new Error("the client cancelled the call or its deadline passed"));
    };
    call.on("cancelled", cancelled);
    // Cancelled before its handler ran (the event has already fired): nothing starts.
    if (call.cancelled) cancelled();
    const ctx: CallContext = { signal: controller.signal, metadata: call.metadata, requestId };
    const finish = (code: status) => {
      finished = true;
      const line = { method, code: status[code], durationMs: +(performance.now() - started).toFixed(3), requestId };
      logSoon(() => this.options.log.info(line, "rpc"));
    };
    return { ctx, finish, sendMetadata };
  }

  /** Authentication (constant-time), then the request must have decoded. */
  private admit(call: AnyCall): void {
    if (this.expected) {
      const header = call.metadata.get("authorization")[0];
      const match = typeof header === "string" ? /^Bearer (.+)$/i.exec(header.trim()) : null;
      if (!match) throw new DomainError("UNAUTHENTICATED", "missing bearer token: send `authorization: Bearer <token>`");
      if (!timingSafeEqual(digest(match[1]), this.expected)) throw new DomainError("UNAUTHENTICATED", "wrong bearer token");
    }
    assertDecoded(call.request);
  }
}
