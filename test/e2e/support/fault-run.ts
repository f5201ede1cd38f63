/**
 * One fault run, recorded then judged. Recording: a 3-member cluster (etcd or pfsd) on
 * loopback; concurrent clients (kv-workload.ts); watchers (watch-recorder.ts), some from
 * revision 1, some from the current revision, some opened mid-run at an older revision; the
 * nemesis (nemesis.ts) for `loadMs`; then every member healed, a final linearizable read of
 * every key on every member (the one on the first member joins the history), and a reference
 * replay of the whole history from revision 1 from every member. Judging: the KV history
 * (history-checker.ts), the reference against itself and across members, durability
 * (durability-checker.ts) and every watcher (watch-checker.ts).
 */
import { existsSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Prng } from "../../../pkg/common/index.js";
import { type MemberCluster, type MemberKind, startCluster } from "../../support/member-cluster.js";
import { checkDurability } from "./durability-checker.js";
import { checkHistory } from "./history-checker.js";
import { KvClient } from "./kv-client.js";
import type { KvRecord, KvSnapshot } from "./kv-history.js";
import { KvWorkload } from "./kv-workload.js";
import { type FaultRecord, Nemesis, type NemesisOptions, defaultNemesisOptions } from "./nemesis.js";
import { checkReference, checkWatch, describeEvent, sameEvent } from "./watch-checker.js";
import { type WatchEvent, type WatchLog, type WatchSpec, Watcher } from "./watch-recorder.js";

export const keyPrefix = "lin/";

export interface FaultRunOptions {
  readonly kind: MemberKind;
  readonly seed: number;
  /** How long the clients and the nemesis run. */
  readonly loadMs: number;
  readonly clients: number;
  readonly keyCount: number;
  readonly deadlineMs: number;
  readonly thinkMsMax: number;
  readonly nemesis: NemesisOptions;
  readonly log: (line: string) => void;
}

export const defaultFaultRunOptions: Omit<FaultRunOptions, "kind" | "seed" | "log"> = {
  loadMs: 15_000, clients: 6, keyCount: 5, deadlineMs: 3_000, thinkMsMax: 30,
  nemesis: defaultNemesisOptions,
};

/** Everything a run recorded; plain data, saved as JSON for replays and fixtures. */
export interface FaultRunRecording {
  readonly kind: MemberKind;
  readonly seed: number;
  readonly keys: readonly string[];
  readonly history: KvRecord[];
  readonly watches: readonly WatchLog[];
  /** The reference replay from revision 1, per member name. */
  readonly references: Readonly<Record<string, readonly WatchEvent[]>>;
  readonly finalRevision: number;
  /** Final linearizable reads: member name → key → snapshot (absent keys left out). */
  readonly finalReads: Readonly<Record<string, Readonly<Record<string, KvSnapshot>>>>;
  readonly faults: readonly FaultRecord[];
  readonly watcherRestarts: number;
  /** The end of each member's stderr, for failure reports (absent in old recordings). */
  readonly logTails?: Readonly<Record<string, string>>;
}

const finalReadMsMax = 20_000;
const referenceMsMax = 20_000;
const catchUpMs = 12_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** /dev/shm when there is one: fsync is free there, and kill -9 keeps the page cache anyway. */
function dataParent(): string | undefined {
  return existsSync("/dev/shm") ? "/dev/shm" : undefined;
}

function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** Linearizable Range of the prefix on one member, retried until it answers. */
async function finalRead(address: string, cluster: MemberCluster): Promise<{
  revision: number; kvs: Map<string, KvSnapshot>; invokeMs: number; returnMs: number;
}> {
  const deadline = performance.now() + finalReadMsMax;
  for (;;) {
    const client = new KvClient(address, cluster.credentials());
    const invokeMs = performance.now();
    try {
      const read = await client.rangePrefix(keyPrefix, 3_000);
      return { ...read, invokeMs, returnMs: performance.now() };
    } catch (error: unknown) {
      if (performance.now() > deadline) throw error;
      await sleep(200);
    } finally {
      client.close();
    }
  }
}

/** The whole history from revision 1, replayed by a Watch on one member. */
async function referenceReplay(
  address: string, cluster: MemberCluster, prng: Prng, finalRevision: number,
): Promise<WatchEvent[]> {
  const spec = { name: "reference", key: keyPrefix, rangeEnd: prefixEnd(keyPrefix), startRevision: 1 };
  const watcher = new Watcher(spec, [address], cluster.credentials(), prng);
  try {
    if (!await watcher.waitFor(finalRevision, referenceMsMax)) {
      throw new Error(`reference replay on ${address} stuck at ${watcher.lastRevision} ` +
        `of ${finalRevision}`);
    }
  } finally {
    watcher.close();
  }
  return watcher.log.sessions.flatMap((s) => s.responses.flatMap((r) => r.events));
}

