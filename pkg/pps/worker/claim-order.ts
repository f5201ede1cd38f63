/**
 * Which unclaimed tasks a worker tries to claim, in what order (pure). Locality first
 * (DESIGN.md §5: datums run near the shard that holds their files): a task one of whose
 * shards has a replica on this node is claimable at once; any other task only once this
 * worker has seen it waiting for `ppsRemoteClaimDelayMs`, so replica holders go first yet no
 * task waits for ever when every holder is busy or gone.
 *
 * Order: local tasks before remote ones; within each, older tasks (the master's createdMs)
 * first, then by key, so every worker walks the same order and a job's datums run in order.
 */
import type { DatumTaskRecord } from "../task-records.js";
import { ppsRemoteClaimDelayMs } from "./limits.js";

/** A task as the worker's cache holds it: its key suffix ("<job id>/<datum id>"). */
export interface SeenTask {
  readonly suffix: string;
  readonly task: DatumTaskRecord;
  /** When this worker first saw it (its clock's monotonic ms). */
  readonly seenMs: number;
}

/** What the order depends on; every predicate is a lookup, none does I/O. */
export interface ClaimOrderInput {
  readonly tasks: Iterable<SeenTask>;
  /** Whether some worker holds a claim on the task. */
  readonly claimed: (suffix: string) => boolean;
  /** Whether this worker is running or staging it already. */
  readonly busy: (suffix: string) => boolean;
  /** Whether the task's job may run now (known, not final, its pipeline's spec matches). */
  readonly runnable: (task: DatumTaskRecord) => boolean;
  readonly holdsShard: (shard: number) => boolean;
  readonly nowMs: number;
}

/** Whether `task` reads files of a shard this node holds a replica of. */
export function isLocal(task: DatumTaskRecord, holdsShard: (shard: number) => boolean): boolean {
  return task.shards.some((shard) => holdsShard(shard));
}

function compareTasks(a: SeenTask, b: SeenTask): number {
  if (a.task.createdMs !== b.task.createdMs) return a.task.createdMs - b.task.createdMs;
  return a.suffix < b.suffix ? -1 : a.suffix > b.suffix ? 1 : 0;
}

/** The tasks to try, best first: local ones, then remote ones that waited long enough. */
export function claimOrder(input: ClaimOrderInput): SeenTask[] {
  const local: SeenTask[] = [];
  const remote: SeenTask[] = [];
  for (const seen of input.tasks) {
    if (input.claimed(seen.suffix) || input.busy(seen.suffix) || !input.runnable(seen.task)) {
      continue;
    }
    if (isLocal(seen.task, input.holdsShard)) local.push(seen);
    else if (input.nowMs - seen.seenMs >= ppsRemoteClaimDelayMs) remote.push(seen);
  }
  return [...local.sort(compareTasks), ...remote.sort(compareTasks)];
}

/** The slot indexes in [0, parallelism) that `taken` does not hold, ascending. */
export function freeSlots(parallelism: number, taken: (index: number) => boolean): number[] {
  const free: number[] = [];
  for (let index = 0; index < parallelism; index += 1) {
    if (!taken(index)) free.push(index);
  }
  return free;
}
