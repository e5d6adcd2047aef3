/**
 * Rebuilds the tagged trees made by sandbox/src/describe.js as host values that
 * Node's util.inspect prints exactly as it would print the originals (same
 * class names, prototypes, cycles, accessors, non-enumerable error fields).
 * What cannot be rebuilt faithfully is carried as pre-rendered text.
 *
 * Node shapes (JSON): plain JSON primitives stand for themselves, else
 *   ["u"] undefined · ["n", "NaN"|"Infinity"|"-Infinity"|"-0"] · ["b", digits]
 *   ["y", description|null] symbol · ["S", first10000, length] long string
 *   ["t", text] pre-rendered · ["r", id] already seen · ["h"] array hole
 *   ["g", "Getter"|"Setter"|"Getter/Setter"] accessor · ["J", text|null] %j
 *   ["o", id, cls, props, tag] · ["a", id, cls, props, length, items]
 *   ["m", id, cls, props, size, [[k, v]…]] · ["s", id, cls, props, size, items]
 *   ["d", id, cls, props, time] · ["x", id, cls, props, source, flags]
 *   ["e", id, cls, props, inheritedName, ownMessage, stack, [[key, v]…]]
 *   ["f", id, kind, name, props, base] · ["P", id, cls, props, primitive]
 *   ["T", id, cls, props, type, length, items] · ["B", id, cls, props, length, bytes, shared]
 *   ["M", id, props] module namespace
 * props are [[key, node]…] with symbol keys as ["y", description].
 */
import { inspect } from "node:util";
import { cutStack } from "./stack";

type Node = unknown;
type Props = Array<[unknown, Node]>;

const custom = inspect.custom;
const MAX_HOST_BUFFER = 1 << 20;
/**
 * Nodes nested in nodes. The describer stops at 6 levels (a few more with
 * map entries and error causes); deeper ones, which only a broken or forged
 * message has, show as [Object] instead of recursing on.
 */
const MAX_DECODE_DEPTH = 32;

/** Pre-rendered text, printed verbatim wherever it appears. */
function rendered(text: unknown): object {
  const shown = String(text);
  return { [custom]: () => shown };
}

const BUILTIN_ERRORS: Record<string, ErrorConstructor | undefined> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError: AggregateError as unknown as ErrorConstructor,
};

const TYPED_ARRAYS: Record<string, new (n: number) => ArrayLike<unknown> & Record<number, unknown>> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

/** Fake classes carry only what inspect reads: the name and base. Bounded cache. */
const classCache = new Map<string, Function>();
function fakeClass(name: string, base: Function | null, protoName?: string | null): Function {
  const key = `${name}\u0000${base?.name ?? ""}\u0000${protoName ?? ""}`;
  let cls = classCache.get(key);
  if (!cls) {
    if (classCache.size > 500) classCache.clear();
    const holder = base ? { [name]: class extends (base as new () => object) {} } : { [name]: class {} };
    cls = holder[name] as Function;
    if (protoName) Object.defineProperty(cls.prototype, "name", { value: protoName, writable: true, configurable: true });
    classCache.set(key, cls);
  }
  return cls;
}

function withClass<T extends object>(value: T, cls: unknown, builtin: string, base: Function): T {
  if (typeof cls === "string" && cls !== builtin) Object.setPrototypeOf(value, fakeClass(cls, base).prototype);
  return value;
}

export class TreeDecoder {
  private readonly seen = new Map<number, unknown>();
  private depth = 0;

  decode(node: Node): unknown {
    if (node === null || typeof node !== "object") return node;
    if (!Array.isArray(node)) return rendered("<unknown>");
    if (this.depth >= MAX_DECODE_DEPTH) return rendered("[Object]");
    this.depth++;
    try {
      return this.node(node);
    } finally {
      this.depth--;
    }
  }