function watchSpecs(keys: readonly string[], current: number, prng: Prng, late: boolean): WatchSpec[] {
  const all = { key: keyPrefix, rangeEnd: prefixEnd(keyPrefix) };
  const first = keys[0] ?? keyPrefix;
  const third = keys[2] ?? prefixEnd(keyPrefix);
  if (!late) {
    return [
      { name: "all-from-1", ...all, startRevision: 1 },
      { name: "low-keys", key: first, rangeEnd: third, startRevision: current + 1 },
      { name: "one-key", key: prng.pick(keys), rangeEnd: "", startRevision: current + 1 },
    ];
  }
  return [
    { name: "all-late", ...all, startRevision: prng.intBetween(1, current) },
    { name: "one-key-late", key: prng.pick(keys), rangeEnd: "", startRevision: current + 1 },
  ];
}

/** Waits for every watcher to reach the last revision of its range; restarts stalled ones. */
async function catchUp(watchers: readonly Watcher[], reference: readonly WatchEvent[]): Promise<void> {
  const lastOf = (watcher: Watcher): number => {
    const log = watcher.log;
    const events = reference.filter((event) => log.rangeEnd === ""
      ? event.key === log.key : event.key >= log.key && event.key < log.rangeEnd);
    return events.at(-1)?.modRevision ?? 0;
  };
  const wait = (watcher: Watcher): Promise<boolean> => watcher.waitFor(lastOf(watcher), catchUpMs);
  const first = await Promise.all(watchers.map(wait));
  const stalled = watchers.filter((_, i) => first[i] !== true);
  for (const watcher of stalled) watcher.restart();
  await Promise.all(stalled.map(wait));
}

async function runLoad(
  cluster: MemberCluster, options: FaultRunOptions, prng: Prng, keys: readonly string[],
  watchers: Watcher[],
): Promise<{ history: KvRecord[]; faults: readonly FaultRecord[] }> {
  const addresses = cluster.members.map((member) => member.clientAddress);
  const credentials = cluster.credentials();
  const workload = new KvWorkload(prng.fork(), {
    clients: options.clients, keys, deadlineMs: options.deadlineMs,
    thinkMsMax: options.thinkMsMax, addresses, credentials,
  });
  const nemesis = new Nemesis(cluster, prng.fork(), options.nemesis);
  try {
    await sleep(options.loadMs / 2);
    const current = Math.max(0, ...workload.history.map((r) => r.result?.revision ?? 0));
    for (const spec of watchSpecs(keys, current, prng, true)) {
      watchers.push(new Watcher(spec, addresses, credentials, prng.fork()));
    }
    await sleep(options.loadMs / 2);
    // Under a slow machine the opening faults may not fit: run on until they are done.
    const extraEnd = performance.now() + options.loadMs;
    while (!nemesis.openingDone && performance.now() < extraEnd) await sleep(200);
  } finally {
    try {
      await nemesis.stop();
    } finally {
      await workload.stop();
    }
  }
  options.log(`faults:\n${nemesis.describe()}`);
  return { history: workload.history, faults: nemesis.faults };
}

async function finish(
  cluster: MemberCluster, history: KvRecord[], keys: readonly string[], prng: Prng,
): Promise<Pick<FaultRunRecording, "finalRevision" | "finalReads" | "references">> {
  const finalReads: Record<string, Record<string, KvSnapshot>> = {};
  let finalRevision = 0;
  for (const [index, member] of cluster.members.entries()) {
    const read = await finalRead(member.clientAddress, cluster);
    finalReads[member.name] = Object.fromEntries(read.kvs);
    finalRevision = Math.max(finalRevision, read.revision);
    if (index > 0) continue;
    for (const key of keys) {
      history.push({
        client: -1, call: { kind: "get", key },
        result: { revision: read.revision, before: [read.kvs.get(key) ?? null] },
        invokeMs: read.invokeMs, returnMs: read.returnMs,
      });
    }
  }
  const references: Record<string, WatchEvent[]> = {};
  for (const member of cluster.members) {
    references[member.name] = await referenceReplay(member.clientAddress, cluster, prng,
      finalRevision);
  }
  return { finalRevision, finalReads, references };
}

