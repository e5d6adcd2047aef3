/**
 * require('fs'): synchronous, confined to the worktree (every path goes
 * through ../paths.ts), optionally read-only. Paths are relative to the
 * worktree or absolute inside it. Reads and writes touch regular files and
 * directories only: a FIFO, device or socket is refused, never opened in a
 * way that could block the server.
 */
import { closeSync, ftruncateSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { confine, existsInside, openInside } from "../paths";
import { optionsObject, requireString, SandboxError } from "./errors";

export type ModuleMethod = (...args: unknown[]) => unknown;

function fileData(data: unknown): string | Uint8Array {
  if (typeof data === "string") return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new SandboxError('The "data" argument must be a string or a Uint8Array', "ERR_INVALID_ARG_TYPE", "TypeError");
}

function withFd<T>(fd: number, use: (fd: number) => T): T {
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

export function createFsModule(root: string, writable: boolean): Record<string, ModuleMethod> {
  const path = (p: unknown) => requireString(p, "path");
  const writing = () => {
    if (!writable) throw new SandboxError("EROFS: the fs module is read-only in this session", "EROFS");
  };
  const write = (p: unknown, how: "write" | "append", data: unknown) => {
    writing();
    const bytes = fileData(data);
    withFd(openInside(root, path(p), how), (fd) => {
      // Truncated only now: the descriptor has been checked to be a regular file inside.
      if (how === "write") ftruncateSync(fd, 0);
      writeFileSync(fd, bytes);
    });
  };

  return {
    readFile(p, encoding = "utf8") {
      if (encoding !== null && encoding !== "buffer" && (typeof encoding !== "string" || !Buffer.isEncoding(encoding))) {
        throw new SandboxError(`Unknown encoding: ${String(encoding)}`, "ERR_INVALID_ARG_VALUE", "TypeError");
      }
      const data = withFd(openInside(root, path(p), "read"), (fd) => readFileSync(fd));
      return encoding === null || encoding === "buffer" ? new Uint8Array(data) : data.toString(encoding as BufferEncoding);
    },
    writeFile(p, data) {
      write(p, "write", data);
    },
    appendFile(p, data) {
      write(p, "append", data);
    },
    readdir(p = ".") {
      return readdirSync(confine(root, path(p), true));
    },
    exists(p) {
      return existsInside(root, path(p));
    },
    stat(p) {
      const s = statSync(confine(root, path(p), true));
      return { size: s.size, isFile: s.isFile(), isDirectory: s.isDirectory(), mtimeMs: s.mtimeMs };
    },
    mkdir(p, options) {
      writing();
      mkdirSync(confine(root, path(p), true), { recursive: Boolean(optionsObject(options, "options").recursive) });
    },
    rm(p, options) {
      writing();
      // The link or node itself is removed, never what a symlink points to.
      const target = confine(root, path(p), false);
      if (target === root) throw new SandboxError("EPERM: the worktree root cannot be removed", "EPERM");
      rmSync(target, { recursive: Boolean(optionsObject(options, "options").recursive) });
    },
  };
}
