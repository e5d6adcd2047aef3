// @ts-check
/**
 * Runs right after the intrinsics, before anything else: the WebAssembly API, which is deleted unless the template sets runtime.wasm,
 * and bounded when it is on.
 *
 * Why it is bounded here: wasm memories live outside the V8 heap that the
 * isolate's memoryLimit watches (a 16 MB session filled 1.3 GB of the
 * server's memory with `new WebAssembly.Memory({initial: 1024})` × 20), and
 * `memory.grow` inside wasm code is invisible to JavaScript. What V8 does
 * enforce on every grow is a memory's maximum, so every memory made here has
 * one (declared, clamped or imposed: a memory without one gets what is left
 * of the budget), and the maxima of all memories the session ever makes
 * stay within limits.mem_mb together: `new WebAssembly.Memory` reserves its
 * maximum, and each instantiation reserves the maxima of the memories its
 * module defines, rewritten into the module's bytes before V8 compiles them.
 * Imported memories are Memory objects, which reserved theirs when made.
 * A module's compiled code lives outside the heap as well (measured: about
 * 16 KB per module plus 1.5-1.8 times its size; 40,000 tiny modules would
 * have taken 650 MB), so each compile counts 16 KB plus twice the module's
 * size against the same budget.
 * The same maxima bound the address space V8 reserves, provided the server
 * runs with --disable-wasm-trap-handler; without it each memory also takes
 * a guard region of about 10 GB (~13,000 memories exhausted the process's
 * address space, and with it every session's and the server's own wasm), so
 * the host then caps how many memories a session makes (maxMemories).
 * Reservations last as long as the session (garbage collection is not
 * observed), except a failed instantiation of a module without a start
 * function, which runs no user code after its memory is made.
 *
 * The async entry points compile and instantiate synchronously inside their
 * promise, so no promise that user code could hijack (a patched `then`)
 * sits between a check and what it checks. The original constructors stay in this
 * closure: the namespace, the prototypes' `constructor` and the statics
 * point to the wrappers, and streaming or any other entry point this code
 * does not know is removed.
 */
