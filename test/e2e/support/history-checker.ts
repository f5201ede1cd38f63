/**
 * Checks a recorded KV history: linearizability per key (etcd-kv-model.ts with the checker of
 * test/sim), and three whole-store revision rules that per-key checking cannot see:
 * - one value, one revision: every observation of a (unique) value reports the same
 *   mod_revision, and it is the revision its write was acknowledged with;
 * - one write, one revision: no two acknowledged writes that changed the store share a
 *   revision;
 * - revisions follow real time: an operation invoked after another returned answers with a
 *   header revision at least as high, and strictly higher when it changed the store (etcd's
 *   revision is one counter for the whole store, so a stale read of any key shows here).
 */
import {
  type CheckOutcome, checkLinearizable, describeFailure,
} from "../../sim/linearizability.js";
import { etcdKeyModel, toKeyOperations } from "./etcd-kv-model.js";
import { type KvRecord, changedStore, describeRecord } from "./kv-history.js";

/** Search steps per key before the checker answers "unknown". */
export const stepBudgetPerKey = 20_000_000;

export interface HistoryVerdict {
  /** Linearizability of the per-key projections. */
  readonly outcome: CheckOutcome;
  /** Every problem found, each a multi-line report; empty when the history passed. */
  readonly failures: readonly string[];
  /** Search steps per key partition, for the log. */
  readonly steps: readonly number[];
}

function checkValueRevisions(history: readonly KvRecord[]): string[] {
  const seen = new Map<string, { revision: number; record: number }>();
  const failures: string[] = [];
  const note = (value: string, revision: number, record: number): void => {
    const earlier = seen.get(value);
    if (earlier === undefined) seen.set(value, { revision, record });
    else if (earlier.revision !== revision && failures.length < 10) {
      failures.push(`value ${value} reported at revision ${earlier.revision} by ` +
        `#${earlier.record} and at ${revision} by #${record}:\n  ` +
        `${describeRecord(history[earlier.record] as KvRecord)}\n  ` +
        describeRecord(history[record] as KvRecord));
    }
  };
  history.forEach((record, index) => {
    const result = record.result;
    if (result === undefined) return;
    for (const before of result.before) if (before !== null) note(before.value, before.modRevision, index);
    const call = record.call;
    if (call.kind === "put" || (call.kind === "cas" && result.succeeded === true)) {
      note(call.value, result.revision, index);
    }
    if (call.kind === "multiPut") for (const put of call.puts) note(put.value, result.revision, index);
  });
  return failures;
}

function checkUniqueWriteRevisions(history: readonly KvRecord[]): string[] {
  const byRevision = new Map<number, number>();
  const failures: string[] = [];
  history.forEach((record, index) => {
    if (!changedStore(record) || record.result === undefined) return;
    const other = byRevision.get(record.result.revision);
    if (other !== undefined && failures.length < 10) {
      failures.push(`two writes acknowledged at revision ${record.result.revision}:\n  ` +
        `#${other} ${describeRecord(history[other] as KvRecord)}\n  #${index} ${describeRecord(record)}`);
    }
    byRevision.set(record.result.revision, index);
  });
  return failures;
}

function checkRealTimeRevisions(history: readonly KvRecord[]): string[] {
  const known = history.map((record, index) => ({ record, index }))
    .filter((item) => item.record.result !== undefined);
  const byInvoke = [...known].sort((a, b) => a.record.invokeMs - b.record.invokeMs);
  const byReturn = [...known].sort((a, b) => a.record.returnMs - b.record.returnMs);
  const failures: string[] = [];
  let returned = 0;
  let highest: { revision: number; index: number } = { revision: 0, index: -1 };
  for (const { record, index } of byInvoke) {
    for (; returned < byReturn.length; returned += 1) {
      const done = byReturn[returned];
      if (done === undefined || done.record.returnMs >= record.invokeMs) break;
      const revision = done.record.result?.revision ?? 0;
      if (revision > highest.revision) highest = { revision, index: done.index };
    }
    const revision = record.result?.revision ?? 0;
    const strict = changedStore(record);
    if (revision > highest.revision || (!strict && revision === highest.revision)) continue;
    if (failures.length < 10) {
      failures.push(`revision went back in real time: #${highest.index} returned revision ` +
        `${highest.revision} before #${index} was invoked, which answered ${revision}:\n  ` +
        `${describeRecord(history[highest.index] as KvRecord)}\n  ${describeRecord(record)}`);
    }
  }
  return failures;
}

/** Checks a whole history; see the file comment. */
export function checkHistory(history: readonly KvRecord[]): HistoryVerdict {
  const failures = [
    ...checkValueRevisions(history),
    ...checkUniqueWriteRevisions(history),
    ...checkRealTimeRevisions(history),
  ];
  const model = etcdKeyModel();
  const operations = toKeyOperations(history);
  const result = checkLinearizable(model, operations, { stepBudgetPerPartition: stepBudgetPerKey });
  for (const partition of result.partitions) {
    if (partition.outcome === "ok") continue;
    failures.push(`not linearizable (${partition.outcome}): ` +
      describeFailure(model, operations, partition, 40));
  }
  return {
    outcome: result.outcome, failures, steps: result.partitions.map((partition) => partition.steps),
  };
}
