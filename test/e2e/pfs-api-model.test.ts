// Goal: whatever sequence of repo, branch, commit and file operations a user sends through the
// pfs API of a real cluster, every read of every finished commit agrees with a plain in-memory
// model (pfs-api-model-support.ts), and every refusal the model predicts (an unknown repo,
// branch or commit, a write to a finished commit, a second open commit on a branch, an open
// branch re-pointed...) comes back with the expected gRPC code and changes nothing.
// Method: a 3-node pfsd cluster (embedded etcd, --shards 8), one raw client per node; fast-check
// generates sequences of create/delete repo, create/delete branch, start commit, put (overwrite
// and append, into an open commit or a branch, which then gets a commit of its own; empty, small
// and multi-chunk files), delete file, copy file (within and across repos), finish and delete
// commit, each sent to the node the op names. After each finish (explicit or the API's own
// commit), the commit is read back in full: inspect commit, list file of several directories,
// glob, inspect and get of every file (and a byte range), diff against its parent, list branch
// and list commit. Each run uses repos of its own and deletes them at its end. The seed is
// printed (PFS_TEST_SEED replays it); PFS_MODEL_RUNS raises the number of runs; on a failure
// fast-check prints the shrunk op list.
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import test from "ava";
import fc from "fast-check";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import {
  type ModelCommit, type ModelFiles, PfsModel, type Refusal, type WriteTo, grpcCode,
  isAtOrUnder, modelChildren, modelDiff, modelGlob, modelSize, refusal, sha256,
} from "./pfs-api-model-support.js";
import { seededBytes } from "./pfs-api-flow.js";
import { PfsClient, pfsAddresses } from "./pfs-api-support.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 1_000_000);
let cluster: MemberCluster | undefined;
let clients: PfsClient[] = [];

test.before(async () => {
  cluster = await startCluster({ kind: "pfsd", size: 3,
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", "8"] });
  const addresses = await pfsAddresses(cluster.members.map((member) => member.clientUrl), 3);
  clients = addresses.map((address) => new PfsClient(address));
});

test.after.always(async () => {
  for (const client of clients) client.close();
  await cluster?.stop();
});

// ---- the operations --------------------------------------------------------------------------

const branches = ["master", "dev"] as const;
/** Files never collide with directories ("/d" is only ever a directory). */
const filePaths = ["/a", "/b.csv", "/d.csv", "/d/x", "/d/y.csv", "/d/e/z", "/f/g.csv"];
const deletePaths = ["/a", "/d", "/d/e", "/f", "/missing", "/d/y.csv", "/c", "/b.csv", "/"];
const copyDirectories = ["/d", "/f", "/d/e", "/nope"];
/** Directory copies land below /c, which no put or single-file copy writes. */
const copyTarget = "/c";
const listDirectories = ["/", "/d", "/d/e", "/c", "/f", "/nope"];
const unknownCommit = "0123456789abcdef0123456789abcdef";
/** gRPC DATA_LOSS, the status of DATA_CORRUPTED. */
const dataLoss = 15;

type Op =
  | { kind: "createRepo" | "deleteRepo"; repo: number; node: number }
  | { kind: "createBranch"; repo: number; branch: number; head: number; node: number }
  | { kind: "deleteBranch"; repo: number; branch: number; node: number }
  | { kind: "start"; repo: number; branch: number; parent: number; node: number }
  | { kind: "put"; repo: number; target: number; file: number; size: number; append: boolean;
    fill: number; node: number }
  | { kind: "delete"; repo: number; target: number; path: number; recursive: boolean;
    node: number }
  | { kind: "copy"; repo: number; from: number; path: number; toRepo: number; target: number;
    to: number; append: boolean; node: number }
  | { kind: "finish" | "deleteCommit"; repo: number; commit: number; node: number };

const nat = fc.nat({ max: 60 });
const size = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 8, arbitrary: fc.nat({ max: 3000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_500_000, max: 4_500_000 }) },
);
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({
    kind: fc.constantFrom("createRepo" as const, "deleteRepo" as const), repo: nat, node: nat }) },
  { weight: 1, arbitrary: fc.record({
    kind: fc.constant("createBranch" as const), repo: nat, branch: nat, head: nat, node: nat }) },
  { weight: 1, arbitrary: fc.record({
    kind: fc.constant("deleteBranch" as const), repo: nat, branch: nat, node: nat }) },
  { weight: 3, arbitrary: fc.record({
    kind: fc.constant("start" as const), repo: nat, branch: nat, parent: nat, node: nat }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("put" as const), repo: nat, target: nat,
    file: nat, size, append: fc.boolean(), fill: fc.nat(), node: nat }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), repo: nat,
    target: nat, path: nat, recursive: fc.boolean(), node: nat }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("copy" as const), repo: nat, from: nat,
    path: nat, toRepo: nat, target: nat, to: nat, append: fc.boolean(), node: nat }) },
  { weight: 3, arbitrary: fc.record({
    kind: fc.constantFrom("finish" as const, "deleteCommit" as const), repo: nat, commit: nat,
    node: nat }) },
);

