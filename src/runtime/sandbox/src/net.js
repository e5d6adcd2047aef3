// @ts-check
/**
 * fetch() for sessions whose template has an enabled
 * `net` capability (the host checks every host against its allow list, see
 * ../../net.ts). Like timers, a request belongs to one run: fetch() builds a
 * request of plain strings here (user getters, toString and iterators run
 * now, in the sandbox), sends it to the host fire-and-forget (netHost), and
 * returns a promise the host settles later by calling settleFetch() with a
 * timeout, so the code that continues after `await fetch(...)` runs under
 * the run's limits like a timer callback. The host aborts requests when
 * their run ends; beginRun() forgets their promises, which then never settle.
 *
 * Responses, their headers and every error are made here, from sandbox
 * prototypes: only JSON text and a body string cross the boundary.
 */
const FETCH_MAX_PENDING = NET_LIMITS.maxPending;
const FETCH_MAX_URL = NET_LIMITS.maxUrlChars;
const FETCH_MAX_HEADERS = NET_LIMITS.maxHeaders;
const FETCH_MAX_HEADER_BYTES = NET_LIMITS.maxHeaderBytes;
const FETCH_MAX_BODY = NET_LIMITS.maxRequestBodyBytes;
const fetchPending = new MapCtor();
let nextFetchId = 1;
const stringToLower = uncurry(String.prototype.toLowerCase);
const stringToUpper = uncurry(String.prototype.toUpperCase);
const iteratorSymbol = Symbol.iterator;
const propertyIsEnumerable = uncurry(ObjectProto.propertyIsEnumerable);
const NORMALIZED_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"];
/** Headers object → [name0, value0, name1, value1, …] (lowercase names, sorted). */
const headersLists = new WeakMapCtor();
/** Response object → { body, used, meta }. */
const responseStates = new WeakMapCtor();

/** @param {string} message */
function fetchTypeError(message) {
  return new TypeErrorCtor("fetch: " + message);
}

/** @param {unknown} e */
function rejected(e) {
  return new PromiseCtor((_, reject) => reject(e));
}

// RFC 9110 token characters (header names, methods).
/** @param {string} s */
function isToken(s) {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = charCodeAt(s, i);
    const ok =
      (c >= 48 && c <= 57) ||
      (c >= 65 && c <= 90) ||
      (c >= 97 && c <= 122) ||
      c === 33 ||
      (c >= 35 && c <= 39) ||
      c === 42 ||
      c === 43 ||
      c === 45 ||
      c === 46 ||
      c === 94 ||
      c === 95 ||
      c === 96 ||
      c === 124 ||
      c === 126;
    if (!ok) return false;
  }
  return true;
}

// A header value: leading/trailing blanks dropped, no NUL, CR, LF, nothing above U+00FF.
/** @param {string} name @param {string} raw */
function headerValue(name, raw) {
  let start = 0;
  let end = raw.length;
  const blank = (/** @type {number} */ c) => c === 32 || c === 9;
  while (start < end && blank(charCodeAt(raw, start))) start++;
  while (end > start && blank(charCodeAt(raw, end - 1))) end--;
  const v = stringSlice(raw, start, end);
  for (let i = 0; i < v.length; i++) {
    const c = charCodeAt(v, i);
    if (c === 0 || c === 10 || c === 13 || c > 255) throw fetchTypeError('invalid value for header "' + name + '"');
  }
  return v;
}

