// Runs the same etcdctl steps against two clusters, a real etcd 3.4.23 (the reference) and the
// cluster under test (pfsd; or a second, independent etcd with PFS_CTL_OTHER=etcd, which shows
// that the masking makes two real etcds agree), masks each output and records every
// difference. A step is one etcdctl command (or one long-running etcdctl fed and read).
// PFS_CTL_DUMP=<file> appends every step's masked etcd output to that file, for review.
import { appendFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import type { ExecutionContext } from "ava";
import { type MemberCluster, type MemberKind, startCluster } from "../../support/member-cluster.js";
import { CtlMasker } from "./etcdctl-masker.js";
import { type CtlConnection, type CtlResult, runCtl } from "./etcdctl-runner.js";

/** The kind of the cluster compared with etcd: pfsd unless PFS_CTL_OTHER=etcd. */
export function otherKind(): MemberKind {
  return process.env["PFS_CTL_OTHER"] === "etcd" ? "etcd" : "pfsd";
}

/** One cluster, its masker and how etcdctl reaches it. */
export interface CtlTarget {
  readonly label: string;
  readonly cluster: MemberCluster;
  readonly masker: CtlMasker;
  /** TLS flags for etcdctl (empty for plain text). */
  readonly tlsArgs: readonly string[];
  /** A scratch directory of this target (snapshot files). */
  readonly scratchDir: string;
}

/**
 * etcdctl connected to members of `target` (default: the first member only), by client URL,
 * or by host:port when `bare` (etcdctl's per-endpoint commands then dial without the scheme).
 */
export function connect(target: CtlTarget, memberIndexes: readonly number[] = [0],
  bare = false): CtlConnection {
  const endpoints = memberIndexes.map((i) => {
    const member = target.cluster.members[i];
    return (bare ? member?.clientAddress : member?.clientUrl) ?? "";
  }).join(",");
  return { endpoints, tlsArgs: target.tlsArgs };
}

/** Registers every member's URLs and IDs, and the cluster ID, from `member list -w json`. */
export async function learnCluster(target: CtlTarget): Promise<void> {
  for (const member of target.cluster.members) {
    target.masker.registerText(member.clientUrl, `<client:${member.name}>`);
    target.masker.registerText(member.clientAddress, `<client:${member.name}>`);
    target.masker.registerText(member.peerUrl, `<peer:${member.name}>`);
  }
  const listed = await runCtl(connect(target), ["member", "list", "-w", "json"]);
  const cluster = /"cluster_id":(\d+)/.exec(listed.stdout);
  if (cluster?.[1] === undefined) throw new Error(`member list: ${JSON.stringify(listed)}`);
  target.masker.registerId(cluster[1], "<cluster>");
  for (const match of listed.stdout.matchAll(/"ID":(\d+),"name":"([^"]*)"/g)) {
    target.masker.registerId(match[1] ?? "", `<member:${match[2] ?? ""}>`);
  }
}

/** One difference between the two clusters' masked outputs. */
export interface CtlMismatch {
  readonly step: string;
  readonly etcd: CtlResult;
  readonly other: CtlResult;
}

/** A step's options: a normalizer applied to both masked streams. */
export interface StepOptions {
  readonly normalize?: (text: string) => string;
}

