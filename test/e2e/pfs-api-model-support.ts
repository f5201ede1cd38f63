// The plain in-memory model of pfs (DESIGN.md §3) that pfs-api-model.test.ts runs op sequences
// against beside a real cluster: repos hold branches (head, open) and commits (state, parent,
// files as path → bytes). Each operation first predicts its refusal (the gRPC code the real
// API must answer, as MetaStore and CommitResolver implement the rules) and, only when there is
// none, changes the model. The read helpers give what every read of a finished commit must
// answer (children with sizes, glob, diff), sorted by path as the API sorts (code units).
import { createHash } from "node:crypto";
import { globMatch } from "../../pkg/pfs/index.js";

/** gRPC status codes the model predicts. */
export const grpcCode = {
  ok: 0, invalidArgument: 3, notFound: 5, alreadyExists: 6, failedPrecondition: 9,
} as const;

export type ModelFiles = Map<string, Buffer>;

export interface ModelCommit {
  readonly id: string;
  readonly branch: string;
  readonly parent: string;
  state: "open" | "finished";
  readonly files: ModelFiles;
}

export interface ModelBranch {
  head: string;
  open: string;
}

export interface ModelRepo {
  readonly name: string;
  readonly branches: Map<string, ModelBranch>;
  readonly commits: Map<string, ModelCommit>;
  /** Finished commit ids, oldest first (the order ops pick them by). */
  readonly finished: string[];
}

/** A refusal the model predicts: the gRPC code and why (for failure messages). */
export interface Refusal {
  readonly code: number;
  readonly why: string;
}

export function refusal(code: number, why: string): Refusal {
  return { code, why };
}

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Is `path` the directory `dir` itself or below it ("/" holds everything). */
export function isAtOrUnder(dir: string, path: string): boolean {
  return dir === "/" || path === dir || path.startsWith(`${dir}/`);
}

/** What a write to `target` (a branch name or a commit id) of `repo` goes to. */
export type WriteTo =
  | { readonly kind: "refused"; readonly refusal: Refusal }
  | { readonly kind: "open"; readonly commit: ModelCommit }
  | { readonly kind: "own"; readonly branch: string; readonly parent: string;
    readonly files: ModelFiles; readonly newBranch: boolean };

/** Direct children of `dir`: files with size and hash, directories with summed sizes. */
export interface ModelChild {
  readonly path: string;
  readonly type: "FILE" | "DIR";
  readonly size: number;
  readonly hash: string;
}

export class PfsModel {
  readonly repos = new Map<string, ModelRepo>();

  createRepo(name: string): Refusal | undefined {
    if (this.repos.has(name)) return refusal(grpcCode.alreadyExists, `repo ${name} exists`);
    this.repos.set(name, { name, branches: new Map(), commits: new Map(), finished: [] });
    return undefined;
  }

  deleteRepo(name: string): Refusal | undefined {
    if (!this.repos.delete(name)) return refusal(grpcCode.notFound, `no repo ${name}`);
    return undefined;
  }

  /** The refusal of starting a commit on `repo@branch` with `parent` ("" = head), if any. */
  startRefusal(repo: string, branch: string, parent: string): Refusal | undefined {
    const model = this.repos.get(repo);
    if (model === undefined) return refusal(grpcCode.notFound, `no repo ${repo}`);
    const open = model.branches.get(branch)?.open ?? "";
    if (open !== "") return refusal(grpcCode.failedPrecondition, `${branch} has open ${open}`);
    if (parent !== "") {
      const commit = model.commits.get(parent);
      if (commit === undefined) return refusal(grpcCode.notFound, `no commit ${parent}`);
      if (commit.state !== "finished") {
        return refusal(grpcCode.failedPrecondition, `parent ${parent} is ${commit.state}`);
      }
    }
    return undefined;
  }

