// @ts-check
/**
 * Turns any sandbox value into a small tagged tree the host
 * rebuilds and hands to Node's util.inspect (see ../../inspect-tree.ts for the
 * node shapes). Properties are read through descriptors so getters never run;
 * sizes are capped the way util.inspect caps its own output.
 */
const MAX_NODES = 5000;
const MAX_ITEMS = 100; // util.inspect's maxArrayLength
const MAX_STRING = 10000; // util.inspect's maxStringLength
const MAX_KEYS = 1000;
// Characters of strings and keys a describer takes in before it cuts the rest
// (the preview is 4 KB; console lines are bounded by the output limits anyway).
const CONSOLE_CHARS = 2 * 1024 * 1024;
const PREVIEW_CHARS = 256 * 1024;

// text cut to at most maxBytes of UTF-8 (marker included), without splitting
// a surrogate pair: "… (N more characters)" says what was left out.
/** @param {string} text @param {number} maxBytes @returns {string} */
function capText(text, maxBytes) {
  const n = text.length;
  if (n * 3 <= maxBytes) return text;
  const keep = maxBytes - 48;
  let bytes = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = charCodeAt(text, i);
    let w = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = charCodeAt(text, i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) w = 4;
    }
    if (bytes + w > maxBytes) break;
    bytes += w;
    if (w === 4) i++;
  }
  if (i >= n) return text;
  // Too long: cut again where the kept part plus the marker fits.
  bytes = 0;
  for (i = 0; i < n; i++) {
    const c = charCodeAt(text, i);
    let w = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = charCodeAt(text, i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) w = 4;
    }
    if (bytes + w > keep) break;
    bytes += w;
    if (w === 4) i++;
  }
  return stringSlice(text, 0, i) + "… (" + (n - i) + " more characters)";
}

// A revoked proxy throws on every operation; Array.isArray is the one check
// that throws for nothing else (it runs no trap).
/** @param {any} v */
function isRevokedProxy(v) {
  try {
    isArray(v);
    return false;
  } catch (_) {
    return true;
  }
}

// A descriptor's value, undefined for an accessor: reading d.value of an
// accessor descriptor would look "value" up on Object.prototype (user code).
/** @param {PropertyDescriptor | undefined} d */
function dataValue(d) {
  return d !== undefined && hasOwn(d, "value") ? d.value : undefined;
}

/** @param {any} v @returns {string | null} */
function ctorName(v) {
  let obj = v;
  for (let i = 0; i < 1000 && obj !== null; i++) {
    const c = dataValue(getOwnDesc(obj, "constructor"));
    if (typeof c === "function") {
      const n = dataValue(getOwnDesc(c, "name"));
      if (typeof n === "string" && n !== "") return n;
    }
    obj = getProto(obj);
  }
  return null;
}

// Symbol.toStringTag as util.inspect shows it: inherited or non-enumerable.
/** @param {any} v @returns {string | null} */
function stringTag(v) {
  let obj = v;
  for (let i = 0; i < 1000 && obj !== null; i++) {
    const d = getOwnDesc(obj, toStringTagSymbol);
    if (d !== undefined) {
      const tag = dataValue(d);
      if (typeof tag !== "string" || tag === "") return null;
      if (obj === v && d.enumerable) return null;
      return tag;
    }
    obj = getProto(obj);
  }
  return null;
}

/** @param {any} v @param {PropertyKey} key @returns {string | null} */
function inheritedString(v, key) {
  let obj = v;
  for (let i = 0; i < 1000 && obj !== null; i++) {
    const d = getOwnDesc(obj, key);
    if (d !== undefined) {
      const s = dataValue(d);
      return typeof s === "string" ? s : null;
    }
    obj = getProto(obj);
  }
  return null;
}

