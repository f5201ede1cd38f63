// Goal: a JobStager (pkg/pps/worker/job-stager.ts) puts each datum's outputs at /out/p and its
// log at /log/<datum id> of an open staging commit, reports a batch "finished" only after
// finishCommit succeeded, keeps at most one staging commit open on its branch (deleting a
// stale one it finds there), finishes a batch when it gets old, and turns a failed open, put
// or finish — and an abort — into an "abandoned" batch whose commit is deleted and never
// finished.
// Method: an in-memory pfs that records every call (and fails the ones a test asks it to);
// outputs are real files in a temp dir; time is a SimulatedClock.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { PfsError, SimulatedClock, silentLogger } from "../../../pkg/common/index.js";
import type { CommitRefMessage, PutFileHeaderMessage } from "../../../pkg/proto/index.js";
// eslint-disable-next-line pfs/boundaries -- pkg/pps re-exports the worker once pps-node wires it
import {
  type BatchOutcome, type DatumRun, JobStager, type StagingPfs,
} from "../../../pkg/pps/worker/index.js";

/** An in-memory pfs: commits by id, files by "commit:path", every call in `calls`. */
class FakePfs implements StagingPfs {
  readonly calls: string[] = [];
  readonly files = new Map<string, string>();
  /** Open commits: the fake has one branch, so one at most (a start with one open fails). */
  readonly open = new Set<string>();
  failPutOf = "";
  failFinish = false;
  failStart = false;
  #next = 0;

  startCommit(repo: string, branch: string): Promise<{ id: string }> {
    if (this.failStart) return Promise.reject(new Error("no shard master"));
    const [stale] = this.open;
    if (stale !== undefined) {
      return Promise.reject(new PfsError("FAILED_PRECONDITION", `${branch} has ${stale} open`));
    }
    this.#next += 1;
    const id = `c${this.#next}`;
    this.calls.push(`start ${repo} ${branch} ${id}`);
    this.open.add(id);
    return Promise.resolve({ id });
  }

  inspectBranch(): Promise<{ open: string }> {
    const [open = ""] = this.open;
    return Promise.resolve({ open });
  }

  finishCommit(commit: CommitRefMessage): Promise<unknown> {
    this.calls.push(`finish ${commit.commit}`);
    if (this.failFinish) return Promise.reject(new Error("the shard master changed"));
    this.open.delete(commit.commit);
    return Promise.resolve({});
  }

  deleteCommit(commit: CommitRefMessage): Promise<unknown> {
    this.calls.push(`delete ${commit.commit}`);
    this.open.delete(commit.commit);
    return Promise.resolve({});
  }

  async putFile(header: PutFileHeaderMessage, source: AsyncIterable<Uint8Array | string>):
    Promise<unknown> {
    const pieces: Buffer[] = [];
    for await (const piece of source) pieces.push(Buffer.from(piece));
    if (header.path === this.failPutOf) throw new Error("put refused");
    this.files.set(`${header.commit?.commit ?? ""}:${header.path}`,
      Buffer.concat(pieces).toString());
    return {};
  }
}

async function run(dir: string, name: string, content: string): Promise<DatumRun> {
  const file = join(dir, name);
  await writeFile(file, content);
  return {
    ok: true, aborted: false, attempts: 1, outputs: [{ path: `/${name}`, file, size: 1 }],
    log: Buffer.from(`log of ${name}\n`), error: "", durationMs: 1,
    dispose: () => Promise.resolve(),
  };
}

function stager(pfs: FakePfs, clock: SimulatedClock, outcomes: BatchOutcome<string>[]):
  JobStager<string> {
  return new JobStager<string>({
    pfs, repo: "out", branch: "stage-j-n", batchAgeMs: 1_000, clock, logger: silentLogger,
    onOutcome: (outcome) => { outcomes.push(outcome); return Promise.resolve(); },
  });
}

