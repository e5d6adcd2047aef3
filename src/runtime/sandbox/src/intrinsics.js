// @ts-check
/**
 * Runs first in the prelude. Captures the built-ins the shim relies on before
 * any user code runs, so user code that patches prototypes can garble its own
 * output but cannot redirect the shim or reach what the shim holds. Brand
 * checks use internal-slot getters (they throw on the wrong type) instead of
 * toString tags, which user code can fake.
 */
const G = /** @type {Record<PropertyKey, any>} */ (/** @type {unknown} */ (globalThis));
// The control slots and the console ring (see ../../console-ring.ts), in the memory the host shares.
const ctl = new Int32Array(ctlBuffer, 0, RING_OFFSET / 4);
const ring = new Uint16Array(ctlBuffer, RING_OFFSET, RING_UNITS);
const ObjectProto = Object.prototype;
const ArrayProto = Array.prototype;
const FunctionProto = Function.prototype;
const RegExpProto = RegExp.prototype;
/**
 * f.call, bound: uncurry(f)(self, ...args) is f.call(self, ...args), whatever
 * user code does to Function.prototype later. (A getter taken from a
 * descriptor is typed as possibly missing: the built-ins here have them.)
 * @type {{
 *   <F extends (...args: any[]) => any>(f: F): (self: any, ...args: Parameters<F>) => ReturnType<F>;
 *   (f: Function | undefined): (self: any, ...args: any[]) => any;
 * }}
 */
const uncurry = /** @type {any} */ (Function.prototype.call.bind).bind(Function.prototype.call);
const apply = Reflect.apply;
const ownKeys = Reflect.ownKeys;
const getProto = Object.getPrototypeOf;
const setProto = Object.setPrototypeOf;
const getOwnDesc = Object.getOwnPropertyDescriptor;
// The getter of a built-in accessor (one that certainly exists).
const getterOf = (/** @type {object} */ obj, /** @type {PropertyKey} */ key) => /** @type {PropertyDescriptor} */ (getOwnDesc(obj, key)).get;
const defineProp = /** @type {(o: any, key: PropertyKey, desc: any) => any} */ (Object.defineProperty);
const freeze = Object.freeze;
const create = Object.create;
const isArray = Array.isArray;
const objIs = Object.is;
const StringCtor = String;
const NumberCtor = Number;
const parseIntFn = parseInt;
const parseFloatFn = parseFloat;
const jsonStringify = JSON.stringify;
const jsonParse = JSON.parse;
const MapCtor = Map;
const SetCtor = Set;
const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
const RangeErrorCtor = RangeError;
const PromiseCtor = Promise;
const captureStackTrace = Error.captureStackTrace;
const AtomicsLoad = /** @type {(a: Int32Array, i: number) => number} */ (Atomics.load);
const AtomicsStore = /** @type {(a: Int32Array, i: number, v: number) => number} */ (Atomics.store);
const AtomicsExchange = /** @type {(a: Int32Array, i: number, v: number) => number} */ (Atomics.exchange);
const dateNow = Date.now;
const toTag = uncurry(ObjectProto.toString);
const fnToString = uncurry(Function.prototype.toString);
const hasOwn = uncurry(ObjectProto.hasOwnProperty);
const stringIncludes = uncurry(String.prototype.includes);
const stringSlice = uncurry(String.prototype.slice);
const stringIndexOf = uncurry(String.prototype.indexOf);
const charCodeAt = uncurry(String.prototype.charCodeAt);
const mapGet = uncurry(Map.prototype.get);
const mapSet = uncurry(Map.prototype.set);
const mapHas = uncurry(Map.prototype.has);
const mapDelete = uncurry(Map.prototype.delete);
const mapClear = uncurry(Map.prototype.clear);
const setHas = uncurry(Set.prototype.has);
const setAdd = uncurry(Set.prototype.add);
const setDelete = uncurry(Set.prototype.delete);
const mapSize = uncurry(getterOf(Map.prototype, "size"));
const setSize = uncurry(getterOf(Set.prototype, "size"));
const mapEntries = uncurry(Map.prototype.entries);
const setValues = uncurry(Set.prototype.values);
const mapIterNext = uncurry(getProto(new Map().entries()).next);
const setIterNext = uncurry(getProto(new Set().values()).next);
const dateGetTime = uncurry(Date.prototype.getTime);
const regexpSource = uncurry(getterOf(RegExp.prototype, "source"));
const regexpFlags = uncurry(getterOf(RegExp.prototype, "flags"));
const TypedArrayProto = getProto(Uint8Array.prototype);
const typedArrayTag = uncurry(getterOf(TypedArrayProto, Symbol.toStringTag));
const typedArrayLength = uncurry(getterOf(TypedArrayProto, "length"));
const arrayBufferLength = uncurry(getterOf(ArrayBuffer.prototype, "byteLength"));
const sharedBufferLength = uncurry(getterOf(SharedArrayBuffer.prototype, "byteLength"));
const WeakMapCtor = WeakMap;
const weakMapGet = uncurry(WeakMap.prototype.get);
const weakMapSet = uncurry(WeakMap.prototype.set);
const isArrayBufferView = ArrayBuffer.isView;
const typedArrayBuffer = uncurry(getterOf(TypedArrayProto, "buffer"));
const typedArrayOffset = uncurry(getterOf(TypedArrayProto, "byteOffset"));
const typedArrayBytes = uncurry(getterOf(TypedArrayProto, "byteLength"));
const dataViewBuffer = uncurry(getterOf(DataView.prototype, "buffer"));
const dataViewOffset = uncurry(getterOf(DataView.prototype, "byteOffset"));
const dataViewBytes = uncurry(getterOf(DataView.prototype, "byteLength"));
const Uint8ArrayCtor = Uint8Array;
const symbolDescription = uncurry(getterOf(Symbol.prototype, "description"));
const symbolToString = uncurry(Symbol.prototype.toString);
const weakMapHas = uncurry(WeakMap.prototype.has);
const weakSetHas = uncurry(WeakSet.prototype.has);
const numberValueOf = uncurry(Number.prototype.valueOf);
const stringValueOf = uncurry(String.prototype.valueOf);
const booleanValueOf = uncurry(Boolean.prototype.valueOf);
const symbolValueOf = uncurry(Symbol.prototype.valueOf);
const bigintValueOf = uncurry(BigInt.prototype.valueOf);
const numberToFixed = uncurry(Number.prototype.toFixed);
const toStringTagSymbol = Symbol.toStringTag;
// instanceof without the constructor's Symbol.hasInstance, which user code can define.
const ordinaryHasInstance = uncurry(Function.prototype[Symbol.hasInstance]);

