/**
 * The floors of `npm run bench` that need a server: a bare grpc-js server
 * with the service's own message types and nothing else, run as a child
 * process of the bench (as the real server is), on 127.0.0.1:0; it sends its
 * port to the parent and stops on SIGTERM.
 *
 *   ExecuteRepl  evaluates the input (`1+1`) in one of ISOLATES isolated-vm
 *                isolates, the one the session id names (no store, no
 *                session, no limits); answers an Execution shaped like the
 *                service's (input echo and value events).
 *   TailEvents   streams REPLAY_EVENTS console events held in memory (no
 *                database), one a response with max_batch 0, else batches of
 *                max_batch, each written as the connection takes it.
 */
import { randomUUID } from "node:crypto";
import { Server, ServerCredentials, type ServerUnaryCall, type ServerWritableStream, type UntypedServiceImplementation } from "@grpc/grpc-js";
import ivm from "isolated-vm";
import {
  EventType,
  ExecutionKind,
  ExecutionServiceService,
  ExecutionStatus,
  type Execution,
  type ExecutionEvent,
  type ExecuteReplRequest,
  type TailEventsRequest,
  type TailEventsResponse,
} from "../gen/vmsystem/v1/execution";

export const ISOLATES = 32;
export const REPLAY_EVENTS = 100_002;

/** What the parent gets once the server listens. */
export interface FloorReady {
  port: number;
}

async function main(): Promise<void> {
  const contexts = await Promise.all(
    Array.from({ length: ISOLATES }, async () => {
      const isolate = new ivm.Isolate({ memoryLimit: 128 });
      return isolate.createContext();
    }),
  );
  const executionId = randomUUID();
  const ts = new Date();
  const replay: ExecutionEvent[] = Array.from({ length: REPLAY_EVENTS }, (_, i) => ({
    executionId,
    seq: i + 1,
    ts,
    type: EventType.EVENT_TYPE_CONSOLE,
    console: { level: "log", text: String(i) },
  }));
  let number = 0;

  const executeRepl = (call: ServerUnaryCall<ExecuteReplRequest, Execution>, done: (err: Error | null, res?: Execution) => void) => {
    const { sessionId, input } = call.request;
    const context = contexts[Number(sessionId) % ISOLATES];
    const startedAt = new Date();
    context.eval(input).then(
      (value: unknown) => {
        const id = randomUUID();
        const endedAt = new Date();
        const result = { type: typeof value, preview: String(value), json: value };
        done(null, {
          id,
          number: ++number,
          sessionId,
          kind: ExecutionKind.EXECUTION_KIND_REPL,
          input,
          path: "",
          args: [],
          env: {},
          status: ExecutionStatus.EXECUTION_STATUS_OK,
          requestId: "",
          startedAt,
          endedAt,
          result,
          metrics: { durationMs: endedAt.getTime() - startedAt.getTime(), cpuMs: 0, eventCount: 2, outputBytes: 0 },
          events: [
            { executionId: id, seq: 1, ts: startedAt, type: EventType.EVENT_TYPE_INPUT_ECHO, inputEcho: { text: input } },
            { executionId: id, seq: 2, ts: endedAt, type: EventType.EVENT_TYPE_VALUE, value: result },
          ],
        });
      },
      (err: Error) => done(err),
    );
  };

  const stream = async (call: ServerWritableStream<TailEventsRequest, TailEventsResponse>) => {
    const size = call.request.maxBatch;
    const step = size === 0 ? 1 : size;
    for (let i = 0; i < replay.length && !call.cancelled; i += step) {
      const message = size === 0 ? { event: replay[i], events: [] } : { events: replay.slice(i, i + step) };
      if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
    }
    call.end();
  };
  const tailEvents = (call: ServerWritableStream<TailEventsRequest, TailEventsResponse>) => void stream(call);

  const server = new Server();
  server.addService(ExecutionServiceService, { executeRepl, tailEvents } as UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  // The isolates would keep the process alive: it ends when told to or when the bench is gone.
  const stop = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("disconnect", stop);
  process.send?.({ port } satisfies FloorReady);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
