/**
 * The chaos run's writers: K concurrent clients, writer i committing to branch `master` of its
 * own repo `chaos-w<i>`. One cycle: pick a random running node, fail any commit the branch
 * still has open from an earlier broken cycle, start a commit, put 1–5 seeded files (some
 * multi-chunk) under the commit's own directory `/c<n>/`, finish. Every call goes to the
 * cycle's node; a failed call ends the cycle and the next one picks a node again.
 *
 * Each commit attempt is recorded with what it wrote (path, size, sha256 and the seed that
 * regenerates the bytes) and its outcome:
 * - "ok": FinishCommit returned the commit FINISHED;
 * - "failed-definite": the commit surely did not finish: FinishCommit (or a put) failed with a
 *   code that says so (the commit failed, or never could), or the writer itself failed the
 *   commit (FinishCommit with an error) and that call returned;
 * - "indeterminate": a call broke without an answer (UNAVAILABLE, DEADLINE_EXCEEDED, a lost
 *   connection); the commit may or may not have finished.
 * Because each commit writes only below its own directory, the checker can tell exactly which
 * commits' data a later commit shows.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import { Prng } from "../../pkg/common/index.js";
import { seededHash, seededPieces } from "../e2e/pfs-crash-support.js";
import type { PfsCluster } from "./pfs-cluster.js";
import {
  bigFileBytesRange, bigFileShare, callDeadlineMs, filesPerCommitRange, putDeadlineMs,
  smallFileBytesRange, writerBackoffMsRange,
} from "./limits.js";

export type CommitOutcome = "ok" | "failed-definite" | "indeterminate";

export interface WrittenFile {
  readonly path: string;
  readonly size: number;
  /** Regenerates the bytes: seededPieces(seed, size). */
  readonly seed: number;
  readonly sha256: string;
  /** The put returned; false: it broke, so the file may or may not be in the commit. */
  acknowledged: boolean;
}

export interface CommitRecord {
  readonly repo: string;
  readonly commit: string;
  /** The directory every file of the commit is below, "/c<n>". */
  readonly dir: string;
  /** The files put, in order; only the last may be unacknowledged. */
  readonly files: WrittenFile[];
  outcome: CommitOutcome;
  /** The node the cycle talked to. */
  readonly node: string;
  /** performance-free wall ms (Date.now()) when the finish returned, for "ok". */
  endedMs: number;
  /** Why it was not ok. */
  error: string;
}

/** gRPC codes after which a commit surely did not finish. */
const definiteCodes: ReadonlySet<number> = new Set([
  GrpcStatus.INVALID_ARGUMENT, GrpcStatus.NOT_FOUND, GrpcStatus.FAILED_PRECONDITION,
  GrpcStatus.ABORTED, GrpcStatus.OUT_OF_RANGE,
]);

/** The outcome a failed finish (or put) means. */
export function outcomeOfError(error: unknown): CommitOutcome {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" && definiteCodes.has(code) ? "failed-definite"
    : "indeterminate";
}

export function describeError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const text = error instanceof Error ? error.message : String(error);
  return `${typeof code === "number" ? `code ${code}: ` : ""}${text}`.slice(0, 300);
}

/** Rejects with a DEADLINE-like error when `promise` takes longer than `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(Object.assign(new Error(`${what}: no answer in ${ms} ms`),
        { code: GrpcStatus.DEADLINE_EXCEEDED }));
    }, ms);
    promise.then((value) => { clearTimeout(timer); resolve(value); },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the writers did, for the checker and the report. */
export interface WriterLog {
  readonly records: CommitRecord[];
  /** Attempts that ended before a commit existed (start failed, node down). */
  failedCycles: number;
  /** What the writers saw that must never happen (an "ok" commit failed afterwards). */
  readonly violations: string[];
}

export class Writers {
  readonly log: WriterLog = { records: [], failedCycles: 0, violations: [] };
  readonly #cluster: PfsCluster;
  readonly #prng: Prng;
  readonly #count: number;
  #stopped = false;
  #sequence = 0;
  #loops: Promise<void>[] = [];

  constructor(cluster: PfsCluster, seed: number, count: number) {
    this.#cluster = cluster;
    this.#prng = new Prng(seed);
    this.#count = count;
  }

  static repoOf(writer: number): string {
    return `chaos-w${writer}`;
  }

