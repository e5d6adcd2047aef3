/**
 * In-isolate source: the console shim. Each call becomes one fire-and-forget
 * message (gen, meta, payload) to the host. All-primitive calls are formatted
 * here (the common, hot case); anything else travels as a tagged tree and the
 * host formats it with Node's util. Where Node's format directives would run
 * user code (toString, valueOf, toJSON), that part is done here first.
 *
 * ctl (SharedArrayBuffer, shared with the host): [0] generation of the active
 * run (0 = none: output is dropped), [1] stop flag (output limit reached),
 * [2] messages sent during this run (the host waits until it received as many).
 */
export const CONSOLE_SOURCE = String.raw`
const LEVEL = { log: 0, info: 1, warn: 2, error: 3, debug: 4 };
const KIND_TEXT = 0, KIND_FORMAT = 1, KIND_TRACE = 2, KIND_DIR = 3;
let groupIndent = 0;
const counts = new MapCtor();
const timersByLabel = new MapCtor();

function formatPrimitive(v) {
  switch (typeof v) {
    case "string": return v;
    case "number": return objIs(v, -0) ? "-0" : StringCtor(v);
    case "bigint": return StringCtor(v) + "n";
    case "symbol": return symbolToString(v);
    default: return StringCtor(v);
  }
}

function isPrimitive(v) {
  return v === null || (typeof v !== "object" && typeof v !== "function");
}

function hasBuiltInToString(v) {
  let ts;
  try { ts = v.toString; } catch (_) { return true; }
  if (typeof ts !== "function") return true;
  if (hasOwn(v, "toString")) return false;
  let p = v;
  for (let i = 0; i < 1000; i++) {
    p = getProto(p);
    if (p === null) return true;
    if (hasOwn(p, "toString")) break;
  }
  const d = getOwnDesc(p, "constructor");
  if (d === undefined || typeof d.value !== "function") return false;
  const n = getOwnDesc(d.value, "name");
  return n !== undefined && setHas(builtInNames, n.value);
}

const CIRCULAR = (function () {
  try { const a = {}; a.a = a; jsonStringify(a); } catch (e) { return stringSplit(StringCtor(e.message), "\n")[0]; }
  return "";
})();

function jsonDirective(v) {
  try {
    return jsonStringify(v);
  } catch (e) {
    if (e instanceof TypeErrorCtor && stringSplit(StringCtor(e.message), "\n")[0] === CIRCULAR) return "[Circular]";
    throw e;
  }
}

// Mirrors Node's formatWithOptions scan: decides which argument each
// directive consumes and pre-converts those that would run user code.
function describeArgs(args) {
  const first = args[0];
  const nodes = [];
  let depth = 3;
  const converted = [];
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
          if (!isPrimitive(arg) && !hasBuiltInToString(arg)) converted[idx] = StringCtor(arg);
          break;
        case 100: // d
          a++;
          if (typeof arg !== "bigint" && typeof arg !== "symbol") converted[idx] = NumberCtor(arg);
          break;
        case 105: // i
          a++;
          if (typeof arg !== "bigint" && typeof arg !== "symbol") converted[idx] = parseIntFn(arg);
          break;
        case 102: // f
          a++;
          if (typeof arg !== "symbol") converted[idx] = parseFloatFn(arg);
          break;
        case 106: // j
          a++;
          converted[idx] = ["J", jsonDirective(arg)];
          break;
        case 111: // o
          a++;
          depth = 5;
          break;
        case 79: case 99: // O c
          a++;
          break;
        default: break;
      }
    }
  }
  const d = new Describer(depth);
  for (let i = 0; i < args.length; i++) {
    if (hasOwn(converted, i)) {
      const cv = converted[i];
      arrayPush(nodes, isArray(cv) ? (cv[1] === undefined ? ["J", null] : cv) : d.value(cv, 0));
    } else {
      // Top-level strings print raw and whole; only nested ones are capped.
      arrayPush(nodes, typeof args[i] === "string" ? args[i] : d.value(args[i], 0));
    }
  }
  return jsonStringify(nodes);
}

function emit(level, kind, args, extra) {
  const gen = AtomicsLoad(ctl, 0);
  if (gen === 0) return;
  if (AtomicsLoad(ctl, 1) !== 0) {
    throw new ErrorCtor("Console output limit reached: no more output is accepted in this execution");
  }
  let payload;
  if (kind === KIND_FORMAT && allPrimitiveText(args)) {
    kind = KIND_TEXT;
    payload = primitiveText(args);
  } else if (kind === KIND_TEXT) {
    payload = args;
  } else {
    payload = describeArgs(args);
    if (kind === KIND_TRACE) payload = jsonStringify([payload, extra]);
  }
  consoleSink.applyIgnored(undefined, [gen, level | (kind << 3) | (groupIndent << 6), payload]);
  // Counted after sending: if termination lands in between, one line is lost
  // rather than the host waiting for a message that never comes.
  AtomicsAdd(ctl, 2, 1);
}

function allPrimitiveText(args) {
  for (let i = 0; i < args.length; i++) if (!isPrimitive(args[i])) return false;
  return !(args.length > 1 && typeof args[0] === "string" && stringIncludes(args[0], "%"));
}

function primitiveText(args) {
  if (args.length === 1) return formatPrimitive(args[0]);
  const parts = [];
  for (let i = 0; i < args.length; i++) arrayPush(parts, formatPrimitive(args[i]));
  return arrayJoin(parts, " ");
}

function elapsedText(ms) {
  if (ms >= 1000) return (ms / 1000).toFixed(3) + "s";
  return NumberCtor(ms.toFixed(3)) + "ms";
}

function labelOf(label) {
  return label === undefined ? "default" : StringCtor(label);
}

function makeConsole() {
  const c = {
    log(...args) { emit(LEVEL.log, KIND_FORMAT, args); },
    info(...args) { emit(LEVEL.info, KIND_FORMAT, args); },
    warn(...args) { emit(LEVEL.warn, KIND_FORMAT, args); },
    error(...args) { emit(LEVEL.error, KIND_FORMAT, args); },
    debug(...args) { emit(LEVEL.debug, KIND_FORMAT, args); },
    dirxml(...args) { emit(LEVEL.log, KIND_FORMAT, args); },
    table(...args) { emit(LEVEL.log, KIND_FORMAT, args); },
    dir(value) { emit(LEVEL.log, KIND_DIR, [value]); },
    trace(...args) {
      const holder = {};
      captureStackTrace(holder, c.trace);
      const stack = typeof holder.stack === "string" ? holder.stack : "";
      const nl = stringIndexOf(stack, "\n");
      emit(LEVEL.error, KIND_TRACE, args, nl === -1 ? "" : stringSlice(stack, nl));
    },
    assert(condition, ...args) {
      if (condition) return;
      if (args.length === 0) args = ["Assertion failed"];
      else args[0] = "Assertion failed: " + StringCtor(args[0]);
      emit(LEVEL.warn, KIND_FORMAT, args);
    },
    count(label) {
      const l = labelOf(label);
      const n = (mapGet(counts, l) || 0) + 1;
      mapSet(counts, l, n);
      emit(LEVEL.log, KIND_TEXT, l + ": " + n);
    },
    countReset(label) { mapDelete(counts, labelOf(label)); },
    time(label) { mapSet(timersByLabel, labelOf(label), dateNow()); },
    timeLog(label, ...args) {
      const l = labelOf(label);
      const t = mapGet(timersByLabel, l);
      if (t === undefined) return;
      emit(LEVEL.log, KIND_FORMAT, [l + ": " + elapsedText(dateNow() - t), ...args]);
    },
    timeEnd(label) {
      const l = labelOf(label);
      const t = mapGet(timersByLabel, l);
      if (t === undefined) return;
      mapDelete(timersByLabel, l);
      emit(LEVEL.log, KIND_TEXT, l + ": " + elapsedText(dateNow() - t));
    },
    group(...labels) {
      if (labels.length > 0) emit(LEVEL.log, KIND_FORMAT, labels);
      groupIndent = groupIndent < 500 ? groupIndent + 2 : groupIndent;
    },
    groupCollapsed(...labels) { c.group(...labels); },
    groupEnd() { groupIndent = groupIndent >= 2 ? groupIndent - 2 : 0; },
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
  for (let i = 0; i < keys.length; i++) c[keys[i]] = function () {};
  return c;
}
`;
