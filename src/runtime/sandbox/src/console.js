// @ts-check
/**
 * The console shim. Each call becomes one line (gen, meta, payload) for the
 * host: written to the console ring (shared memory, see ../../console-ring.ts)
 * while it certainly fits the run's output budget and the ring, else sent
 * synchronously. All-primitive calls are formatted
 * here (the common, hot case); anything else travels as a tagged tree and the
 * host formats it with Node's util. Where Node's format directives would run
 * user code (toString, valueOf, toJSON), that part is done here first.
 *
 * ctl (SharedArrayBuffer, shared with the host): CTL_GEN generation of the
 * active run (0 = none: output is dropped), CTL_STOP (output limit reached),
 * CTL_LINES_LEFT and CTL_BYTES_LEFT the console budget (lines, UTF-8 bytes)
 * the host published last, CTL_RING_* the ring's write and read positions
 * and CTL_HOST_IDLE the host's idle flag. A call whose line might not fit
 * the budget is delivered synchronously instead (consoleSync), so the call
 * that crosses a limit throws; the host drains the ring first, so lines
 * keep their order. While CTL_CONSOLE_PAUSED is set (the lines' reader is
 * behind) every call goes that way, and the host answers once it caught up.
 */
let groupIndent = 0;
const counts = new MapCtor();
const timersByLabel = new MapCtor();

/** @param {unknown} v @returns {string} */
function formatPrimitive(v) {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
      return objIs(v, -0) ? "-0" : StringCtor(v);
    case "bigint":
      return StringCtor(v) + "n";
    case "symbol":
      return symbolToString(v);
    default:
      return StringCtor(v);
  }
}

/** @param {unknown} v */
function isPrimitive(v) {
  return v === null || (typeof v !== "object" && typeof v !== "function");
}

/** @param {any} v */
function hasBuiltInToString(v) {
  let ts;
  try {
    ts = v.toString;
  } catch (_) {
    return true;
  }
  if (typeof ts !== "function") return true;
  if (hasOwn(v, "toString")) return false;
  let p = v;
  for (let i = 0; i < 1000; i++) {
    p = getProto(p);
    if (p === null) return true;
    if (hasOwn(p, "toString")) break;
  }
  const ctor = dataValue(getOwnDesc(p, "constructor"));
  if (typeof ctor !== "function") return false;
  return setHas(builtInNames, dataValue(getOwnDesc(ctor, "name")));
}

// Not String.prototype.split: it looks Symbol.split up on String.prototype.
/** @param {string} text */
function firstLine(text) {
  const nl = stringIndexOf(text, "\n");
  return nl === -1 ? text : stringSlice(text, 0, nl);
}

// V8's message for a cycle, found on first use (one throw, not one per context).
/** @type {string | null} */
let circularMessage = null;
function circularText() {
  if (circularMessage === null) {
    const a = create(null);
    defineProp(a, "a", { __proto__: null, value: a, enumerable: true });
    try {
      jsonStringify(a);
      circularMessage = "";
    } catch (e) {
      circularMessage = firstLine(StringCtor(e.message));
    }
  }
  return circularMessage;
}

/** @param {unknown} v @returns {string | undefined} */
function jsonDirective(v) {
  try {
    return jsonStringify(v);
  } catch (e) {
    if (ordinaryHasInstance(TypeErrorCtor, e) && firstLine(StringCtor(e.message)) === circularText()) return "[Circular]";
    throw e;
  }
}

