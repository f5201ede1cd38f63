/**
 * Long synchronous work cut into slices with turns of the event loop between them. The work
 * is a generator that `yield`s at each point where it may pause; `runAtOnce` runs it straight
 * through, `runInSlices` gives the event loop (timers, I/O, other requests) a turn at each
 * pause. One thread serves Raft, the state machine and every client, so a snapshot of many
 * megabytes is encoded and checksummed this way.
 */

/** Resolves on a later turn of the event loop, after pending I/O callbacks. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => { setImmediate(resolve); });
}

/** Runs `steps` to its end without pausing; returns its result. */
export function runAtOnce<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** Runs `steps` to its end, a turn of the event loop at each pause; resolves with its result. */
export async function runInSlices<T>(steps: Generator<void, T, void>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await nextTurn();
  }
}
