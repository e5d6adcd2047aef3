// @ts-check
/**
 * What enters the isolate from outside without a host call: the clock and
 * randomness. A session is its recorded history (SPEC, Durable sessions):
 * whatever a run reads here is recorded so that a restore can run the same
 * code again and serve it the same values.
 *
 *  - Date (Date.now, new Date(), Date()) and performance.now read one clock.
 *    A run's readings are kept as runs of equal values, [value, count, …], so
 *    a busy-wait costs one pair per distinct millisecond. The host takes them
 *    when the run ends (takeRecording), only if the run read the clock at all
 *    (the RECORDED_CLOCK bit of CTL_RECORDED), so a snippet that reads no
 *    clock costs nothing here.
 *  - Math.random is a generator (sfc32) seeded, at a run's first draw, from
 *    CTL_SEED, which the host writes before every run: only the seed needs
 *    recording (RECORDED_SEED), as Temporal's workflow sandbox does.
 *  - crypto's randomness comes from the host (a module call, recorded there
 *    as drawn).
 *
 * A replayed run gets its recorded readings first (replayRecording) and is
 * served those; asking for more than was recorded sets CTL_DIVERGED (the host
 * then stops the restore) and reads the real clock.
 */
const RealDate = Date;
const RealDateProto = Date.prototype;
const dateToString = uncurry(RealDateProto.toString);
const reflectConstruct = Reflect.construct;
const AtomicsOr = /** @type {(a: Int32Array, i: number, v: number) => number} */ (Atomics.or);
const imul = Math.imul;

/** This run's readings: [value, count, …] in a prototype-less array (see list()); the first CLOCK_SHARED numbers also in shared memory. */
let clockRuns = list();
const clockShared = new Float64Array(ctlBuffer, CLOCK_OFFSET, CLOCK_SHARED);
/** A replay's readings, and where serving them has got to. */
let replayRuns = /** @type {number[] | null} */ (null);
let replayAt = 0;
let replayLeft = 0;

function readClock() {
  if (replayRuns !== null) {
    while (replayLeft === 0 && replayAt < replayRuns.length) {
      replayLeft = replayRuns[replayAt + 1];
      replayAt += 2;
    }
    if (replayLeft > 0) {
      replayLeft--;
      return replayRuns[replayAt - 2];
    }
    replayRuns = null;
    AtomicsStore(ctl, CTL_DIVERGED, 1);
  }
  const v = dateNow();
  if (AtomicsLoad(ctl, CTL_GEN) === 0) return v;
  const n = clockRuns.length;
  if (n > 0 && clockRuns[n - 2] === v) {
    clockRuns[n - 1]++;
    if (n <= CLOCK_SHARED) clockShared[n - 1] = clockRuns[n - 1];
  } else {
    add(clockRuns, v);
    add(clockRuns, 1);
    if (n + 2 <= CLOCK_SHARED) {
      clockShared[n] = v;
      clockShared[n + 1] = 1;
    }
    AtomicsStore(ctl, CTL_CLOCK_LENGTH, n + 2);
    if (n === 0) AtomicsOr(ctl, CTL_RECORDED, RECORDED_CLOCK);
  }
  return v;
}

/** Called by beginRun: a run starts with nothing recorded (a replay's readings were given just before). */
function resetRecording() {
  clockRuns = list();
  rngSeeded = false;
}

/** OP_REPLAY: the readings the next run is served. @param {string} json */
function replayRecording(json) {
  const runs = jsonParse(json);
  replayRuns = isArray(runs) ? runs : null;
  replayAt = 0;
  replayLeft = 0;
}

/**
 * OP_TAKE_RECORDING: JSON [readings, readings a replay did not serve]; ends
 * the replay. Ints and finite numbers only, so JSON carries them exactly.
 */
function takeRecording() {
  let unserved = replayLeft;
  if (replayRuns !== null) for (let i = replayAt + 1; i < replayRuns.length; i += 2) unserved += replayRuns[i];
  replayRuns = null;
  const out = [];
  for (let i = 0; i < clockRuns.length; i++) out[i] = clockRuns[i];
  clockRuns = list();
  return jsonStringify([out, unserved]);
}