  /** Records commit `id` started on `repo@branch` (after startRefusal said none). */
  started(repo: string, branch: string, id: string, parent: string): ModelCommit {
    const model = this.#repo(repo);
    const record = model.branches.get(branch) ?? { head: "", open: "" };
    const base = parent === "" ? record.head : parent;
    const files = new Map(base === "" ? [] : this.#commit(model, base).files);
    const commit: ModelCommit = { id, branch, parent: base, state: "open", files };
    model.commits.set(id, commit);
    model.branches.set(branch, { head: record.head, open: id });
    return commit;
  }

  /** Where a write to `repo@target` goes (target: a branch name or a commit id). */
  writeTo(repo: string, target: string, isCommitId: boolean): WriteTo {
    const model = this.repos.get(repo);
    if (model === undefined) {
      return { kind: "refused", refusal: refusal(grpcCode.notFound, `no repo ${repo}`) };
    }
    if (isCommitId) {
      const commit = model.commits.get(target);
      if (commit === undefined) {
        return { kind: "refused", refusal: refusal(grpcCode.notFound, `no commit ${target}`) };
      }
      if (commit.state !== "open") {
        return { kind: "refused",
          refusal: refusal(grpcCode.failedPrecondition, `commit ${target} is ${commit.state}`) };
      }
      return { kind: "open", commit };
    }
    const branch = model.branches.get(target);
    if (branch !== undefined && branch.open !== "") {
      return { kind: "open", commit: this.#commit(model, branch.open) };
    }
    const head = branch?.head ?? "";
    return { kind: "own", branch: target, parent: head, newBranch: branch === undefined,
      files: new Map(head === "" ? [] : this.#commit(model, head).files) };
  }

  /** Records a commit the API started and finished for one write (`files` as written). */
  ownCommit(repo: string, branch: string, id: string, parent: string, files: ModelFiles): void {
    const model = this.#repo(repo);
    model.commits.set(id, { id, branch, parent, state: "finished", files });
    model.finished.push(id);
    model.branches.set(branch, { head: id, open: "" });
  }

  /** The refusal of finishing or deleting commit `id` of `repo`, if any. */
  openRefusal(repo: string, id: string): Refusal | undefined {
    const model = this.repos.get(repo);
    if (model === undefined) return refusal(grpcCode.notFound, `no repo ${repo}`);
    const commit = model.commits.get(id);
    if (commit === undefined) return refusal(grpcCode.notFound, `no commit ${id}`);
    if (commit.state !== "open") {
      return refusal(grpcCode.failedPrecondition, `commit ${id} is ${commit.state}`);
    }
    return undefined;
  }

  finished(repo: string, id: string): ModelCommit {
    const model = this.#repo(repo);
    const commit = this.#commit(model, id);
    commit.state = "finished";
    model.finished.push(id);
    model.branches.set(commit.branch, { head: id, open: "" });
    return commit;
  }

  deletedCommit(repo: string, id: string): void {
    const model = this.#repo(repo);
    const commit = this.#commit(model, id);
    model.commits.delete(id);
    const branch = model.branches.get(commit.branch);
    if (branch !== undefined) branch.open = "";
  }

  /** The refusal of pointing `repo@branch` at `head` ("" = none), if any. */
  branchRefusal(repo: string, branch: string, head: string): Refusal | undefined {
    const model = this.repos.get(repo);
    if (model === undefined) return refusal(grpcCode.notFound, `no repo ${repo}`);
    if (head !== "") {
      const commit = model.commits.get(head);
      if (commit === undefined) return refusal(grpcCode.notFound, `no commit ${head}`);
      if (commit.state !== "finished") {
        return refusal(grpcCode.failedPrecondition, `commit ${head} is ${commit.state}`);
      }
    }
    const open = model.branches.get(branch)?.open ?? "";
    if (open !== "") return refusal(grpcCode.failedPrecondition, `${branch} has open ${open}`);
    return undefined;
  }

  pointBranch(repo: string, branch: string, head: string): void {
    this.#repo(repo).branches.set(branch, { head, open: "" });
  }

  deleteBranchRefusal(repo: string, branch: string): Refusal | undefined {
    const model = this.repos.get(repo);
    if (model === undefined) return refusal(grpcCode.notFound, `no repo ${repo}`);
    const record = model.branches.get(branch);
    if (record === undefined) return refusal(grpcCode.notFound, `no branch ${branch}`);
    if (record.open !== "") {
      return refusal(grpcCode.failedPrecondition, `${branch} has open ${record.open}`);
    }
    return undefined;
  }

  /** Branches of `repo` as ListBranch gives them: "name head open", by name. */
  branchLines(repo: string): string[] {
    const model = this.#repo(repo);
    return [...model.branches.entries()].sort(([a], [b]) => byPath(a, b))
      .map(([name, branch]) => `${name} ${branch.head || "-"} ${branch.open || "-"}`);
  }

  /** Every commit of `repo`: "id state parent branch", by id. */
  commitLines(repo: string): string[] {
    const model = this.#repo(repo);
    return [...model.commits.values()].sort((a, b) => byPath(a.id, b.id))
      .map((commit) => `${commit.id} ${commit.state} ${commit.parent || "-"} ${commit.branch}`);
  }

  repo(name: string): ModelRepo | undefined {
    return this.repos.get(name);
  }

  #repo(name: string): ModelRepo {
    const model = this.repos.get(name);
    if (model === undefined) throw new Error(`model: no repo ${name}`);
    return model;
  }

  #commit(model: ModelRepo, id: string): ModelCommit {
    const commit = model.commits.get(id);
    if (commit === undefined) throw new Error(`model: no commit ${model.name}@${id}`);
    return commit;
  }
}

/** The direct children of `dir` in `files`, by path; undefined when `dir` names nothing. */
export function modelChildren(files: ModelFiles, dir: string): ModelChild[] | undefined {
  const file = files.get(dir);
  if (file !== undefined) {
    return [{ path: dir, type: "FILE", size: file.length, hash: sha256(file) }];
  }
  const prefix = dir === "/" ? "/" : `${dir}/`;
  const children = new Map<string, ModelChild>();
  for (const [path, bytes] of files) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash < 0) {
      children.set(path, { path, type: "FILE", size: bytes.length, hash: sha256(bytes) });
      continue;
    }
    const child = prefix + rest.slice(0, slash);
    const size = (children.get(child)?.size ?? 0) + bytes.length;
    children.set(child, { path: child, type: "DIR", size, hash: "" });
  }
  if (children.size === 0 && dir !== "/") return undefined;
  return [...children.values()].sort((a, b) => byPath(a.path, b.path));
}

