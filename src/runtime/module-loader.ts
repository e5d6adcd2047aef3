/**
 * ES module mode for run-file: compile the entry, resolve imports inside the
 * worktree (relative to the importer; bare specifiers through resolver roots;
 * "/x" only when repo-absolute imports are allowed), try the configured
 * extensions and index files. Every candidate is read through the worktree
 * boundary (./paths.ts): outside, FIFOs and devices are refused there.
 * One module instance per file per run, so a file imported twice runs once.
 */
import { dirname, join, normalize } from "node:path";
import type ivm from "isolated-vm";
import { isInside, PathError, readImportCandidate, toRelative, type WorktreeFile } from "./paths";
import type { ExceptionDescription, RuntimeOptions } from "./types";

const ENTRY_SPECIFIER = "vmsystem:entry-module";

export class ImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Error";
  }
}

/** What a module graph resolves imports with (a recording run wraps it: see SessionRuntime). */
export interface ImportResolver {
  resolve(specifier: string, importer: string): Promise<WorktreeFile>;
}

export class ModuleResolver implements ImportResolver {
  constructor(
    private readonly root: string,
    private readonly opts: RuntimeOptions["resolver"],
  ) {}

  /** The file an import names, read: the first candidate that is a file. */
  async resolve(specifier: string, importer: string): Promise<WorktreeFile> {
    const from = toRelative(this.root, importer);
    const bases = this.bases(specifier, importer, from);
    for (const base of bases) {
      if (!isInside(this.root, base)) {
        throw new ImportError(`Import '${specifier}' from '${from}' resolves outside the worktree`);
      }
      for (const candidate of this.candidates(base)) {
        let found: WorktreeFile | undefined;
        try {
          found = await readImportCandidate(this.root, candidate);
        } catch (e) {
          const why = e instanceof PathError ? e.message : "it cannot be read";
          throw new ImportError(`Import '${specifier}' from '${from}' is refused: ${why}`);
        }
        if (found) return found;
      }
    }
    throw new ImportError(`Cannot find module '${specifier}' imported from '${from}'`);
  }

  private bases(specifier: string, importer: string, from: string): string[] {
    if (specifier.startsWith("./") || specifier.startsWith("../") || specifier === "." || specifier === "..") {
      return [normalize(join(dirname(importer), specifier))];
    }
    if (specifier.startsWith("/")) {
      if (!this.opts.allowAbsoluteRepoImports) {
        throw new ImportError(`Import '${specifier}' from '${from}': absolute imports are not allowed`);
      }
      return [normalize(join(this.root, specifier))];
    }
    if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(specifier)) {
      throw new ImportError(`Import '${specifier}' from '${from}': URL imports are not supported`);
    }
    if (this.opts.roots.length === 0) {
      throw new ImportError(`Cannot find module '${specifier}' imported from '${from}' (no resolver roots configured)`);
    }
    return this.opts.roots.map((r) => normalize(join(this.root, r, specifier)));
  }

  private candidates(base: string): string[] {
    const exts = this.opts.extensions;
    return [base, ...exts.map((e) => base + e), ...exts.map((e) => join(base, "index" + e))];
  }
}

/** Loads one run's module graph; remembers the first import failure for a clean report. */
export class ModuleGraph {
  private readonly byPath = new Map<string, Promise<ivm.Module>>();
  private readonly pathOf = new Map<ivm.Module, string>();
  importFailure?: ExceptionDescription;
  private wrapper?: ivm.Module;
  private entry?: WorktreeFile;

  constructor(
    private readonly isolate: ivm.Isolate,
    private readonly root: string,
    private readonly resolver: ImportResolver,
  ) {}

  load(file: WorktreeFile): Promise<ivm.Module> {
    let pending = this.byPath.get(file.abs);
    if (!pending) {
      pending = this.isolate.compileModule(file.source, { filename: toRelative(this.root, file.abs) }).then((m) => {
        this.pathOf.set(m, file.abs);
        return m;
      });
      this.byPath.set(file.abs, pending);
    }
    return pending;
  }

  /**
   * The module actually evaluated: imports the entry and hands its namespace
   * to the sandbox's completion hook (see settleModule in sandbox/prelude.ts).
   */
  async loadEntry(file: WorktreeFile, hook: string): Promise<ivm.Module> {
    this.entry = file;
    const source = `import * as ns from ${JSON.stringify(ENTRY_SPECIFIER)};\nglobalThis[${JSON.stringify(hook)}](ns);\n`;
    this.wrapper = await this.isolate.compileModule(source, { filename: "vmsystem:entry" });
    return this.wrapper;
  }

  async instantiate(entry: ivm.Module, context: ivm.Context): Promise<void> {
    await entry.instantiate(context, async (specifier, referrer) => {
      try {
        if (referrer === this.wrapper && specifier === ENTRY_SPECIFIER && this.entry) return await this.load(this.entry);
        const importer = this.pathOf.get(referrer);
        if (importer === undefined) throw new ImportError(`Cannot resolve '${specifier}': unknown importer`);
        return await this.load(await this.resolver.resolve(specifier, importer));
      } catch (e) {
        this.importFailure ??= describeImportFailure(e);
        throw e;
      }
    });
  }

  release(): void {
    for (const m of [...this.pathOf.keys(), ...(this.wrapper ? [this.wrapper] : [])]) {
      try {
        m.release();
      } catch {
        // already gone with the isolate
      }
    }
  }
}

function describeImportFailure(e: unknown): ExceptionDescription {
  const err = e instanceof Error ? e : new Error(String(e));
  const name = err.name || "Error";
  // Errors made on the host carry host frames; only the first line is the sandbox's business.
  const header = `${name}: ${err.message}`;
  return { name, message: err.message, stack: header };
}
