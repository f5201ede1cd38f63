/**
 * Assembling a job's output (task-records.ts, staging): the decision, pure, and the copies.
 *
 * `judgeResults` decides from the datums' results and the skipped datums' records whether the
 * job succeeds: every datum that ran must be ok, and no two datums (skipped ones included) may
 * write the same path. The error names the datum roots and the path.
 *
 * `copyOutputs` copies the union of the outputs into the open output commit, server-side
 * (chunks shared): a staging branch whose last commit's `/out` holds exactly its datums'
 * outputs is copied as one directory; otherwise each output is copied from the staging commit
 * its result names (a branch may hold outputs of a datum whose result was never written, which
 * must not leak into the output). A skipped datum's outputs come from its skip record's output
 * commit. Logs go the same way (in bulk from a staging branch's head, log-relay.ts, else one
 * by one). Copying is idempotent (a copy repeated writes the same entry), so an interrupted
 * assembly is simply run again.
 */
import { Readable } from "node:stream";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone (pps calls pfs as a client)
import { type PfsClient, commitRef, fileRef } from "../../pfs/client/index.js";
import { type Logger, PfsError, type Result, err, ok } from "../../common/index.js";
import {
  type DatumResultRecord, type SkipRecord, encodeLogIndex, logIndexPath, logPath, stagedLogPath,
  stagedOutputPath, stagingBranch,
} from "../task-records.js";
import { parseCommitName } from "./job-plan.js";
import { ppsMasterCopiesInFlightMax } from "./limits.js";
import { relayLogs } from "./log-relay.js";

/** Failed datums named in a job's error before "and N more". */
const failuresNamedMax = 5;

/** What `judgeResults` found: the job's counts, and its error when it fails. */
export interface Judgement {
  readonly processed: number;
  readonly failed: number;
  /** "" when the job succeeds. */
  readonly error: string;
}

function failureText(failures: readonly DatumResultRecord[]): string {
  const named = failures.slice(0, failuresNamedMax).map((result) =>
    `datum ${result.root} failed after ${result.attempts} attempt(s) on ${result.node}: ` +
    result.error);
  const more = failures.length - named.length;
  return named.join("; ") + (more > 0 ? `; and ${more} more failed datum(s)` : "");
}

/** The first path two datums both wrote, as an error text; "" when none. */
function collisionText(results: Iterable<DatumResultRecord>,
  skipped: Iterable<SkipRecord>): string {
  const writer = new Map<string, string>();
  const claims: { root: string; outputs: readonly string[] }[] = [...results, ...skipped];
  for (const { root, outputs } of claims) {
    for (const path of outputs) {
      const other = writer.get(path);
      if (other !== undefined) {
        return `datums ${other} and ${root} both wrote ${path}`;
      }
      writer.set(path, root);
    }
  }
  return "";
}

/** Whether the job succeeds, with its counts. */
export function judgeResults(results: ReadonlyMap<string, DatumResultRecord>,
  skipped: ReadonlyMap<string, SkipRecord>): Judgement {
  const all = [...results.values()].sort((a, b) => (a.root < b.root ? -1 : 1));
  const failures = all.filter((result) => !result.ok);
  const processed = all.length - failures.length;
  if (failures.length > 0) {
    return { processed, failed: failures.length, error: failureText(failures) };
  }
  return { processed, failed: 0, error: collisionText(all, skipped.values()) };
}

/** Runs `work` on each item, `limit` at a time (slice by slice); rejects on the first failure. */
export async function inParallel<T>(items: readonly T[], limit: number,
  work: (item: T) => Promise<void>): Promise<void> {
  for (let start = 0; start < items.length; start += limit) {
    await Promise.all(items.slice(start, start + limit).map(work));
  }
}

/** One copy of a file or a directory from a finished commit into the output commit. */
interface Copy { readonly from: string; readonly fromPath: string; readonly toPath: string }

/** The files under `/out` of `commit` ("repo@id"), as output paths. */
async function stagedOutputs(pfs: PfsClient, commit: string): Promise<Set<string>> {
  const { repo, id } = parseCommitName(commit);
  const entries = await pfs.globFile(commitRef(repo, id), stagedOutputPath("/**"));
  return new Set(entries.filter((entry) => entry.type === "FILE")
    .map((entry) => entry.path.slice(stagedOutputPath("").length)));
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item));
}

/**
 * `repo@head` of the staging branch of `jobId` on `node` when that head is the staging commit
 * one of `results` names (then it holds what every earlier commit of the branch held), else
 * undefined.
 */
async function stagingHead(pfs: PfsClient, repo: string, jobId: string, node: string,
  results: readonly DatumResultRecord[]): Promise<string | undefined> {
  const branch = await pfs.inspectBranch(repo, stagingBranch(jobId, node));
  const head = `${repo}@${branch.head}`;
  return branch.head !== "" && results.some((result) => result.staged === head) ? head
    : undefined;
}

