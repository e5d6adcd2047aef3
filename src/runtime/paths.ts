/**
 * The worktree boundary: the one check for every path user input names.
 * Worktrees themselves (CreateSession), run-file targets and startup files,
 * ES module imports, the fs module and the database module's file all go
 * through here, so there is one algorithm to get right:
 *
 * 1. as text: no NUL, relative (or, for fs, absolute inside the worktree),
 *    no `..` out of it;
 * 2. on disk: the real path of the nearest existing ancestor, plus the part
 *    not created yet, must stay inside (so no symlink on the way leads out);
 * 3. only regular files and directories: a FIFO, device or socket is refused
 *    before it is opened (reading a FIFO would block the event loop);
 * 4. files are opened O_NOFOLLOW|O_NONBLOCK and checked again through the
 *    descriptor (fstat, and /proc/self/fd for where it really is), so a swap
 *    between the check and the open cannot lead out or to a special file.
 *
 * The steps are written once as generators of fs calls, run either
 * synchronously (the fs and database modules answer the isolate
 * synchronously) or asynchronously (everything called from async code).
 */
import * as fs from "node:fs";
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from "node:path";
import { promisify } from "node:util";
import { RuntimeError } from "./types";

/**
 * reason: what an RPC answers (INVALID_PATH or FILE_NOT_FOUND);
 * errno: what the sandbox's fs error carries as `code`.
 */
export class PathError extends RuntimeError {
  constructor(
    reason: "INVALID_PATH" | "FILE_NOT_FOUND",
    readonly errno: string,
    message: string,
  ) {
    super(reason, message);
  }
}

export function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The worktree-relative form used in messages and stack frames. */
export function toRelative(root: string, abs: string): string {
  return relative(root, abs).split(sep).join("/") || ".";
}

