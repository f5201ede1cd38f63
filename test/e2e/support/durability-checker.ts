/**
 * No acknowledged write lost, nothing invented: the store's full history (the reference
 * replay, see watch-checker.ts) against the client history.
 * - every write acknowledged as having changed the store is in the history at the revision it
 *   was acknowledged with, with its value (a delete as a DELETE of its key);
 * - every PUT in the history is a client's write, applied at most once, and a multi-key txn
 *   is all at one revision or not there at all (indeterminate ones included);
 * - the final linearizable read of every key on every member equals the state the history
 *   ends in.
 */
import { type KvRecord, type KvSnapshot, changedStore, describeRecord, describeSnapshot } from "./kv-history.js";
import { type WatchEvent, } from "./watch-recorder.js";
import { describeEvent, finalState } from "./watch-checker.js";

const failuresMax = 10;

function eventsByValue(reference: readonly WatchEvent[], failures: string[]): Map<string, WatchEvent> {
  const byValue = new Map<string, WatchEvent>();
  for (const event of reference) {
    if (event.type !== "PUT") continue;
    const earlier = byValue.get(event.value);
    if (earlier !== undefined) {
      failures.push(`value applied twice: ${describeEvent(earlier)} and ${describeEvent(event)}`);
    }
    byValue.set(event.value, event);
  }
  return byValue;
}

function checkAcknowledged(
  record: KvRecord, byValue: ReadonlyMap<string, WatchEvent>,
  reference: readonly WatchEvent[], failures: string[],
): void {
  const revision = record.result?.revision ?? 0;
  const call = record.call;
  if (call.kind === "delete") {
    const found = reference.some((event) => event.type === "DELETE" && event.key === call.key &&
      event.modRevision === revision);
    if (!found) failures.push(`acknowledged delete lost: ${describeRecord(record)}`);
    return;
  }
  const writes = call.kind === "multiPut" ? call.puts
    : call.kind === "get" ? [] : [{ key: call.key, value: call.value }];
  for (const write of writes) {
    const event = byValue.get(write.value);
    if (event?.key !== write.key || event.modRevision !== revision) {
      failures.push(`acknowledged write lost or moved: ${describeRecord(record)}; history has ` +
        (event === undefined ? "no such value" : describeEvent(event)));
    }
  }
}

function checkOrigins(
  history: readonly KvRecord[], byValue: ReadonlyMap<string, WatchEvent>, failures: string[],
): void {
  const written = new Set<string>();
  for (const record of history) {
    const call = record.call;
    if (call.kind === "multiPut") {
      for (const put of call.puts) written.add(put.value);
      const revisions = new Set(call.puts.map((put) => byValue.get(put.value)?.modRevision));
      if (revisions.size > 1) {
        failures.push(`multi-key txn not atomic: revisions ${[...revisions].join(", ")} ` +
          `for ${describeRecord(record)}`);
      }
    } else if (call.kind === "put" || call.kind === "cas") {
      written.add(call.value);
    }
  }
  for (const [value, event] of byValue) {
    if (!written.has(value)) failures.push(`write nobody made: ${describeEvent(event)}`);
  }
}

/** Final linearizable reads: member name → key → snapshot, for every key of the run. */
export type FinalReads = ReadonlyMap<string, ReadonlyMap<string, KvSnapshot>>;

export function checkDurability(
  history: readonly KvRecord[], reference: readonly WatchEvent[], finalReads: FinalReads,
  keys: readonly string[],
): string[] {
  const failures: string[] = [];
  const byValue = eventsByValue(reference, failures);
  for (const record of history) {
    if (changedStore(record)) checkAcknowledged(record, byValue, reference, failures);
  }
  checkOrigins(history, byValue, failures);
  const state = finalState(reference);
  for (const [member, reads] of finalReads) {
    for (const key of keys) {
      const want = state.get(key) ?? null;
      const have = reads.get(key) ?? null;
      if (describeSnapshot(want) !== describeSnapshot(have)) {
        failures.push(`final read of ${key} on ${member}: ${describeSnapshot(have)}, ` +
          `the history ends with ${describeSnapshot(want)}`);
      }
    }
  }
  return failures.slice(0, failuresMax);
}