// Collects init.headers into a Map (lowercase name → combined value).
/** @param {any} h @returns {Map<string, string>} */
function requestHeaders(h) {
  const out = new MapCtor();
  if (h === undefined || h === null) return out;
  if (typeof h !== "object" && typeof h !== "function") {
    throw fetchTypeError("init.headers must be an object, an array of [name, value] pairs or a Headers object");
  }
  let count = 0;
  let bytes = 0;
  const addHeader = (/** @type {unknown} */ rawName, /** @type {unknown} */ rawValue) => {
    if (++count > FETCH_MAX_HEADERS) throw fetchTypeError("more than " + FETCH_MAX_HEADERS + " request headers");
    const name = StringCtor(rawName);
    const value0 = StringCtor(rawValue);
    bytes += name.length + value0.length;
    if (bytes > FETCH_MAX_HEADER_BYTES) throw fetchTypeError("request headers exceed " + FETCH_MAX_HEADER_BYTES + " bytes");
    if (!isToken(name)) throw fetchTypeError('invalid header name "' + stringSlice(name, 0, 100) + '"');
    const value = headerValue(name, value0);
    const lower = stringToLower(name);
    const prev = mapGet(out, lower);
    mapSet(out, lower, prev === undefined ? value : prev + ", " + value);
  };
  const own = weakMapGet(headersLists, h);
  if (own !== undefined) {
    for (let i = 0; i < own.length; i += 2) addHeader(own[i], own[i + 1]);
    return out;
  }
  const iterate = h[iteratorSymbol];
  if (iterate !== undefined && iterate !== null) {
    if (typeof iterate !== "function") throw fetchTypeError("init.headers is not iterable");
    const it = apply(iterate, h, []);
    if (it === null || (typeof it !== "object" && typeof it !== "function")) throw fetchTypeError("init.headers is not iterable");
    const next = it.next;
    for (;;) {
      const step = apply(next, it, []);
      if (step === null || (typeof step !== "object" && typeof step !== "function")) throw fetchTypeError("init.headers is not iterable");
      if (step.done) break;
      const pair = step.value;
      if (pair === null || (typeof pair !== "object" && typeof pair !== "function") || pair.length !== 2) {
        throw fetchTypeError("each header must be a [name, value] pair");
      }
      addHeader(pair[0], pair[1]);
    }
    return out;
  }
  const keys = ownKeys(h);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (typeof k !== "string" || !propertyIsEnumerable(h, k)) continue;
    addHeader(k, h[k]);
  }
  return out;
}

// A fresh Uint8Array holding the bytes of a buffer or view (never the caller's object).
/** @param {object} body @returns {Uint8Array | undefined} */
function bodyBytes(body) {
  let buffer, offset, length;
  if (isArrayBufferView(body)) {
    if (brand(typedArrayBytes, body)) {
      buffer = typedArrayBuffer(body);
      offset = typedArrayOffset(body);
      length = typedArrayBytes(body);
    } else {
      buffer = dataViewBuffer(body);
      offset = dataViewOffset(body);
      length = dataViewBytes(body);
    }
  } else if (brand(arrayBufferLength, body)) {
    buffer = body;
    offset = 0;
    length = arrayBufferLength(body);
  } else if (brand(sharedBufferLength, body)) {
    buffer = body;
    offset = 0;
    length = sharedBufferLength(body);
  } else {
    return undefined;
  }
  if (length > FETCH_MAX_BODY) throw new RangeErrorCtor("fetch: the request body exceeds " + FETCH_MAX_BODY + " bytes");
  return new Uint8ArrayCtor(new Uint8ArrayCtor(buffer, offset, length));
}

/** @param {unknown} body @returns {Uint8Array | string | null} */
function requestBody(body) {
  if (body === undefined || body === null) return null;
  if (typeof body === "object") {
    const bytes = bodyBytes(body);
    if (bytes !== undefined) return bytes;
  }
  const text = StringCtor(body);
  // UTF-8 takes at least one byte a character: the host checks the exact size.
  if (text.length > FETCH_MAX_BODY) throw new RangeErrorCtor("fetch: the request body exceeds " + FETCH_MAX_BODY + " bytes");
  return text;
}

