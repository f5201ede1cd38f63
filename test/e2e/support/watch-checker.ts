/**
 * Checks recorded watches against the store's full history, after etcd's robustness tests
 * (tests/robustness/validate/watch.go) and etcd-api.md §6:
 * - ordered: event revisions never decrease inside a response and strictly increase from one
 *   response to the next, across resumed streams too;
 * - unique and atomic: no event twice, and all events of one revision in one response (a
 *   revision seen in two responses is reported as a split);
 * - reliable: from its start revision to the end of the run a watcher got exactly the events
 *   of its range in the history, field by field, with nothing missing and nothing extra;
 * - resumable: a stream resumed at revision r carries nothing below r;
 * - prev_kv: each event's prev_kv is the key as of the revision before (absent on creates),
 *   and is_create (version 1) agrees with create_revision = mod_revision;
 * - the created response comes first and carries no events; header.revision is at least the
 *   revision of every event in its response.
 *
 * The reference history is a Watch from revision 1 over every key (there is no compaction),
 * itself checked for contiguous revisions and for prev_kv/version/create_revision agreeing
 * with the state it rebuilds.
 */
import { type KvSnapshot, describeSnapshot } from "./kv-history.js";
import type { WatchEvent, WatchLog, WatchResponseRecord } from "./watch-recorder.js";

/** Reports at most this many problems per watcher. */
const failuresPerWatcherMax = 5;

export function describeEvent(event: WatchEvent): string {
  const kv = event.type === "PUT"
    ? `${event.key}=${event.value}@m${event.modRevision}/c${event.createRevision}/v${event.version}`
    : `${event.key}@m${event.modRevision}`;
  return `${event.type} ${kv} prev ${describeSnapshot(event.prev)}`;
}

function sameSnapshot(a: KvSnapshot | null, b: KvSnapshot | null): boolean {
  if (a === null || b === null) return a === b;
  return a.value === b.value && a.version === b.version && a.modRevision === b.modRevision &&
    a.createRevision === b.createRevision;
}

export function sameEvent(a: WatchEvent, b: WatchEvent): boolean {
  if (a.type !== b.type || a.key !== b.key || a.modRevision !== b.modRevision) return false;
  if (!sameSnapshot(a.prev, b.prev)) return false;
  if (a.type === "DELETE") return true;
  return a.value === b.value && a.version === b.version && a.createRevision === b.createRevision;
}

/** Rebuilds the store from the reference and checks its self-consistency. */
export function checkReference(events: readonly WatchEvent[], finalRevision: number): string[] {
  const failures: string[] = [];
  const state = new Map<string, KvSnapshot>();
  let revision = 1;
  for (const event of events) {
    if (failures.length >= 10) break;
    if (event.modRevision !== revision && event.modRevision !== revision + 1) {
      failures.push(`reference: revision ${event.modRevision} follows ${revision} ` +
        `(revisions must be contiguous): ${describeEvent(event)}`);
    }
    revision = event.modRevision;
    const before = state.get(event.key) ?? null;
    if (!sameSnapshot(event.prev, before)) {
      failures.push(`reference: prev_kv ${describeSnapshot(event.prev)} but the key was ` +
        `${describeSnapshot(before)}: ${describeEvent(event)}`);
    }
    if (event.type === "DELETE") {
      state.delete(event.key);
      continue;
    }
    const version = (before?.version ?? 0) + 1;
    const createRevision = before?.createRevision ?? event.modRevision;
    if (event.version !== version || event.createRevision !== createRevision) {
      failures.push(`reference: expected version ${version}, create_revision ${createRevision}: ` +
        describeEvent(event));
    }
    state.set(event.key, {
      value: event.value, version: event.version, modRevision: event.modRevision,
      createRevision: event.createRevision,
    });
  }
  if (failures.length === 0 && revision !== finalRevision) {
    failures.push(`reference ends at revision ${revision}, the store is at ${finalRevision}`);
  }
  return failures;
}

/** The state of every key after the reference history. */
export function finalState(events: readonly WatchEvent[]): Map<string, KvSnapshot> {
  const state = new Map<string, KvSnapshot>();
  for (const event of events) {
    if (event.type === "DELETE") state.delete(event.key);
    else state.set(event.key, {
      value: event.value, version: event.version, modRevision: event.modRevision,
      createRevision: event.createRevision,
    });
  }
  return state;
}