function pick<T>(items: readonly T[], at: number): T {
  const item = items[at % items.length];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

function sameLines(what: string, actual: readonly string[], expected: readonly string[]): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}:\n  got      ${JSON.stringify(actual)}\n  expected ` +
      JSON.stringify(expected));
  }
}

/** A call that must fail with `expected`'s code. */
async function refused(what: string, call: Promise<unknown>, expected: Refusal): Promise<void> {
  let failure: { code: number; details: string } | undefined;
  try {
    await call;
  } catch (error: unknown) {
    failure = error as { code: number; details: string };
  }
  if (failure === undefined) {
    throw new Error(`${what} succeeded; the model expected code ${expected.code} (${expected.why})`);
  }
  if (failure.code !== expected.code) {
    throw new Error(`${what} failed with code ${failure.code} (${failure.details}); the model ` +
      `expected ${expected.code} (${expected.why})`);
  }
}

// ---- one run ---------------------------------------------------------------------------------

/** How a write names its target: a branch, an open commit, a finished or unknown commit. */
interface Target {
  readonly text: string;
  readonly isCommitId: boolean;
}

class Run {
  readonly model = new PfsModel();
  readonly repoNames: readonly string[];
  #turn = 0;

  constructor(run: number) {
    this.repoNames = [`m${run}-a`, `m${run}-b`];
  }

  #client(node: number): PfsClient {
    return pick(clients, node);
  }

  /** A different node for each read, so reads go everywhere too. */
  #reader(): PfsClient {
    this.#turn += 1;
    return pick(clients, this.#turn);
  }

  async apply(op: Op): Promise<void> {
    const started = Date.now();
    try {
      await this.#apply(op);
    } finally {
      profile.set(op.kind, (profile.get(op.kind) ?? 0) + Date.now() - started);
    }
  }

  async #apply(op: Op): Promise<void> {
    const repo = pick(this.repoNames, op.repo);
    const client = this.#client(op.node);
    switch (op.kind) {
      case "createRepo": {
        const why = this.model.createRepo(repo);
        if (why !== undefined) await refused("CreateRepo", client.call("CreateRepo", { name: repo }), why);
        else await client.call("CreateRepo", { name: repo });
        return;
      }
      case "deleteRepo": {
        const model = this.model.repo(repo);
        const why = this.model.deleteRepo(repo);
        if (why !== undefined) {
          await refused("DeleteRepo", client.call("DeleteRepo", { name: repo }), why);
          return;
        }
        const deleted = await client.call("DeleteRepo", { name: repo });
        sameLines("DeleteRepo counts", [String(deleted.branches_deleted), String(deleted.commits_deleted)],
          [String(model?.branches.size), String(model?.commits.size)]);
        return;
      }
      case "createBranch": return this.#createBranch(op, repo, client);
      case "deleteBranch": return this.#deleteBranch(op, repo, client);
      case "start": return this.#start(op, repo, client);
      case "put": return this.#put(op, repo, client);
      case "delete": return this.#delete(op, repo, client);
      case "copy": return this.#copy(op, repo, client);
      case "finish":
      case "deleteCommit":
        return this.#end(op, repo, client);
    }
  }

  /** A finished commit id of `repo` picked by `at`, or undefined when it has none. */
  #finishedId(repo: string, at: number): string | undefined {
    const finished = this.model.repo(repo)?.finished ?? [];
    return finished.length === 0 ? undefined : pick(finished, at);
  }

  #openIds(repo: string): string[] {
    const model = this.model.repo(repo);
    if (model === undefined) return [];
    return [...model.commits.values()].filter((commit) => commit.state === "open")
      .map((commit) => commit.id).sort();
  }

  #target(repo: string, at: number): Target {
    const open = this.#openIds(repo);
    const finished = this.#finishedId(repo, at >> 3);
    switch (at % 8) {
      case 2: case 3: case 4:
        if (open.length > 0) return { text: pick(open, at >> 3), isCommitId: true };
        break;
      case 5:
        if (finished !== undefined) return { text: finished, isCommitId: true };
        break;
      case 6:
        return { text: unknownCommit, isCommitId: true };
      default:
        break;
    }
    return { text: pick(branches, at >> 1), isCommitId: false };
  }

  async #createBranch(op: Extract<Op, { kind: "createBranch" }>, repo: string,
    client: PfsClient): Promise<void> {
    const branch = pick(branches, op.branch);
    let head = "";
    let headRef = "";
    let why: Refusal | undefined;
    if (op.head % 4 === 3) {
      // The head named by another branch: that branch's last finished commit.
      headRef = pick(branches, op.branch + 1);
      const model = this.model.repo(repo);
      const other = model?.branches.get(headRef);
      if (model === undefined) why = refusal(grpcCode.notFound, `no repo ${repo}`);
      else if (other === undefined || other.head === "") {
        why = refusal(grpcCode.notFound, `${headRef} has no head`);
      } else head = other.head;
    } else if (op.head % 4 !== 0) {
      head = this.#finishedId(repo, op.head >> 2) ?? "";
      headRef = head;
    }
    why ??= this.model.branchRefusal(repo, branch, head);
    const request = { repo, branch, head: { repo, commit: headRef } };
    if (why !== undefined) {
      await refused(`CreateBranch ${branch} -> ${headRef}`, client.call("CreateBranch", request), why);
      await this.checkRepo(repo);
      return;
    }
    const answer = await client.call("CreateBranch", request);
    this.model.pointBranch(repo, branch, head);
    sameLines("CreateBranch", [answer.head, answer.open], [head, ""]);
  }

  async #deleteBranch(op: Extract<Op, { kind: "deleteBranch" }>, repo: string,
    client: PfsClient): Promise<void> {
    const branch = pick(branches, op.branch);
    const why = this.model.deleteBranchRefusal(repo, branch);
    const request = { repo, branch };
    if (why !== undefined) {
      await refused(`DeleteBranch ${branch}`, client.call("DeleteBranch", request), why);
      await this.checkRepo(repo);
      return;
    }
    await client.call("DeleteBranch", request);
    this.model.repo(repo)?.branches.delete(branch);
  }

  async #start(op: Extract<Op, { kind: "start" }>, repo: string, client: PfsClient):
    Promise<void> {
    const branch = pick(branches, op.branch);
    const parent = op.parent % 5 === 4 ? unknownCommit
      : op.parent % 5 >= 2 ? this.#finishedId(repo, op.parent) ?? "" : "";
    const why = this.model.startRefusal(repo, branch, parent);
    const request = { repo, branch, parent };
    if (why !== undefined) {
      await refused(`StartCommit ${branch} parent ${parent}`, client.call("StartCommit", request), why);
      await this.checkRepo(repo);
      return;
    }
    const started = await client.call("StartCommit", request);
    const commit = this.model.started(repo, branch, started.id, parent);
    sameLines("StartCommit", [started.state, started.parent, started.branch],
      ["OPEN", commit.parent, branch]);
  }

  /**
   * Runs one write: refusals of the target first, then `refusalOf(files)` of the write itself
   * against the files it would change; otherwise `write` runs and `change` edits the files.
   */
  async #write(what: string, repo: string, target: Target, refusalOf: (files: ModelFiles) =>
    Refusal | undefined, write: () => Promise<{ commit: string }>,
  change: (files: ModelFiles) => void): Promise<void> {
    const to: WriteTo = this.model.writeTo(repo, target.text, target.isCommitId);
    const files = to.kind === "open" ? to.commit.files : to.kind === "own" ? to.files : undefined;
    const why = to.kind === "refused" ? to.refusal : refusalOf(files ?? new Map<string, Buffer>());
    if (why !== undefined) {
      await refused(`${what} into ${repo}@${target.text}`, write(), why);
      await this.checkRepo(repo);
      return;
    }
    const answer = await write();
    if (to.kind === "open") {
      change(to.commit.files);
      sameLines(`${what} commit`, [answer.commit], [to.commit.id]);
      return;
    }
    if (to.kind !== "own") throw new Error("unreachable");
    change(to.files);
    this.model.ownCommit(repo, to.branch, answer.commit, to.parent, to.files);
    await this.checkCommit(repo, answer.commit);
  }

  async #put(op: Extract<Op, { kind: "put" }>, repo: string, client: PfsClient): Promise<void> {
    const target = this.#target(repo, op.target);
    const path = pick(filePaths, op.file);
    const data = seededBytes(op.fill, op.size);
    let written = "";
    await this.#write(`PutFile ${path} (${data.length} bytes${op.append ? ", append" : ""})`,
      repo, target, () => undefined, async () => {
        const answer = await client.putFile({ repo, commit: target.text, path, append: op.append },
          [data]);
        written = `${answer.files_written} ${answer.bytes_written}`;
        return answer;
      }, (files) => {
        const before = files.get(path);
        files.set(path, op.append && before !== undefined ? Buffer.concat([before, data]) : data);
      });
    if (written !== "") sameLines("PutFile counts", [written], [`1 ${data.length}`]);
  }

  async #delete(op: Extract<Op, { kind: "delete" }>, repo: string, client: PfsClient):
    Promise<void> {
    const target = this.#target(repo, op.target);
    const path = pick(deletePaths, op.path);
    const doomed = (files: ModelFiles): string[] => [...files.keys()].filter((file) =>
      op.recursive ? isAtOrUnder(path, file) : file === path);
    let expected = 0;
    let deleted = -1;
    if (path === "/" && !op.recursive) {
      const why = refusal(grpcCode.invalidArgument, "deleting / needs recursive");
      await refused("DeleteFile /", client.call("DeleteFile", {
        file: { commit: { repo, commit: target.text }, path }, recursive: false }), why);
      return;
    }
    await this.#write(`DeleteFile ${path}${op.recursive ? " -r" : ""}`, repo, target,
      (files) => {
        expected = doomed(files).length;
        return expected === 0 ? refusal(grpcCode.notFound, `nothing at ${path}`) : undefined;
      },
      async () => {
        const answer = await client.call("DeleteFile", {
          file: { commit: { repo, commit: target.text }, path }, recursive: op.recursive });
        deleted = answer.files_deleted;
        return answer;
      },
      (files) => { for (const file of doomed(files)) files.delete(file); });
    if (deleted >= 0) sameLines("DeleteFile count", [String(deleted)], [String(expected)]);
  }

  /** The source of a copy: a finished commit's files at a path, or its refusal. */
  #copySource(op: Extract<Op, { kind: "copy" }>, repo: string):
    { ref: string; path: string; files: ModelFiles | Refusal } {
    const model = this.model.repo(repo);
    const byBranch = op.from % 3 === 0;
    const ref = byBranch ? pick(branches, op.from >> 2) : this.#finishedId(repo, op.from >> 2) ?? "master";
    const commitId = byBranch || ref === "master" ? model?.branches.get(ref)?.head ?? "" : ref;
    const commit: ModelCommit | undefined = model?.commits.get(commitId);
    const names = [...(commit?.files.keys() ?? [])].sort();
    const path = op.path % 3 === 0 || names.length === 0 ? pick(copyDirectories, op.path >> 2)
      : pick(names, op.path >> 2);
    if (model === undefined) return { ref, path, files: refusal(grpcCode.notFound, `no repo ${repo}`) };
    if (commit === undefined) return { ref, path, files: refusal(grpcCode.notFound, `no head ${ref}`) };
    return { ref, path, files: commit.files };
  }

  async #copy(op: Extract<Op, { kind: "copy" }>, repo: string, client: PfsClient):
    Promise<void> {
    const source = this.#copySource(op, repo);
    const toRepo = pick(this.repoNames, op.toRepo);
    const target = this.#target(toRepo, op.target);
    const request = {
      src: { commit: { repo, commit: source.ref }, path: source.path },
      dst: { commit: { repo: toRepo, commit: target.text }, path: "" }, append: op.append,
    };
    const what = `CopyFile ${repo}@${source.ref}:${source.path} -> ${toRepo}`;
    if (!(source.files instanceof Map)) {
      await refused(what, client.call("CopyFile", { ...request,
        dst: { ...request.dst, path: pick(filePaths, op.to) } }), source.files);
      return;
    }
    const sourceFiles = source.files;
    const single = sourceFiles.get(source.path);
    const placed = new Map<string, Buffer>();
    if (single !== undefined) placed.set(pick(filePaths, op.to), single);
    else {
      for (const [file, bytes] of sourceFiles) {
        if (isAtOrUnder(source.path, file)) {
          placed.set(`${copyTarget}${file.slice(source.path.length)}`, bytes);
        }
      }
    }
    request.dst.path = single !== undefined ? pick(filePaths, op.to) : copyTarget;
    let written = -1;
    await this.#write(`${what}:${request.dst.path}${op.append ? " (append)" : ""}`, toRepo,
      target, () => placed.size === 0 ? refusal(grpcCode.notFound, "nothing to copy") : undefined,
      async () => {
        const answer = await client.call("CopyFile", request);
        written = answer.files_written;
        return answer;
      },
      (files) => {
        for (const [file, bytes] of placed) {
          const before = files.get(file);
          files.set(file, op.append && before !== undefined ? Buffer.concat([before, bytes]) : bytes);
        }
      });
    if (written >= 0) sameLines("CopyFile count", [String(written)], [String(placed.size)]);
  }

  async #end(op: Extract<Op, { kind: "finish" | "deleteCommit" }>, repo: string,
    client: PfsClient): Promise<void> {
    const open = this.#openIds(repo);
    const finished = this.#finishedId(repo, op.commit);
    const id = op.commit % 4 !== 3 && open.length > 0 ? pick(open, op.commit >> 2)
      : finished ?? (op.commit % 8 === 7 ? unknownCommit : undefined);
    if (id === undefined) return;
    const why = this.model.openRefusal(repo, id);
    const request = { commit: { repo, commit: id } };
    const method = op.kind === "finish" ? "FinishCommit" : "DeleteCommit";
    if (why !== undefined) {
      await refused(`${method} ${id}`, client.call(method, request), why);
      await this.checkRepo(repo);
      return;
    }
    const answer = await client.call(method, request);
    if (op.kind === "deleteCommit") {
      this.model.deletedCommit(repo, id);
      sameLines("DeleteCommit", [answer.id], [id]);
      return;
    }
    const commit = this.model.finished(repo, id);
    sameLines("FinishCommit", [answer.state, answer.size_bytes],
      ["FINISHED", String(modelSize(commit.files))]);
    await this.checkCommit(repo, id);
  }

  // ---- checks --------------------------------------------------------------------------------

  /** The repo's branches and commits (or its absence) agree with the model. */
  async checkRepo(repo: string): Promise<void> {
    const model = this.model.repo(repo);
    if (model === undefined) {
      await refused(`InspectRepo ${repo}`, this.#reader().call("InspectRepo", { name: repo }),
        refusal(grpcCode.notFound, "deleted"));
      return;
    }
    const listed = await this.#reader().call("ListBranch", { repo });
    sameLines(`ListBranch ${repo}`, listed.branches.map((branch) =>
      `${branch.name} ${branch.head || "-"} ${branch.open || "-"}`), this.model.branchLines(repo));
    const commits = await this.#reader().call("ListCommit", { repo, branch: "" });
    sameLines(`ListCommit ${repo}`, commits.commits.map((commit) =>
      `${commit.id} ${commit.state === "FINISHED" ? "finished" : commit.state === "OPEN" ? "open"
        : commit.state} ${commit.parent || "-"} ${commit.branch}`).sort(),
    this.model.commitLines(repo));
  }

  /** Every read of the finished commit `id` agrees with the model. */
  async checkCommit(repo: string, id: string): Promise<void> {
    const started = Date.now();
    try {
      await this.#checkCommit(repo, id);
    } finally {
      profile.set("check", (profile.get("check") ?? 0) + Date.now() - started);
      profile.set("checks", (profile.get("checks") ?? 0) + 1);
    }
  }

  async #checkCommit(repo: string, id: string): Promise<void> {
    const commit = this.model.repo(repo)?.commits.get(id);
    if (commit === undefined) throw new Error(`model: no commit ${repo}@${id}`);
    const ref = { repo, commit: id };
    const info = await this.#reader().call("InspectCommit", { commit: ref });
    sameLines(`InspectCommit ${id}`, [info.state, info.parent, info.branch, info.size_bytes],
      ["FINISHED", commit.parent, commit.branch, String(modelSize(commit.files))]);
    const others = [...listDirectories.slice(1), ...commit.files.keys()];
    for (const dir of ["/", pick(others, this.#turn)]) {
      const expected = modelChildren(commit.files, dir);
      const call = this.#reader().call("ListFile", { file: { commit: ref, path: dir } });
      if (expected === undefined) {
        await refused(`ListFile ${dir}`, call, refusal(grpcCode.notFound, "no such directory"));
        continue;
      }
      sameLines(`ListFile ${repo}@${id}:${dir}`, (await call).files.map((file) =>
        `${file.path} ${file.type} ${file.size_bytes} ${file.hash}`), expected.map((child) =>
        `${child.path} ${child.type} ${child.size} ${child.hash}`));
    }
    const globbed = await this.#reader().call("GlobFile", { commit: ref, pattern: "/**" });
    sameLines(`GlobFile ${repo}@${id} /**`, globbed.files.map((file) =>
      `${file.path} ${file.size_bytes} ${file.hash}`), modelGlob(commit.files, "/**").map((path) =>
      `${path} ${commit.files.get(path)?.length} ${sha256(commit.files.get(path) ?? Buffer.alloc(0))}`));
    await this.#checkFiles(repo, commit);
    await this.#checkDiff(repo, commit);
    await this.checkRepo(repo);
  }

  async #checkFiles(repo: string, commit: ModelCommit): Promise<void> {
    const parent = this.model.repo(repo)?.commits.get(commit.parent)?.files;
    let turn = 0;
    for (const [path, bytes] of commit.files) {
      turn += 1;
      // Files the commit did not change were read where they were written (GlobFile checked
      // their size and hash here); one of them is read again.
      if (parent?.get(path)?.equals(bytes) === true && turn !== 1) continue;
      const file = await this.#reader().call("InspectFile",
        { file: { commit: { repo, commit: commit.id }, path } });
      sameLines(`InspectFile ${path}`, [file.size_bytes, file.hash, file.type],
        [String(bytes.length), sha256(bytes), "FILE"]);
      const whole = await this.#reader().getFile(repo, commit.id, path);
      sameLines(`GetFile ${path}`, [sha256(whole)], [sha256(bytes)]);
      const offset = (turn * 7919 + bytes.length) % (bytes.length + 1);
      const length = (turn * 104_729) % (bytes.length - offset + 5);
      const part = await this.#reader().getFile(repo, commit.id, path, offset, length);
      const end = length === 0 ? bytes.length : Math.min(bytes.length, offset + length);
      sameLines(`GetFile ${path} [${offset}, +${length})`, [sha256(part)],
        [sha256(bytes.subarray(offset, end))]);
    }
  }

  async #checkDiff(repo: string, commit: ModelCommit): Promise<void> {
    const parent = this.model.repo(repo)?.commits.get(commit.parent)?.files ?? new Map<string, Buffer>();
    const shallow = this.#turn % 2 === 0;
    for (const dir of shallow ? ["/d"] : ["/"]) {
      const diff = await this.#reader().call("DiffFile", {
        new_file: { commit: { repo, commit: commit.id }, path: dir }, old_file: null, shallow });
      const side = (file: { size_bytes: string; hash: string } | null): string =>
        file === null ? "-" : `${file.size_bytes}:${file.hash}`;
      sameLines(`DiffFile ${repo}@${commit.id}:${dir}`, diff.diffs.map((entry) =>
        `${entry.new_file?.path ?? entry.old_file?.path} ${side(entry.old_file)} ` +
        side(entry.new_file)), modelDiff(parent, commit.files, dir, shallow));
    }
  }

  /** The end of a run: every repo agrees, its last commits read back, then it is deleted. */
  async finish(): Promise<void> {
    for (const repo of this.repoNames) {
      await this.checkRepo(repo);
      const model = this.model.repo(repo);
      if (model === undefined) continue;
      for (const id of model.finished.slice(-2)) await this.checkCommit(repo, id);
      await this.#reader().call("DeleteRepo", { name: repo });
      this.model.deleteRepo(repo);
    }
  }
}

