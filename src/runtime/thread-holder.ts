/**
 * Which session's synchronous module call holds this thread, for a session
 * host's watchdog (hosts/thread-watch.ts): when the host stops answering, the
 * watchdog can say whose call it is. Two Int32 cells shared with it: [0] the
 * holder's tag (0: nobody), [1] a count of calls, so that one long call
 * tells apart from many short ones. Without a shared array (in the server's
 * own process) it costs nothing.
 */
let cells: Int32Array | undefined;

export function shareThreadHolder(shared: Int32Array): void {
  cells = shared;
}

export function holdingThread<T>(tag: number, call: () => T): T {
  if (!cells || tag === 0) return call();
  Atomics.add(cells, 1, 1);
  Atomics.store(cells, 0, tag);
  try {
    return call();
  } finally {
    Atomics.store(cells, 0, 0);
  }
}
