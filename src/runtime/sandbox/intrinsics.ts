/**
 * In-isolate source (part of the prelude closure). Captures the built-ins the
 * shim relies on before any user code runs, so user code that patches
 * prototypes can garble its own output but cannot redirect the shim or reach
 * what the shim holds. Brand checks use internal-slot getters (they throw on
 * the wrong type) instead of toString tags, which user code can fake.
 */
export const INTRINSICS_SOURCE = String.raw`
const G = globalThis;
const ObjectProto = Object.prototype;
const ArrayProto = Array.prototype;
const FunctionProto = Function.prototype;
const RegExpProto = RegExp.prototype;
const uncurry = Function.prototype.call.bind.bind(Function.prototype.call);
const apply = Reflect.apply;
const ownKeys = Reflect.ownKeys;
const getProto = Object.getPrototypeOf;
const setProto = Object.setPrototypeOf;
const getOwnDesc = Object.getOwnPropertyDescriptor;
const defineProp = Object.defineProperty;
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
const AtomicsLoad = Atomics.load;
const AtomicsStore = Atomics.store;
const AtomicsExchange = Atomics.exchange;
const dateNow = Date.now;
const toTag = uncurry(ObjectProto.toString);
const fnToString = uncurry(Function.prototype.toString);
const hasOwn = uncurry(ObjectProto.hasOwnProperty);
const stringIncludes = uncurry(String.prototype.includes);
const stringSlice = uncurry(String.prototype.slice);
const stringIndexOf = uncurry(String.prototype.indexOf);
const charCodeAt = uncurry(String.prototype.charCodeAt);
const arrayJoin = uncurry(ArrayProto.join);
const arraySlice = uncurry(ArrayProto.slice);
const mapGet = uncurry(Map.prototype.get);
const mapSet = uncurry(Map.prototype.set);
const mapHas = uncurry(Map.prototype.has);
const mapDelete = uncurry(Map.prototype.delete);
const mapClear = uncurry(Map.prototype.clear);
const setHas = uncurry(Set.prototype.has);
const setAdd = uncurry(Set.prototype.add);
const setDelete = uncurry(Set.prototype.delete);
const mapSize = uncurry(getOwnDesc(Map.prototype, "size").get);
const setSize = uncurry(getOwnDesc(Set.prototype, "size").get);
const mapEntries = uncurry(Map.prototype.entries);
const setValues = uncurry(Set.prototype.values);
const mapIterNext = uncurry(getProto(new Map().entries()).next);
const setIterNext = uncurry(getProto(new Set().values()).next);
const dateGetTime = uncurry(Date.prototype.getTime);
const regexpSource = uncurry(getOwnDesc(RegExp.prototype, "source").get);
const regexpFlags = uncurry(getOwnDesc(RegExp.prototype, "flags").get);
const TypedArrayProto = getProto(Uint8Array.prototype);
const typedArrayTag = uncurry(getOwnDesc(TypedArrayProto, Symbol.toStringTag).get);
const typedArrayLength = uncurry(getOwnDesc(TypedArrayProto, "length").get);
const arrayBufferLength = uncurry(getOwnDesc(ArrayBuffer.prototype, "byteLength").get);
const sharedBufferLength = uncurry(getOwnDesc(SharedArrayBuffer.prototype, "byteLength").get);
const Uint8ArrayCtor = Uint8Array;
const symbolDescription = uncurry(getOwnDesc(Symbol.prototype, "description").get);
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
function list() {
  const a = [];
  setProto(a, null);
  return a;
}
function add(a, v) {
  a[a.length] = v;
}

function brand(check, value) {
  try { check(value); return true; } catch (_) { return false; }
}
const isMap = (v) => brand(mapSize, v);
const isSet = (v) => brand(setSize, v);
const isDate = (v) => brand(dateGetTime, v);
const isRegExp = (v) => brand(regexpSource, v) && v !== RegExpProto;
const isWeakMap = (v) => brand((x) => weakMapHas(x, ObjectProto), v);
const isWeakSet = (v) => brand((x) => weakSetHas(x, ObjectProto), v);
const isError = (v) => ordinaryHasInstance(ErrorCtor, v) || toTag(v) === "[object Error]";
const isPromise = (v) => { try { return ordinaryHasInstance(PromiseCtor, v); } catch (_) { return false; } }; // a revoked proxy throws
const isModuleNamespace = (v) => getProto(v) === null && toTag(v) === "[object Module]";

// Names of the context's own global constructors, as Node's util computes
// them for "%s" (objects whose toString comes from a built-in are inspected).
// Every context of this process has the same ones: the host finds them once
// (see BUILT_IN_NAMES_PROBE in ./prelude.ts) instead of each context walking
// its global, which makes V8 instantiate every lazy global.
const builtInNames = new SetCtor(BUILT_IN_NAMES);

// Options objects handed to isolated-vm: frozen and null-prototype so user
// code cannot add transfer options (e.g. "reference") through Object.prototype.
const COPY_BOTH = freeze({ __proto__: null,
  arguments: freeze({ __proto__: null, copy: true }),
  result: freeze({ __proto__: null, copy: true }) });
const COPY_ARGS = freeze({ __proto__: null, arguments: freeze({ __proto__: null, copy: true }) });
`;