function render(result: CtlResult): string {
  return `exit ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

export class CtlDiffer {
  readonly mismatches: CtlMismatch[] = [];
  /**
   * Steps known to differ because of an open pfsd bug (step name → why): still run, compared
   * and logged, but not failed. Each entry names its bug; remove it once fixed.
   */
  readonly knownDifferences = new Map<string, string>();
  /** Every step run, in order (the test's command count is checked against this). */
  readonly steps: string[] = [];

  constructor(readonly etcd: CtlTarget, readonly other: CtlTarget) {}

  /**
   * Runs `run` against both clusters at once, masks and compares; returns both masked results
   * (etcd's first).
   */
  async step(name: string, run: (target: CtlTarget) => Promise<CtlResult>,
    options: StepOptions = {}): Promise<[CtlResult, CtlResult]> {
    this.steps.push(name);
    const [etcdRaw, otherRaw] = await Promise.all([run(this.etcd), run(this.other)]);
    const finish = (target: CtlTarget, raw: CtlResult): CtlResult => {
      const masked = target.masker.mask(raw);
      const fix = options.normalize ?? ((text: string): string => text);
      return { code: masked.code, stdout: fix(masked.stdout), stderr: fix(masked.stderr) };
    };
    const etcd = finish(this.etcd, etcdRaw);
    const other = finish(this.other, otherRaw);
    if (!isDeepStrictEqual(etcd, other)) this.mismatches.push({ step: name, etcd, other });
    const dump = process.env["PFS_CTL_DUMP"];
    if (dump !== undefined) appendFileSync(dump, `### ${name}\n${render(etcd)}\n`);
    return [etcd, other];
  }

  /** A one-shot etcdctl command against the first member of both clusters. */
  ctl(args: readonly string[], options: StepOptions & { stdin?: string } = {}):
  Promise<[CtlResult, CtlResult]> {
    return this.step(`etcdctl ${args.join(" ")}`,
      (target) => runCtl(connect(target), args, options.stdin), options);
  }

  /**
   * Read-only commands that do not depend on each other's effects, run at the same time (to
   * save time), each compared on its own.
   */
  async ctlReads(commands: readonly (readonly string[])[], options: StepOptions = {}):
  Promise<void> {
    await Promise.all(commands.map((args) => this.ctl(args, options)));
  }

  /** Fails the test with every mismatch since step index `from`, both outputs in full. */
  assertNoMismatch(t: ExecutionContext, from = 0): void {
    const all = this.mismatches.slice(from);
    // Two real etcds must agree on everything: the known pfsd differences do not apply.
    const known = (step: string): string | undefined =>
      (this.other.cluster.kind === "pfsd" ? this.knownDifferences.get(step) : undefined);
    const mismatches = all.filter((mismatch) => known(mismatch.step) === undefined);
    for (const mismatch of all) {
      const why = known(mismatch.step);
      const title = why === undefined ? "MISMATCH" : `KNOWN DIFFERENCE (${why})`;
      t.log(`${title} ${mismatch.step}\n=== etcd\n${render(mismatch.etcd)}\n=== ` +
        `${this.other.label}\n${render(mismatch.other)}`);
    }
    t.deepEqual(mismatches.map((mismatch) => mismatch.step), [],
      `${mismatches.length} steps differ`);
  }
}

/** Options of one pair of clusters. */
export interface PairOptions {
  readonly size: number;
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  readonly tlsArgs?: readonly string[];
  readonly scratchDir: string;
}

/** Starts a real etcd cluster and the cluster under test, both of `size` members. */
export async function startPair(options: PairOptions): Promise<CtlDiffer> {
  const kinds: MemberKind[] = ["etcd", otherKind()];
  const clientTls =
    options.tls === undefined ? undefined : { ...options.tls, clientCertAuth: true };
  const clusters = await Promise.all(kinds.map((kind) => startCluster({
    kind, size: options.size, parentDir: "/dev/shm",
    ...(clientTls === undefined ? {} : { clientTls }),
  })));
  const targets = clusters.map((cluster, i): CtlTarget => ({
    label: i === 0 ? "etcd" : `${cluster.kind} (under test)`,
    cluster,
    masker: new CtlMasker(),
    tlsArgs: options.tlsArgs ?? [],
    scratchDir: `${options.scratchDir}/${i === 0 ? "etcd" : "other"}`,
  }));
  const [etcd, other] = targets;
  if (etcd === undefined || other === undefined) throw new Error("two clusters expected");
  await Promise.all(targets.map((target) => learnCluster(target)));
  return new CtlDiffer(etcd, other);
}

/** Stops both clusters of a differ. */
export async function stopPair(differ: CtlDiffer | undefined): Promise<void> {
  if (differ === undefined) return;
  await Promise.all([differ.etcd.cluster.stop(), differ.other.cluster.stop()]);
}