/** The copies of one node's staged results: its branch's whole `/out` when it matches. */
async function nodeCopies(pfs: PfsClient, repo: string, jobId: string, node: string,
  results: readonly DatumResultRecord[]): Promise<Copy[]> {
  const wanted = new Set(results.flatMap((result) => result.outputs));
  const perFile = results.flatMap((result) => result.outputs.map((path) =>
    ({ from: result.staged, fromPath: stagedOutputPath(path), toPath: path })));
  if (wanted.size < 2) return perFile;
  const head = await stagingHead(pfs, repo, jobId, node, results);
  if (head === undefined || !sameSet(await stagedOutputs(pfs, head), wanted)) return perFile;
  return [{ from: head, fromPath: stagedOutputPath(""), toPath: "/" }];
}

/** `results` by the node that ran them. */
function byNode(results: Iterable<DatumResultRecord>): Map<string, DatumResultRecord[]> {
  const groups = new Map<string, DatumResultRecord[]>();
  for (const result of results) {
    const group = groups.get(result.node);
    if (group === undefined) groups.set(result.node, [result]);
    else group.push(result);
  }
  return groups;
}

/** Copies every output of `results` and `skipped` into the open `output` commit. */
export async function copyOutputs(pfs: PfsClient, jobId: string, output: string,
  results: ReadonlyMap<string, DatumResultRecord>, skipped: ReadonlyMap<string, SkipRecord>):
  Promise<void> {
  const target = parseCommitName(output);
  const copies: Copy[] = [];
  const withOutputs = [...results.values()].filter((result) => result.outputs.length > 0);
  for (const [node, group] of byNode(withOutputs)) {
    copies.push(...await nodeCopies(pfs, target.repo, jobId, node, group));
  }
  for (const skip of skipped.values()) {
    copies.push(...skip.outputs.map((path) =>
      ({ from: skip.outputCommit, fromPath: path, toPath: path })));
  }
  await inParallel(copies, ppsMasterCopiesInFlightMax, async (copy) => {
    const source = parseCommitName(copy.from);
    await pfs.copyFile(fileRef(source.repo, source.id, copy.fromPath),
      fileRef(target.repo, target.id, copy.toPath));
  });
}

/**
 * Copies each result's log into the open `logs` commit at `logPath(job, datum)`: a node's
 * logs in bulk from its staging branch's head (log-relay.ts), the rest one by one. A log
 * missing from its staging commit is reported and left out.
 */
export async function copyLogs(pfs: PfsClient, jobId: string, logs: string,
  results: ReadonlyMap<string, DatumResultRecord>, logger: Logger): Promise<void> {
  const target = parseCommitName(logs);
  const staged = [...results.values()].filter((result) => result.staged !== "");
  const oneByOne: DatumResultRecord[] = [];
  for (const [node, group] of byNode(staged)) {
    const head = group.length < 2 ? undefined
      : await stagingHead(pfs, target.repo, jobId, node, group);
    if (head === undefined) {
      oneByOne.push(...group);
      continue;
    }
    const relayed = await relayLogs(pfs, jobId, head, logs,
      new Set(group.map((result) => result.datumId))).catch((error: unknown) => {
      if (!(error instanceof PfsError && error.code === "NOT_FOUND")) throw error;
      return new Set<string>(); // No /log there: each is looked for where its result says.
    });
    oneByOne.push(...group.filter((result) => !relayed.has(result.datumId)));
  }
  await inParallel(oneByOne, ppsMasterCopiesInFlightMax, async (result) => {
    const source = parseCommitName(result.staged);
    await pfs.copyFile(fileRef(source.repo, source.id, stagedLogPath(result.datumId)),
      fileRef(target.repo, target.id, logPath(jobId, result.datumId))).catch((error: unknown) => {
      if (!(error instanceof PfsError && error.code === "NOT_FOUND")) throw error;
      logger.warn("a datum's staged log is missing", { job: jobId, datum: result.datumId });
    });
  });
}

/**
 * Puts the index of the job's datum logs (root, node, outcome of each result, by root) into
 * the open `logs` commit: the results go with the job, the index stays beside the logs.
 */
export async function writeLogIndex(pfs: PfsClient, jobId: string, logs: string,
  results: ReadonlyMap<string, DatumResultRecord>): Promise<void> {
  const target = parseCommitName(logs);
  const entries = [...results.values()]
    .sort((a, b) => (a.root < b.root ? -1 : a.root > b.root ? 1 : 0))
    .map((result) => ({ datumId: result.datumId, root: result.root, node: result.node,
      ok: result.ok, attempts: result.attempts }));
  await pfs.putFile({ commit: commitRef(target.repo, target.id), path: logIndexPath(jobId),
    append: false, format: "RAW" }, Readable.from([encodeLogIndex(entries)]));
}

/** The results of a job whose every task has a result, or the ids still missing one. */
export function completeResults(toRun: readonly { readonly id: string }[],
  results: ReadonlyMap<string, DatumResultRecord>):
  Result<ReadonlyMap<string, DatumResultRecord>, number> {
  let missing = 0;
  const found = new Map<string, DatumResultRecord>();
  for (const datum of toRun) {
    const result = results.get(datum.id);
    if (result === undefined) missing += 1;
    else found.set(datum.id, result);
  }
  return missing === 0 ? ok(found) : err(missing);
}