// Mirrors Node's formatWithOptions scan: decides which argument each
// directive consumes and pre-converts those that would run user code.
// Answers JSON text of the arguments' trees (see encodeTree).
/** @param {unknown[]} args @returns {string} */
function describeArgs(args) {
  const first = args[0];
  const nodes = list();
  let depth = 3;
  /** @type {unknown[] | null} */
  let converted = null; // argument index -> its conversion: made on first use, no prototype
  if (typeof first === "string" && args.length > 1) {
    let a = 0;
    for (let i = 0; i < first.length - 1; i++) {
      if (charCodeAt(first, i) !== 37) continue;
      const c = charCodeAt(first, ++i);
      if (a + 1 === args.length) continue;
      const idx = a + 1;
      const arg = args[idx];
      switch (c) {
        case 115: // s
          a++;
          if (!isPrimitive(arg) && !hasBuiltInToString(arg)) (converted ??= list())[idx] = StringCtor(arg);
          break;
        case 100: // d
          a++;
          if (typeof arg !== "bigint" && typeof arg !== "symbol") (converted ??= list())[idx] = NumberCtor(arg);
          break;
        case 105: // i
          a++;
          if (typeof arg !== "bigint" && typeof arg !== "symbol") (converted ??= list())[idx] = parseIntFn(/** @type {any} */ (arg)); // converted as Node converts it
          break;
        case 102: // f
          a++;
          if (typeof arg !== "symbol") (converted ??= list())[idx] = parseFloatFn(/** @type {any} */ (arg));
          break;
        case 106: // j
          a++;
          (converted ??= list())[idx] = ["J", jsonDirective(arg)];
          break;
        case 111: // o
          a++;
          depth = 5;
          break;
        case 79:
        case 99: // O c
          a++;
          break;
        default:
          break;
      }
    }
  }
  const d = new Describer(depth);
  for (let i = 0; i < args.length; i++) {
    if (converted !== null && hasOwn(converted, i)) {
      const cv = converted[i];
      // A "%s" conversion's string prints whole, as Node prints it.
      add(nodes, isArray(cv) ? (cv[1] === undefined ? ["J", null] : cv) : typeof cv === "string" ? cv : d.value(cv, 0));
    } else {
      // Top-level strings print raw and whole; only nested ones are capped.
      add(nodes, typeof args[i] === "string" ? args[i] : d.value(args[i], 0));
    }
  }
  return encodeTree(nodes);
}

// What the host still accepts in this run (see RunHooks.consoleBudget), as
// published in CTL_LINES_LEFT and CTL_BYTES_LEFT when the run started
// or after the latest synchronous delivery, minus an upper bound of what was
// sent since. A line goes fire-and-forget only when it certainly fits.
let budgetGen = 0;
let linesLeft = 0;
let bytesLeft = 0;

// Upper bound of the UTF-8 size of a text the host prints as it is (plus the
// group indentation it adds in front of every line): 3 bytes per UTF-16 unit.
/** @param {string} text @param {number} indent */
function textBound(text, indent) {
  const n = text.length;
  return indent === 0 ? 3 * n : 3 * n + indent * (n + 1);
}