// depth: levels described (one more than util.inspect prints: an object past
// inspect's depth still shows as "{}" or "[Foo]", which needs its keys).
// budget: characters of strings and keys taken in before the rest is cut.
/** @constructor @param {number} depth @param {number} [budget] */
function Describer(depth, budget) {
  this.depth = depth;
  this.ids = new MapCtor();
  this.nodes = 0;
  this.chars = 0;
  this.budget = budget === undefined ? CONSOLE_CHARS : budget;
}

/** @param {string | symbol} k @returns {TreeNode} */
Describer.prototype.key = function (k) {
  if (typeof k === "symbol") return ["y", descriptionOf(k)];
  this.chars += k.length;
  return k;
};

/** @param {symbol} sym */
function descriptionOf(sym) {
  const d = symbolDescription(sym);
  return d === undefined ? null : d;
}

/** @param {any} v @param {number} level @returns {TreeNode} */
Describer.prototype.value = function (v, level) {
  switch (typeof v) {
    case "string": {
      // Past the described depth only the existence of a value shows.
      if (level > this.depth) return v.length > 16 ? ["S", stringSlice(v, 0, 16), v.length] : v;
      let max = this.budget - this.chars;
      if (max > MAX_STRING) max = MAX_STRING;
      if (max < 16) max = 16;
      if (v.length > max) {
        this.chars += max;
        return ["S", stringSlice(v, 0, max), v.length];
      }
      this.chars += v.length;
      return v;
    }
    case "number":
      if (v !== v) return ["n", "NaN"];
      if (v === Infinity) return ["n", "Infinity"];
      if (v === -Infinity) return ["n", "-Infinity"];
      if (objIs(v, -0)) return ["n", "-0"];
      return v;
    case "boolean":
      return v;
    case "undefined":
      return ["u"];
    case "bigint":
      return ["b", StringCtor(v)];
    case "symbol":
      return ["y", descriptionOf(v)];
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
/** @param {any} v @param {number} level @param {(k: string | symbol) => boolean} [skip] @returns {TreeNode[]} */
Describer.prototype.props = function (v, level, skip) {
  const out = list();
  const keys = ownKeys(v);
  let count = 0;
  for (let i = 0; i < keys.length && count < MAX_KEYS; i++) {
    const k = keys[i];
    if (skip !== undefined && skip(k)) continue;
    const d = getOwnDesc(v, k);
    if (d === undefined || !d.enumerable) continue;
    count++;
    add(out, [this.key(k), this.slot(d, level)]);
  }
  return out;
};

/** @param {PropertyDescriptor} d @param {number} level @returns {TreeNode} */
Describer.prototype.slot = function (d, level) {
  if (hasOwn(d, "value")) return this.value(d.value, level + 1);
  return ["g", d.get && d.set ? "Getter/Setter" : d.get ? "Getter" : "Setter"];
};

// "0", "1", ... without a RegExp (RegExp.prototype.exec is user code's to replace).
/** @param {unknown} k */
function isIndexKey(k) {
  if (typeof k !== "string" || k.length === 0 || k.length > 10) return false;
  if (k.length > 1 && charCodeAt(k, 0) === 48) return false;
  for (let i = 0; i < k.length; i++) {
    const c = charCodeAt(k, i);
    if (c < 48 || c > 57) return false;
  }
  return k.length < 10 || k <= "4294967294";
}
/** @param {unknown} k */
const isIndexOrLength = (k) => k === "length" || isIndexKey(k);

/** @param {any} v an object or function @param {number} level @returns {TreeNode} */
Describer.prototype.object = function (v, level) {
  const seen = mapGet(this.ids, v);
  if (seen !== undefined) return ["r", seen];
  if (level > this.depth || this.nodes >= MAX_NODES || this.chars >= this.budget) return ["t", "[Object]"];
  if (isRevokedProxy(v)) return ["t", "<Revoked Proxy>"];
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

/** @param {Function} v @param {number} id @param {number} level @returns {TreeNode} */
Describer.prototype.fn = function (v, id, level) {
  let src = "";
  try {
    src = fnToString(v);
  } catch (_) {}
  let kind = "f";
  if (stringSlice(src, 0, 5) === "class") kind = "c";
  else {
    const t = toTag(v);
    if (t === "[object AsyncFunction]") kind = "a";
    else if (t === "[object GeneratorFunction]") kind = "g";
    else if (t === "[object AsyncGeneratorFunction]") kind = "ag";
  }
  const n = dataValue(getOwnDesc(v, "name"));
  const name = typeof n === "string" ? n : "";
  let base = null;
  if (kind === "c") {
    const proto = getProto(v);
    if (proto !== null && proto !== FunctionProto) {
      const pn = dataValue(getOwnDesc(proto, "name"));
      base = typeof pn === "string" ? pn : "";
    }
  }
  return ["f", id, kind, name, this.props(v, level), base];
};

/** @param {any[]} v @param {number} id @param {string | null} cls @param {number} level @returns {TreeNode} */
Describer.prototype.array = function (v, id, cls, level) {
  const len = v.length;
  const items = list();
  const n = len < MAX_ITEMS ? len : MAX_ITEMS;
  for (let i = 0; i < n; i++) {
    const d = getOwnDesc(v, i);
    add(items, d === undefined ? ["h"] : this.slot(d, level));
  }
  const props = len <= 10000 ? this.props(v, level, isIndexOrLength) : [];
  return ["a", id, cls, props, len, items];
};

/** @param {Map<unknown, unknown>} v @param {number} id @param {string | null} cls @param {number} level @returns {TreeNode} */
Describer.prototype.map = function (v, id, cls, level) {
  const entries = list();
  const it = mapEntries(v);
  for (let i = 0; i < MAX_ITEMS; i++) {
    const step = mapIterNext(it);
    if (step.done) break;
    add(entries, [this.value(step.value[0], level + 1), this.value(step.value[1], level + 1)]);
  }
  return ["m", id, cls, this.props(v, level), mapSize(v), entries];
};

/** @param {Set<unknown>} v @param {number} id @param {string | null} cls @param {number} level @returns {TreeNode} */
Describer.prototype.set = function (v, id, cls, level) {
  const values = list();
  const it = setValues(v);
  for (let i = 0; i < MAX_ITEMS; i++) {
    const step = setIterNext(it);
    if (step.done) break;
    add(values, this.value(step.value, level + 1));
  }
  return ["s", id, cls, this.props(v, level), setSize(v), values];
};

/** @param {any} v @param {number} id @param {string | null} cls @param {number} level @returns {TreeNode} */
Describer.prototype.error = function (v, id, cls, level) {
  let stack = null;
  try {
    const s = v.stack;
    if (typeof s === "string") stack = capText(s, MAX_EXCEPTION_STACK_BYTES);
  } catch (_) {}
  const ownMessage = dataValue(getOwnDesc(v, "message"));
  const message = typeof ownMessage === "string" ? capText(ownMessage, MAX_EXCEPTION_MESSAGE_BYTES) : null;
  const extra = list();
  const cause = getOwnDesc(v, "cause");
  if (cause !== undefined && !cause.enumerable) add(extra, ["cause", this.slot(cause, level)]);
  const errors = getOwnDesc(v, "errors");
  if (errors !== undefined && !errors.enumerable) add(extra, ["errors", this.slot(errors, level)]);
  return ["e", id, cls, this.props(v, level), inheritedString(v, "name"), message, stack, extra];
};

/** @param {any} v @param {number} id @param {string | null} cls @param {string} typeName @param {number} level @returns {TreeNode} */
Describer.prototype.typed = function (v, id, cls, typeName, level) {
  const len = typedArrayLength(v);
  const items = list();
  for (let i = 0; i < len && i < MAX_ITEMS; i++) add(items, this.value(v[i], level + 1));
  const props = len <= 10000 ? this.props(v, level, isIndexKey) : [];
  return ["T", id, cls, props, typeName, len, items];
};

/** @param {any} v an ArrayBuffer or SharedArrayBuffer @param {number} id @param {string | null} cls @param {number} len @param {boolean} shared @param {number} level @returns {TreeNode} */
Describer.prototype.buffer = function (v, id, cls, len, shared, level) {
  const bytes = list();
  const n = len < MAX_ITEMS ? len : MAX_ITEMS;
  const view = new Uint8ArrayCtor(v, 0, n);
  for (let i = 0; i < n; i++) add(bytes, view[i]);
  return ["B", id, cls, this.props(v, level), len, bytes, shared];
};

// Tags first: a failed brand check throws, which is slow on the hot path.
/** @param {object} v @param {string} tag @param {number} level @returns {[TreeNode, TreeNode[]] | undefined} */
Describer.prototype.boxed = function (v, tag, level) {
  if (tag !== "[object Number]" && tag !== "[object String]" && tag !== "[object Boolean]" && tag !== "[object Symbol]" && tag !== "[object BigInt]")
    return undefined;
  if (brand(numberValueOf, v)) return [this.value(numberValueOf(v), level), this.props(v, level)];
  if (brand(stringValueOf, v)) {
    const s = stringValueOf(v);
    return [this.value(s, level), s.length <= 10000 ? this.props(v, level, isIndexOrLength) : []];
  }
  if (brand(booleanValueOf, v)) return [booleanValueOf(v), this.props(v, level)];
  if (brand(symbolValueOf, v)) return [this.value(symbolValueOf(v), level), this.props(v, level)];
  if (brand(bigintValueOf, v)) return [this.value(bigintValueOf(v), level), this.props(v, level)];
  return undefined;
};

/** @param {object} v @param {number} level @returns {TreeNode[]} */
Describer.prototype.namespaceProps = function (v, level) {
  const out = list();
  const keys = ownKeys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (typeof k !== "string") continue;
    let d;
    try {
      d = getOwnDesc(v, k);
    } catch (_) {
      add(out, [k, ["t", "<uninitialized>"]]);
      continue;
    }
    add(out, [k, this.slot(/** @type {PropertyDescriptor} */ (d), level)]); // an own key of a namespace has one
  }
  return out;
};

// The VALUE "type": typeof, with the object kinds clients care about.
/** @param {unknown} v @returns {string} */
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

// Values (array elements, properties) a JSON candidate may have: the walk
// stops there, before any work or memory proportional to a big value.
const MAX_JSON_NODES = 100000;

// JSON text for v when a JSON round trip is lossless and the text is at most
// MAX_JSON_CHARS, else undefined. Built by hand so no toJSON (user code) runs;
// sizes are checked before each container is walked (an array's length, an
// object's key count), so a big value is given up on at once.
/** @param {unknown} v @returns {string | undefined} */
function losslessJson(v) {
  let out = ""; // a rope: appending is cheap, the text is flattened once
  const stack = new SetCtor();
  let size = 0;
  let nodes = 0;
  /** @param {unknown} x @param {number} depth @returns {boolean} */
  function walk(x, depth) {
    if (size > MAX_JSON_CHARS || ++nodes > MAX_JSON_NODES) return false;
    switch (typeof x) {
      case "string": {
        if (size + x.length + 2 > MAX_JSON_CHARS) return false;
        const s = jsonStringify(x);
        size += s.length;
        if (size > MAX_JSON_CHARS) return false;
        out += s;
        return true;
      }
      case "number": {
        if (x !== x || x === Infinity || x === -Infinity || objIs(x, -0)) return false;
        const s = StringCtor(x);
        size += s.length;
        out += s;
        return true;
      }
      case "boolean":
        size += 5;
        out += x ? "true" : "false";
        return true;
      case "object":
        break;
      default:
        return false;
    }
    if (x === null) {
      size += 4;
      out += "null";
      return true;
    }
    // depth: the containers around x, so x opens level depth + 1.
    if (depth >= MAX_JSON_DEPTH || setHas(stack, x)) return false;
    setAdd(stack, x);
    const ok = isArray(x) ? walkArray(x, depth) : walkObject(x, depth);
    setDelete(stack, x);
    return ok;
  }
  /** @param {any[]} x @param {number} depth */
  function walkArray(x, depth) {
    if (getProto(x) !== ArrayProto) return false;
    const len = x.length;
    // Each element takes a node and at least two characters ("0,").
    if (typeof len !== "number" || nodes + len > MAX_JSON_NODES || size + 2 * len > MAX_JSON_CHARS + 1) return false;
    if (ownKeys(x).length !== len + 1) return false;
    size += 2;
    out += "[";
    for (let i = 0; i < len; i++) {
      const d = getOwnDesc(x, i);
      if (d === undefined || !hasOwn(d, "value")) return false;
      if (i > 0) {
        size++;
        out += ",";
      }
      if (!walk(d.value, depth + 1)) return false;
    }
    out += "]";
    return true;
  }
  /** @param {any} x @param {number} depth */
  function walkObject(x, depth) {
    const proto = getProto(x);
    const namespace = proto === null && isModuleNamespace(x);
    if (proto !== ObjectProto && proto !== null) return false;
    const keys = ownKeys(x);
    // Each property takes a node and at least five characters ('"":0,').
    if (nodes + keys.length > MAX_JSON_NODES || size + 5 * keys.length > MAX_JSON_CHARS + 1) return false;
    size += 2;
    out += "{";
    let first = true;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (typeof k !== "string") {
        if (namespace) continue;
        return false;
      }
      const d = getOwnDesc(x, k);
      if (d === undefined || !d.enumerable || !hasOwn(d, "value")) return false;
      if (!first) {
        size++;
        out += ",";
      }
      first = false;
      if (size + k.length + 3 > MAX_JSON_CHARS) return false;
      const ks = jsonStringify(k);
      size += ks.length + 1;
      out += ks;
      out += ":";
      if (!walk(d.value, depth + 1)) return false;
    }
    out += "}";
    return true;
  }
  try {
    if (!walk(v, 0) || size > MAX_JSON_CHARS) return undefined;
    return out.length <= MAX_JSON_CHARS ? out : undefined;
  } catch (_) {
    return undefined; // a namespace binding still in its TDZ, a revoked proxy...
  }
}

// Describing a primitive touches no describer state: one shared instance.
const PRIMITIVES = new Describer(0, PREVIEW_CHARS);

/** @param {unknown} v @returns {string | undefined} */
function primitiveJson(v) {
  switch (typeof v) {
    case "string": {
      if (v.length + 2 > MAX_JSON_CHARS) return undefined;
      const s = jsonStringify(v);
      return s.length <= MAX_JSON_CHARS ? s : undefined;
    }
    case "number":
      return v !== v || v === Infinity || v === -Infinity || objIs(v, -0) ? undefined : StringCtor(v);
    case "boolean":
      return v ? "true" : "false";
    default:
      return v === null ? "null" : undefined;
  }
}

// Every message for the host is JSON text made by encodeTree. JSON.stringify
// calls a toJSON it finds on any array or object it meets, prototypes
// included, so user code that put one on Array.prototype or Object.prototype
// would write the text. Trees hold only what the shim made: arrays (literals,
// dense, or lists without a prototype, see list()), strings, numbers,
// booleans, null. On those JSON.stringify looks toJSON up on Array.prototype
// and Object.prototype only, and reads nothing else a user could change, so
// while neither has one it is safe, and several times faster; otherwise the
// tree is encoded by hand (jsonStringify of a string primitive looks nothing
// up). Trees are shallow by construction: by hand, deeper than
// MAX_TREE_DEPTH, or anything else, is null.
// A tree longer than MAX_TREE_CHARS (it cannot be, with the describer's
// caps) is replaced: the host refuses longer messages (see ../../format.ts).
const TOO_LARGE_TREE = '["t","[too large to describe]"]';

/** @param {TreeNode} x @returns {string} */
function encodeTree(x) {
  if (getProto(ArrayProto) === ObjectProto && !hasOwn(ArrayProto, "toJSON") && !hasOwn(ObjectProto, "toJSON")) {
    const text = jsonStringify(x);
    return text === undefined ? "null" : text;
  }
  return encodeByHand(x, 1);
}

/** @param {TreeNode} x @param {number} depth @returns {string} */
function encodeByHand(x, depth) {
  switch (typeof x) {
    case "string":
      return jsonStringify(x);
    case "number":
      return x === x && x !== Infinity && x !== -Infinity ? StringCtor(x) : "null";
    case "boolean":
      return x ? "true" : "false";
    case "object":
      break;
    default:
      return "null";
  }
  if (x === null || depth >= MAX_TREE_DEPTH || !isArray(x)) return "null";
  const n = x.length;
  let s = "[";
  for (let i = 0; i < n; i++) {
    if (i > 0) s += ",";
    s += encodeByHand(x[i], depth + 1);
  }
  return s + "]";
}

/** @param {TreeNode} tree */
function encodeDescribed(tree) {
  const text = encodeTree(tree);
  return text.length <= MAX_TREE_CHARS ? text : TOO_LARGE_TREE;
}

// "E" + [1, name, message, stack]: each part capped.
/** @param {string} name @param {string} message @param {string} stack */
function thrownError(name, message, stack) {
  return (
    "E[1," +
    jsonStringify(capText(name, MAX_EXCEPTION_NAME_BYTES)) +
    "," +
    jsonStringify(capText(message, MAX_EXCEPTION_MESSAGE_BYTES)) +
    "," +
    jsonStringify(capText(stack, MAX_EXCEPTION_STACK_BYTES)) +
    "]"
  );
}

// "V" + JSON [type, tree, jsonText|null]: what the host turns into a VALUE.
/** @param {unknown} v @returns {string} */
function describeValue(v) {
  const primitive = v === null || (typeof v !== "object" && typeof v !== "function");
  if (primitive) PRIMITIVES.chars = 0;
  const tree = primitive ? PRIMITIVES.value(v, 0) : new Describer(3, PREVIEW_CHARS).value(v, 0);
  const json = primitive ? primitiveJson(v) : losslessJson(v);
  return "V[" + jsonStringify(valueType(v)) + "," + encodeDescribed(tree) + "," + (json === undefined ? "null" : jsonStringify(json)) + "]";
}

// "E" + JSON: [1, name, message, stack] for errors, [0, tree] for other values.
/** @param {any} e @returns {string} */
function describeThrown(e) {
  try {
    if (e !== null && (typeof e === "object" || typeof e === "function") && !isRevokedProxy(e) && isError(e)) {
      const name = errorName(e, "Error");
      const message = errorMessage(e);
      const stack = safeString(
        function () {
          return e.stack;
        },
        name + (message ? ": " + message : ""),
      );
      return thrownError(name, message, stack);
    }
    return "E[0," + encodeDescribed(new Describer(3, PREVIEW_CHARS).value(e, 0)) + "]";
  } catch (_) {
    return thrownError("Error", "an exception could not be described", "Error");
  }
}

// An error's name and message as an exception event carries them: read
// through getters that may throw, and capped.
/** @param {any} e @param {string} fallback @returns {string} */
function errorName(e, fallback) {
  return capText(
    safeString(function () {
      return e.name;
    }, fallback),
    MAX_EXCEPTION_NAME_BYTES,
  );
}

/** @param {any} e @returns {string} */
function errorMessage(e) {
  return capText(
    safeString(function () {
      return e.message;
    }, ""),
    MAX_EXCEPTION_MESSAGE_BYTES,
  );
}

/** @param {() => unknown} get @param {string} fallback @returns {string} */
function safeString(get, fallback) {
  try {
    const v = get();
    if (v === undefined || v === null) return fallback;
    return typeof v === "string" ? v : StringCtor(v);
  } catch (_) {
    return fallback;
  }
}
