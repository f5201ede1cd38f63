// Goal: the fault-run checkers accept a history recorded from a real etcd and catch each
// violation they exist for. Method: a recording of a real 3-member etcd 3.4.23 cluster under
// the nemesis (10 s, seed 11: kill -9 of the leader, SIGSTOPs, indeterminate writes, a resumed
// watch; made with `scripts/chaos-etcd --kind etcd --seed 11 --run-seconds 10 --minutes 0
// --save DIR`) must pass every check; then one fault at a time is injected into it (a stale
// read; a watch gap, duplicate, reordering, split revision, wrong prev_kv, lost event after a
// resume; a lost acknowledged write; a wrong final read; a revision going back in real time)
// and the matching check must fail. Pure: no processes, well under a second of checking.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import test from "ava";
import { checkDurability } from "./support/durability-checker.js";
import { type FaultRunRecording, judgeFaultRun, runCounts } from "./support/fault-run.js";
import { checkHistory } from "./support/history-checker.js";
import { type WatchFault, injectStaleRead, injectWatchFault } from "./support/history-faults.js";
import type { KvRecord, KvSnapshot } from "./support/kv-history.js";
import { recordingFromJson } from "./support/recording-file.js";
import { checkReference, checkWatch } from "./support/watch-checker.js";
import type { WatchEvent } from "./support/watch-recorder.js";

const fixture = new URL("../../../test/e2e/support/fixtures/etcd-3-members-seed-11.json.gz",
  import.meta.url);

function loadRecording(): FaultRunRecording {
  return recordingFromJson(JSON.parse(gunzipSync(readFileSync(fixture)).toString("utf8")));
}

function referenceOf(recording: FaultRunRecording): readonly WatchEvent[] {
  return Object.values(recording.references)[0] ?? [];
}

function readsOf(recording: FaultRunRecording): Map<string, Map<string, KvSnapshot>> {
  return new Map(Object.entries(recording.finalReads)
    .map(([name, reads]) => [name, new Map(Object.entries(reads))]));
}

test("the checkers pass a history recorded from real etcd under kills and SIGSTOPs", (t) => {
  const recording = loadRecording();
  const counts = runCounts(recording);
  t.log(JSON.stringify(counts));
  // The fixture really exercised faults, unknown outcomes and a resume.
  t.true((counts["leaderKills"] ?? 0) >= 1 && (counts["stops"] ?? 0) >= 1);
  t.true((counts["indeterminate"] ?? 0) >= 1 && (counts["watchResumes"] ?? 0) >= 1);
  t.true((counts["multiEventRevisions"] ?? 0) >= 1 && (counts["casSucceeded"] ?? 0) >= 1);
  const verdict = judgeFaultRun(recording);
  t.log(verdict.summary);
  t.deepEqual(verdict.failures, []);
});

test("a stale read injected into the recorded etcd history is not linearizable", (t) => {
  const recording = loadRecording();
  const stale = injectStaleRead(recording.history);
  if (stale === undefined) {
    t.fail("the recording offers no read to make stale");
    return;
  }
  t.log(`injected: ${stale.detail}`);
  const verdict = checkHistory(stale.value);
  t.is(verdict.outcome, "illegal");
  t.log(verdict.failures.join("\n").slice(0, 3000));
  t.true(verdict.failures.some((failure) => failure.startsWith("not linearizable (illegal)")));
});

const watchFaults: readonly WatchFault[] =
  ["gap", "duplicate", "reorder", "split", "prevKv", "resume"];

for (const fault of watchFaults) {
  test(`the watch checker catches a ${fault} in a recorded watch`, (t) => {
    const recording = loadRecording();
    const reference = referenceOf(recording);
    const injected = recording.watches
      .map((log) => injectWatchFault(log, fault))
      .find((result) => result !== undefined);
    if (injected === undefined) {
      t.fail(`no watch in the recording offers a place for a ${fault}`);
      return;
    }
    t.deepEqual(checkWatch(recording.watches[0] ?? injected.value, reference,
      recording.finalRevision), []);
    const failures = checkWatch(injected.value, reference, recording.finalRevision);
    t.log(`${injected.detail}:\n${failures.join("\n")}`);
    t.true(failures.length > 0);
  });
}

test("a lost acknowledged write and a wrong final read are caught", (t) => {
  const recording = loadRecording();
  const reference = referenceOf(recording);
  const acknowledged = recording.history.find((record) =>
    record.call.kind === "put" && record.result !== undefined);
  const revision = acknowledged?.result?.revision;
  t.truthy(revision);
  const lost = reference.filter((event) => event.modRevision !== revision);
  const durability = checkDurability(recording.history, lost, readsOf(recording), recording.keys);
  t.log(durability.join("\n"));
  t.true(durability.some((failure) => failure.startsWith("acknowledged write lost")));
  t.true(checkReference(lost, recording.finalRevision).length > 0);

  const reads = readsOf(recording);
  const [member, memberReads] = [...reads][1] ?? ["none", new Map<string, KvSnapshot>()];
  const key = recording.keys.find((k) => memberReads.has(k)) ?? "";
  const stale = { ...memberReads.get(key), value: "c0-0" } as KvSnapshot;
  reads.set(member, new Map([...memberReads, [key, stale]]));
  const final = checkDurability(recording.history, reference, reads, recording.keys);
  t.log(final.join("\n"));
  t.true(final.some((failure) => failure.startsWith(`final read of ${key} on ${member}`)));
});

test("a header revision going back in real time is caught", (t) => {
  const recording = loadRecording();
  const history = recording.history;
  // A get invoked after a write to another key returned; it answers the write's revision - 1.
  const index = history.findIndex((get, i) => get.call.kind === "get" && get.result !== undefined &&
    history.slice(0, i).some((write) => write.call.kind === "put" && write.result !== undefined &&
      write.returnMs < get.invokeMs && write.call.key !== (get.call.kind === "get" ? get.call.key : "") &&
      write.result.revision > get.result!.revision - 1));
  const victim = history[index];
  if (victim?.result === undefined) {
    t.fail("no read to alter");
    return;
  }
  const writeRevision = Math.max(...history.filter((w) => w.returnMs < victim.invokeMs)
    .map((w) => w.result?.revision ?? 0));
  const altered: KvRecord = { ...victim, result: { ...victim.result, revision: writeRevision - 1 } };
  const copy = [...history];
  copy[index] = altered;
  const failures = checkHistory(copy).failures;
  t.log(failures.join("\n").slice(0, 2000));
  t.true(failures.some((failure) => failure.startsWith("revision went back in real time")));
});
