/**
 * What the sandbox's sources find in scope besides one another (they run as
 * one function, see preludeSource in ../prelude.ts): that function's
 * arguments, and the constants put in front of them. For the type checker
 * only (./tsconfig.json); nothing here exists at run time.
 */
type Shared = typeof import("../constants");

/** The isolated-vm Reference calls the sandbox makes (isolated-vm's own types need Node's). */
interface HostReference {
  applyIgnored(receiver: undefined, args: unknown[], options?: object): void;
  applySync(receiver: undefined, args: unknown[], options?: object): any;
  applySyncPromise(receiver: undefined, args: unknown[], options?: object): any;
}
interface CompiledScript {
  runSync(context: unknown, options: object): { deref(options: object): unknown };
  release(): void;
}
interface IsolateHandle {
  compileScriptSync(code: string, options: object): CompiledScript;
}

// The prelude function's arguments.
declare const consoleSink: HostReference;
declare const consoleSync: HostReference;
declare const timerHost: HostReference;
declare const hostCall: HostReference;
declare const execHost: HostReference;
declare const netHost: HostReference;
declare const ctlBuffer: SharedArrayBuffer;
declare const config: import("../constants").PreludeConfig;
declare const context: unknown;
declare const isolate: IsolateHandle;

// Put in front by preludeSource: everything ../constants.ts exports ...
declare const OP_RUN: Shared["OP_RUN"];
declare const OP_BEGIN: Shared["OP_BEGIN"];
declare const OP_SETTLE_MODULE: Shared["OP_SETTLE_MODULE"];
declare const OP_FIRE_TIMER: Shared["OP_FIRE_TIMER"];
declare const OP_SETTLE_FETCH: Shared["OP_SETTLE_FETCH"];
declare const CTL_GEN: Shared["CTL_GEN"];
declare const CTL_STOP: Shared["CTL_STOP"];
declare const CTL_CONSOLE_PAUSED: Shared["CTL_CONSOLE_PAUSED"];
declare const CTL_LINES_LEFT: Shared["CTL_LINES_LEFT"];
declare const CTL_BYTES_LEFT: Shared["CTL_BYTES_LEFT"];
declare const CTL_RING_WRITE: Shared["CTL_RING_WRITE"];
declare const CTL_RING_READ: Shared["CTL_RING_READ"];
declare const CTL_HOST_IDLE: Shared["CTL_HOST_IDLE"];
declare const CTL_SLOTS: Shared["CTL_SLOTS"];
declare const CTL_RECORDED: Shared["CTL_RECORDED"];
declare const CTL_SEED: Shared["CTL_SEED"];
declare const CTL_DIVERGED: Shared["CTL_DIVERGED"];
declare const CTL_CLOCK_LENGTH: Shared["CTL_CLOCK_LENGTH"];
declare const CLOCK_OFFSET: Shared["CLOCK_OFFSET"];
declare const CLOCK_SHARED: Shared["CLOCK_SHARED"];
declare const RECORDED_SEED: Shared["RECORDED_SEED"];
declare const RECORDED_CLOCK: Shared["RECORDED_CLOCK"];
declare const OP_REPLAY: Shared["OP_REPLAY"];
declare const OP_TAKE_RECORDING: Shared["OP_TAKE_RECORDING"];
declare const RING_OFFSET: Shared["RING_OFFSET"];
declare const RING_UNITS: Shared["RING_UNITS"];
declare const RING_HEADER: Shared["RING_HEADER"];
declare const RING_WRAP: Shared["RING_WRAP"];
declare const LEVEL_LOG: Shared["LEVEL_LOG"];
declare const LEVEL_INFO: Shared["LEVEL_INFO"];
declare const LEVEL_WARN: Shared["LEVEL_WARN"];
declare const LEVEL_ERROR: Shared["LEVEL_ERROR"];
declare const LEVEL_DEBUG: Shared["LEVEL_DEBUG"];
declare const KIND_TEXT: Shared["KIND_TEXT"];
declare const KIND_FORMAT: Shared["KIND_FORMAT"];
declare const KIND_TRACE: Shared["KIND_TRACE"];
declare const KIND_DIR: Shared["KIND_DIR"];
declare const META_KIND_SHIFT: Shared["META_KIND_SHIFT"];
declare const META_INDENT_SHIFT: Shared["META_INDENT_SHIFT"];
declare const MAX_JSON_CHARS: Shared["MAX_JSON_CHARS"];
declare const MAX_JSON_DEPTH: Shared["MAX_JSON_DEPTH"];
declare const MAX_TREE_DEPTH: Shared["MAX_TREE_DEPTH"];
declare const MAX_TREE_CHARS: Shared["MAX_TREE_CHARS"];
declare const MAX_EXCEPTION_NAME_BYTES: Shared["MAX_EXCEPTION_NAME_BYTES"];
declare const MAX_EXCEPTION_MESSAGE_BYTES: Shared["MAX_EXCEPTION_MESSAGE_BYTES"];
declare const MAX_EXCEPTION_STACK_BYTES: Shared["MAX_EXCEPTION_STACK_BYTES"];
declare const NET_LIMITS: Shared["NET_LIMITS"];
// ... and the names of this V8's global constructors (BUILT_IN_NAMES_PROBE in ../prelude.ts).
declare const BUILT_IN_NAMES: readonly string[];

// V8's additions to the language that the sandbox uses.
interface ErrorConstructor {
  captureStackTrace(target: object, constructorOpt?: Function): void;
}
// Descriptors and option bags the sandbox makes have no prototype (`__proto__: null`
// in the literal), so nothing user code adds to Object.prototype reads as a field.
interface PropertyDescriptor {
  __proto__?: null;
}

/**
 * A described tree, as the sandbox builds it and encodeTree turns it into JSON
 * (node shapes in ../../inspect-tree.ts): strings, finite numbers, booleans,
 * null, and arrays of nodes.
 */
type TreeNode = string | number | boolean | null | undefined | TreeNode[];
