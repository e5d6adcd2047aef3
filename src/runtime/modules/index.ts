/**
 * The host side of require(): one dispatcher for the synchronous modules and
 * one for exec, both answering with envelopes (never throwing into the isolate).
 */
import { createDatabaseModule, type DatabaseModule } from "./database";
import { toErrorInfo, type Envelope } from "./errors";
import { ProcessGroups, runExec } from "./exec";
import { createFsModule, type ModuleMethod } from "./fs";
import { createPathModule } from "./path";

export const MODULE_NAMES = ["fs", "path", "database", "exec"] as const;

export interface HostModulesOptions {
  root: string;
  granted: string[];
  allowExec: boolean;
  fsWritable: boolean;
}

export class HostModules {
  private readonly sync = new Map<string, Record<string, ModuleMethod>>();
  private readonly database?: DatabaseModule;
  private readonly groups = new ProcessGroups();
  /** Set by the runtime for each run: exec's env and default timeout. */
  runEnv: Record<string, string> = {};
  remainingWallMs: () => number = () => 30_000;

  constructor(private readonly opts: HostModulesOptions) {
    const granted = new Set(opts.granted);
    if (granted.has("fs")) this.sync.set("fs", createFsModule(opts.root, opts.fsWritable));
    if (granted.has("path")) this.sync.set("path", createPathModule(opts.root));
    if (granted.has("database")) {
      this.database = createDatabaseModule(opts.root);
      this.sync.set("database", this.database.methods);
    }
  }

  call(mod: string, method: string, args: unknown[]): Envelope {
    const fn = this.sync.get(mod)?.[method];
    if (!fn) return { ok: false, error: { name: "Error", message: `${mod}.${method} is not available` } };
    try {
      return { ok: true, value: fn(...args) };
    } catch (e) {
      return { ok: false, error: toErrorInfo(e, mod === "fs" && typeof args[0] === "string" ? args[0] : undefined) };
    }
  }

  async exec(argv: unknown, options: unknown): Promise<Envelope> {
    if (!this.opts.granted.includes("exec") || !this.opts.allowExec) {
      return { ok: false, error: { name: "Error", message: "Module 'exec' is disabled on this server" } };
    }
    try {
      const value = await runExec(
        { root: this.opts.root, env: this.runEnv, defaultTimeoutMs: Math.max(1, this.remainingWallMs()), groups: this.groups },
        argv,
        options,
      );
      return { ok: true, value };
    } catch (e) {
      return { ok: false, error: toErrorInfo(e) };
    }
  }

  /**
   * In a replay, whether a database call must run again for real rather than
   * be answered from the recording: opening and closing always (the
   * connection is this process's), statements when the database lives only
   * in memory (its rows exist nowhere else). A file database already holds
   * what the recorded statements wrote.
   */
  databaseRunsAgain(method: string): boolean {
    return method === "configure" || method === "close" || this.database?.inMemory() === true;
  }

  /** Children left by a run (or a stopped one), with everything in their process groups. */
  killChildren(): void {
    this.groups.killAll();
  }

  close(): void {
    this.killChildren();
    try {
      this.database?.close();
    } catch {
      // closing twice or mid-statement: nothing left to release
    }
  }
}