let runs = 0;
const profile = new Map<string, number>();

test(`random op sequences through every node agree with the model (seed ${seed})`, async (t) => {
  t.log(`seed ${seed} (replay with PFS_TEST_SEED=${seed})`);
  // One long test: each run is a few seconds of real cluster calls, and shrinking a failure
  // re-runs many sequences.
  t.timeout(20 * 60_000);
  const property = fc.asyncProperty(fc.array(opArbitrary, { minLength: 20, maxLength: 30 }),
    async (ops) => {
      runs += 1;
      const run = new Run(runs);
      // Every run starts with its repos, so most ops land somewhere.
      await run.apply({ kind: "createRepo", repo: 0, node: runs });
      await run.apply({ kind: "createRepo", repo: 1, node: runs + 1 });
      for (const [step, op] of ops.entries()) {
        try {
          await run.apply(op);
        } catch (error: unknown) {
          throw new Error(`op ${step} ${JSON.stringify(op)}: ${(error as Error).message}`,
            { cause: error });
        }
      }
      await run.finish();
    });
  const numRuns = Number(process.env["PFS_MODEL_RUNS"] ?? "12");
  await fc.assert(property, {
    seed, numRuns, includeErrorInReport: true, interruptAfterTimeLimit: 600_000,
    ...(process.env["PFS_MODEL_NO_SHRINK"] === "1" ? { endOnFailure: true } : {}),
  });
  t.log(JSON.stringify([...profile]));
  t.pass();
});

