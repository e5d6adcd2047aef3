/**
 * Host-side formatting of what the sandbox sends: console messages (Node's
 * util.format rules, applied to rebuilt values), VALUE descriptions and
 * exception descriptions.
 */
import { inspect } from "node:util";
import { TreeDecoder, decodeTree } from "./inspect-tree";
import { cutStack } from "./stack";
import type { ConsoleLevel, ExceptionDescription, ValueDescription } from "./types";

const LEVELS: readonly ConsoleLevel[] = ["log", "info", "warn", "error", "debug"];
const KIND_TEXT = 0;
const KIND_FORMAT = 1;
const KIND_TRACE = 2;
const KIND_DIR = 3;
const PREVIEW_BYTES = 4096;
/** A VALUE's json is kept only when its text is at most this long (SPEC: responses stay readable). */
export const MAX_JSON_CHARS = 1 << 20;
/** Caps of an exception's parts, in UTF-8 bytes (the same as sandbox/describe.ts applies). */
export const MAX_EXCEPTION_NAME_BYTES = 1024;
export const MAX_EXCEPTION_MESSAGE_BYTES = 64 * 1024;
export const MAX_EXCEPTION_STACK_BYTES = 64 * 1024;

/** %j arguments arrive as JSON text already made in the sandbox. */
class JsonText {
  constructor(readonly text: string) {}
}

const formatNumber = (n: number) => (Object.is(n, -0) ? "-0" : `${n}`);

function decodeArgs(nodes: unknown[]): unknown[] {
  const decoder = new TreeDecoder();
  return nodes.map((n) =>
    Array.isArray(n) && n[0] === "J" ? new JsonText(n[1] === null ? "undefined" : String(n[1])) : decoder.decode(n),
  );
}

/**
 * Node's formatWithOptions, for arguments whose user-code conversions (%s with
 * a custom toString, %d/%i/%f, %j) were already done inside the sandbox.
 */
export function formatArgs(args: unknown[]): string {
  const first = args[0];
  let a = 0;
  let str = "";
  let join = "";
  if (typeof first === "string") {
    if (args.length === 1) return first;
    let lastPos = 0;
    let tempStr = "";
    for (let i = 0; i < first.length - 1; i++) {
      if (first.charCodeAt(i) !== 37) continue;
      const nextChar = first.charCodeAt(++i);
      if (a + 1 !== args.length) {
        switch (nextChar) {
          case 115: { // s
            const arg = args[++a];
            if (typeof arg === "number") tempStr = formatNumber(arg);
            else if (typeof arg === "bigint") tempStr = `${arg}n`;
            else if (typeof arg !== "object" || arg === null) tempStr = String(arg);
            else tempStr = inspect(arg, { depth: 0, colors: false, compact: 3 });
            break;
          }
          case 106: { // j
            const arg = args[++a];
            tempStr = arg instanceof JsonText ? arg.text : String(JSON.stringify(arg));
            break;
          }
          case 100: // d
          case 105: { // i
            const arg = args[++a];
            if (typeof arg === "bigint") tempStr = `${arg}n`;
            else if (typeof arg === "symbol") tempStr = "NaN";
            else tempStr = formatNumber(Number(arg));
            break;
          }
          case 102: { // f
            const arg = args[++a];
            tempStr = typeof arg === "symbol" ? "NaN" : formatNumber(Number(arg));
            break;
          }
          case 79: // O
            tempStr = inspect(args[++a]);
            break;
          case 111: // o
            tempStr = inspect(args[++a], { showHidden: true, showProxy: true, depth: 4 });
            break;
          case 99: // c
            a++;
            tempStr = "";
            break;
          case 37: // %
            str += first.slice(lastPos, i);
            lastPos = i + 1;
            continue;
          default:
            continue;
        }
        if (lastPos !== i - 1) str += first.slice(lastPos, i - 1);
        str += tempStr;
        lastPos = i + 1;
      } else if (nextChar === 37) {
        str += first.slice(lastPos, i);
        lastPos = i + 1;
      }
    }
    if (lastPos !== 0) {
      a++;
      join = " ";
      if (lastPos < first.length) str += first.slice(lastPos);
    }
  }
  while (a < args.length) {
    const value = args[a];
    str += join;
    str += typeof value !== "string" ? inspect(value instanceof JsonText ? value.text : value) : value;
    join = " ";
    a++;
  }
  return str;
}