/** Runs the cluster, the load, the faults and the watchers; returns what was recorded. */
export async function recordFaultRun(options: FaultRunOptions): Promise<FaultRunRecording> {
  const prng = new Prng(options.seed);
  const keys = Array.from({ length: options.keyCount }, (_, i) => `${keyPrefix}k${i}`);
  const parentDir = dataParent();
  const phases: string[] = [];
  let phaseStart = performance.now();
  const phase = (name: string): void => {
    const now = performance.now();
    phases.push(`${name} ${((now - phaseStart) / 1000).toFixed(1)} s`);
    phaseStart = now;
  };
  const clusterOptions = {
    kind: options.kind, size: 3, ...(parentDir === undefined ? {} : { parentDir }),
  };
  let cluster: MemberCluster;
  try {
    cluster = await startCluster(clusterOptions);
  } catch (error: unknown) {
    // Three members starting at once on an overloaded machine can miss startCluster's 30 s
    // bound. Start time is not what this run checks: say so, and try once more.
    options.log(`cluster start failed, retrying once: ${String(error).slice(0, 1_000)}`);
    cluster = await startCluster(clusterOptions);
  }
  phase("start");
  const watchers: Watcher[] = [];
  try {
    const addresses = cluster.members.map((member) => member.clientAddress);
    // The first watchers start one per member, so that every kill breaks a stream.
    watchSpecs(keys, 1, prng, false).forEach((spec, i) => {
      watchers.push(new Watcher(spec, addresses, cluster.credentials(), prng.fork(),
        addresses[i % addresses.length]));
    });
    const { history, faults } = await runLoad(cluster, options, prng, keys, watchers);
    phase("load and heal");
    const done = await finish(cluster, history, keys, prng);
    phase("final reads and reference");
    const reference = Object.values(done.references)[0] ?? [];
    await catchUp(watchers, reference);
    phase("watchers catch up");
    options.log(`phases: ${phases.join(", ")}`);
    return {
      kind: options.kind, seed: options.seed, keys, history, faults, ...done,
      watches: watchers.map((watcher) => watcher.log),
      watcherRestarts: watchers.reduce((sum, watcher) => sum + watcher.restarts, 0),
      logTails: Object.fromEntries(cluster.members.map((m) => [m.name, m.log().slice(-3_000)])),
    };
  } catch (error: unknown) {
    for (const member of cluster.members) {
      options.log(`${member.name} stderr (end):\n${member.log().slice(-3_000)}`);
    }
    throw error;
  } finally {
    for (const watcher of watchers) watcher.close();
    await cluster.stop();
  }
}

export interface FaultRunVerdict {
  readonly failures: readonly string[];
  readonly summary: string;
}

function checkReferences(recording: FaultRunRecording): string[] {
  const entries = Object.entries(recording.references);
  const [firstName, first] = entries[0] ?? ["none", []];
  const failures = checkReference(first, recording.finalRevision);
  for (const [name, events] of entries.slice(1)) {
    const index = Array.from({ length: Math.max(events.length, first.length) }, (_, i) => i)
      .find((i) => {
        const a = first[i];
        const b = events[i];
        return a === undefined || b === undefined || !sameEvent(a, b);
      });
    if (index === undefined) continue;
    const show = (event: WatchEvent | undefined): string =>
      event === undefined ? "nothing" : describeEvent(event);
    failures.push(`members disagree on the history at event ${index}: ${firstName} has ` +
      `${show(first[index])}, ${name} has ${show(events[index])}`);
  }
  return failures;
}

/** Counts for the log, and for coverage assertions. */
export function runCounts(recording: FaultRunRecording): Record<string, number> {
  const history = recording.history;
  const reference = Object.values(recording.references)[0] ?? [];
  const perRevision = new Map<number, number>();
  for (const event of reference) {
    perRevision.set(event.modRevision, (perRevision.get(event.modRevision) ?? 0) + 1);
  }
  const sessions = recording.watches.map((log) => log.sessions.length - 1);
  return {
    operations: history.length,
    indeterminate: history.filter((r) => r.result === undefined).length,
    casSucceeded: history.filter((r) => r.call.kind === "cas" && r.result?.succeeded === true).length,
    casFailed: history.filter((r) => r.call.kind === "cas" && r.result?.succeeded === false).length,
    leaderKills: recording.faults.filter((f) => f.kind === "kill9" && f.wasLeader).length,
    kills: recording.faults.filter((f) => f.kind === "kill9").length,
    stops: recording.faults.filter((f) => f.kind === "sigstop").length,
    revisions: recording.finalRevision,
    multiEventRevisions: [...perRevision.values()].filter((count) => count > 1).length,
    watchResumes: sessions.reduce((sum, count) => sum + count, 0),
    watchEvents: recording.watches.reduce((sum, log) =>
      sum + log.sessions.reduce((s, session) =>
        s + session.responses.reduce((n, r) => n + r.events.length, 0), 0), 0),
    watcherRestarts: recording.watcherRestarts,
  };
}

/** Judges a recording; `failures` is empty when every check passed. */
export function judgeFaultRun(recording: FaultRunRecording): FaultRunVerdict {
  const started = performance.now();
  const verdict = checkHistory(recording.history);
  const reference = Object.values(recording.references)[0] ?? [];
  const finalReads = new Map(Object.entries(recording.finalReads)
    .map(([name, reads]) => [name, new Map(Object.entries(reads))]));
  const failures = [
    ...verdict.failures,
    ...checkReferences(recording),
    ...checkDurability(recording.history, reference, finalReads, recording.keys),
    ...recording.watches.flatMap((log) => checkWatch(log, reference, recording.finalRevision)),
  ];
  const counts = runCounts(recording);
  const checkMs = performance.now() - started;
  const summary = `${recording.kind} seed ${recording.seed}: ${JSON.stringify(counts)}; ` +
    `linearizability ${verdict.outcome} (max ${Math.max(0, ...verdict.steps)} steps per key), ` +
    `checked in ${checkMs.toFixed(0)} ms`;
  return { failures, summary };
}
