/**
 * Sessions' runtimes in session host processes (`--session-hosts N`): the
 * runtime port (core/ports.ts `Runtimes`) over a pool of N hosts. A new
 * runtime goes to the host with the fewest; a host that ends is replaced,
 * and what ran on it ends as HostProcess describes. A runtime that asks for
 * a dedicated host (runtime.dedicated_host) gets a new host process of its
 * own, outside the pool, which ends with that runtime and is not replaced.
 */
import { dirname, join } from "node:path";
import type { Runtimes } from "../core/ports";
import type { Logger } from "../log";
import type { RuntimeOptions } from "../runtime/types";
import { HostProcess, type RemoteSessionRuntime } from "./host-process";
import type { HostUser } from "./host-user";

/** A host that dies before it is ready is replaced after this, so a host that cannot start does not spin. */
const RESTART_DELAY_MS = 1000;

/** Hosts run compiled code: from dist/ also when this module runs from the sources (vitest). */
function hostEntry(): string {
  return __filename.endsWith(".ts") ? join(__dirname, "..", "..", "dist", "src", "hosts", "host-main.js") : join(__dirname, "host-main.js");
}

/** What a host loads from the install: its entry and isolated-vm's native module (see checkHostUserReads). */
export function hostCodePaths(): string[] {
  const ivm = require.resolve("isolated-vm");
  return [hostEntry(), ivm, join(dirname(ivm), "out", "isolated_vm.node")];
}

export interface RemoteRuntimesOptions {
  hosts: number;
  log: Logger;
  /** The server's own files: refused to sessions in the hosts too (runtime/paths.ts protectServerPaths). */
  serverPaths: string[];
  /** --host-memory-mb: a host whose RSS passes it is killed (0: off). */
  hostMemoryMb?: number;
  /** --host-user: hosts are forked as this uid/gid. */
  hostUser?: HostUser;
}

export class RemoteRuntimes implements Runtimes {
  private readonly hosts: HostProcess[] = [];
  private readonly dedicated = new Set<HostProcess>();
  private closing = false;
  /** Resolves when the next host starts. */
  private started!: Promise<void>;
  private onStarted = () => undefined as void;
  private readonly entry = hostEntry();

  constructor(private readonly options: RemoteRuntimesOptions) {
    for (let slot = 0; slot < options.hosts; slot++) this.start(slot);
  }

  /** Resolves once every host has warmed up (or failed to). */
  warmUp(): Promise<void> {
    return Promise.allSettled(this.hosts.map((h) => h.ready)).then(() => undefined);
  }

  async create(options: RuntimeOptions): Promise<RemoteSessionRuntime> {
    if (options.runtime.dedicatedHost === true) return this.createDedicated(options);
    let host = this.leastLoaded();
    // Every host is being replaced (one host, just lost): wait for a new one.
    while (host.exited && !this.closing) {
      await this.started;
      host = this.leastLoaded();
    }
    await host.ready;
    return host.create(options);
  }

  keepSpare(memMb: number): void {
    const host = this.leastLoaded();
    void host.ready.then(
      () => host.keepSpare(memMb),
      () => undefined,
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    this.onStarted();
    await Promise.all([...this.hosts, ...this.dedicated].map((h) => h.terminate()));
  }

  /** Live hosts' process ids, by slot. */
  pids(): Array<number | undefined> {
    return this.hosts.map((h) => h.child.pid);
  }

  private leastLoaded(): HostProcess {
    let best = this.hosts[0];
    for (const h of this.hosts) if ((best.exited && !h.exited) || (h.exited === best.exited && h.load < best.load)) best = h;
    return best;
  }

  /** A host of the runtime's own; it ends itself once the runtime is gone (HostProcess retireIfEmpty). */
  private async createDedicated(options: RuntimeOptions): Promise<RemoteSessionRuntime> {
    if (this.closing) throw new Error("the session hosts are closing");
    const { log } = this.options;
    const host = this.newHost(true);
    this.dedicated.add(host);
    log.info({ pid: host.child.pid, dedicated: true }, "session host started");
    void host.ended.then((end) => {
      this.dedicated.delete(host);
      const fields = { pid: host.child.pid, dedicated: true, code: end.code, signal: end.signal, cause: end.cause };
      if (end.terminated) log.info(fields, "dedicated session host ended");
      else log.error(fields, "dedicated session host ended");
    });
    await host.ready;
    return host.create(options);
  }

  private newHost(dedicated: boolean): HostProcess {
    const { log, serverPaths, hostMemoryMb, hostUser } = this.options;
    return new HostProcess(this.entry, { log, serverPaths, memoryMb: hostMemoryMb ?? 0, dedicated, user: hostUser });
  }

  private start(slot: number): void {
    const { log } = this.options;
    const host = this.newHost(false);
    this.hosts[slot] = host;
    this.onStarted();
    this.started = new Promise((resolve) => (this.onStarted = resolve));
    log.info({ slot, pid: host.child.pid }, "session host started");
    void host.ended.then((end) => {
      if (this.closing) return;
      log.error({ slot, pid: host.child.pid, code: end.code, signal: end.signal, cause: end.cause }, "session host ended: replacing it");
      if (end.beforeReady) setTimeout(() => this.closing || this.start(slot), RESTART_DELAY_MS).unref();
      else this.start(slot);
    });
  }
}
