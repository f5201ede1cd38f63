// Goal: what pipelines rely on from the file system. (1) StartCommit with provenance: the
// commit keeps the "repo@id" list through finish and failure, and inspect shows it; each entry
// must name an existing finished commit (NOT_FOUND, FAILED_PRECONDITION), be well formed
// (INVALID_ARGUMENT: a branch, no "@", twice) and the list be bounded (LIMIT_EXCEEDED), and a
// refusal starts nothing. (2) A commit finished with an error is FAILED with that error and
// changes nothing visible: the branch head stays, its files are not on the branch, inspect
// and wait show it failed, subscribe never yields it (so nothing downstream is triggered),
// and the next commit builds on the old head. (3) The CLI: `pfs start commit --provenance`
// (repeatable) and `pfs inspect commit` (text and --json).
// Method: one 1-node pfsd cluster (embedded etcd, --shards 4), the typed PfsClient of
// pkg/pfs/client, and the built `pfs` CLI pointed at it with PFS_ADDRESS. Each test uses its
// own repos, so they run concurrently.
import { Writable } from "node:stream";
import test, { type ExecutionContext } from "ava";
import { type ErrorCode, PfsError } from "../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone, as the CLI loads it
import {
  type CommitInfoMessage, PfsClient, commitRef, fileRef,
} from "../../pkg/pfs/client/index.js";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { pfsAddresses } from "./pfs-api-support.js";
import { type Run, runPfs } from "./pfs-cli-suite.js";

let cluster: MemberCluster;
let address: string;
let client: PfsClient;

