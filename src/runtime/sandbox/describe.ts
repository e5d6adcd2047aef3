/**
 * In-isolate source: turns any sandbox value into a small tagged tree the host
 * rebuilds and hands to Node's util.inspect (see ../inspect-tree.ts for the
 * node shapes). Properties are read through descriptors so getters never run;
 * sizes are capped the way util.inspect caps its own output.
 */
export const DESCRIBE_SOURCE = String.raw`
const MAX_NODES = 5000;
const MAX_ITEMS = 100;      // util.inspect's maxArrayLength
const MAX_STRING = 10000;   // util.inspect's maxStringLength
const MAX_KEYS = 1000;

function ctorName(v) {
  let obj = v;
  for (let i = 0; i < 1000 && obj !== null; i++) {
    const d = getOwnDesc(obj, "constructor");
    if (d !== undefined && typeof d.value === "function") {
      const n = getOwnDesc(d.value, "name");
      if (n !== undefined && typeof n.value === "string" && n.value !== "") return n.value;
    }
    obj = getProto(obj);
  }
  return null;
}

// Symbol.toStringTag as util.inspect shows it: inherited or non-enumerable.
function stringTag(v) {
  let obj = v;
  for (let i = 0; i < 1000 && obj !== null; i++) {
    const d = getOwnDesc(obj, toStringTagSymbol);
    if (d !== undefined) {
      if (typeof d.value !== "string" || d.value === "") return null;
      if (obj === v && d.enumerable) return null;
      return d.value;
    }
    obj = getProto(obj);
  }
  return null;
}

function inheritedString(v, key) {
  let obj = v;
  for (let i = 0; i < 1000 && obj !== null; i++) {
    const d = getOwnDesc(obj, key);
    if (d !== undefined) return typeof d.value === "string" ? d.value : null;
    obj = getProto(obj);
  }
  return null;
}

function Describer(depth) {
  this.depth = depth;
  this.ids = new MapCtor();
  this.nodes = 0;
}

Describer.prototype.key = function (k) {
  return typeof k === "symbol" ? ["y", descriptionOf(k)] : k;
};

function descriptionOf(sym) {
  const d = symbolDescription(sym);
  return d === undefined ? null : d;
}

Describer.prototype.value = function (v, level) {
  switch (typeof v) {
    case "string":
      return v.length > MAX_STRING ? ["S", stringSlice(v, 0, MAX_STRING), v.length] : v;
    case "number":
      if (v !== v) return ["n", "NaN"];
      if (v === Infinity) return ["n", "Infinity"];
      if (v === -Infinity) return ["n", "-Infinity"];
      if (objIs(v, -0)) return ["n", "-0"];
      return v;
    case "boolean": return v;
    case "undefined": return ["u"];
    case "bigint": return ["b", StringCtor(v)];
    case "symbol": return ["y", descriptionOf(v)];
    default:
      if (v === null) return null;
      try {
        return this.object(v, level);
      } catch (_) {
        return ["t", "<inaccessible>"];
      }
  }
};

// Enumerable own properties, as util.inspect lists them.
Describer.prototype.props = function (v, level, skip) {
  const out = [];
  const keys = ownKeys(v);
  let count = 0;
  for (let i = 0; i < keys.length && count < MAX_KEYS; i++) {
    const k = keys[i];
    if (skip !== undefined && skip(k)) continue;
    const d = getOwnDesc(v, k);
    if (d === undefined || !d.enumerable) continue;
    count++;
    arrayPush(out, [this.key(k), this.slot(d, level)]);
  }
  return out;
};

Describer.prototype.slot = function (d, level) {
  if (hasOwn(d, "value")) return this.value(d.value, level + 1);
  return ["g", d.get && d.set ? "Getter/Setter" : d.get ? "Getter" : "Setter"];
};

const isIndexKey = (k) => typeof k === "string" && /^(0|[1-9][0-9]*)$/.test(k);
const isIndexOrLength = (k) => k === "length" || isIndexKey(k);

Describer.prototype.object = function (v, level) {
  const seen = mapGet(this.ids, v);
  if (seen !== undefined) return ["r", seen];
  if (level > this.depth || this.nodes >= MAX_NODES) return ["t", "[Object]"];
  const id = mapSize(this.ids);
  mapSet(this.ids, v, id);
  this.nodes++;
  if (typeof v === "function") return this.fn(v, id, level);
  const cls = ctorName(v);
  if (isArray(v)) return this.array(v, id, cls, level);
  const tag = toTag(v);
  if (tag === "[object Map]" && isMap(v)) return this.map(v, id, cls, level);
  if (tag === "[object Set]" && isSet(v)) return this.set(v, id, cls, level);
  if (tag === "[object Date]" && isDate(v)) return ["d", id, cls, this.props(v, level), dateGetTime(v)];
  if (tag === "[object RegExp]" && isRegExp(v)) return ["x", id, cls, this.props(v, level), regexpSource(v), regexpFlags(v)];
  if (isError(v)) return this.error(v, id, cls, level);
  if (isPromise(v)) return ["t", (cls || "Promise") + " { <unknown> }"];
  if (tag === "[object WeakMap]" && isWeakMap(v)) return ["t", "WeakMap { <items unknown> }"];
  if (tag === "[object WeakSet]" && isWeakSet(v)) return ["t", "WeakSet { <items unknown> }"];
  if (isModuleNamespace(v)) return ["M", id, this.namespaceProps(v, level)];
  const typed = typedArrayTag(v); // undefined for anything but a typed array
  if (typed !== undefined) return this.typed(v, id, cls, typed, level);
  if (tag === "[object ArrayBuffer]" && brand(arrayBufferLength, v)) return this.buffer(v, id, cls, arrayBufferLength(v), false, level);
  if (tag === "[object SharedArrayBuffer]" && brand(sharedBufferLength, v)) return this.buffer(v, id, cls, sharedBufferLength(v), true, level);
  const boxed = this.boxed(v, tag, level);
  if (boxed !== undefined) return ["P", id, cls, boxed[1], boxed[0]];
  return ["o", id, cls, this.props(v, level), stringTag(v)];
};

Describer.prototype.fn = function (v, id, level) {
  let src = "";
  try { src = fnToString(v); } catch (_) {}
  let kind = "f";
  if (stringSlice(src, 0, 5) === "class") kind = "c";
  else {
    const t = toTag(v);
    if (t === "[object AsyncFunction]") kind = "a";
    else if (t === "[object GeneratorFunction]") kind = "g";
    else if (t === "[object AsyncGeneratorFunction]") kind = "ag";
  }
  const n = getOwnDesc(v, "name");
  const name = n !== undefined && typeof n.value === "string" ? n.value : "";
  let base = null;
  if (kind === "c") {
    const proto = getProto(v);
    if (proto !== null && proto !== Function.prototype) {
      const pn = getOwnDesc(proto, "name");
      base = pn !== undefined && typeof pn.value === "string" ? pn.value : "";
    }
  }
  return ["f", id, kind, name, this.props(v, level), base];
};

Describer.prototype.array = function (v, id, cls, level) {
  const len = v.length;
  const items = [];
  const n = len < MAX_ITEMS ? len : MAX_ITEMS;
  for (let i = 0; i < n; i++) {
    const d = getOwnDesc(v, i);
    arrayPush(items, d === undefined ? ["h"] : this.slot(d, level));
  }
  const props = len <= 10000 ? this.props(v, level, isIndexOrLength) : [];
  return ["a", id, cls, props, len, items];
};

Describer.prototype.map = function (v, id, cls, level) {
  const entries = [];
  const it = mapEntries(v);
  for (let i = 0; i < MAX_ITEMS; i++) {
    const step = mapIterNext(it);
    if (step.done) break;
    arrayPush(entries, [this.value(step.value[0], level + 1), this.value(step.value[1], level + 1)]);
  }
  return ["m", id, cls, this.props(v, level), mapSize(v), entries];
};

Describer.prototype.set = function (v, id, cls, level) {
  const values = [];
  const it = setValues(v);
  for (let i = 0; i < MAX_ITEMS; i++) {
    const step = setIterNext(it);
    if (step.done) break;
    arrayPush(values, this.value(step.value, level + 1));
  }
  return ["s", id, cls, this.props(v, level), setSize(v), values];
};

Describer.prototype.error = function (v, id, cls, level) {
  let stack = null;
  try { const s = v.stack; if (typeof s === "string") stack = s; } catch (_) {}
  const ownMessage = getOwnDesc(v, "message");
  const message = ownMessage !== undefined && typeof ownMessage.value === "string" ? ownMessage.value : null;
  const extra = [];
  const cause = getOwnDesc(v, "cause");
  if (cause !== undefined && !cause.enumerable) arrayPush(extra, ["cause", this.slot(cause, level)]);
  const errors = getOwnDesc(v, "errors");
  if (errors !== undefined && !errors.enumerable) arrayPush(extra, ["errors", this.slot(errors, level)]);
  return ["e", id, cls, this.props(v, level), inheritedString(v, "name"), message, stack, extra];
};

Describer.prototype.typed = function (v, id, cls, typeName, level) {
  const len = typedArrayLength(v);
  const items = [];
  for (let i = 0; i < len && i < MAX_ITEMS; i++) arrayPush(items, this.value(v[i], level + 1));
  const props = len <= 10000 ? this.props(v, level, isIndexKey) : [];
  return ["T", id, cls, props, typeName, len, items];
};

Describer.prototype.buffer = function (v, id, cls, len, shared, level) {
  const bytes = [];
  const view = new Uint8ArrayCtor(v, 0, len < MAX_ITEMS ? len : MAX_ITEMS);
  for (let i = 0; i < view.length; i++) arrayPush(bytes, view[i]);
  return ["B", id, cls, this.props(v, level), len, bytes, shared];
};

// Tags first: a failed brand check throws, which is slow on the hot path.
Describer.prototype.boxed = function (v, tag, level) {
  if (tag !== "[object Number]" && tag !== "[object String]" && tag !== "[object Boolean]" &&
      tag !== "[object Symbol]" && tag !== "[object BigInt]") return undefined;
  if (brand(numberValueOf, v)) return [this.value(numberValueOf(v), level), this.props(v, level)];
  if (brand(stringValueOf, v)) return [stringValueOf(v), this.props(v, level, isIndexOrLength)];
  if (brand(booleanValueOf, v)) return [booleanValueOf(v), this.props(v, level)];
  if (brand(symbolValueOf, v)) return [this.value(symbolValueOf(v), level), this.props(v, level)];
  if (brand(bigintValueOf, v)) return [this.value(bigintValueOf(v), level), this.props(v, level)];
  return undefined;
};

Describer.prototype.namespaceProps = function (v, level) {
  const out = [];
  const keys = ownKeys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (typeof k !== "string") continue;
    let d;
    try { d = getOwnDesc(v, k); } catch (_) { arrayPush(out, [k, ["t", "<uninitialized>"]]); continue; }
    arrayPush(out, [k, this.slot(d, level)]);
  }
  return out;
};

// The VALUE "type": typeof, with the object kinds clients care about.
function valueType(v) {
  if (v === null) return "null";
  const t = typeof v;
  if (t !== "object") return t;
  try {
    if (isArray(v)) return "array";
    if (isDate(v)) return "date";
    if (isRegExp(v)) return "regexp";
    if (isError(v)) return "error";
    if (isMap(v)) return "map";
    if (isSet(v)) return "set";
    if (isPromise(v)) return "promise";
  } catch (_) {}
  return "object";
}

const MAX_JSON_CHARS = 1 << 20;

// JSON text for v when a JSON round trip is lossless, else undefined. Built by
// hand so no toJSON (user code) runs and the size cap applies while walking.
function losslessJson(v) {
  const out = [];
  const stack = new SetCtor();
  let size = 0;
  function walk(x, depth) {
    if (depth > 200 || size > MAX_JSON_CHARS) return false;
    switch (typeof x) {
      case "string": { const s = jsonStringify(x); size += s.length; arrayPush(out, s); return true; }
      case "number":
        if (x !== x || x === Infinity || x === -Infinity || objIs(x, -0)) return false;
        size += 8; arrayPush(out, StringCtor(x)); return true;
      case "boolean": size += 5; arrayPush(out, x ? "true" : "false"); return true;
      case "object": break;
      default: return false;
    }
    if (x === null) { size += 4; arrayPush(out, "null"); return true; }
    if (setHas(stack, x)) return false;
    setAdd(stack, x);
    const ok = isArray(x) ? walkArray(x, depth) : walkObject(x, depth);
    setDelete(stack, x);
    return ok;
  }
  function walkArray(x, depth) {
    if (getProto(x) !== ArrayProto) return false;
    const len = x.length;
    if (ownKeys(x).length !== len + 1) return false;
    arrayPush(out, "[");
    for (let i = 0; i < len; i++) {
      const d = getOwnDesc(x, i);
      if (d === undefined || !hasOwn(d, "value")) return false;
      if (i > 0) arrayPush(out, ",");
      if (!walk(d.value, depth + 1)) return false;
    }
    arrayPush(out, "]");
    return true;
  }
  function walkObject(x, depth) {
    const proto = getProto(x);
    const namespace = proto === null && isModuleNamespace(x);
    if (proto !== ObjectProto && proto !== null) return false;
    const keys = ownKeys(x);
    arrayPush(out, "{");
    let first = true;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (typeof k !== "string") { if (namespace) continue; return false; }
      const d = getOwnDesc(x, k);
      if (d === undefined || !d.enumerable || !hasOwn(d, "value")) return false;
      if (!first) arrayPush(out, ",");
      first = false;
      const ks = jsonStringify(k);
      size += ks.length;
      arrayPush(out, ks, ":");
      if (!walk(d.value, depth + 1)) return false;
    }
    arrayPush(out, "}");
    return true;
  }
  try {
    return walk(v, 0) && size <= MAX_JSON_CHARS ? arrayJoin(out, "") : undefined;
  } catch (_) {
    return undefined; // a namespace binding still in its TDZ, a revoked proxy...
  }
}

// Describing a primitive touches no describer state: one shared instance.
const PRIMITIVES = new Describer(0);

function primitiveJson(v) {
  switch (typeof v) {
    case "string": return jsonStringify(v);
    case "number": return v !== v || v === Infinity || v === -Infinity || objIs(v, -0) ? undefined : StringCtor(v);
    case "boolean": return v ? "true" : "false";
    default: return v === null ? "null" : undefined;
  }
}

// "V" + JSON [type, tree, jsonText|null]: what the host turns into a VALUE.
function describeValue(v) {
  const primitive = v === null || (typeof v !== "object" && typeof v !== "function");
  const tree = primitive ? PRIMITIVES.value(v, 0) : new Describer(3).value(v, 0);
  const json = primitive ? primitiveJson(v) : losslessJson(v);
  return "V" + jsonStringify([valueType(v), tree, json === undefined ? null : json]);
}

// "E" + JSON: [1, name, message, stack] for errors, [0, tree] for other values.
function describeThrown(e) {
  try {
    if (e !== null && (typeof e === "object" || typeof e === "function") && isError(e)) {
      const name = safeString(function () { return e.name; }, "Error");
      const message = safeString(function () { return e.message; }, "");
      const stack = safeString(function () { return e.stack; }, name + (message ? ": " + message : ""));
      return "E" + jsonStringify([1, name, message, stack]);
    }
    return "E" + jsonStringify([0, new Describer(3).value(e, 0)]);
  } catch (_) {
    return "E" + jsonStringify([1, "Error", "an exception could not be described", "Error"]);
  }
}

function safeString(get, fallback) {
  try {
    const v = get();
    if (v === undefined || v === null) return fallback;
    return typeof v === "string" ? v : StringCtor(v);
  } catch (_) {
    return fallback;
  }
}
`;