test("concurrent auto-commit puts into one branch all succeed, each in its own commit",
  async (t) => {
    const repo = "concurrent";
    await pick(clients, 0).call("CreateRepo", { name: repo });
    const writers = Array.from({ length: 8 }, (_, index) => index);
    const answers = await Promise.all(writers.map((index) => pick(clients, index).putFile(
      { repo, commit: "master", path: `/w/${index}.txt` }, [Buffer.from(`writer ${index}`)])));
    t.is(new Set(answers.map((answer) => answer.commit)).size, writers.length);
    const history = await pick(clients, 1).call("ListCommit", { repo, branch: "master" });
    t.deepEqual(history.commits.map((commit) => commit.state), writers.map(() => "FINISHED"));
    t.deepEqual(history.commits.map((commit) => commit.id).sort(),
      answers.map((answer) => answer.commit).sort());
    const files = await pick(clients, 2).call("ListFile",
      { file: { commit: { repo, commit: "master" }, path: "/w" } });
    t.deepEqual(files.files.map((file) => file.path), writers.map((index) => `/w/${index}.txt`));
    const branch = await pick(clients, 0).call("InspectBranch", { repo, branch: "master" });
    t.is(branch.open, "");
    t.is(branch.head, history.commits[0]?.id ?? "none");
  });

