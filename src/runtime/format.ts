/**
 * Host-side formatting of what the sandbox sends: console messages (Node's
 * util.format rules, applied to rebuilt values), VALUE descriptions and
 * exception descriptions.
 */
import { inspect } from "node:util";
import { TreeDecoder, decodeTree } from "./inspect-tree";
import {
  KIND_DIR,
  KIND_FORMAT,
  KIND_TEXT,
  KIND_TRACE,
  LEVEL_DEBUG,
  LEVEL_ERROR,
  LEVEL_INFO,
  LEVEL_LOG,
  LEVEL_WARN,
  MAX_EXCEPTION_MESSAGE_BYTES,
  MAX_EXCEPTION_NAME_BYTES,
  MAX_EXCEPTION_STACK_BYTES,
  MAX_JSON_CHARS,
  MAX_JSON_DEPTH,
  MAX_TREE_CHARS,
  META_INDENT_SHIFT,
  META_KIND_SHIFT,
} from "./sandbox/constants";
import { cutStack } from "./stack";
import type { ConsoleLevel, ExceptionDescription, ValueDescription } from "./types";

const LEVELS: Readonly<Record<number, ConsoleLevel>> = {
  [LEVEL_LOG]: "log",
  [LEVEL_INFO]: "info",
  [LEVEL_WARN]: "warn",
  [LEVEL_ERROR]: "error",
  [LEVEL_DEBUG]: "debug",
};
const PREVIEW_BYTES = 4096;
/**
 * The longest "V…"/"E…" message taken in: a tree, a json text (escaped once
 * more inside the message) and slack. The sandbox keeps within it; a longer
 * one is not parsed.
 */
const MAX_DESCRIPTION_CHARS = MAX_TREE_CHARS + 2 * MAX_JSON_CHARS + 1024 * 1024;
/** A VALUE's type is one of a few short words. */
const MAX_TYPE_CHARS = 32;

/** %j arguments arrive as JSON text already made in the sandbox. */
class JsonText {
  constructor(readonly text: string) {}
}

const formatNumber = (n: number) => (Object.is(n, -0) ? "-0" : `${n}`);

function decodeArgs(nodes: unknown): unknown[] {
  if (!Array.isArray(nodes)) throw new Error("console arguments are not a list");
  const decoder = new TreeDecoder();
  return nodes.map((n) => (Array.isArray(n) && n[0] === "J" ? new JsonText(n[1] === null ? "undefined" : String(n[1])) : decoder.decode(n)));
}

/**
 * Node's formatWithOptions, for arguments whose user-code conversions (%s with
 * a custom toString, %d/%i/%f, %j) were already done inside the sandbox.
 */