function inRange(log: WatchLog, key: string): boolean {
  if (log.rangeEnd === "") return key === log.key;
  return key >= log.key && key < log.rangeEnd;
}

interface Located {
  readonly session: number;
  readonly response: WatchResponseRecord;
}

/** Per-session and per-response rules; returns the event responses in arrival order. */
function checkStreams(log: WatchLog, failures: string[]): Located[] {
  const located: Located[] = [];
  let last = log.startRevision - 1;
  log.sessions.forEach((session, index) => {
    if (session.startRevision !== last + 1) {
      failures.push(`session ${index} resumed at ${session.startRevision}, ` +
        `not at the last event's revision + 1 = ${last + 1}`);
    }
    session.responses.forEach((response, position) => {
      if (position === 0 && !response.created) {
        failures.push(`session ${index}: first response is not the created response`);
      }
      if (response.created && response.events.length > 0) {
        failures.push(`session ${index}: the created response carries events`);
      }
      if (response.canceled && response.compactRevision > 0) {
        failures.push(`session ${index}: canceled for compaction at ${response.compactRevision}` +
          " with no compaction done");
      }
      if (response.events.length === 0) return;
      const lastEvent = response.events.at(-1)?.modRevision ?? 0;
      if (response.headerRevision < lastEvent) {
        failures.push(`session ${index}: header.revision ${response.headerRevision} below ` +
          `its event revision ${lastEvent}`);
      }
      const first = response.events[0]?.modRevision ?? 0;
      if (first < session.startRevision) {
        failures.push(`session ${index} from ${session.startRevision} got revision ${first}`);
      }
      located.push({ session: index, response });
      last = Math.max(last, lastEvent);
    });
  });
  return located;
}

function checkOrder(located: readonly Located[], failures: string[]): void {
  let previous = 0;
  for (const { session, response } of located) {
    let inside = 0;
    for (const event of response.events) {
      if (event.modRevision < inside) {
        failures.push(`session ${session}: revisions decrease inside a response: ` +
          `${inside} then ${event.modRevision}`);
      }
      inside = event.modRevision;
    }
    const first = response.events[0]?.modRevision ?? 0;
    if (first === previous) {
      failures.push(`session ${session}: revision ${first} split across two responses ` +
        "(not atomic) or repeated");
    } else if (first < previous) {
      failures.push(`session ${session}: revision ${first} after ${previous} ` +
        "(out of order or duplicated)");
    }
    previous = Math.max(previous, inside);
  }
}

function checkAgainstReference(
  log: WatchLog, got: readonly WatchEvent[], reference: readonly WatchEvent[],
  untilRevision: number, failures: string[],
): void {
  const expected = reference.filter((event) => inRange(log, event.key) &&
    event.modRevision >= log.startRevision && event.modRevision <= untilRevision);
  for (const event of got) {
    if (!inRange(log, event.key)) failures.push(`event outside the range: ${describeEvent(event)}`);
  }
  const length = Math.max(expected.length, got.length);
  for (let i = 0; i < length; i += 1) {
    const want = expected[i];
    const have = got[i];
    if (want !== undefined && have !== undefined && sameEvent(want, have)) continue;
    const context = got.slice(Math.max(0, i - 2), i).map(describeEvent).join("; ");
    failures.push(`event ${i} of ${expected.length} differs from the history ` +
      `(after: ${context || "start"}):\n    expected ${want === undefined ? "nothing" : describeEvent(want)}` +
      `\n    got      ${have === undefined ? "nothing (gap)" : describeEvent(have)}`);
    return;
  }
}

/**
 * Checks one watcher that was given time to reach `untilRevision` (the store's final revision).
 * Returns one line per problem; empty when the watcher kept every guarantee.
 */
export function checkWatch(
  log: WatchLog, reference: readonly WatchEvent[], untilRevision: number,
): string[] {
  const failures: string[] = [];
  const located = checkStreams(log, failures);
  checkOrder(located, failures);
  const got = located.flatMap((item) => item.response.events);
  checkAgainstReference(log, got, reference, untilRevision, failures);
  return failures.slice(0, failuresPerWatcherMax)
    .map((failure) => `watcher ${log.name} [${log.key}, ${log.rangeEnd}) from ` +
      `${log.startRevision}: ${failure}`);
}