// The exact size, for texts whose bound does not fit (as Buffer.byteLength
// counts: a lone surrogate becomes U+FFFD, 3 bytes).
/** @param {string} text @param {number} indent */
function textBytes(text, indent) {
  const n = text.length;
  let bytes = 0;
  let lines = 1;
  for (let i = 0; i < n; i++) {
    const c = charCodeAt(text, i);
    if (c < 0x80) {
      bytes += 1;
      if (c === 10) lines++;
    } else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = charCodeAt(text, i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes + indent * lines;
}

// Values the host formats with util.inspect: no cheap sound bound exists, so
// this is a generous one (inspect output stays well under 24 characters per
// character of the described tree, plus a constant), and lines near a limit
// go through the synchronous path anyway.
const TREE_FACTOR = 24;
const TREE_SLACK = 2048;
/** @param {string} payload @param {number} indent */
function treeBound(payload, indent) {
  const chars = payload.length * TREE_FACTOR + TREE_SLACK;
  return chars * (3 + indent) + indent;
}

// A record: [meta lo, meta hi, gen lo, gen hi, length lo, length hi, ...text];
// false when it does not fit (the caller sends the line synchronously, and
// the host drains the ring before taking it).
const RING_MASK = ring.length - 1;
/** @param {number} gen @param {number} meta @param {string} text */
function ringWrite(gen, meta, text) {
  const n = text.length;
  const size = RING_HEADER + n;
  if (size > ring.length >> 1) return false;
  let w = AtomicsLoad(ctl, CTL_RING_WRITE);
  let pos = w & RING_MASK;
  const pad = pos + size > ring.length ? ring.length - pos : 0;
  if (((w + pad + size - AtomicsLoad(ctl, CTL_RING_READ)) | 0) > ring.length) return false;
  if (pad !== 0) {
    ring[pos] = RING_WRAP;
    w = (w + pad) | 0;
    pos = 0;
  }
  ring[pos] = meta & 0xffff;
  ring[pos + 1] = meta >>> 16;
  ring[pos + 2] = gen & 0xffff;
  ring[pos + 3] = gen >>> 16;
  ring[pos + 4] = n & 0xffff;
  ring[pos + 5] = n >>> 16;
  const start = pos + RING_HEADER;
  for (let i = 0; i < n; i++) ring[start + i] = charCodeAt(text, i);
  AtomicsStore(ctl, CTL_RING_WRITE, (w + size) | 0);
  if (AtomicsExchange(ctl, CTL_HOST_IDLE, 0) === 1) consoleSink.applyIgnored(undefined, []);
  return true;
}

function limitError() {
  return new ErrorCtor("Console output limit reached: no more output is accepted in this execution");
}

/** @param {number} level @param {number} kind @param {any} args the call's arguments, or the text for KIND_TEXT @param {string} [extra] the stack for KIND_TRACE */
function emit(level, kind, args, extra) {
  const gen = AtomicsLoad(ctl, CTL_GEN);
  if (gen === 0) return;
  if (AtomicsLoad(ctl, CTL_STOP) !== 0) throw limitError();
  let payload;
  if (kind === KIND_FORMAT && allPrimitiveText(args)) {
    kind = KIND_TEXT;
    payload = primitiveText(args);
  } else if (kind === KIND_TEXT) {
    payload = args;
  } else {
    payload = describeArgs(args);
    if (kind === KIND_TRACE) payload = "[" + jsonStringify(payload) + "," + jsonStringify(extra) + "]";
  }
  const indent = groupIndent;
  const meta = level | (kind << META_KIND_SHIFT) | (indent << META_INDENT_SHIFT);
  if (gen !== budgetGen) {
    budgetGen = gen;
    linesLeft = AtomicsLoad(ctl, CTL_LINES_LEFT);
    bytesLeft = AtomicsLoad(ctl, CTL_BYTES_LEFT);
  }
  if (linesLeft > 0 && AtomicsLoad(ctl, CTL_CONSOLE_PAUSED) === 0) {
    let need = kind === KIND_TEXT ? textBound(payload, indent) : treeBound(payload, indent);
    if (need > bytesLeft && kind === KIND_TEXT) need = textBytes(payload, indent);
    if (need <= bytesLeft && ringWrite(gen, meta, payload)) {
      linesLeft--;
      bytesLeft -= need;
      return;
    }
  }
  // It might not fit: the host formats it after every line written before it,
  // hands it to onConsole and answers 1 (kept; fresh budget in ctl) or 0.
  let answer = 1;
  try {
    answer = consoleSync.applySyncPromise(undefined, [gen, meta, payload]);
  } catch (_) {
    // the host is going away: the line is lost, as a fire-and-forget one would be
  }
  if (answer !== 1) throw limitError();
  linesLeft = AtomicsLoad(ctl, CTL_LINES_LEFT);
  bytesLeft = AtomicsLoad(ctl, CTL_BYTES_LEFT);
}

/** @param {unknown[]} args */
function allPrimitiveText(args) {
  for (let i = 0; i < args.length; i++) if (!isPrimitive(args[i])) return false;
  return !(args.length > 1 && typeof args[0] === "string" && stringIncludes(args[0], "%"));
}

/** @param {unknown[]} args */
function primitiveText(args) {
  if (args.length === 0) return "";
  let text = formatPrimitive(args[0]);
  for (let i = 1; i < args.length; i++) text += " " + formatPrimitive(args[i]);
  return text;
}

/** @param {number} ms */
function elapsedText(ms) {
  if (ms >= 1000) return numberToFixed(ms / 1000, 3) + "s";
  return StringCtor(NumberCtor(numberToFixed(ms, 3))) + "ms";
}

/** @param {unknown} label */
function labelOf(label) {
  return label === undefined ? "default" : StringCtor(label);
}

/** @param {unknown[]} labels */
function group(labels) {
  if (labels.length > 0) emit(LEVEL_LOG, KIND_FORMAT, labels);
  groupIndent = groupIndent < 500 ? groupIndent + 2 : groupIndent;
}

function makeConsole() {
  /** @type {Record<string, (...args: any[]) => void>} */
  const c = {
    log(...args) {
      emit(LEVEL_LOG, KIND_FORMAT, args);
    },
    info(...args) {
      emit(LEVEL_INFO, KIND_FORMAT, args);
    },
    warn(...args) {
      emit(LEVEL_WARN, KIND_FORMAT, args);
    },
    error(...args) {
      emit(LEVEL_ERROR, KIND_FORMAT, args);
    },
    debug(...args) {
      emit(LEVEL_DEBUG, KIND_FORMAT, args);
    },
    dirxml(...args) {
      emit(LEVEL_LOG, KIND_FORMAT, args);
    },
    table(...args) {
      emit(LEVEL_LOG, KIND_FORMAT, args);
    },
    dir(value) {
      emit(LEVEL_LOG, KIND_DIR, [value]);
    },
    trace(...args) {
      /** @type {{ stack?: unknown }} */
      const holder = {};
      captureStackTrace(holder, c.trace);
      const stack = typeof holder.stack === "string" ? holder.stack : "";
      const nl = stringIndexOf(stack, "\n");
      emit(LEVEL_ERROR, KIND_TRACE, args, nl === -1 ? "" : stringSlice(stack, nl));
    },
    assert(condition, ...args) {
      if (condition) return;
      if (args.length === 0) args = ["Assertion failed"];
      else args[0] = "Assertion failed: " + StringCtor(args[0]);
      emit(LEVEL_WARN, KIND_FORMAT, args);
    },
    count(label) {
      const l = labelOf(label);
      const n = (mapGet(counts, l) || 0) + 1;
      mapSet(counts, l, n);
      emit(LEVEL_LOG, KIND_TEXT, l + ": " + n);
    },
    countReset(label) {
      mapDelete(counts, labelOf(label));
    },
    time(label) {
      mapSet(timersByLabel, labelOf(label), dateNow());
    },
    timeLog(label, ...args) {
      const l = labelOf(label);
      const t = mapGet(timersByLabel, l);
      if (t === undefined) return;
      const all = list();
      add(all, l + ": " + elapsedText(dateNow() - t));
      for (let i = 0; i < args.length; i++) add(all, args[i]);
      emit(LEVEL_LOG, KIND_FORMAT, all);
    },
    timeEnd(label) {
      const l = labelOf(label);
      const t = mapGet(timersByLabel, l);
      if (t === undefined) return;
      mapDelete(timersByLabel, l);
      emit(LEVEL_LOG, KIND_TEXT, l + ": " + elapsedText(dateNow() - t));
    },
    group(...labels) {
      group(labels);
    },
    groupCollapsed(...labels) {
      group(labels);
    },
    groupEnd() {
      groupIndent = groupIndent >= 2 ? groupIndent - 2 : 0;
    },
    clear() {},
    timeStamp() {},
    profile() {},
    profileEnd() {},
  };
  return c;
}

// runtime.console = false: a console whose methods do nothing, so code that
// logs still runs.
function makeSilentConsole() {
  const c = makeConsole();
  const keys = ownKeys(c);
  for (let i = 0; i < keys.length; i++) c[/** @type {string} */ (keys[i])] = function () {};
  return c;
}
