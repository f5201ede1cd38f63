// Support for the pipelines API tests: a real 1-node pfsd (embedded etcd, --pfs-address on a
// free port) whose pps.API the tests drive through the real `pfs` CLI (dist/cmd/pfs.js), plus
// an etcd3 client of its coordination store for reading and seeding /pps records, and a spec
// file writer. Everything lives under one temp dir removed by `stop`.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { pfsAddresses } from "../../e2e/pfs-api-support.js";
import { type Run, runPfs } from "../../e2e/pfs-cli-suite.js";
import { type MemberCluster, startCluster } from "../../support/member-cluster.js";
import { freePortRange } from "../../support/port-range.js";

export interface PpsTestNode {
  readonly address: string;
  readonly etcd: Etcd3;
  readonly cluster: MemberCluster;
  /** The node's /metrics URL. */
  readonly metricsUrl: string;
  /** Runs `pfs args…` against the node (stdin from `input`). */
  pfs(args: readonly string[], input?: string): Promise<Run>;
  /** Runs `pfs args… --json` and parses its one JSON value (the command must succeed). */
  json(args: readonly string[]): Promise<unknown>;
  /** Writes `text` to a new file in the node's temp dir; its path. */
  specFile(text: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startPpsNode(): Promise<PpsTestNode> {
  const metricsBase = `http://127.0.0.1:${await freePortRange(1, 7)}`;
  const cluster = await startCluster({ kind: "pfsd", size: 1,
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", "2",
      "--listen-metrics-urls", metricsBase] });
  const dir = await mkdtemp(join(tmpdir(), "pps-api-"));
  let files = 0;
  try {
    const [address] = await pfsAddresses([cluster.endpoints], 1);
    if (address === undefined) throw new Error("no pfs address");
    const etcd = new Etcd3({ hosts: cluster.endpoints.split(",") });
    const pfs = (args: readonly string[], input?: string): Promise<Run> => runPfs(args, {
      env: { PFS_ADDRESS: address },
      ...(input === undefined ? {} : { input: Buffer.from(input) }),
    });
    return {
      address, etcd, cluster, pfs, metricsUrl: `${metricsBase}/metrics`,
      json: async (args) => {
        const run = await pfs([...args, "--json"]);
        if (run.code !== 0) throw new Error(`pfs ${args.join(" ")}: ${run.stderr}`);
        return JSON.parse(run.stdout) as unknown;
      },
      specFile: async (text) => {
        files += 1;
        const path = join(dir, `spec-${files}.yaml`);
        await writeFile(path, text);
        return path;
      },
      stop: async () => {
        etcd.close();
        await cluster.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error: unknown) {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Every key under /pps, sorted. */
export async function ppsKeys(etcd: Etcd3): Promise<string[]> {
  return (await etcd.getAll().prefix("/pps/").keys()).sort();
}

/**
 * What "changes nothing" compares: every key under /pps and pfs's repo, branch and commit
 * records, each with its mod revision (so a rewrite with the same value counts as a change).
 */
export async function storeState(etcd: Etcd3): Promise<string[]> {
  const state: string[] = [];
  for (const prefix of ["/pps/", "/pfs/repos/", "/pfs/branches/", "/pfs/commits/"]) {
    const response = await etcd.getAll().prefix(prefix).exec();
    for (const kv of response.kvs) state.push(`${kv.key.toString()}@${kv.mod_revision}`);
  }
  return state.sort();
}