// Everything user code could run (getters, toString, iterators) runs here, before the host hears of the request.
/** @param {unknown} input @param {any} init */
function buildRequest(input, init) {
  const url = StringCtor(input);
  if (url.length > FETCH_MAX_URL) throw fetchTypeError("the URL is longer than " + FETCH_MAX_URL + " characters");
  let method = "GET";
  let headers = new MapCtor();
  let body = null;
  let redirect = "follow";
  if (init !== undefined && init !== null) {
    if (typeof init !== "object" && typeof init !== "function") throw fetchTypeError("init must be an object");
    const m = init.method;
    if (m !== undefined && m !== null) {
      method = StringCtor(m);
      if (method.length > 64 || !isToken(method)) throw fetchTypeError('invalid method "' + stringSlice(method, 0, 64) + '"');
      const upper = stringToUpper(method);
      for (let i = 0; i < NORMALIZED_METHODS.length; i++) if (NORMALIZED_METHODS[i] === upper) method = upper;
    }
    headers = requestHeaders(init.headers);
    body = requestBody(init.body);
    const r = init.redirect;
    if (r !== undefined && r !== null) {
      redirect = StringCtor(r);
      if (redirect !== "follow" && redirect !== "manual" && redirect !== "error") {
        throw fetchTypeError('init.redirect must be "follow", "manual" or "error"');
      }
    }
  }
  if (body !== null && (method === "GET" || method === "HEAD")) throw fetchTypeError("a GET or HEAD request cannot have a body");
  const flat = list();
  const it = mapEntries(headers);
  for (let step = mapIterNext(it); !step.done; step = mapIterNext(it)) {
    add(flat, step.value[0]);
    add(flat, step.value[1]);
  }
  return { __proto__: null, url: url, method: method, headers: flat, body: body, redirect: redirect };
}

function makeFetch() {
  // A method: like the real fetch it has no prototype and is no constructor.
  return {
    /** @param {unknown} input @param {any} [init] */
    fetch(input, init) {
      const gen = AtomicsLoad(ctl, CTL_GEN);
      if (gen === 0) return rejected(new ErrorCtor("fetch: no execution is running"));
      let req;
      try {
        req = buildRequest(input, init);
      } catch (e) {
        return rejected(e);
      }
      if (mapSize(fetchPending) >= FETCH_MAX_PENDING) {
        return rejected(new ErrorCtor("fetch: too many requests in flight (at most " + FETCH_MAX_PENDING + " at a time)"));
      }
      const id = nextFetchId++;
      /** @type {{ __proto__: null, resolve: ((value: unknown) => void) | null, reject: ((reason: unknown) => void) | null }} */
      const pending = { __proto__: null, resolve: null, reject: null };
      const promise = new PromiseCtor((resolve, reject) => {
        pending.resolve = resolve;
        pending.reject = reject;
      });
      try {
        netHost.applyIgnored(undefined, [gen, id, req.url, req.method, req.headers, req.body, req.redirect], COPY_ARGS);
      } catch (e) {
        return rejected(new ErrorCtor("fetch: the request could not be sent"));
      }
      mapSet(fetchPending, id, pending);
      return promise;
    },
  }.fetch;
}

// ---- responses -------------------------------------------------------------

function Headers() {
  throw new TypeErrorCtor("Illegal constructor");
}
/** @param {any} h @returns {readonly string[]} */
function headersList(h) {
  const list = weakMapGet(headersLists, h);
  if (list === undefined) throw new TypeErrorCtor("Illegal invocation");
  return list;
}
/** @param {readonly string[]} list @param {0 | 1 | 2} kind */
function* headerPairs(list, kind) {
  for (let i = 0; i < list.length; i += 2) {
    if (kind === 0) yield [list[i], list[i + 1]];
    else if (kind === 1) yield list[i];
    else yield list[i + 1];
  }
}
{
  const P = Headers.prototype;
  /** @type {Record<PropertyKey, (this: any, ...args: any[]) => any>} */
  const methods = {
    get(name) {
      const list = headersList(this);
      const n = stringToLower(StringCtor(name));
      for (let i = 0; i < list.length; i += 2) if (list[i] === n) return list[i + 1];
      return null;
    },
    has(name) {
      const list = headersList(this);
      const n = stringToLower(StringCtor(name));
      for (let i = 0; i < list.length; i += 2) if (list[i] === n) return true;
      return false;
    },
    forEach(callback, thisArg) {
      const list = headersList(this);
      if (typeof callback !== "function") throw new TypeErrorCtor('The "callback" argument must be of type function');
      for (let i = 0; i < list.length; i += 2) apply(callback, thisArg, [list[i + 1], list[i], this]);
    },
    entries() {
      return headerPairs(headersList(this), 0);
    },
    keys() {
      return headerPairs(headersList(this), 1);
    },
    values() {
      return headerPairs(headersList(this), 2);
    },
  };
  const names = ownKeys(methods);
  for (let i = 0; i < names.length; i++) {
    defineProp(P, names[i], { __proto__: null, value: methods[names[i]], writable: true, configurable: true, enumerable: false });
  }
  defineProp(P, iteratorSymbol, { __proto__: null, value: methods.entries, writable: true, configurable: true, enumerable: false });
  defineProp(P, toStringTagSymbol, { __proto__: null, value: "Headers", configurable: true });
  freeze(P);
  freeze(Headers);
}