  /** Creates the repos (retrying on other nodes) and starts the loops. */
  async start(): Promise<void> {
    for (let writer = 0; writer < this.#count; writer += 1) {
      const repo = Writers.repoOf(writer);
      for (let attempt = 0; ; attempt += 1) {
        try {
          await this.#cluster.client(this.#pickNode()).call("CreateRepo", { name: repo });
          break;
        } catch (error: unknown) {
          if ((error as { code?: unknown }).code === GrpcStatus.ALREADY_EXISTS) break;
          if (attempt >= 20) throw error;
          await sleep(500);
        }
      }
    }
    this.#loops = Array.from({ length: this.#count }, (_, writer) => this.#loop(writer));
  }

  /** Stops after the cycles running now; resolves once they ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }

  /** Wall ms of every "ok" finish, ascending. */
  okTimes(): number[] {
    return this.log.records.filter((record) => record.outcome === "ok")
      .map((record) => record.endedMs).sort((a, b) => a - b);
  }

  #pickNode(): string {
    const running = this.#cluster.running();
    const node = running[this.#prng.intBelow(running.length)];
    if (node === undefined) throw new Error("no running node");
    return node;
  }

  async #loop(writer: number): Promise<void> {
    while (!this.#stopped) {
      const finished = await this.#cycle(writer).catch(() => false);
      if (!finished) {
        this.log.failedCycles += 1;
        await sleep(this.#prng.intBetween(writerBackoffMsRange[0], writerBackoffMsRange[1]));
      }
    }
  }

  /** One commit attempt; true when a commit was started (whatever its outcome). */
  async #cycle(writer: number): Promise<boolean> {
    const node = this.#pickNode();
    const client = this.#cluster.client(node);
    const repo = Writers.repoOf(writer);
    await this.#abandonOpen(node, repo);
    const started = await client.call("StartCommit", { repo, branch: "master" });
    this.#sequence += 1;
    const record: CommitRecord = {
      repo, commit: started.id, dir: `/c${this.#sequence}`, files: [], outcome: "indeterminate",
      node, endedMs: 0, error: "",
    };
    this.log.records.push(record);
    const files = this.#prng.intBetween(filesPerCommitRange[0], filesPerCommitRange[1]);
    for (let index = 0; index < files; index += 1) {
      const big = this.#prng.chance(bigFileShare);
      const range = big ? bigFileBytesRange : smallFileBytesRange;
      const size = this.#prng.intBetween(range[0], range[1]);
      const seed = this.#prng.intBelow(2 ** 31);
      const path = `${record.dir}/f${index}`;
      const file: WrittenFile = { path, size, seed, sha256: seededHash(seed, size),
        acknowledged: false };
      record.files.push(file);
      try {
        await withDeadline(client.putFile({ repo, commit: started.id, path },
          seededPieces(seed, size)), putDeadlineMs, `put ${path}`);
      } catch (error: unknown) {
        record.error = `put ${path}: ${describeError(error)}`;
        return true;
      }
      file.acknowledged = true;
    }
    await this.#finish(node, record);
    return true;
  }

  async #finish(node: string, record: CommitRecord): Promise<void> {
    try {
      const info = await withDeadline(this.#cluster.client(node).call("FinishCommit",
        { commit: { repo: record.repo, commit: record.commit } }), callDeadlineMs, "finish");
      record.endedMs = Date.now();
      if (info.state === "FINISHED") record.outcome = "ok";
      else {
        record.outcome = "failed-definite";
        record.error = `finish returned ${info.state}: ${info.error}`;
      }
    } catch (error: unknown) {
      record.outcome = outcomeOfError(error);
      record.error = `finish: ${describeError(error)}`;
    }
  }

  /**
   * Fails the commit the branch still has open (an earlier cycle broke after starting it).
   * When that call returns, the commit is surely not finished: its record becomes
   * failed-definite. Throws (ending the cycle) when the branch cannot be read or still has one.
   */
  async #abandonOpen(node: string, repo: string): Promise<void> {
    const client = this.#cluster.client(node);
    let open: string;
    try {
      open = (await client.call("InspectBranch", { repo, branch: "master" })).open;
    } catch (error: unknown) {
      if ((error as { code?: unknown }).code === GrpcStatus.NOT_FOUND) return;
      throw error;
    }
    if (open === "") return;
    const info = await client.call("FinishCommit",
      { commit: { repo, commit: open }, error: "abandoned by a chaos writer" });
    const record = this.log.records.find((candidate) =>
      candidate.repo === repo && candidate.commit === open);
    if (info.state === "FAILED" && record !== undefined) {
      if (record.outcome === "ok") {
        this.log.violations.push(`ok commit ${repo}@${open} was failed later by an abandon`);
      }
      record.outcome = "failed-definite";
      record.error += "; abandoned";
    }
  }
}
