/**
 * What every new isolate of a session starts from: the prelude's source
 * (which embeds this V8's built-in names) and its V8 code cache, made once
 * per LocalRuntimes, and the helpers that make an isolate and compile the
 * prelude's setup function in a context.
 */
import ivm from "isolated-vm";
import { compileSync, type CodeCache } from "./code-cache";
import { BUILT_IN_NAMES_PROBE } from "./sandbox/prelude";
import { PRELUDE_FILENAME } from "./stack";

/** isolated-vm refuses less. */
export const MIN_MEMORY_MB = 8;

export interface PreludeCode {
  source: string;
  cache: CodeCache;
}

/** This V8's global constructor names (the prelude embeds them: see BUILT_IN_NAMES_PROBE). */
export function builtInNames(isolate: ivm.Isolate): string[] {
  const probe = isolate.createContextSync();
  try {
    return JSON.parse(probe.evalSync(BUILT_IN_NAMES_PROBE) as string) as string[];
  } finally {
    probe.release();
  }
}

/** isolated-vm's "V8 lost control" hook, told which isolate it was (isolated-vm registers it per isolate). */
export type CatastrophicHandler = (message: string, isolate: ivm.Isolate) => void;

export function newIsolate(memMb: number, onCatastrophicError?: CatastrophicHandler): ivm.Isolate {
  if (!onCatastrophicError) return new ivm.Isolate({ memoryLimit: Math.max(MIN_MEMORY_MB, memMb) });
  const isolate: ivm.Isolate = new ivm.Isolate({
    memoryLimit: Math.max(MIN_MEMORY_MB, memMb),
    onCatastrophicError: (message) => onCatastrophicError(message, isolate),
  });
  return isolate;
}

/** The prelude's compiled setup function in a context: what a runtime's init starts from. */
export function preludeSetup(isolate: ivm.Isolate, context: ivm.Context, code: PreludeCode): ivm.Reference {
  const script = compileSync(isolate, code.source, PRELUDE_FILENAME, code.cache);
  try {
    return script.runSync(context, { reference: true }) as ivm.Reference;
  } finally {
    script.release();
  }
}