/** @param {[unknown, unknown][]} pairs */
function makeHeaders(pairs) {
  const flat = list();
  for (let i = 0; i < pairs.length; i++) {
    add(flat, StringCtor(pairs[i][0]));
    add(flat, StringCtor(pairs[i][1]));
  }
  const h = create(Headers.prototype);
  weakMapSet(headersLists, h, freeze(flat));
  return h;
}

function Response() {
  throw new TypeErrorCtor("Illegal constructor");
}
/** @param {any} r @returns {{ meta: any, body: string, used: boolean }} */
function responseState(r) {
  const s = weakMapGet(responseStates, r);
  if (s === undefined) throw new TypeErrorCtor("Illegal invocation");
  return s;
}
/** @param {any} r */
function consumeBody(r) {
  const s = responseState(r);
  if (s.used) throw new TypeErrorCtor("Body is unusable: Body has already been read");
  s.used = true;
  return s.body;
}
/** @param {object} o @param {string} name @param {unknown} value */
function defineReadOnly(o, name, value) {
  defineProp(o, name, { __proto__: null, value: value, writable: false, configurable: false, enumerable: true });
}
/** @param {any} meta @param {string} body */
function makeResponse(meta, body) {
  const r = create(Response.prototype);
  const status = NumberCtor(meta.status);
  defineReadOnly(r, "ok", status >= 200 && status <= 299);
  defineReadOnly(r, "status", status);
  defineReadOnly(r, "statusText", StringCtor(meta.statusText));
  defineReadOnly(r, "url", StringCtor(meta.url));
  defineReadOnly(r, "redirected", meta.redirected === true);
  defineReadOnly(r, "headers", makeHeaders(meta.headers));
  weakMapSet(responseStates, r, { __proto__: null, meta: meta, body: body, used: false });
  return r;
}
{
  const P = Response.prototype;
  /** @type {Record<PropertyKey, (this: any, ...args: any[]) => any>} */
  const methods = {
    async text() {
      return consumeBody(this);
    },
    async json() {
      return jsonParse(consumeBody(this));
    },
    clone() {
      const s = responseState(this);
      if (s.used) throw new TypeErrorCtor("Response.clone: Body has already been consumed.");
      return makeResponse(s.meta, s.body);
    },
  };
  const names = ownKeys(methods);
  for (let i = 0; i < names.length; i++) {
    defineProp(P, names[i], { __proto__: null, value: methods[names[i]], writable: true, configurable: true, enumerable: false });
  }
  defineProp(P, "bodyUsed", {
    __proto__: null,
    configurable: true,
    enumerable: false,
    get: function bodyUsed() {
      return responseState(this).used;
    },
  });
  defineProp(P, toStringTagSymbol, { __proto__: null, value: "Response", configurable: true });
  freeze(P);
  freeze(Response);
}

// Called by the host when request id of run gen has an answer: meta is JSON
// {ok, value: {status, statusText, url, redirected, headers}} or {ok: false,
// error: {name, message, code}}; body is the response text. Answers "".
/** @param {number} id @param {number} gen @param {string} meta @param {string} body @returns {string} */
function settleFetch(id, gen, meta, body) {
  if (AtomicsLoad(ctl, CTL_GEN) !== gen) return "";
  const p = mapGet(fetchPending, id);
  if (p === undefined) return "";
  mapDelete(fetchPending, id);
  const r = jsonParse(meta);
  if (r.ok === true) p.resolve(makeResponse(r.value, StringCtor(body)));
  else p.reject(hostError(r.error));
  return "";
}