/** The paths of `files` matching `pattern`, by path. */
export function modelGlob(files: ModelFiles, pattern: string): string[] {
  return [...files.keys()].filter((path) => {
    const matched = globMatch(pattern, path);
    if (!matched.ok) throw matched.error;
    return matched.value;
  }).sort(byPath);
}

/**
 * The diff of `dir` from `before` to `after` (shallow: only the files directly in it), as
 * lines "path old-size:old-hash new-size:new-hash" ("-" for an absent side).
 */
export function modelDiff(before: ModelFiles, after: ModelFiles, dir: string,
  shallow: boolean): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  const side = (bytes: Buffer | undefined): string =>
    bytes === undefined ? "-" : `${bytes.length}:${sha256(bytes)}`;
  const lines: string[] = [];
  for (const path of [...paths].sort(byPath)) {
    if (!isAtOrUnder(dir, path)) continue;
    if (shallow && path.slice(0, path.lastIndexOf("/") || 1) !== dir) continue;
    const old = before.get(path);
    const now = after.get(path);
    if (old !== undefined && now !== undefined && old.equals(now)) continue;
    lines.push(`${path} ${side(old)} ${side(now)}`);
  }
  return lines;
}

/** The total size of a commit's files. */
export function modelSize(files: ModelFiles): number {
  let size = 0;
  for (const bytes of files.values()) size += bytes.length;
  return size;
}