// Arrays the shim fills (add) have no prototype: adding an element then runs
// no setter that user code put on Array.prototype or Object.prototype (an
// index accessor, a proxy spliced into the chain), and reading one back never
// reaches a prototype. Array.prototype.push on them is slow; an index store is not.
/** @returns {any[]} */
function list() {
  /** @type {any[]} */
  const a = [];
  setProto(a, null);
  return a;
}
/** @param {any[]} a @param {unknown} v */
function add(a, v) {
  a[a.length] = v;
}

/** @param {(v: any) => unknown} check @param {unknown} value */
function brand(check, value) {
  try {
    check(value);
    return true;
  } catch (_) {
    return false;
  }
}
const isMap = (/** @type {unknown} */ v) => brand(mapSize, v);
const isSet = (/** @type {unknown} */ v) => brand(setSize, v);
const isDate = (/** @type {unknown} */ v) => brand(dateGetTime, v);
const isRegExp = (/** @type {unknown} */ v) => brand(regexpSource, v) && v !== RegExpProto;
const isWeakMap = (/** @type {unknown} */ v) => brand((/** @type {any} */ x) => weakMapHas(x, ObjectProto), v);
const isWeakSet = (/** @type {unknown} */ v) => brand((/** @type {any} */ x) => weakSetHas(x, ObjectProto), v);
const isError = (/** @type {unknown} */ v) => ordinaryHasInstance(ErrorCtor, v) || toTag(v) === "[object Error]";
const isPromise = (/** @type {unknown} */ v) => {
  try {
    return ordinaryHasInstance(PromiseCtor, v);
  } catch (_) {
    return false;
  }
}; // a revoked proxy throws
const isModuleNamespace = (/** @type {any} */ v) => getProto(v) === null && toTag(v) === "[object Module]";

// Names of the context's own global constructors, as Node's util computes
// them for "%s" (objects whose toString comes from a built-in are inspected).
// Every context of this process has the same ones: the host finds them once
// (see BUILT_IN_NAMES_PROBE in ./prelude.ts) instead of each context walking
// its global, which makes V8 instantiate every lazy global.
const builtInNames = new SetCtor(BUILT_IN_NAMES);

// Options objects handed to isolated-vm: frozen and null-prototype so user
// code cannot add transfer options (e.g. "reference") through Object.prototype.
const COPY_BOTH = freeze({ __proto__: null, arguments: freeze({ __proto__: null, copy: true }), result: freeze({ __proto__: null, copy: true }) });
const COPY_ARGS = freeze({ __proto__: null, arguments: freeze({ __proto__: null, copy: true }) });