  private node(n: unknown[]): unknown {
    switch (n[0]) {
      case "u":
        return undefined;
      case "n":
        return n[1] === "-0" ? -0 : Number(n[1]);
      case "b":
        return BigInt(n[1] as string);
      case "y":
        return n[1] === null ? Symbol() : Symbol(n[1] as string);
      case "S":
        return this.longString(n[1] as string, n[2] as number);
      case "t":
        return rendered(n[1] as string);
      case "r":
        return this.seen.get(n[1] as number);
      case "J":
        return rendered(n[1] === null ? "undefined" : (n[1] as string));
      case "o":
        return this.object(n);
      case "a":
        return this.array(n);
      case "m":
        return this.map(n);
      case "s":
        return this.set(n);
      case "d":
        return this.keep(n, withClass(new Date((n[4] as number | null) ?? NaN), n[2], "Date", Date));
      case "x":
        return this.keep(n, withClass(new RegExp(n[4] as string, n[5] as string), n[2], "RegExp", RegExp));
      case "e":
        return this.error(n);
      case "f":
        return this.fn(n);
      case "P":
        return this.boxed(n);
      case "T":
        return this.typed(n);
      case "B":
        return this.buffer(n);
      case "M":
        return this.namespace(n);
      default:
        return rendered("<unknown>");
    }
  }

  private longString(prefix: string, length: number): object {
    const more = length - prefix.length;
    return {
      [custom]: (_depth: number, options: object) => `${inspect(prefix, options)}... ${more} more character${more > 1 ? "s" : ""}`,
    };
  }

  /** Registers the shell before its children so cycles resolve. */
  private register<T>(n: unknown[], value: T): T {
    this.seen.set(n[1] as number, value);
    return value;
  }

  private keep<T extends object>(n: unknown[], value: T): T {
    this.register(n, value);
    this.assign(value, n[3] as Props);
    return value;
  }