// Date: the same constructor everywhere but for the clock it reads.
const DateShim = /** @type {DateConstructor} */ (
  /** @type {unknown} */ (
    function Date(/** @type {any[]} */ ...args) {
      if (new.target === undefined) return dateToString(new RealDate(readClock()));
      return reflectConstruct(RealDate, args.length === 0 ? [readClock()] : args, new.target);
    }
  )
);
defineProp(DateShim, "length", { __proto__: null, value: 7, configurable: true });
defineProp(DateShim, "prototype", { __proto__: null, value: RealDateProto, writable: false, enumerable: false, configurable: false });
defineProp(RealDateProto, "constructor", { __proto__: null, value: DateShim, writable: true, enumerable: false, configurable: true });
for (const name of ["UTC", "parse"]) {
  defineProp(DateShim, name, { __proto__: null, value: /** @type {any} */ (RealDate)[name], writable: true, enumerable: false, configurable: true });
}
defineProp(DateShim, "now", {
  __proto__: null,
  value: function now() {
    return readClock();
  },
  writable: true,
  enumerable: false,
  configurable: true,
});
defineProp(G, "Date", { __proto__: null, value: DateShim, writable: true, enumerable: false, configurable: true });

// performance.now(): milliseconds since the first reading of the session
// (itself a recorded reading, so a restored session counts from the same origin).
let timeOrigin = -1;
const performanceObject = {
  now: function now() {
    const t = readClock();
    if (timeOrigin < 0) timeOrigin = t;
    return t - timeOrigin;
  },
};
defineProp(G, "performance", { __proto__: null, value: freeze(performanceObject), writable: true, enumerable: false, configurable: true });

// Math.random: sfc32, seeded per run at the first draw.
let rngSeeded = false;
let rngA = 0;
let rngB = 0;
let rngC = 0;
let rngD = 0;
function rngNext() {
  const t = (((rngA + rngB) | 0) + rngD) | 0;
  rngD = (rngD + 1) | 0;
  rngA = rngB ^ (rngB >>> 9);
  rngB = (rngC + (rngC << 3)) | 0;
  rngC = (rngC << 21) | (rngC >>> 11);
  rngC = (rngC + t) | 0;
  return t >>> 0;
}
function random() {
  if (!rngSeeded) {
    rngSeeded = true;
    AtomicsOr(ctl, CTL_RECORDED, RECORDED_SEED);
    rngA = AtomicsLoad(ctl, CTL_SEED);
    rngB = 0x9e3779b9 | 0;
    rngC = imul(rngA ^ 0x243f6a88, 0x85ebca6b);
    rngD = 1;
    for (let i = 0; i < 12; i++) rngNext();
  }
  // 53 bits, as V8's own: 27 from one draw and 26 from the next.
  return ((rngNext() >>> 5) * 67108864 + (rngNext() >>> 6)) / 9007199254740992;
}
defineProp(Math, "random", { __proto__: null, value: random, writable: true, enumerable: false, configurable: true });

// crypto: bytes from the host, recorded there as drawn.
const CRYPTO_MAX_BYTES = 65536;
const INTEGER_ARRAYS = [
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "BigInt64Array",
  "BigUint64Array",
];
/** @param {number} n @returns {Uint8Array} */
function hostBytes(n) {
  const r = hostCall.applySync(undefined, ["crypto", "randomBytes", [n]], COPY_BOTH);
  if (!r.ok) throw hostError(r.error);
  return r.value;
}
/** @param {any} array */
function getRandomValues(array) {
  let tag;
  try {
    tag = typedArrayTag(array);
  } catch (_) {
    tag = undefined;
  }
  let integer = false;
  for (let i = 0; i < INTEGER_ARRAYS.length; i++) if (INTEGER_ARRAYS[i] === tag) integer = true;
  if (!integer) throw new TypeErrorCtor("crypto.getRandomValues: the argument must be an integer-type TypedArray");
  const length = typedArrayBytes(array);
  if (length > CRYPTO_MAX_BYTES) {
    const e = new ErrorCtor("crypto.getRandomValues: the ArrayBufferView's byte length (" + length + ") exceeds 65536");
    defineProp(e, "name", { __proto__: null, value: "QuotaExceededError", writable: true, enumerable: false, configurable: true });
    throw e;
  }
  if (length > 0) {
    const bytes = hostBytes(length);
    const view = new Uint8ArrayCtor(typedArrayBuffer(array), typedArrayOffset(array), length);
    for (let i = 0; i < length; i++) view[i] = bytes[i];
  }
  return array;
}
const HEX = "0123456789abcdef";
function randomUUID() {
  const b = hostBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  let s = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += "-";
    s += HEX[b[i] >> 4] + HEX[b[i] & 15];
  }
  return s;
}
defineProp(G, "crypto", {
  __proto__: null,
  value: freeze({ getRandomValues: getRandomValues, randomUUID: randomUUID }),
  writable: true,
  enumerable: false,
  configurable: true,
});
