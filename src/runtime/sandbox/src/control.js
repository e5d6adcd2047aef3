// @ts-check
/**
 * Runs last in the prelude: installs the globals (console, timers, require,
 * fetch, the template's globals) and defines control(), which the prelude
 * returns to the host: control(op, a, b, c, d, e) with op one of OP_*.
 */
/** @param {any} v */
function deepFreeze(v) {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    freeze(v);
    const keys = ownKeys(v);
    for (let i = 0; i < keys.length; i++) deepFreeze(v[keys[i]]);
  }
  return v;
}

/** @param {string} name @param {unknown} value */
function defineRunGlobal(name, value) {
  defineProp(G, name, { __proto__: null, value: value, writable: true, configurable: true, enumerable: false });
}

defineProp(G, "console", {
  __proto__: null,
  value: config.console ? makeConsole() : makeSilentConsole(),
  writable: true,
  configurable: true,
  enumerable: false,
});
installTimers();
if (config.modules.length > 0) {
  defineProp(G, "require", { __proto__: null, value: makeRequire(config.modules, config.allowExec), writable: true, configurable: true, enumerable: false });
}
if (config.net) {
  defineProp(G, "fetch", { __proto__: null, value: makeFetch(), writable: true, configurable: true, enumerable: false });
}
{
  const names = ownKeys(config.globals);
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    defineProp(G, n, { __proto__: null, value: deepFreeze(config.globals[/** @type {string} */ (n)]), writable: false, configurable: false, enumerable: true });
  }
}

/** @param {any} value @param {boolean} wrapped @returns {Promise<string>} */
async function settle(value, wrapped) {
  try {
    if (wrapped) {
      const r = await value;
      value = r === undefined ? undefined : r.value;
    }
    if (value !== null && typeof value === "object" && isPromise(value)) value = await value;
    return describeValue(value);
  } catch (e) {
    return describeThrown(e);
  }
}

// argv and env are fresh globals in every run: "" means the REPL's (no
// arguments, the base env), anything else is JSON [argv, env] of a run-file.
// JSON.parse makes plain data properties: no setter user code put on
// Object.prototype runs.
const BASE_ENV = jsonStringify(config.env);
/** @param {string} spec */
function beginRun(spec) {
  resetRecording();
  mapClear(timers);
  mapClear(fetchPending);
  // A module run that failed or was stopped left its wait pending: end it.
  delete G[config.moduleHook];
  if (abandonModule !== null) {
    abandonModule();
    abandonModule = null;
  }
  groupIndent = 0;
  let argv, env;
  if (spec === "") {
    argv = [];
    env = jsonParse(BASE_ENV);
  } else {
    const parsed = jsonParse(spec);
    argv = parsed[0];
    env = parsed[1];
  }
  defineRunGlobal("argv", argv);
  defineRunGlobal("env", env);
}

// Starts a run, compiles the user's source and runs it, all from inside the
// isolate and on its thread: one call from the host per run, no compile on
// the server's thread (which would also move the isolate between threads),
// and what the code throws is caught here as the real value (isolated-vm
// would copy only Error objects). The host's call carries the timeout, which
// covers compiling, runSync and microtasks. A value that needs no waiting is
// answered at once, else a promise of the answer.
const RUN_OPTIONS = freeze({ __proto__: null, reference: true });
const RELEASE = freeze({ __proto__: null, release: true });
/** @param {string} source @param {boolean} wrapped @param {string} spec @param {string} filename @param {number} columnOffset @returns {string | Promise<string>} */
function run(source, wrapped, spec, filename, columnOffset) {
  beginRun(spec);
  let script;
  try {
    script = isolate.compileScriptSync(source, { __proto__: null, filename: filename, columnOffset: columnOffset });
  } catch (e) {
    // A syntax error, made by isolated-vm (the message ends with [file:line:col]);
    // its stack would show the prelude's frames: the message is the whole story.
    const name = errorName(e, "SyntaxError");
    const message = errorMessage(e);
    return thrownError(name, message, name + ": " + message);
  }
  let value;
  try {
    value = script.runSync(context, RUN_OPTIONS).deref(RELEASE);
  } catch (e) {
    return describeThrown(e);
  } finally {
    try {
      script.release();
    } catch (_) {
      /* terminated */
    }
  }
  if (wrapped || (value !== null && typeof value === "object" && isPromise(value))) return settle(value, wrapped);
  try {
    return describeValue(value);
  } catch (e) {
    return describeThrown(e);
  }
}

// isolated-vm's Module#evaluate drops the evaluation promise, so a module
// with top-level await would look finished too early. The host evaluates a
// wrapper (import * as ns from <entry>; <hook>(ns)) whose body runs only once
// the whole graph has finished; the hook lives on globalThis for that run only.
/** @type {(() => void) | null} */
let abandonModule = null;
async function settleModule() {
  /** @type {(box: [unknown] | null) => void} */
  let resolve;
  const done = new PromiseCtor((r) => {
    resolve = r;
  });
  abandonModule = () => resolve(null);
  defineProp(G, config.moduleHook, {
    __proto__: null,
    configurable: true,
    writable: false,
    enumerable: false,
    value: function (/** @type {unknown} */ ns) {
      delete G[config.moduleHook];
      abandonModule = null;
      resolve([ns]);
    },
  });
  const box = await done; // boxed: a namespace exporting "then" must not be treated as a thenable
  return box === null ? "" : settle(box[0], false);
}

// What the prelude returns (see preludeSource in ../prelude.ts): the host's one handle on the sandbox.
/** @param {number} op @param {any} [a] @param {any} [b] @param {any} [c] @param {any} [d] @param {any} [e] @returns {string | Promise<string>} */
function control(op, a, b, c, d, e) {
  switch (op) {
    case OP_RUN:
      return run(a, b, c, d, e);
    case OP_BEGIN:
      beginRun(a);
      return "";
    case OP_SETTLE_MODULE:
      return settleModule();
    case OP_FIRE_TIMER:
      return fireTimer(a, b);
    case OP_SETTLE_FETCH:
      return settleFetch(a, b, c, d);
    case OP_REPLAY:
      replayRecording(a);
      return "";
    case OP_TAKE_RECORDING:
      return takeRecording();
    default:
      return "";
  }
}
