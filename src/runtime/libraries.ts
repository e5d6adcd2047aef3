/**
 * Loads the installed packages' browser (UMD) builds into a context. With no
 * `module`/`define` in scope each build assigns its global (_, dayjs, R, moment).
 * Sources are read once per process, and V8's code cache of each is made by
 * the first context that loads it and reused by every later one (./code-cache.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type ivm from "isolated-vm";
import { compile, fill, type CodeCache } from "./code-cache";
import { LIBRARY_CATALOGUE } from "./catalogue";

const BUILDS: Record<string, string> = {
  lodash: "lodash.min.js",
  dayjs: "dayjs.min.js",
  ramda: "dist/ramda.min.js",
  moment: "min/moment.min.js",
};

const LOAD_TIMEOUT_MS = 10_000;
const sources = new Map<string, string>();
const caches = new Map<string, CodeCache>();

/** Some packages' `exports` hide package.json, so walk up from the entry point. */
function packageDir(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === pkg) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`package ${pkg} not found`);
    dir = parent;
  }
}

function librarySource(name: string): string {
  let source = sources.get(name);
  if (source === undefined) {
    source = readFileSync(join(packageDir(name), BUILDS[name]), "utf8");
    sources.set(name, source);
  }
  return source;
}

export function isKnownLibrary(name: string): boolean {
  return LIBRARY_CATALOGUE.some((l) => l.name === name) && name in BUILDS;
}

export async function loadLibraries(isolate: ivm.Isolate, context: ivm.Context, names: string[]): Promise<void> {
  for (const name of names) {
    let cache = caches.get(name);
    if (!cache) caches.set(name, (cache = { data: undefined }));
    const source = librarySource(name);
    const filename = `library:${name}`;
    const script = await compile(isolate, source, filename, cache);
    try {
      await script.run(context, { timeout: LOAD_TIMEOUT_MS });
    } finally {
      script.release();
    }
    await fill(isolate, source, filename, cache);
  }
}