test("batches finish in order, one open commit at a time, files where the contract says",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "pfs-stager-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const pfs = new FakePfs();
    const outcomes: BatchOutcome<string>[] = [];
    const staging = stager(pfs, new SimulatedClock(), outcomes);
    const names = ["a", "b", "c"];
    const runs = await Promise.all(names.map((name) => run(dir, name, `out ${name}`)));
    // Staged side by side: their puts overlap in the one open commit.
    await Promise.all(runs.map((datumRun, i) =>
      staging.stage(`d-${names[i] ?? ""}`, datumRun, names[i] ?? "")));
    t.is(staging.size, 3);
    const first = staging.flush();
    await staging.stage("d-e", await run(dir, "e", "out e"), "e");
    await first;
    await staging.flush();
    t.deepEqual(outcomes, [
      { kind: "finished", staged: "out@c1", datums: ["a", "b", "c"] },
      { kind: "finished", staged: "out@c2", datums: ["e"] },
    ]);
    t.deepEqual(pfs.calls, ["start out stage-j-n c1", "finish c1", "start out stage-j-n c2",
      "finish c2"]);
    t.is(pfs.files.get("c1:/out/b"), "out b");
    t.is(pfs.files.get("c1:/log/d-c"), "log of c\n");
    t.is(pfs.files.get("c2:/out/e"), "out e");
  });

test("a failed put, finish or open abandons the batch and deletes its commit", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pfs-stager-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const failure of ["put", "finish", "start"] as const) {
    const pfs = new FakePfs();
    pfs.failPutOf = failure === "put" ? "/out/b" : "";
    pfs.failFinish = failure === "finish";
    pfs.failStart = failure === "start";
    const outcomes: BatchOutcome<string>[] = [];
    const staging = stager(pfs, new SimulatedClock(), outcomes);
    await staging.stage("d-a", await run(dir, "a", "a"), "a");
    await staging.stage("d-b", await run(dir, "b", "b"), "b");
    await staging.flush();
    t.is(outcomes.length, 1, failure);
    t.is(outcomes[0]?.kind, "abandoned", failure);
    t.deepEqual(outcomes[0]?.datums, ["a", "b"], failure);
    if (failure !== "start") t.true(pfs.calls.includes("delete c1"), failure);
    if (failure === "put") t.false(pfs.calls.includes("finish c1"));
    t.is(pfs.open.size, 0, failure);
  }
});

test("a stale open commit on the branch is deleted before the batch starts", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pfs-stager-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pfs = new FakePfs();
  pfs.open.add("crashed");
  const outcomes: BatchOutcome<string>[] = [];
  const staging = stager(pfs, new SimulatedClock(), outcomes);
  await staging.stage("d-a", await run(dir, "a", "a"), "a");
  await staging.flush();
  t.deepEqual(outcomes, [{ kind: "finished", staged: "out@c1", datums: ["a"] }]);
  t.deepEqual(pfs.calls, ["delete crashed", "start out stage-j-n c1", "finish c1"]);
});

test("an old batch finishes by itself; an aborted one is deleted", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pfs-stager-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pfs = new FakePfs();
  const clock = new SimulatedClock();
  const outcomes: BatchOutcome<string>[] = [];
  const staging = stager(pfs, clock, outcomes);
  await staging.stage("d-a", await run(dir, "a", "a"), "a");
  clock.advance(999);
  await staging.idle();
  t.is(outcomes.length, 0);
  clock.advance(1);
  await staging.idle();
  t.deepEqual(outcomes, [{ kind: "finished", staged: "out@c1", datums: ["a"] }]);
  await staging.stage("d-b", await run(dir, "b", "b"), "b");
  await staging.abort("job killed");
  t.deepEqual(outcomes[1], { kind: "abandoned", error: "job killed", datums: ["b"] });
  t.deepEqual(pfs.calls.slice(-2), ["start out stage-j-n c2", "delete c2"]);
});
