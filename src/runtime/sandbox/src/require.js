// @ts-check
/**
 * require() for granted host modules. Each module is a
 * frozen object of thin wrappers; arguments and results are structured-cloned
 * through one host dispatcher, which never throws across the boundary (it
 * returns {ok, value} or {ok: false, error}) so no host stack reaches the
 * sandbox. exec goes through applySyncPromise: the isolate waits, the host
 * event loop does not (its answer is JSON text: that call cannot copy results).
 */
/** @type {Record<string, string[]>} */
const MODULE_METHODS = {
  fs: ["readFile", "writeFile", "appendFile", "readdir", "exists", "stat", "mkdir", "rm"],
  path: ["basename", "dirname", "extname", "format", "isAbsolute", "join", "normalize", "parse", "relative", "resolve", "toNamespacedPath"],
  database: ["configure", "exec", "query", "close"],
};
// No prototype: a name the host sends that is not one of these finds nothing user code put on Object.prototype.
/** @type {Record<string, ErrorConstructor | null | undefined>} */
const ERROR_TYPES = { __proto__: null, Error: ErrorCtor, TypeError: TypeErrorCtor, RangeError: RangeErrorCtor };

/** @param {{ name: string, message: string, code?: unknown }} info @returns {Error & { code?: string }} */
function hostError(info) {
  const Ctor = ERROR_TYPES[info.name] || ErrorCtor;
  /** @type {Error & { code?: string }} */
  const e = new Ctor(StringCtor(info.message));
  if (typeof info.code === "string") e.code = info.code;
  return e;
}

/** @param {{ ok: boolean, value?: any, error?: any }} r @param {Function} caller */
function unwrap(r, caller) {
  if (r.ok) return r.value;
  const e = hostError(r.error);
  captureStackTrace(e, caller);
  return e;
}

/** @param {string} mod @param {string} method */
function wrapper(mod, method) {
  const fn = {
    [method](/** @type {unknown[]} */ ...args) {
      const r = hostCall.applySync(undefined, [mod, method, args], COPY_BOTH);
      const v = unwrap(r, fn);
      if (!r.ok) throw v;
      return v;
    },
  }[method];
  return fn;
}

/** @param {string} name */
function buildModule(name) {
  if (name === "exec") {
    /** @param {unknown} argv @param {unknown} [options] */
    const exec = function exec(argv, options) {
      // applySyncPromise takes no result options: the host answers with JSON text.
      const r = jsonParse(execHost.applySyncPromise(undefined, [argv, options === undefined ? {} : options], COPY_ARGS));
      const v = unwrap(r, exec);
      if (!r.ok) throw v;
      return v;
    };
    exec.run = exec;
    return freeze(exec);
  }
  /** @type {Record<string, unknown>} */
  const m = {};
  const methods = MODULE_METHODS[name];
  for (let i = 0; i < methods.length; i++) m[methods[i]] = wrapper(name, methods[i]);
  if (name === "path") {
    m.sep = "/";
    m.delimiter = ":";
    m.posix = m;
  }
  return freeze(m);
}

/** @param {string[]} granted @param {boolean} allowExec */
function makeRequire(granted, allowExec) {
  const cache = create(null);
  return function require(/** @type {unknown} */ name) {
    const n = StringCtor(name);
    if (cache[n] !== undefined) return cache[n];
    let ok = false;
    for (let i = 0; i < granted.length; i++) if (granted[i] === n) ok = true;
    if (!ok || (!hasOwn(MODULE_METHODS, n) && n !== "exec")) {
      /** @type {Error & { code?: string }} */
      const e = new ErrorCtor("Cannot find module '" + n + "': it is not granted to this session");
      e.code = "MODULE_NOT_FOUND";
      throw e;
    }
    if (n === "exec" && !allowExec) {
      throw new ErrorCtor("Module 'exec' is disabled on this server (it was not started with --allow-exec)");
    }
    cache[n] = buildModule(n);
    return cache[n];
  };
}
