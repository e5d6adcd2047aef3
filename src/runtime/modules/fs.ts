/**
 * require('fs'): synchronous, confined to the worktree (see ../paths.ts),
 * optionally read-only. Paths are relative to the worktree or absolute inside it.
 */
import {
  appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from "node:fs";
import { confine } from "../paths";
import { optionsObject, requireString, SandboxError } from "./errors";

export type ModuleMethod = (...args: unknown[]) => unknown;

function fileData(data: unknown): string | Uint8Array {
  if (typeof data === "string") return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new SandboxError('The "data" argument must be a string or a Uint8Array', "ERR_INVALID_ARG_TYPE", "TypeError");
}

export function createFsModule(root: string, writable: boolean): Record<string, ModuleMethod> {
  const read = (p: unknown) => confine(root, requireString(p, "path"), true);
  const write = (p: unknown, followFinal = true) => {
    if (!writable) throw new SandboxError("EROFS: the fs module is read-only in this session", "EROFS");
    return confine(root, requireString(p, "path"), followFinal);
  };

  return {
    readFile(p, encoding = "utf8") {
      const abs = read(p);
      if (encoding === null || encoding === "buffer") return new Uint8Array(readFileSync(abs));
      if (typeof encoding !== "string" || !Buffer.isEncoding(encoding)) {
        throw new SandboxError(`Unknown encoding: ${String(encoding)}`, "ERR_INVALID_ARG_VALUE", "TypeError");
      }
      return readFileSync(abs, encoding);
    },
    writeFile(p, data) {
      writeFileSync(write(p), fileData(data));
    },
    appendFile(p, data) {
      appendFileSync(write(p), fileData(data));
    },
    readdir(p = ".") {
      return readdirSync(read(p));
    },
    exists(p) {
      return existsSync(read(p));
    },
    stat(p) {
      const s = statSync(read(p));
      return { size: s.size, isFile: s.isFile(), isDirectory: s.isDirectory(), mtimeMs: s.mtimeMs };
    },
    mkdir(p, options) {
      mkdirSync(write(p), { recursive: Boolean(optionsObject(options, "options").recursive) });
    },
    rm(p, options) {
      const abs = write(p, false);
      if (abs === root) throw new SandboxError("EPERM: the worktree root cannot be removed", "EPERM");
      rmSync(abs, { recursive: Boolean(optionsObject(options, "options").recursive) });
    },
  };
}
