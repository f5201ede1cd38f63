/**
 * Faults injected into real recordings, to show that the checkers catch what they must: a
 * stale read in a KV history, and gaps, duplicates, reordering, split revisions, bad prev_kv
 * and a bad resume in a watch log. Each returns a changed deep copy and says what it changed,
 * or undefined when the recording offers no place for that fault.
 */
import { type KvRecord, callKeys, changedStore, describeRecord } from "./kv-history.js";
import type { WatchLog, WatchResponseRecord, WatchSession } from "./watch-recorder.js";

export interface Injected<T> {
  readonly value: T;
  readonly detail: string;
}

/**
 * Alters one linearizable read to return an older value of its key: the value an earlier read
 * saw, though a write of that key was acknowledged after that read returned and before this
 * read was invoked. Picks, of such reads, the one with the fewest indeterminate writes of its
 * key invoked before it returned (the latest of those): each such write may take effect at any
 * later point, so the checker must try them all before it can call the history illegal, and
 * behind many of them a sound refutation can run past its step budget ("unknown").
 */
export function injectStaleRead(history: readonly KvRecord[]): Injected<KvRecord[]> | undefined {
  const reads = history.map((record, index) => ({ record, index }))
    .filter(({ record }) => record.call.kind === "get" && record.client >= 0 &&
      record.result?.before[0] !== undefined && record.result.before[0] !== null);
  const writes = history.filter((record) => changedStore(record));
  const keyOf = (record: KvRecord): string => record.call.kind === "get" ? record.call.key : "";
  const openBefore = (key: string, ms: number): number => history.filter((record) =>
    record.result === undefined && record.invokeMs < ms && callKeys(record.call).includes(key))
    .length;
  let best: { victim: typeof reads[number]; older: typeof reads[number]; open: number } | undefined;
  for (let j = reads.length - 1; j >= 0; j -= 1) {
    const victim = reads[j];
    if (victim === undefined) continue;
    const key = keyOf(victim.record);
    const older = reads.slice(0, j).reverse().find(({ record }) => keyOf(record) === key &&
      writes.some((write) => write.call.kind !== "get" && write.invokeMs > record.returnMs &&
        write.returnMs < victim.record.invokeMs && callKeys(write.call).includes(key)));
    if (older?.record.result === undefined || victim.record.result === undefined) continue;
    const open = openBefore(key, victim.record.returnMs);
    if (best === undefined || open < best.open) best = { victim, older, open };
    if (open === 0) break;
  }
  if (best === undefined) return undefined;
  const { victim, older, open } = best;
  if (victim.record.result === undefined || older.record.result === undefined) return undefined;
  const altered: KvRecord = {
    ...victim.record, result: { ...victim.record.result, before: older.record.result.before },
  };
  const copy = [...history];
  copy[victim.index] = altered;
  return {
    value: copy,
    detail: `#${victim.index} ${describeRecord(victim.record)}\n  now ${describeRecord(altered)}` +
      `\n  (older read #${older.index} ${describeRecord(older.record)};` +
      ` ${open} indeterminate writes of the key open before it)`,
  };
}

/** The kinds of watch faults `injectWatchFault` makes. */
export type WatchFault = "gap" | "duplicate" | "reorder" | "split" | "prevKv" | "resume";

function cloneLog(log: WatchLog): WatchLog {
  return structuredClone(log);
}

interface Spot {
  readonly session: WatchSession;
  readonly position: number;
  readonly response: WatchResponseRecord;
}

function eventSpots(log: WatchLog): Spot[] {
  return log.sessions.flatMap((session) => session.responses
    .map((response, position) => ({ session, position, response }))
    .filter((spot) => spot.response.events.length > 0));
}

function replaceAt(spot: Spot, ...responses: WatchResponseRecord[]): void {
  spot.session.responses.splice(spot.position, 1, ...responses);
}

/** Makes one fault of `fault` kind in the middle of the watcher's log. */
export function injectWatchFault(log: WatchLog, fault: WatchFault): Injected<WatchLog> | undefined {
  const copy = cloneLog(log);
  const spots = eventSpots(copy);
  const middle = spots[Math.floor(spots.length / 2)];
  if (middle === undefined) return undefined;
  const events = middle.response.events;
  const revision = events[0]?.modRevision ?? 0;
  switch (fault) {
    case "gap":
      replaceAt(middle, { ...middle.response, events: events.slice(1) });
      return { value: copy, detail: `dropped an event of revision ${revision}` };
    case "duplicate":
      replaceAt(middle, middle.response, middle.response);
      return { value: copy, detail: `sent the response of revision ${revision} twice` };
    case "reorder": {
      const next = middle.session.responses[middle.position + 1];
      if (next === undefined || next.events.length === 0) return undefined;
      middle.session.responses.splice(middle.position, 2, next, middle.response);
      return { value: copy, detail: `swapped the responses of revisions ${revision} and after` };
    }
    case "split": {
      const sameRevision = (response: WatchResponseRecord): number =>
        response.events.findIndex((event, i) =>
          i > 0 && event.modRevision === response.events[i - 1]?.modRevision);
      const spot = spots.find((s) => sameRevision(s.response) > 0);
      if (spot === undefined) return undefined;
      const at = sameRevision(spot.response);
      const all = spot.response.events;
      replaceAt(spot, { ...spot.response, events: all.slice(0, at) },
        { ...spot.response, events: all.slice(at) });
      return { value: copy, detail: `split revision ${all[at]?.modRevision ?? 0} over two responses` };
    }
    case "prevKv": {
      const spot = spots.find((s) => s.response.events.some((e) => e.prev !== null));
      const index = spot?.response.events.findIndex((e) => e.prev !== null) ?? -1;
      const event = spot?.response.events[index];
      if (spot === undefined || event === undefined || event.prev === null) return undefined;
      const wrong = { ...event, prev: { ...event.prev, modRevision: event.prev.modRevision - 1 } };
      const changed = spot.response.events.map((e, i) => i === index ? wrong : e);
      replaceAt(spot, { ...spot.response, events: changed });
      return { value: copy, detail: `prev_kv of revision ${event.modRevision} one revision off` };
    }
    case "resume": {
      const session = copy.sessions.find((s, i) => i > 0 &&
        s.responses.some((r) => r.events.length > 0));
      const position = session?.responses.findIndex((r) => r.events.length > 0) ?? -1;
      const response = session?.responses[position];
      if (session === undefined || response === undefined) return undefined;
      const [first, ...rest] = response.events;
      session.responses.splice(position, 1, { ...response, events: rest });
      return {
        value: copy,
        detail: `lost the first event after a resume (revision ${first?.modRevision ?? 0})`,
      };
    }
  }
}