  private assign(target: object, props: Props): void {
    for (const [rawKey, valueNode] of props) {
      const key = Array.isArray(rawKey) ? Symbol(rawKey[1] ?? undefined) : String(rawKey);
      if (Array.isArray(valueNode) && valueNode[0] === "g") {
        const kind = valueNode[1] as string;
        Object.defineProperty(target, key, {
          get: kind.includes("Getter") ? () => undefined : undefined,
          set: kind.includes("Setter") ? () => undefined : undefined,
          enumerable: true,
          configurable: true,
        });
      } else {
        Object.defineProperty(target, key, {
          value: this.decode(valueNode),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
  }

  private object(n: unknown[]): object {
    const cls = n[2] as string | null;
    const tag = n[4] as string | null;
    let target: object;
    if (cls === null) target = Object.create(null);
    else if (cls === "Object" && !tag) target = {};
    else {
      const C = fakeClass(cls, null);
      if (tag) Object.defineProperty(C.prototype, Symbol.toStringTag, { value: tag, configurable: true });
      target = Object.create(C.prototype);
    }
    return this.keep(n, target);
  }

  private array(n: unknown[]): unknown[] {
    const arr = this.register(n, withClass([] as unknown[], n[2], "Array", Array));
    const items = n[5] as Node[];
    items.forEach((item, i) => {
      if (Array.isArray(item) && item[0] === "h") return;
      if (Array.isArray(item) && item[0] === "g") this.assign(arr, [[String(i), item]]);
      else arr[i] = this.decode(item);
    });
    arr.length = n[4] as number;
    this.assign(arr, n[3] as Props);
    return arr;
  }

  private map(n: unknown[]): object {
    const m = this.register(n, withClass(new Map(), n[2], "Map", Map));
    for (const [k, v] of n[5] as Array<[Node, Node]>) m.set(this.decode(k), this.decode(v));
    this.assign(m, n[3] as Props);
    return this.sized(m, "Map", n[4] as number);
  }

  private set(n: unknown[]): object {
    const s = this.register(n, withClass(new Set(), n[2], "Set", Set));
    for (const v of n[5] as Node[]) s.add(this.decode(v));
    this.assign(s, n[3] as Props);
    return this.sized(s, "Set", n[4] as number);
  }

  /** Only the first 100 entries travel; print the real size and the rest as Node does. */
  private sized(c: Map<unknown, unknown> | Set<unknown>, kind: string, size: number): object {
    const more = size - c.size;
    if (more <= 0) return c;
    const note = `... ${more} more item${more > 1 ? "s" : ""}`;
    return {
      [custom]: (_depth: number, options: object) => {
        const text = inspect(c, options).replace(`${kind}(${c.size})`, `${kind}(${size})`);
        return text.includes("\n") ? text.replace(/\n}$/, `,\n  ${note}\n}`) : text.replace(/ }$/, `, ${note} }`);
      },
    };
  }

  private error(n: unknown[]): object {
    const cls = (n[2] as string | null) ?? "Error";
    const inheritedName = n[4] as string | null;
    const builtin = BUILTIN_ERRORS[cls];
    const C =
      builtin && (inheritedName === null || inheritedName === cls)
        ? builtin
        : fakeClass(cls, Error, inheritedName && inheritedName !== "Error" ? inheritedName : null);
    const e = this.register(n, Object.create(C.prototype) as Error);
    const hidden = (key: string, value: unknown) => Object.defineProperty(e, key, { value, writable: true, configurable: true, enumerable: false });
    if (typeof n[5] === "string") hidden("message", n[5]);
    if (typeof n[6] === "string") hidden("stack", cutStack(n[6]));
    for (const [key, valueNode] of n[7] as Array<[string, Node]>) hidden(key, this.decode(valueNode));
    this.assign(e, n[3] as Props);
    return e;
  }

  private fn(n: unknown[]): Function {
    const kind = n[2] as string;
    const name = n[3] as string;
    const base = n[5] as string | null;
    let f: Function;
    if (kind === "c") {
      f = base === null ? class {} : class extends (fakeClass(base, null) as new () => object) {};
    } else if (kind === "a") f = async function () {};
    else if (kind === "g") f = function* () {};
    else if (kind === "ag") f = async function* () {};
    else f = function () {};
    Object.defineProperty(f, "name", { value: name, configurable: true });
    this.seen.set(n[1] as number, f);
    this.assign(f, n[4] as Props);
    return f;
  }

  private boxed(n: unknown[]): object {
    const inner = n[4];
    if (Array.isArray(inner) && inner[0] === "S") {
      // A long boxed string: only its start travelled; Node prints [String: '…'... N more characters].
      const text = this.longString(inner[1] as string, inner[2] as number);
      return this.keep(n, {
        [custom]: (depth: number, options: object) =>
          `[${typeof n[2] === "string" && n[2] !== "String" ? `String (${n[2]})` : "String"}: ${(text as { [custom]: (d: number, o: object) => string })[custom](depth, options)}]`,
      });
    }
    const primitive = this.decode(n[4]);
    const builtin = { number: Number, string: String, boolean: Boolean, symbol: Symbol, bigint: BigInt }[typeof primitive as "number"] as Function | undefined;
    const box = Object(primitive) as object;
    return this.keep(n, builtin ? withClass(box, n[2], builtin.name, builtin) : box);
  }

  private typed(n: unknown[]): object {
    const Ctor = TYPED_ARRAYS[n[4] as string] ?? Uint8Array;
    const length = n[5] as number;
    const arr = new Ctor(Math.min(length, MAX_HOST_BUFFER));
    (n[6] as Node[]).forEach((item, i) => {
      arr[i] = this.decode(item);
    });
    return this.keep(n, withClass(arr as unknown as object, n[2], n[4] as string, Ctor));
  }

  private buffer(n: unknown[]): object {
    const length = Math.min(n[4] as number, MAX_HOST_BUFFER);
    const buf = n[6] ? new SharedArrayBuffer(length) : new ArrayBuffer(length);
    new Uint8Array(buf).set((n[5] as number[]).slice(0, length));
    return this.keep(n, buf);
  }

  private namespace(n: unknown[]): object {
    const exports = this.register(n, Object.create(null) as object);
    this.assign(exports, n[2] as Props);
    return {
      [custom]: (_depth: number, options: object) => `[Module: null prototype] ${inspect(exports, options).replace(/^\[Object: null prototype\] /, "")}`,
    };
  }
}

export function decodeTree(node: Node): unknown {
  return new TreeDecoder().decode(node);
}
