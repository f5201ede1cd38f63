// Goal: every read of every finished commit of a LocalShard agrees with a plain in-memory
// model, whatever sequence of writes made it. Method: fast-check generates sequences of
// start/put/append/delete/copy (putEntry)/finish/abort/reopen over two repos and commits with
// parents; each runs against a real shard in a temp directory (small chunks, so files span
// several) and against maps of path → bytes. "reopen" abandons the shard without closing it
// and opens a fresh instance on the same directory, so every later read also checks that
// what was acknowledged before survived. After the run, every finished commit is compared:
// inspect, get (whole and random ranges), list, glob, walk and diff (against its parent, the
// empty commit and another finished commit). The seed is printed; PFS_SEED=<n> replays it.
import test from "ava";
import fc from "fast-check";
// eslint-disable-next-line pfs/boundaries -- pkg/pfs has no index.ts yet; shard/ is the API.
import type { LocalShard, ShardCommit } from "../../../pkg/pfs/shard/index.js";
import {
  collect, commitId, modelChildren, modelDiff, modelGlob, modelWalk, openShard, sha256,
  streamOf, testSeed, withTempDir, type ModelFiles,
} from "./shard-fixture.js";

const repos = ["images", "logs"] as const;
const filePaths = ["/a", "/b.csv", "/d.csv", "/d/x", "/d/y.csv", "/d/e/z", "/f/g.csv"];
const deletePaths = ["/a", "/d", "/d/e", "/f", "/", "/missing", "/d/y.csv"];
const directories = ["/", "/d", "/d/e", "/f", "/a", "/none"];
const globs = ["/**", "/*.csv", "/**.csv", "/d/*", "/d/**", "/?"];

type Op =
  | { kind: "start"; repo: number; parent: number }
  | { kind: "put" | "append"; commit: number; file: number; size: number; fill: number }
  | { kind: "delete"; commit: number; file: number }
  | { kind: "copy"; commit: number; from: number; file: number; to: number }
  | { kind: "finish" | "abort"; commit: number }
  | { kind: "reopen" };

const index = fc.nat({ max: 50 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("start" as const), repo: index, parent: index }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constantFrom("put" as const, "append" as const), commit: index,
    file: index, size: fc.nat({ max: 4000 }), fill: fc.nat({ max: 2 ** 31 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), commit: index, file: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("copy" as const), commit: index, from: index,
    file: index, to: index }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom("finish" as const, "abort" as const), commit: index }) },
  { weight: 1, arbitrary: fc.constant({ kind: "reopen" as const }) },
);

interface ModelCommit {
  readonly commit: ShardCommit;
  readonly parent: string;
  files: Map<string, Buffer>;
}

/** Deterministic bytes of `size` from `fill`. */
function bytesOf(size: number, fill: number): Buffer {
  const bytes = Buffer.alloc(size);
  let state = fill >>> 0;
  for (let i = 0; i < size; i += 1) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

function pick<T>(items: readonly T[], at: number): T | undefined {
  return items.length === 0 ? undefined : items[at % items.length];
}

class Run {
  shard: LocalShard;
  readonly abandoned: LocalShard[] = [];
  readonly open: ModelCommit[] = [];
  readonly finished: ModelCommit[] = [];
  #nextId = 1;

  constructor(shard: LocalShard, readonly dir: string) {
    this.shard = shard;
  }

  async apply(op: Op): Promise<void> {
    switch (op.kind) {
      case "start": {
        const repo = repos[op.repo % repos.length] ?? "images";
        const parents = this.finished.filter((item) => item.commit.repo === repo);
        const parent = op.parent % 3 === 0 ? undefined : pick(parents, op.parent);
        this.open.push({ commit: { repo, id: commitId(this.#nextId++) }, parent: parent?.commit.id ?? "",
          files: new Map(parent?.files ?? []) });
        return;
      }
      case "put":
      case "append":
        await this.#put(op);
        return;
      case "delete": {
        const target = pick(this.open, op.commit);
        const doomed = deletePaths[op.file % deletePaths.length] ?? "/";
        if (target === undefined) return;
        await this.shard.deleteFile(target.commit, doomed);
        for (const file of [...target.files.keys()]) {
          if (doomed === "/" || file === doomed || file.startsWith(`${doomed}/`)) target.files.delete(file);
        }
        return;
      }
      case "copy":
        await this.#copy(op);
        return;
      case "finish":
      case "abort":
        await this.#end(op);
        return;
      case "reopen":
        this.abandoned.push(this.shard);
        this.shard = await openShard(this.dir);
        return;
    }
  }

  async #put(op: Extract<Op, { kind: "put" | "append" }>): Promise<void> {
    const target = pick(this.open, op.commit);
    const file = filePaths[op.file % filePaths.length] ?? "/a";
    if (target === undefined) return;
    const data = bytesOf(op.size, op.fill);
    const append = op.kind === "append";
    const entry = await this.shard.putFile(target.commit, target.parent, file, streamOf(data, 700),
      { append });
    const content = append ? Buffer.concat([target.files.get(file) ?? Buffer.alloc(0), data]) : data;
    target.files.set(file, content);
    if (entry.size !== content.length || entry.hash !== sha256(content) || entry.path !== file) {
      throw new Error(`put ${file} returned ${JSON.stringify(entry)}`);
    }
  }

  async #copy(op: Extract<Op, { kind: "copy" }>): Promise<void> {
    const target = pick(this.open, op.commit);
    const source = pick(this.finished, op.from);
    if (target === undefined || source === undefined) return;
    const from = pick([...source.files.keys()].sort(), op.file);
    const to = filePaths[op.to % filePaths.length] ?? "/a";
    if (from === undefined) return;
    const entry = await this.shard.inspectFile(source.commit, from);
    await this.shard.putEntry(target.commit, to, entry);
    target.files.set(to, source.files.get(from) ?? Buffer.alloc(0));
  }

  async #end(op: Extract<Op, { kind: "finish" | "abort" }>): Promise<void> {
    const target = pick(this.open, op.commit);
    if (target === undefined) return;
    this.open.splice(this.open.indexOf(target), 1);
    if (op.kind === "abort") {
      await this.shard.abortCommit(target.commit);
      return;
    }
    const result = await this.shard.finishCommit(target.commit, target.parent);
    const again = await this.shard.finishCommit(target.commit, target.parent);
    const size = [...target.files.values()].reduce((sum, bytes) => sum + bytes.length, 0);
    if (result.files !== target.files.size || result.sizeBytes !== size ||
      again.files !== result.files || again.sizeBytes !== result.sizeBytes) {
      throw new Error(`finish gave ${JSON.stringify([result, again])}, model ${target.files.size} files`);
    }
    this.finished.push(target);
  }

  async close(): Promise<void> {
    for (const shard of [this.shard, ...this.abandoned]) await shard.close();
  }
}

