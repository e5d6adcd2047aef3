// @ts-check
/**
 * setTimeout & co. The isolate keeps the callbacks; the
 * host owns the clocks (messages via timerHost) and calls fireTimer(id) back
 * with a timeout, so a busy timer callback is stopped like any other code.
 * Timers belong to one run: the host drops its clocks when the run ends and
 * beginRun() forgets the callbacks.
 */
const timers = new MapCtor();
let nextTimerId = 1;
const MAX_DELAY = 2147483647;

/** @param {unknown} fn @param {unknown} ms @param {unknown[]} args @param {boolean} repeat */
function schedule(fn, ms, args, repeat) {
  if (typeof fn !== "function") {
    throw new TypeErrorCtor('The "callback" argument must be of type function');
  }
  const id = nextTimerId++;
  const gen = AtomicsLoad(ctl, CTL_GEN);
  if (gen === 0) return id; // no run is active: the callback would never be due
  let delay = NumberCtor(ms);
  if (!(delay >= 1 && delay <= MAX_DELAY)) delay = 1;
  mapSet(timers, id, { fn: fn, args: args, repeat: repeat });
  timerHost.applyIgnored(undefined, [gen, id, delay, repeat ? 1 : 0]);
  return id;
}

/** @param {unknown} id */
function cancel(id) {
  if (typeof id !== "number" || !mapDelete(timers, id)) return;
  const gen = AtomicsLoad(ctl, CTL_GEN);
  if (gen !== 0) timerHost.applyIgnored(undefined, [gen, id, -1, 0]);
}

function installTimers() {
  /** @param {unknown} fn @param {unknown} ms @param {unknown[]} args */
  G.setTimeout = function setTimeout(fn, ms, ...args) {
    return schedule(fn, ms, args, false);
  };
  /** @param {unknown} fn @param {unknown} ms @param {unknown[]} args */
  G.setInterval = function setInterval(fn, ms, ...args) {
    return schedule(fn, ms, args, true);
  };
  G.clearTimeout = function clearTimeout(/** @type {unknown} */ id) {
    cancel(id);
  };
  G.clearInterval = function clearInterval(/** @type {unknown} */ id) {
    cancel(id);
  };
}

// Called by the host when a clock of run gen is due: "" or a describeThrown()
// string. A call that arrives after its run ended (the host asked just before
// the end) runs nothing.
/** @param {number} id @param {number} gen @returns {string} */
function fireTimer(id, gen) {
  if (AtomicsLoad(ctl, CTL_GEN) !== gen) return "";
  const t = mapGet(timers, id);
  if (t === undefined) return "";
  if (!t.repeat) mapDelete(timers, id);
  try {
    apply(t.fn, undefined, t.args);
  } catch (e) {
    return describeThrown(e);
  }
  return "";
}
