/**
 * Numbers the sandbox and the host must agree on: the sandbox's sources have
 * them substituted in (see ./prelude.ts), the host reads them from here.
 */

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