/** A user's path as messages quote it: bounded, control characters escaped. */
function shown(path: string): string {
  const clipped = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  return JSON.stringify(clipped).slice(1, -1).replace(/'/g, "\\'");
}

const outside = (path: string, how = "is outside the worktree") => new PathError("INVALID_PATH", "EACCES", `path '${shown(path)}' ${how}`);

// ---- the server's own files ----

/**
 * Real paths of the server's own data (its data directory, TLS files). A
 * worktree may contain them (a server started in the checkout it serves),
 * but no path through it reaches them: `fs` could otherwise rewrite the
 * embedded database, and `database.configure` open it. Process-wide because
 * it is what this process must keep: set by the server at start.
 */
const serverPaths = new Set<string>();

/** Protects these paths (those that exist) until the returned function is called. */
export function protectServerPaths(paths: string[]): () => void {
  const added: string[] = [];
  for (const p of paths) {
    let real: string;
    try {
      real = fs.realpathSync.native(p);
    } catch {
      continue;
    }
    if (!serverPaths.has(real)) added.push(real);
    serverPaths.add(real);
  }
  return () => added.forEach((p) => serverPaths.delete(p));
}

function isServerPath(real: string): boolean {
  for (const p of serverPaths) if (isInside(p, real)) return true;
  return false;
}

function refuseServerPath(real: string, path: string): void {
  if (isServerPath(real)) throw new PathError("INVALID_PATH", "EACCES", `path '${shown(path)}' is the server's own data`);
}

// ---- 1. text ----

/**
 * A path with no file system involved: relative (absolute only when
 * `absoluteInside` and then inside root) and not climbing out. Returns it
 * resolved against root.
 */
export function lexicalTarget(root: string, path: string, absoluteInside = false): string {
  if (path.includes("\u0000")) throw new PathError("INVALID_PATH", "EINVAL", `path '${shown(path)}' contains a NUL character`);
  if (isAbsolute(path) && !absoluteInside) throw new PathError("INVALID_PATH", "EACCES", `path '${shown(path)}' must be relative to the worktree`);
  const abs = normalize(isAbsolute(path) ? path : join(root, path));
  if (!isInside(root, abs)) throw outside(path);
  return abs;
}

/** Whether a relative path stays inside whatever it is relative to ("a/b", not "/a", "../a", "a\\b"). */
export function relativeStaysInside(path: string): boolean {
  if (path === "" || path.includes("\\")) return false;
  try {
    lexicalTarget("/r", path);
    return true;
  } catch {
    return false;
  }
}

// ---- the fs calls the steps make, run sync or async ----

type Call = ["lstat", string] | ["realpath", string] | ["open", string, number, number] | ["fstat", number] | ["readlink", string] | ["close", number];
type Steps<T> = Generator<Call, T, unknown>;

const SYNC: Record<Call[0], (...args: never[]) => unknown> = {
  lstat: fs.lstatSync,
  realpath: fs.realpathSync.native,
  open: fs.openSync,
  fstat: fs.fstatSync,
  readlink: fs.readlinkSync,
  close: fs.closeSync,
};
const ASYNC: Record<Call[0], (...args: never[]) => Promise<unknown>> = {
  lstat: fs.promises.lstat,
  realpath: fs.promises.realpath,
  open: promisify(fs.open),
  fstat: promisify(fs.fstat),
  readlink: fs.promises.readlink,
  close: promisify(fs.close),
};

function runSync<T>(steps: Steps<T>): T {
  let next = steps.next();
  while (!next.done) {
    const [name, ...args] = next.value;
    let result: unknown;
    try {
      result = (SYNC[name] as (...a: unknown[]) => unknown)(...args);
    } catch (e) {
      next = steps.throw(e);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}

async function runAsync<T>(steps: Steps<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    const [name, ...args] = next.value;
    let result: unknown;
    try {
      result = await (ASYNC[name] as (...a: unknown[]) => Promise<unknown>)(...args);
    } catch (e) {
      next = steps.throw(e);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}

function* call<T>(c: Call): Steps<T> {
  return (yield c) as T;
}

const errnoOf = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code;
const isMissing = (e: unknown) => errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR";

// ---- 2. and 3. on disk ----

interface Located {
  /** Real path (symlinks resolved; the last component only if followed). */
  real: string;
  /** lstat of `real`; absent when nothing is there yet. */
  stats?: fs.Stats;
}

function kindOf(stats: fs.Stats): string | undefined {
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return undefined;
}

function refuseSpecial(stats: fs.Stats | undefined, path: string): void {
  const kind = stats && kindOf(stats);
  if (kind) throw new PathError("INVALID_PATH", "EACCES", `path '${shown(path)}' is ${kind}: only regular files and directories can be used`);
}

/** Where `abs` (lexically inside root) really leads; `path` is the user's spelling, for messages. */
function* locate(root: string, abs: string, path: string, follow: boolean): Steps<Located> {
  let existing = abs;
  let stats: fs.Stats;
  for (;;) {
    try {
      stats = yield* call<fs.Stats>(["lstat", existing]);
      break;
    } catch (e) {
      if (!isMissing(e) || existing === root) throw e;
      existing = dirname(existing);
    }
  }
  if (existing === abs && !follow) {
    const real = join(yield* call<string>(["realpath", dirname(abs)]), basename(abs));
    if (!isInside(root, real)) throw outside(path, "leads outside the worktree through a symlink");
    refuseServerPath(real, path);
    return { real, stats };
  }
  let real: string;
  try {
    real = yield* call<string>(["realpath", existing]);
  } catch (e) {
    if (isMissing(e) || errnoOf(e) === "ELOOP") throw outside(path, "is a dangling symlink");
    throw e;
  }
  if (existing !== abs) real = join(real, relative(existing, abs));
  if (!isInside(root, real)) throw outside(path, "leads outside the worktree through a symlink");
  refuseServerPath(real, path);
  if (existing !== abs) return { real };
  if (stats.isSymbolicLink()) stats = yield* call<fs.Stats>(["lstat", real]);
  return { real, stats };
}

const { O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/**
 * Opens a located regular file without following a last-moment symlink or
 * blocking on a last-moment FIFO, and checks the descriptor itself.
 */
function* openChecked(root: string, real: string, path: string, flags: number): Steps<number> {
  const fd = yield* call<number>(["open", real, flags | O_NOFOLLOW | O_NONBLOCK, 0o666]);
  try {
    const stats = yield* call<fs.Stats>(["fstat", fd]);
    refuseSpecial(stats, path);
    if (stats.isDirectory()) throw new PathError("INVALID_PATH", "EISDIR", `path '${shown(path)}' is a directory, not a file`);
    let where: string | undefined;
    try {
      where = yield* call<string>(["readlink", `/proc/self/fd/${fd}`]);
    } catch {
      // no /proc (not Linux): the checks before the open stand alone
    }
    if (where !== undefined && !isInside(root, where.replace(/ \(deleted\)$/, ""))) throw outside(path, "leads outside the worktree");
    if (where !== undefined) refuseServerPath(where, path);
    return fd;
  } catch (e) {
    yield* call(["close", fd]);
    throw e;
  }
}

function* existingFile(root: string, abs: string, path: string): Steps<{ real: string; fd: number }> {
  const { real, stats } = yield* locate(root, abs, path, true);
  if (!stats) throw new PathError("FILE_NOT_FOUND", "ENOENT", `file '${shown(path)}' not found in the worktree`);
  refuseSpecial(stats, path);
  if (stats.isDirectory()) throw new PathError("INVALID_PATH", "EISDIR", `path '${shown(path)}' is a directory, not a file`);
  return { real, fd: yield* openChecked(root, real, path, fs.constants.O_RDONLY) };
}

// ---- what the sandbox's modules use (synchronous) ----

/**
 * A sandbox path (relative to the worktree, or absolute inside it) as its
 * real path. followFinal: whether the operation follows a symlink in the last
 * component (read/write do, and then a FIFO, device or socket there is
 * refused; rm removes the link or node itself).
 */
export function confine(root: string, userPath: string, followFinal: boolean): string {
  const { real, stats } = runSync(locate(root, lexicalTarget(root, userPath, true), userPath, followFinal));
  if (followFinal) refuseSpecial(stats, userPath);
  return real;
}

/** Whether anything is at a sandbox path (outside paths still throw). */
export function existsInside(root: string, userPath: string): boolean {
  return runSync(locate(root, lexicalTarget(root, userPath, true), userPath, true)).stats !== undefined;
}

/**
 * Opens a regular file at a sandbox path: "read" an existing one, "write"
 * (created if missing, not truncated: the caller truncates once the
 * descriptor is checked) or "append". The caller closes the descriptor.
 */
export function openInside(root: string, userPath: string, how: "read" | "write" | "append"): number {
  const abs = lexicalTarget(root, userPath, true);
  if (how === "read") {
    try {
      return runSync(existingFile(root, abs, userPath)).fd;
    } catch (e) {
      // A missing file reads as Node's own ENOENT error.
      if (e instanceof PathError && e.errno === "ENOENT")
        throw Object.assign(new Error("ENOENT: no such file or directory"), { code: "ENOENT", syscall: "open" });
      throw e;
    }
  }
  const { O_CREAT, O_WRONLY, O_APPEND } = fs.constants;
  return runSync(
    (function* () {
      const { real, stats } = yield* locate(root, abs, userPath, true);
      refuseSpecial(stats, userPath);
      return yield* openChecked(root, real, userPath, O_WRONLY | O_CREAT | (how === "append" ? O_APPEND : 0));
    })(),
  );
}

// ---- run-file targets, startup files and imports (asynchronous) ----

export interface WorktreeFile {
  /** Real path. */
  abs: string;
  /** Worktree-relative, as the user named it (normalized). */
  rel: string;
  source: string;
}

/** Reads a regular file at `abs` (lexically inside root) as UTF-8 text. */
async function readFileAt(root: string, abs: string, path: string): Promise<WorktreeFile> {
  let opened: { real: string; fd: number };
  try {
    opened = await runAsync(existingFile(root, abs, path));
  } catch (e) {
    if (e instanceof PathError) throw e;
    if (isMissing(e)) throw new PathError("FILE_NOT_FOUND", "ENOENT", `file '${shown(path)}' not found in the worktree`);
    throw new PathError("INVALID_PATH", errnoOf(e) ?? "EIO", `file '${shown(path)}' cannot be read (${errnoOf(e) ?? "error"})`);
  }
  try {
    const source = await new Promise<string>((resolve, reject) => fs.readFile(opened.fd, "utf8", (e, text) => (e ? reject(e) : resolve(text))));
    return { abs: opened.real, rel: toRelative(root, abs), source };
  } catch (e) {
    throw new PathError("INVALID_PATH", errnoOf(e) ?? "EIO", `file '${shown(path)}' cannot be read (${errnoOf(e) ?? "error"})`);
  } finally {
    fs.close(opened.fd, () => undefined);
  }
}

/**
 * A run-file target or startup file: a worktree-relative path to a regular
 * file inside the worktree, read once (what is checked is what runs).
 */
export function readWorktreeFile(root: string, relPath: string): Promise<WorktreeFile> {
  if (typeof relPath !== "string" || relPath === "") {
    return Promise.reject(new PathError("INVALID_PATH", "EINVAL", "path must be a non-empty relative path"));
  }
  try {
    return readFileAt(root, lexicalTarget(root, relPath), relPath);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * An import candidate (an absolute path, already lexically checked): the
 * file, or undefined when nothing is there or it is a directory (the
 * resolver tries the next candidate).
 */
export async function readImportCandidate(root: string, abs: string): Promise<WorktreeFile | undefined> {
  try {
    return await readFileAt(root, abs, toRelative(root, abs));
  } catch (e) {
    if (e instanceof PathError && (e.errno === "ENOENT" || e.errno === "EISDIR")) return undefined;
    throw e;
  }
}

// ---- worktrees ----

/** Never a worktree, whatever --worktree-root allows: the host's own trees. */
const SYSTEM_TREES = ["/proc", "/sys", "/dev", "/etc", "/boot", "/root"];

const badWorktree = (path: string, why: string) => new PathError("INVALID_PATH", "EACCES", `worktree_path '${shown(path)}' ${why}`);

/**
 * A session's worktree: absolute, an existing directory, neither `/` nor in
 * a system tree (as given and after realpath), under one of the allowed
 * roots when any are set. Returns its real path.
 */
export async function resolveWorktree(path: string, allowedRoots: string[]): Promise<string> {
  if (!isAbsolute(path) || path.includes("\u0000")) throw badWorktree(path, "must be an absolute path");
  const system = (p: string) => p === "/" || SYSTEM_TREES.some((tree) => isInside(tree, p));
  const refused = () => badWorktree(path, `is / or inside a system directory (${SYSTEM_TREES.join(", ")}), which are never allowed`);
  if (system(normalize(path))) throw refused();
  let real: string;
  let stats: fs.Stats;
  try {
    real = await fs.promises.realpath(path);
    stats = await fs.promises.stat(real);
  } catch {
    throw badWorktree(path, "does not exist");
  }
  if (system(real)) throw refused();
  if (isServerPath(real)) throw badWorktree(path, "is inside the server's own data directory");
  if (!stats.isDirectory()) throw badWorktree(path, "is not a directory");
  if (allowedRoots.length > 0) {
    const roots = await Promise.all(allowedRoots.map((r) => fs.promises.realpath(r).catch(() => normalize(r))));
    if (!roots.some((r) => isInside(r, real))) throw badWorktree(path, "is outside every allowed worktree root");
  }
  return real;
}