test.before(async () => {
  cluster = await startCluster({ kind: "pfsd", size: 1,
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", "4"] });
  const [found] = await pfsAddresses([cluster.endpoints], 1);
  if (found === undefined) throw new Error("no pfs address");
  address = found;
  client = new PfsClient({ address, callDeadlineMs: 30_000 });
});

test.after.always(async () => {
  client.close();
  await cluster.stop();
});

async function* bytesOf(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text);
  await Promise.resolve();
}

async function put(repo: string, commit: string, path: string, text: string): Promise<void> {
  await client.putFile({ commit: commitRef(repo, commit), path, append: false, format: "RAW" },
    bytesOf(text));
}

async function read(repo: string, commit: string, path: string): Promise<string> {
  const pieces: Buffer[] = [];
  const out = new Writable({
    write(piece: Buffer, _encoding, done): void { pieces.push(piece); done(); },
  });
  await client.getFile(fileRef(repo, commit, path), out);
  return Buffer.concat(pieces).toString("utf8");
}

/** One finished commit on repo@master holding `path` = `text`. */
async function commitWith(repo: string, path: string, text: string): Promise<CommitInfoMessage> {
  const open = await client.startCommit(repo, "master");
  await put(repo, open.id, path, text);
  return client.finishCommit(commitRef(repo, open.id));
}

async function refused(t: ExecutionContext, promise: Promise<unknown>, code: ErrorCode,
  pattern?: RegExp): Promise<void> {
  const error = await t.throwsAsync(promise, { instanceOf: PfsError });
  t.is(error.code, code, error.message);
  if (pattern !== undefined) t.regex(error.message, pattern);
}

function pfs(args: readonly string[]): Promise<Run> {
  return runPfs(args, { env: { PFS_ADDRESS: address } });
}

test("a commit keeps its provenance through finish and failure", async (t) => {
  await client.createRepo("prov-in", "");
  await client.createRepo("prov-out", "");
  const a = await commitWith("prov-in", "/x", "1");
  const b = await commitWith("prov-in", "/x", "2");
  const provenance = [`prov-in@${b.id}`, `prov-in@${a.id}`];
  const open = await client.startCommit("prov-out", "master", "", "job 1", provenance);
  t.deepEqual(open.provenance, provenance, "kept in the order given");
  t.is(open.state, "OPEN");
  t.deepEqual((await client.inspectCommit(commitRef("prov-out", "master"))).provenance,
    provenance);
  await put("prov-out", open.id, "/y", "out");
  const finished = await client.finishCommit(commitRef("prov-out", open.id));
  t.like(finished, { state: "FINISHED", description: "job 1" });
  t.deepEqual(finished.provenance, provenance);
  t.deepEqual((await client.inspectCommit(commitRef("prov-out", open.id))).provenance,
    provenance);
  const doomed = await client.startCommit("prov-out", "master", "", "", [`prov-in@${a.id}`]);
  const failed = await client.finishCommit(commitRef("prov-out", doomed.id), "datum /x failed");
  t.like(failed, { state: "FAILED", error: "datum /x failed" });
  t.deepEqual(failed.provenance, [`prov-in@${a.id}`]);
  const plain = await client.startCommit("prov-out", "master");
  t.deepEqual(plain.provenance, [], "no provenance unless asked");
  t.is(plain.parent, open.id, "the failed commit is not a parent");
  await client.deleteCommit(commitRef("prov-out", plain.id));
});

test("bad provenance is refused with a clear error and starts nothing", async (t) => {
  await client.createRepo("bad-in", "");
  await client.createRepo("bad-out", "");
  const done = await commitWith("bad-in", "/x", "1");
  const open = await client.startCommit("bad-in", "master");
  const failing = await client.startCommit("bad-in", "side");
  await client.finishCommit(commitRef("bad-in", failing.id), "no");
  const before = await client.listCommit("bad-out", "");
  const start = (provenance: readonly string[]): Promise<unknown> =>
    client.startCommit("bad-out", "master", "", "", provenance);
  await refused(t, start([`bad-in@${"f".repeat(32)}`]), "NOT_FOUND",
    /provenance commit bad-in@f{32} not found/);
  await refused(t, start([`nope@${done.id}`]), "NOT_FOUND", /nope@/);
  await refused(t, start([`bad-in@${open.id}`]), "FAILED_PRECONDITION",
    /provenance commit .* is open, not finished/);
  await refused(t, start([`bad-in@${done.id}`, `bad-in@${failing.id}`]), "FAILED_PRECONDITION",
    /is failed, not finished/);
  await refused(t, start(["bad-in@master"]), "INVALID_ARGUMENT", /not a branch/);
  await refused(t, start(["bad-in"]), "INVALID_ARGUMENT", /repo@commit-id/);
  await refused(t, start([`@${done.id}`]), "INVALID_ARGUMENT", /repo@commit-id/);
  await refused(t, start([`a@b@${done.id}`]), "INVALID_ARGUMENT", /repo@commit-id/);
  await refused(t, start([`bad in@${done.id}`]), "INVALID_ARGUMENT", /repo name/);
  await refused(t, start([`bad-in@${done.id}`, `bad-in@${done.id}`]), "INVALID_ARGUMENT",
    /listed twice/);
  const many = Array.from({ length: 65 }, (_, i) => `bad-in@${i.toString(16).padStart(32, "0")}`);
  await refused(t, start(many), "LIMIT_EXCEEDED", /metaProvenanceCommitsMax is 64; got 65/);
  t.deepEqual(await client.listCommit("bad-out", ""), before);
  await refused(t, client.inspectBranch("bad-out", "master"), "NOT_FOUND");
  const ok = await start([`bad-in@${done.id}`]);
  t.like(ok, { state: "OPEN", provenance: [`bad-in@${done.id}`] });
});

test("a failed commit leaves the branch as it was and is never yielded by subscribe",
  async (t) => {
    await client.createRepo("fail", "");
    const base = await commitWith("fail", "/a", "1");
    const subscription = client.subscribeCommit("fail", "master");
    const doomed = await client.startCommit("fail", "master");
    await put("fail", doomed.id, "/a", "2");
    await put("fail", doomed.id, "/b", "new");
    const waiting = client.waitCommit(commitRef("fail", doomed.id), 60_000);
    const failed = await client.finishCommit(commitRef("fail", doomed.id), "job failed: boom");
    t.like(failed, { id: doomed.id, state: "FAILED", error: "job failed: boom" });
    t.true(Number(failed.finished_ms) > 0);
    t.like(await waiting, { id: doomed.id, state: "FAILED", error: "job failed: boom" });
    t.like(await client.waitCommit(commitRef("fail", doomed.id), 60_000), { state: "FAILED" });
    t.like(await client.inspectCommit(commitRef("fail", doomed.id)),
      { state: "FAILED", error: "job failed: boom" });
    t.like(await client.inspectBranch("fail", "master"), { head: base.id, open: "" });
    t.is((await client.inspectCommit(commitRef("fail", "master"))).id, base.id);
    t.is(await read("fail", "master", "/a"), "1");
    await refused(t, read("fail", "master", "/b"), "NOT_FOUND");
    await refused(t, client.finishCommit(commitRef("fail", doomed.id)), "FAILED_PRECONDITION",
      /failed/);
    await refused(t, client.finishCommit(commitRef("fail", doomed.id), "again"),
      "FAILED_PRECONDITION", /failed/);
    t.deepEqual((await client.listCommit("fail", "master")).map((c) => c.id), [base.id]);
    const states = (await client.listCommit("fail", "")).map((c) => `${c.id}:${c.state}`);
    t.deepEqual(states.sort(), [`${base.id}:FINISHED`, `${doomed.id}:FAILED`].sort());
    const next = await commitWith("fail", "/c", "3");
    t.is(next.parent, base.id);
    const seen: string[] = [];
    try {
      for await (const commit of subscription.commits) {
        seen.push(`${commit.id}:${commit.state}`);
        if (seen.length === 2) break;
      }
    } finally {
      subscription.cancel();
    }
    t.deepEqual(seen, [`${base.id}:FINISHED`, `${next.id}:FINISHED`]);
  });

test("pfs start commit --provenance (repeatable) and pfs inspect commit show it", async (t) => {
  await client.createRepo("cli-in", "");
  await client.createRepo("cli-out", "");
  const a = await commitWith("cli-in", "/x", "1");
  const b = await commitWith("cli-in", "/x", "2");
  const started = await pfs(["start", "commit", "cli-out@master",
    "--provenance", `cli-in@${a.id}`, "--provenance", `cli-in@${b.id}`]);
  t.is(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  t.regex(id, /^[0-9a-f]{32}$/);
  const text = await pfs(["inspect", "commit", `cli-out@${id}`]);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, new RegExp(`Provenance:\\s+cli-in@${a.id}, cli-in@${b.id}`));
  const failed = await pfs(["finish", "commit", `cli-out@${id}`, "--error", "boom"]);
  t.is(failed.code, 0, failed.stderr);
  const json = await pfs(["inspect", "commit", `cli-out@${id}`, "--json"]);
  t.is(json.code, 0, json.stderr);
  t.like(JSON.parse(json.stdout) as CommitInfoMessage, {
    id, state: "FAILED", error: "boom", provenance: [`cli-in@${a.id}`, `cli-in@${b.id}`],
  });
  const bad = await pfs(["start", "commit", "cli-out@master", "--provenance", "cli-in@master"]);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /not a branch/);
  t.is(bad.stdout, "");
});