export interface ConsoleLine {
  level: ConsoleLevel;
  text: string;
}

/** meta = level | kind << 3 | groupIndent << 6 (see sandbox/console.ts). */
export function decodeConsole(meta: number, payload: string): ConsoleLine {
  const level = LEVELS[meta & 7] ?? "log";
  const kind = (meta >> 3) & 7;
  const indent = meta >> 6;
  let text: string;
  if (kind === KIND_TEXT) text = payload;
  else if (kind === KIND_DIR) text = inspect(decodeArgs(JSON.parse(payload))[0]);
  else if (kind === KIND_TRACE) {
    const [argsJson, stack] = JSON.parse(payload) as [string, string];
    const message = formatArgs(decodeArgs(JSON.parse(argsJson)));
    text = `Trace${message ? `: ${message}` : ""}${stack}`;
  } else if (kind === KIND_FORMAT) text = formatArgs(decodeArgs(JSON.parse(payload)));
  else text = payload;
  if (indent > 0) {
    const pad = " ".repeat(indent);
    text = pad + text.replace(/\n/g, `\n${pad}`);
  }
  return { level, text };
}

/** Cut to 4 KB of UTF-8 without splitting a character. */
export function cutPreview(text: string): string {
  if (Buffer.byteLength(text) <= PREVIEW_BYTES) return text;
  const cut = Buffer.from(text).subarray(0, PREVIEW_BYTES - 3).toString("utf8").replace(/\uFFFD$/, "");
  return cut + "…";
}

/**
 * text cut to at most maxBytes of UTF-8, marker included, without splitting a
 * character: "… (N more characters)" says how much was left out.
 */
export function capText(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  const keep = Math.max(0, maxBytes - 48);
  // A cut at `keep` UTF-8 bytes can only fall within the first `keep` UTF-16 units.
  let cut = Buffer.from(text.slice(0, keep)).subarray(0, keep).toString("utf8");
  if (cut.endsWith("\uFFFD") && !text.slice(0, cut.length).endsWith("\uFFFD")) cut = cut.slice(0, -1);
  return `${cut}… (${text.length - cut.length} more characters)`;
}

function cappedException(name: string, message: string, stack: string): ExceptionDescription {
  return {
    name: capText(name, MAX_EXCEPTION_NAME_BYTES),
    message: capText(message, MAX_EXCEPTION_MESSAGE_BYTES),
    stack: capText(stack, MAX_EXCEPTION_STACK_BYTES),
  };
}

/** "V" + [type, tree, jsonText|null] from sandbox describeValue(). */
export function parseValue(message: string): ValueDescription {
  const [type, tree, json] = JSON.parse(message.slice(1)) as [string, unknown, string | null];
  const value: ValueDescription = { type, preview: cutPreview(inspect(decodeTree(tree))) };
  if (typeof json === "string" && json.length <= MAX_JSON_CHARS) value.json = JSON.parse(json);
  return value;
}

/** "E" + [1, name, message, stack] | [0, tree] from sandbox describeThrown(). */
export function parseThrown(message: string): ExceptionDescription {
  const parsed = JSON.parse(message.slice(1)) as [1, string, string, string] | [0, unknown];
  if (parsed[0] === 1) return cappedException(parsed[1], parsed[2], cutStack(parsed[3]));
  return thrownValue(decodeTree(parsed[1]));
}

/** A thrown value that is not an Error: named like Node's REPL reports it. */
export function thrownValue(value: unknown): ExceptionDescription {
  const shown = inspect(value);
  return cappedException("Uncaught", typeof value === "string" ? value : shown, `Uncaught ${shown}`);
}

const NON_ERROR_THROWN = "An object was thrown from supplied code within isolated-vm";

/** An error that isolated-vm copied out of the isolate (or a host-side failure). */
export function hostException(e: unknown): ExceptionDescription {
  if (!(e instanceof Error)) return thrownValue(e);
  if (e.message.startsWith(NON_ERROR_THROWN)) {
    return { name: "Uncaught", message: "a non-Error object was thrown", stack: "Uncaught [object]" };
  }
  const name = e.name || "Error";
  const stack = typeof e.stack === "string" ? e.stack : `${name}: ${e.message}`;
  // Errors made on the host have no boundary line: all their frames are host frames.
  const sandboxed = stack.includes("<isolated-vm boundary>");
  return cappedException(name, e.message, sandboxed ? cutStack(stack) : stack.split("\n")[0]);
}
