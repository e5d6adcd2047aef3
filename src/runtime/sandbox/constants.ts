/**
 * What the sandbox and the host must agree on. The host imports this module;
 * the sandbox's sources (./src/*.js) get every value exported here (plain
 * data) as a `const` of the same name in front of them (see preludeSource in
 * ./prelude.ts), and ./src/host.d.ts declares them from here for the type
 * checker. No imports: the sandbox's type check (lib ES2023, no Node types)
 * reads this file too.
 */

/** Operations of the prelude's control function: control(op, a, b, c, d, e). */
export const OP_RUN = 0;
export const OP_BEGIN = 1;
export const OP_SETTLE_MODULE = 2;
export const OP_FIRE_TIMER = 3;
export const OP_SETTLE_FETCH = 4;
/** Before a replayed run: the clock readings to serve (JSON of Recording["clock"]); see src/record.js. */
export const OP_REPLAY = 5;
/** After a run that read the clock (CTL_RECORDED & RECORDED_CLOCK): its readings, and what a replay left unserved. */
export const OP_TAKE_RECORDING = 6;

/** Int32 slots of the control memory shared with the sandbox (see ../run-driver.ts and ../console-ring.ts). */
export const CTL_GEN = 0;
export const CTL_STOP = 1;
/** Set while whoever reads the console is behind (RunHooks.consoleWait): every line takes the synchronous path, which waits. */
export const CTL_CONSOLE_PAUSED = 2;
export const CTL_LINES_LEFT = 3;
export const CTL_BYTES_LEFT = 4;
export const CTL_RING_WRITE = 5;
export const CTL_RING_READ = 6;
export const CTL_HOST_IDLE = 7;
/** What the run took from outside the isolate without a host call: RECORDED_* bits (see src/record.js). */
export const CTL_RECORDED = 8;
/** The seed of this run's Math.random, written by the host before the run. */
export const CTL_SEED = 9;
/** Set by a replayed run that asked for a clock reading its recording does not have. */
export const CTL_DIVERGED = 10;
/** How many numbers of this run's clock runs are in the shared clock region (see CLOCK_OFFSET). */
export const CTL_CLOCK_LENGTH = 11;
export const CTL_SLOTS = 12;
/** Bytes before the console ring: the control slots (rounded up). */
export const RING_OFFSET = 48;
export const RECORDED_SEED = 1;
export const RECORDED_CLOCK = 2;
/**
 * UTF-16 units of the console ring, a power of two: 128 KiB a session (its
 * pages resident only once written). A line longer than half of it takes the
 * synchronous path; 32K to 128K units measured the same lines/s.
 */
export const RING_UNITS = 1 << 16;
/**
 * After the ring: a run's first clock runs ([value, count, …], Float64), so
 * the host reads a few clock readings without a call into the isolate
 * (OP_TAKE_RECORDING is for longer ones).
 */
export const CLOCK_OFFSET = RING_OFFSET + RING_UNITS * 2;
export const CLOCK_SHARED = 512;
/** A ring record: [meta lo, meta hi, gen lo, gen hi, length lo, length hi, ...text]. */
export const RING_HEADER = 6;
/** A unit that says "the next record starts at 0". */
export const RING_WRAP = 0xffff;

/**
 * A console line's meta: level | kind << META_KIND_SHIFT | group indentation
 * << META_INDENT_SHIFT. KIND_TEXT lines are the text itself; the others are
 * JSON of described arguments (see ../format.ts).
 */
export const LEVEL_LOG = 0;
export const LEVEL_INFO = 1;
export const LEVEL_WARN = 2;
export const LEVEL_ERROR = 3;
export const LEVEL_DEBUG = 4;
export const KIND_TEXT = 0;
export const KIND_FORMAT = 1;
export const KIND_TRACE = 2;
export const KIND_DIR = 3;
export const META_KIND_SHIFT = 3;
export const META_INDENT_SHIFT = 6;

/** fetch's limits: the sandbox checks a request's parts before it sends it, the host checks them again (../net.ts). */
export const NET_LIMITS = {
  /** Response bodies (after decompression) larger than this reject. */
  maxResponseBytes: 8 * 1024 * 1024,
  maxRequestBodyBytes: 8 * 1024 * 1024,
  maxUrlChars: 32 * 1024,
  /** Names and values of the request headers together. */
  maxHeaderBytes: 64 * 1024,
  maxHeaders: 256,
  maxRedirects: 20,
  /** Requests one session may have in flight at once. */
  maxPending: 16,
} as const;

/** A VALUE's json is kept only when its text is at most this long (SPEC: responses stay readable). */
export const MAX_JSON_CHARS = 1 << 20;
/**
 * Arrays and objects open at once in a VALUE's json. A google.protobuf.Value
 * takes two messages a level (Value, then ListValue or Struct) and common
 * decoders refuse more than 100 nested messages (Python's protobuf 4.21
 * decoded 50 levels and refused 64): 32 leaves room for the messages around it.
 */
export const MAX_JSON_DEPTH = 32;
/**
 * Nesting of a described tree's JSON (VALUE previews, thrown values, console
 * arguments). The describer stops at depth 6 (util.inspect's `%o` depth + 1),
 * under 30 JSON levels; anything deeper is cut.
 */
export const MAX_TREE_DEPTH = 64;
/** A described tree's JSON text; the describer's own caps keep it far below. */
export const MAX_TREE_CHARS = 4 * 1024 * 1024;
/** Caps of an exception's parts, in UTF-8 bytes. */
export const MAX_EXCEPTION_NAME_BYTES = 1024;
export const MAX_EXCEPTION_MESSAGE_BYTES = 64 * 1024;
export const MAX_EXCEPTION_STACK_BYTES = 64 * 1024;

/** The prelude's configuration, copied into the isolate once per context. */
export interface PreludeConfig {
  console: boolean;
  modules: string[];
  allowExec: boolean;
  globals: Record<string, unknown>;
  /** Random global name the module entry wrapper calls when the graph has finished. */
  moduleHook: string;
  /** The base `env` global of every run (a run-file may bring its own). */
  env: Record<string, string>;
  /** Install fetch (the template has an enabled `net` capability). */
  net: boolean;
  /** Keep WebAssembly (runtime.wasm), its memory bounded by memMb; else it is deleted. */
  wasm: boolean;
  memMb: number;
  /** How many wasm memories a session may make; 0: no cap (see src/wasm.js). */
  wasmMaxMemories: number;
}
