/**
 * V8 code caches for sources every context compiles (the prelude, libraries).
 * The first context of the process compiles and runs the source without a
 * cache, then compiles it once more with produceCachedData: that second
 * compilation is answered from the isolate's compilation cache, so the data
 * also holds the functions compiled while the source ran (a cache made at
 * the first compilation holds only the eagerly compiled ones). Later
 * contexts consume it and skip most parsing and compilation. Rejected data is
 * dropped and made again.
 */
import type ivm from "isolated-vm";

export interface CodeCache {
  data: ivm.ExternalCopy<ArrayBuffer> | undefined;
}

type CachedScript = ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer>; cachedDataRejected?: boolean };

function checked(script: ivm.Script, cache: CodeCache): ivm.Script {
  if ((script as CachedScript).cachedDataRejected === true) cache.data = undefined;
  return script;
}

/** Compiles with the cache's data when there is some. */
export function compileSync(isolate: ivm.Isolate, source: string, filename: string, cache: CodeCache): ivm.Script {
  const data = cache.data;
  return checked(isolate.compileScriptSync(source, data ? { filename, cachedData: data } : { filename }), cache);
}

export async function compile(isolate: ivm.Isolate, source: string, filename: string, cache: CodeCache): Promise<ivm.Script> {
  const data = cache.data;
  return checked(await isolate.compileScript(source, data ? { filename, cachedData: data } : { filename }), cache);
}

/** After the source ran in this isolate: makes the cache's data if it has none. */
export function fillSync(isolate: ivm.Isolate, source: string, filename: string, cache: CodeCache): void {
  if (cache.data) return;
  const again = isolate.compileScriptSync(source, { filename, produceCachedData: true }) as CachedScript;
  cache.data ??= again.cachedData;
  again.release();
}

export async function fill(isolate: ivm.Isolate, source: string, filename: string, cache: CodeCache): Promise<void> {
  if (cache.data) return;
  const again = (await isolate.compileScript(source, { filename, produceCachedData: true })) as CachedScript;
  cache.data ??= again.cachedData;
  again.release();
}