/** @param {boolean} enabled @param {number} memMb @param {number} maxMemories */
function installWasm(enabled, memMb, maxMemories) {
  const WA = G.WebAssembly;
  delete G.WebAssembly;
  if (!enabled || WA === undefined) return;

  const OrigModule = WA.Module;
  const OrigInstance = WA.Instance;
  const OrigMemory = WA.Memory;
  const CompileErrorCtor = WA.CompileError;
  const setProto = Object.setPrototypeOf;
  const typedArraySet = uncurry(TypedArrayProto.set);

  const round = Math.round;
  const floor = Math.floor;
  // In bytes; memories in 64 KiB pages.
  const BUDGET = memMb * 1048576;
  const PAGE = 65536;
  const PAGE_LIMIT = 65536; // pages: wasm32's 4 GB
  const MODULE_COST = 16384;
  let reserved = 0;
  let memories = 0;
  const mb = (/** @type {number} */ bytes) => round(bytes / 10485.76) / 100;
  const leftPages = () => floor((BUDGET - reserved) / PAGE);

  // Counts that many more memories against maxMemories (0: no cap).
  /** @param {string} what @param {number} count */
  function countMemories(what, count) {
    if (maxMemories > 0 && count > maxMemories - memories) {
      throw new RangeErrorCtor(
        what +
          ": this session may make at most " +
          maxMemories +
          " WebAssembly memories (the server runs without --disable-wasm-trap-handler, so each one reserves a large guard region)",
      );
    }
    memories += count;
  }

  /** @param {string} what @param {number} bytes @param {number} available @param {string} [kind] */
  function budgetError(what, bytes, available, kind) {
    return new RangeErrorCtor(
      what +
        ": " +
        mb(bytes) +
        " MB of " +
        (kind || "WebAssembly memory") +
        " requested, but only " +
        mb(available) +
        " MB of this session's budget is left (WebAssembly memory and compiled code count against limits.mem_mb = " +
        memMb +
        " MB)",
    );
  }

  // The maximum a memory gets: what it declares (declared < 0: nothing),
  // at most what is left of the budget.
  /** @param {string} what @param {number} initial @param {number} declared @param {number} available */
  function boundedMax(what, initial, declared, available) {
    let max = available < PAGE_LIMIT ? available : PAGE_LIMIT;
    if (declared >= 0 && declared < max) max = declared;
    // A maximum below initial is V8's error to report.
    if (initial > max && !(declared >= 0 && declared < initial)) throw budgetError(what, initial * PAGE, BUDGET - reserved);
    return max;
  }

  // A private copy of a BufferSource: user code cannot change what was checked.
  /** @param {string} what @param {unknown} source @returns {Uint8Array} */
  function sourceBytes(what, source) {
    let buffer,
      offset = 0,
      length;
    if (isArrayBufferView(source)) {
      if (brand(typedArrayBytes, source)) {
        buffer = typedArrayBuffer(source);
        offset = typedArrayOffset(source);
        length = typedArrayBytes(source);
      } else {
        buffer = dataViewBuffer(source);
        offset = dataViewOffset(source);
        length = dataViewBytes(source);
      }
    } else if (brand(arrayBufferLength, source)) {
      buffer = source;
      length = arrayBufferLength(source);
    } else if (brand(sharedBufferLength, source)) {
      buffer = source;
      length = sharedBufferLength(source);
    } else {
      throw new TypeErrorCtor(what + ": Argument 0 must be a buffer source");
    }
    const copy = new Uint8ArrayCtor(length);
    typedArraySet(copy, new Uint8ArrayCtor(buffer, offset, length));
    return copy;
  }

  // Unsigned LEB128 of at most 32 bits at r.p (before end); -1 when malformed.
  /** @param {Uint8Array} b @param {{ p: number }} r @param {number} end */
  function readU32(b, r, end) {
    let value = 0,
      scale = 1;
    for (let i = 0; i < 5; i++) {
      if (r.p >= end) return -1;
      const byte = b[r.p++];
      if (i === 4 && byte > 0x0f) return -1;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    return -1;
  }

  /** @param {Uint8Array} out @param {number} p @param {number} v */
  function writeU32(out, p, v) {
    for (;;) {
      const low = v % 128;
      v = (v - low) / 128;
      if (v === 0) {
        out[p++] = low;
        return p;
      }
      out[p++] = low + 128;
    }
  }

  /** @param {Uint8Array} b @param {number} start @param {number} length */
  function view(b, start, length) {
    return new Uint8ArrayCtor(typedArrayBuffer(b), start, length);
  }

  // Finds the memory section (id 5), gives each memory a bounded maximum and
  // returns the bytes to compile, the pages an instance reserves and whether
  // the module has a start function (section 8). Bytes this cannot read are
  // refused here, never handed to V8 unchecked.
  /** @param {string} what @param {Uint8Array} b */
  function planModule(what, b) {
    const fail = (/** @type {string} */ message) => new CompileErrorCtor(what + ": " + message);
    const n = typedArrayLength(b);
    if (n < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d || b[4] !== 1 || b[5] !== 0 || b[6] !== 0 || b[7] !== 0) {
      throw fail("expected the wasm magic word and version 1");
    }
    const r = { __proto__: null, p: 8 };
    let start = false,
      pages = 0,
      count = 0,
      memStart = -1,
      memEnd = -1,
      body = null,
      bodyLength = 0;
    while (r.p < n) {
      const sectionStart = r.p;
      const id = b[r.p++];
      const size = readU32(b, r, n);
      if (size < 0 || size > n - r.p) throw fail("section " + id + " is truncated");
      const end = r.p + size;
      if (id === 8) {
        start = true;
      } else if (id === 5) {
        if (memStart !== -1) throw fail("more than one memory section");
        memStart = sectionStart;
        memEnd = end;
        count = readU32(b, r, end);
        if (count < 0 || count > 100) throw fail("bad memory count");
        body = new Uint8ArrayCtor(5 + 11 * count);
        let q = writeU32(body, 0, count);
        let available = leftPages();
        for (let i = 0; i < count; i++) {
          if (r.p >= end) throw fail("memory section is truncated");
          const flags = b[r.p++];
          // 0: initial; 1: initial, maximum; 3: shared with maximum. Not memory64.
          if (flags !== 0 && flags !== 1 && flags !== 3) throw fail("unsupported memory limits flags " + flags);
          const initial = readU32(b, r, end);
          const declared = flags === 0 ? -1 : readU32(b, r, end);
          if (initial < 0 || (flags !== 0 && declared < 0)) throw fail("malformed memory limits");
          const max = boundedMax(what, initial, declared, available);
          available -= max;
          pages += max;
          body[q++] = flags | 1;
          q = writeU32(body, q, initial);
          q = writeU32(body, q, max);
        }
        if (r.p !== end) throw fail("memory section has trailing bytes");
        bodyLength = q;
      }
      r.p = end;
    }
    if (body === null) return { __proto__: null, bytes: b, pages: 0, count: 0, start: start };
    const size = new Uint8ArrayCtor(5);
    const sizeLength = writeU32(size, 0, bodyLength);
    const out = new Uint8ArrayCtor(memStart + 1 + sizeLength + bodyLength + (n - memEnd));
    typedArraySet(out, view(b, 0, memStart));
    out[memStart] = 5;
    typedArraySet(out, view(size, 0, sizeLength), memStart + 1);
    typedArraySet(out, view(body, 0, bodyLength), memStart + 1 + sizeLength);
    typedArraySet(out, view(b, memEnd, n - memEnd), memStart + 1 + sizeLength + bodyLength);
    return { __proto__: null, bytes: out, pages: pages, count: count, start: start };
  }

  // The prototype a subclass asks for, read here rather than by the original
  // constructor, so no user code runs while one is on the stack.
  /** @param {any} newTarget @param {Function} wrapper @param {Function} original */
  function protoFor(newTarget, wrapper, original) {
    if (newTarget === wrapper) return null;
    const p = newTarget.prototype;
    return (typeof p === "object" && p !== null) || typeof p === "function" ? p : original.prototype;
  }

  /** @param {string} what @param {unknown} value @param {string} name */
  function pageCount(what, value, name) {
    const n = NumberCtor(value);
    const whole = n - (n % 1);
    if (!(whole >= 0 && whole <= 4294967295)) {
      throw new TypeErrorCtor(what + ": Property '" + name + "' must be convertible to a valid number");
    }
    return whole;
  }

  // module -> its plan (pages an instance reserves, start function or not).
  const plans = new WeakMapCtor();

  /** @param {unknown} source @param {string} what */
  function compileModule(source, what) {
    const bytes = sourceBytes(what, source);
    const cost = MODULE_COST + 2 * typedArrayLength(bytes);
    if (cost > BUDGET - reserved) throw budgetError(what, cost, BUDGET - reserved, "compiled WebAssembly code (16 KB plus twice the module's size)");
    reserved += cost;
    try {
      const plan = planModule(what, bytes);
      const module = new OrigModule(plan.bytes);
      weakMapSet(plans, module, { __proto__: null, pages: plan.pages, count: plan.count, start: plan.start });
      return module;
    } catch (e) {
      reserved -= cost; // nothing was compiled
      throw e;
    }
  }

  /** @param {any} module @param {any} imports @param {string} what */
  function instantiateModule(module, imports, what) {
    const plan = weakMapGet(plans, module);
    if (plan === undefined) throw new TypeErrorCtor(what + ": Argument 0 must be a WebAssembly.Module");
    const available = leftPages();
    if (plan.pages > available) throw budgetError(what, plan.pages * PAGE, BUDGET - reserved);
    // Reserved before V8 reads the imports: user code that runs meanwhile sees it taken.
    countMemories(what, plan.count);
    reserved += plan.pages * PAGE;
    try {
      return new OrigInstance(module, imports);
    } catch (e) {
      if (!plan.start) {
        reserved -= plan.pages * PAGE;
        memories -= plan.count;
      }
      throw e;
    }
  }

  /** @param {unknown} bytes */
  function Module(bytes) {
    if (new.target === undefined) throw new TypeErrorCtor("WebAssembly.Module must be invoked with 'new'");
    const proto = protoFor(new.target, Module, OrigModule);
    const module = compileModule(bytes, "WebAssembly.Module()");
    if (proto !== null) setProto(module, proto);
    return module;
  }

  /** @param {unknown} module @param {unknown} importObject */
  function Instance(module, importObject) {
    if (new.target === undefined) throw new TypeErrorCtor("WebAssembly.Instance must be invoked with 'new'");
    const proto = protoFor(new.target, Instance, OrigInstance);
    const instance = instantiateModule(module, importObject, "WebAssembly.Instance()");
    if (proto !== null) setProto(instance, proto);
    return instance;
  }

  /** @param {any} descriptor */
  function Memory(descriptor) {
    const what = "WebAssembly.Memory()";
    if (new.target === undefined) throw new TypeErrorCtor("WebAssembly.Memory must be invoked with 'new'");
    if (descriptor === null || (typeof descriptor !== "object" && typeof descriptor !== "function")) {
      throw new TypeErrorCtor(what + ": Argument 0 must be a memory descriptor");
    }
    // Each property read once: a getter cannot answer the check and V8 differently.
    const rawInitial = descriptor.initial;
    if (rawInitial === undefined) throw new TypeErrorCtor(what + ": Property 'initial' is required");
    const initial = pageCount(what, rawInitial, "initial");
    const rawMaximum = descriptor.maximum;
    const declared = rawMaximum === undefined ? -1 : pageCount(what, rawMaximum, "maximum");
    const shared = !!descriptor.shared;
    if (shared && declared < 0) throw new TypeErrorCtor(what + ": Property 'maximum' is required for shared memory");
    const proto = protoFor(new.target, Memory, OrigMemory);
    const max = boundedMax(what, initial, declared, leftPages());
    countMemories(what, 1);
    reserved += max * PAGE;
    let memory;
    try {
      memory = new OrigMemory({ __proto__: null, initial: initial, maximum: max, shared: shared });
    } catch (e) {
      reserved -= max * PAGE; // nothing was allocated
      memories -= 1;
      throw e;
    }
    if (proto !== null) setProto(memory, proto);
    return memory;
  }

  /** @param {unknown} bytes */
  function compile(bytes) {
    return new PromiseCtor((resolve) => {
      resolve(compileModule(bytes, "WebAssembly.compile()"));
    });
  }

  /** @param {any} source @param {unknown} importObject */
  function instantiate(source, importObject) {
    return new PromiseCtor((resolve) => {
      const what = "WebAssembly.instantiate()";
      if (weakMapGet(plans, source) !== undefined) {
        resolve(instantiateModule(source, importObject, what));
        return;
      }
      const module = compileModule(source, what);
      resolve({ module: module, instance: instantiateModule(module, importObject, what) });
    });
  }

  const NOT_STATIC = new SetCtor(["length", "name", "prototype", "arguments", "caller"]);
  /** @param {string} name @param {Function} wrapper @param {any} original */
  function adopt(name, wrapper, original) {
    const keys = ownKeys(original);
    for (let i = 0; i < keys.length; i++) {
      if (!setHas(NOT_STATIC, keys[i])) defineProp(wrapper, keys[i], getOwnDesc(original, keys[i]));
    }
    defineProp(wrapper, "length", { __proto__: null, value: 1, writable: false, enumerable: false, configurable: true });
    defineProp(wrapper, "prototype", { __proto__: null, value: original.prototype, writable: false, enumerable: false, configurable: false });
    defineProp(original.prototype, "constructor", { __proto__: null, value: wrapper, writable: true, enumerable: false, configurable: true });
    defineProp(WA, name, { __proto__: null, value: wrapper }); // the original's attributes stay
  }

  const KEPT = new SetCtor([
    "Module",
    "Instance",
    "Memory",
    "compile",
    "instantiate",
    "validate",
    "Table",
    "Global",
    "Tag",
    "Exception",
    "CompileError",
    "LinkError",
    "RuntimeError",
    toStringTagSymbol,
  ]);
  const names = ownKeys(WA);
  for (let i = 0; i < names.length; i++) {
    if (!setHas(KEPT, names[i])) delete WA[names[i]];
  }
  adopt("Module", Module, OrigModule);
  adopt("Instance", Instance, OrigInstance);
  adopt("Memory", Memory, OrigMemory);
  defineProp(WA, "compile", { __proto__: null, value: compile });
  defineProp(WA, "instantiate", { __proto__: null, value: instantiate });
  defineProp(G, "WebAssembly", { __proto__: null, value: WA, writable: true, enumerable: false, configurable: true });
}

installWasm(config.wasm === true, config.memMb, config.wasmMaxMemories);