/** Compares every read of `item` with the model; throws on the first disagreement. */
async function checkCommit(shard: LocalShard, item: ModelCommit, others: readonly ModelCommit[],
  rangeSeed: number): Promise<void> {
  const { commit, files } = item;
  const same = (what: string, actual: unknown, expected: unknown): void => {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      throw new Error(`${commit.repo}@${commit.id} ${what}: got ${JSON.stringify(actual)}, ` +
        `expected ${JSON.stringify(expected)}`);
    }
  };
  for (const [file, bytes] of files) {
    const entry = await shard.inspectFile(commit, file);
    same(`inspect ${file}`, [entry.size, entry.hash], [bytes.length, sha256(bytes)]);
    same(`get ${file}`, sha256(await collect(shard.getFile(commit, file))), sha256(bytes));
    const start = (rangeSeed + bytes.length * 7) % (bytes.length + 1);
    const end = start + ((rangeSeed >>> 3) % (bytes.length + 10));
    const part = await collect(shard.getFile(commit, file, { start, end }));
    same(`get ${file} [${start}, ${end})`, part.toString("hex"), bytes.subarray(start, end).toString("hex"));
  }
  for (const missing of filePaths.filter((file) => !files.has(file)).slice(0, 2)) {
    const error = await shard.inspectFile(commit, missing).then(() => null, (thrown: unknown) => thrown);
    same(`inspect missing ${missing}`, (error as { code?: string } | null)?.code, "NOT_FOUND");
  }
  for (const dir of directories) {
    same(`list ${dir}`, await shard.listDirectory(commit, dir), modelChildren(files, dir));
    const walked: string[] = [];
    for await (const entry of shard.walk(commit, dir)) walked.push(entry.path);
    same(`walk ${dir}`, walked, modelWalk(files, dir));
  }
  for (const pattern of globs) {
    same(`glob ${pattern}`, (await shard.glob(commit, pattern)).map((entry) => entry.path),
      modelGlob(files, pattern));
  }
  const empty = new Map<string, Buffer>();
  const parentFiles: ModelFiles = others.find((other) => other.commit.id === item.parent)?.files ?? empty;
  for (const dir of ["/", "/d"]) {
    same(`diff parent ${dir}`, await shard.diff(commit, item.parent, dir), modelDiff(parentFiles, files, dir));
    same(`diff empty ${dir}`, await shard.diff(commit, "", dir), modelDiff(empty, files, dir));
  }
  const other = others.find((candidate) => candidate.commit.repo === commit.repo && candidate !== item);
  if (other !== undefined) {
    same(`diff ${other.commit.id}`, await shard.diff(commit, other.commit.id, "/"),
      modelDiff(other.files, files, "/"));
  }
}

test("every read of every finished commit agrees with an in-memory model", async (t) => {
  const seed = testSeed();
  t.log(`seed ${seed} (replay with PFS_SEED=${seed})`);
  const property = fc.asyncProperty(fc.array(opArbitrary, { minLength: 10, maxLength: 40 }),
    fc.nat(), async (ops, rangeSeed) => {
      await withTempDir(async (dir) => {
        const run = new Run(await openShard(dir), dir);
        try {
          for (const op of ops) await run.apply(op);
          while (run.open.length > 0) await run.apply({ kind: "finish", commit: 0 });
          for (const item of run.finished) await checkCommit(run.shard, item, run.finished, rangeSeed);
        } finally {
          await run.close();
        }
      });
    });
  // Each run costs about a second of fsyncs; PFS_MODEL_RUNS=<n> runs more for a deeper search.
  const numRuns = Number(process.env["PFS_MODEL_RUNS"] ?? "6");
  await t.notThrowsAsync(fc.assert(property, { seed, numRuns }), `seed ${seed}`);
});