function formatArgs(args: unknown[]): string {
  const first = args[0];
  let a = 0;
  let str = "";
  let join = "";
  if (typeof first === "string") {
    if (args.length === 1) return first;
    let lastPos = 0;
    let tempStr: string;
    for (let i = 0; i < first.length - 1; i++) {
      if (first.charCodeAt(i) !== 37) continue;
      const nextChar = first.charCodeAt(++i);
      if (a + 1 !== args.length) {
        switch (nextChar) {
          case 115: {
            // s
            const arg = args[++a];
            if (typeof arg === "number") tempStr = formatNumber(arg);
            else if (typeof arg === "bigint") tempStr = `${arg}n`;
            else if (typeof arg !== "object" || arg === null) tempStr = String(arg);
            else tempStr = inspect(arg, { depth: 0, colors: false, compact: 3 });
            break;
          }
          case 106: {
            // j
            const arg = args[++a];
            tempStr = arg instanceof JsonText ? arg.text : String(JSON.stringify(arg));
            break;
          }
          case 100: // d
          case 105: {
            // i
            const arg = args[++a];
            if (typeof arg === "bigint") tempStr = `${arg}n`;
            else if (typeof arg === "symbol") tempStr = "NaN";
            else tempStr = formatNumber(Number(arg));
            break;
          }
          case 102: {
            // f
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

/** meta = level | kind << META_KIND_SHIFT | groupIndent << META_INDENT_SHIFT (see sandbox/src/console.js). */
export function decodeConsole(meta: number, payload: string): ConsoleLine {
  const level = LEVELS[meta & ((1 << META_KIND_SHIFT) - 1)] ?? "log";
  const kind = (meta >> META_KIND_SHIFT) & ((1 << (META_INDENT_SHIFT - META_KIND_SHIFT)) - 1);
  const indent = meta >> META_INDENT_SHIFT;
  let text: string;
  if (kind === KIND_TEXT) text = payload;
  else if (kind === KIND_DIR) text = inspect(decodeArgs(JSON.parse(payload))[0]);
  else if (kind === KIND_TRACE) {
    const [argsJson, stack] = JSON.parse(payload) as [unknown, unknown];
    if (typeof argsJson !== "string" || typeof stack !== "string") throw new Error("malformed console.trace line");
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
function cutPreview(text: string): string {
  if (Buffer.byteLength(text) <= PREVIEW_BYTES) return text;
  const cut = Buffer.from(text)
    .subarray(0, PREVIEW_BYTES - 3)
    .toString("utf8")
    .replace(/\uFFFD$/, "");
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

/**
 * Whether JSON text opens at most maxDepth arrays and objects at once (the
 * text is valid JSON: brackets inside strings are skipped, escapes included).
 */
function jsonDepthWithin(text: string, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // a string: to its closing quote
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
      }
    } else if (c === 91 || c === 123) {
      if (++depth > maxDepth) return false;
    } else if (c === 93 || c === 125) depth--;
  }
  return true;
}

/** JSON.parse of a sandbox message; undefined when it is too long or not JSON. */
function parseMessage(message: string): unknown {
  if (message.length > MAX_DESCRIPTION_CHARS) return undefined;
  try {
    return JSON.parse(message.slice(1));
  } catch {
    return undefined;
  }
}

/** What a message the sandbox could not have made turns into (it never happens unless the sandbox is broken). */
const UNDESCRIBED_VALUE = "[the value could not be described]";
const UNDESCRIBED_EXCEPTION: ExceptionDescription = { name: "Error", message: "an exception could not be described", stack: "Error" };

/**
 * "V" + [type, tree, jsonText|null] from sandbox describeValue(). Checked
 * again here, whatever made it: json deeper than MAX_JSON_DEPTH or longer
 * than MAX_JSON_CHARS is dropped (the preview stays), trees are decoded
 * within TreeDecoder's bounds.
 */
export function parseValue(message: string): ValueDescription {
  const parsed = parseMessage(message);
  if (!Array.isArray(parsed) || typeof parsed[0] !== "string" || parsed[0].length > MAX_TYPE_CHARS) {
    return { type: "object", preview: UNDESCRIBED_VALUE };
  }
  const [type, tree, json] = parsed as [string, unknown, unknown];
  let preview: string;
  try {
    preview = cutPreview(inspect(decodeTree(tree)));
  } catch {
    preview = UNDESCRIBED_VALUE;
  }
  const value: ValueDescription = { type, preview };
  if (typeof json === "string" && json.length <= MAX_JSON_CHARS && jsonDepthWithin(json, MAX_JSON_DEPTH)) {
    try {
      value.json = JSON.parse(json);
    } catch {
      // not JSON: no json
    }
  }
  return value;
}

/** "E" + [1, name, message, stack] | [0, tree] from sandbox describeThrown(). */
export function parseThrown(message: string): ExceptionDescription {
  const parsed = parseMessage(message);
  if (!Array.isArray(parsed)) return UNDESCRIBED_EXCEPTION;
  if (parsed[0] === 1) {
    const [, name, text, stack] = parsed as unknown[];
    if (typeof name !== "string" || typeof text !== "string" || typeof stack !== "string") return UNDESCRIBED_EXCEPTION;
    return cappedException(name, text, cutStack(stack));
  }
  try {
    return thrownValue(decodeTree(parsed[1]));
  } catch {
    return UNDESCRIBED_EXCEPTION;
  }
}

/** A thrown value that is not an Error: named like Node's REPL reports it. */
function thrownValue(value: unknown): ExceptionDescription {
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