/** The paths of chunk `id` (`<fan-out>/<rest of id>`) in every member's data directory. */
async function chunkFiles(id: string): Promise<string[]> {
  const found: string[] = [];
  for (const member of cluster?.members ?? []) {
    const names = await readdir(join(member.dataDir, "pfs"), { recursive: true });
    for (const name of names.filter((candidate) => candidate.endsWith(join(id.slice(0, 2), id.slice(2))))) {
      found.push(join(member.dataDir, "pfs", name));
    }
  }
  if (found.length === 0) throw new Error(`no chunk file ${id}`);
  return found;
}

/** GetFile's outcome with a deadline: the bytes, or the failure's code and message. */
function getWithDeadline(client: PfsClient, repo: string, path: string, deadlineMs: number):
  Promise<{ code: number; details: string; bytes: number }> {
  return new Promise((resolve) => {
    let bytes = 0;
    const stream = client.getFileStream(repo, "master", path, Date.now() + deadlineMs);
    stream.on("data", (message: { data: Buffer }) => { bytes += message.data.length; });
    stream.on("error", (error: { code: number; details: string }) => {
      resolve({ code: error.code, details: error.details, bytes });
    });
    stream.on("end", () => { resolve({ code: 0, details: "", bytes }); });
  });
}

test("a chunk that fails its hash ends GetFile promptly with DATA_CORRUPTED", async (t) => {
  const repo = "corrupt";
  const client = pick(clients, 0);
  await client.call("CreateRepo", { name: repo });
  // Several chunks of bytes no other test writes; the last one is damaged on disk, so the
  // read fails after data has already gone out.
  const data = seededBytes(seed * 7 + 1, 6 * 1024 * 1024);
  await client.putFile({ repo, commit: "master", path: "/big.bin" }, [data]);
  const file = await client.call("InspectFile",
    { file: { commit: { repo, commit: "master" }, path: "/big.bin" } });
  const last = file.chunks.at(-1);
  if (last === undefined || file.chunks.length < 2) throw new Error("expected several chunks");
  // Every node holds a replica (R=3 on 3 nodes); the third copy arrives after the finish
  // returned (W=2). Damage every copy, once all are there, so no replica can repair it.
  const everyCopyBy = Date.now() + 60_000;
  while ((await chunkFiles(last.id)).length < (cluster?.members.length ?? 0)) {
    if (Date.now() > everyCopyBy) throw new Error(`chunk ${last.id} did not reach every node`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const where of await chunkFiles(last.id)) {
    const stored = await readFile(where);
    const middle = stored.length >> 1;
    stored[middle] = (stored[middle] ?? 0) ^ 0xff;
    await writeFile(where, stored);
  }
  for (const reader of clients) {
    const started = Date.now();
    const outcome = await getWithDeadline(reader, repo, "/big.bin", 120_000);
    t.is(outcome.code, dataLoss, `${reader.address}: ${outcome.details}`);
    t.regex(outcome.details, /chunk|hash|checksum|corrupt/i);
    t.true(Date.now() - started < 60_000, "the error comes long before the deadline");
  }
});
