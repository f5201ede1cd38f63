// Goal: the `pfs` CLI suite (pfs-cli-suite.ts) against 3 pfsd nodes that keep their metadata
// in a real 3-member etcd 3.4 cluster (`--etcd-endpoints` with all three members; no embedded
// Raft member), the second backend of issue 5.
// Method: startCluster({kind: "etcd", size: 3}) plus 3 pfsd processes spawned directly, each
// with its own data dir and --pfs-address 127.0.0.1:0; their pfs addresses are read from
// /pfs/nodes/ in etcd. Everything is stopped and removed afterwards.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster } from "../support/member-cluster.js";
import { type PfsdProcess, pfsAddresses, spawnPfsd } from "./pfs-api-support.js";
import { cliSuite } from "./pfs-cli-suite.js";

const nodes = 3;

cliSuite("etcd", async () => {
  const etcd = await startCluster({ kind: "etcd", size: 3 });
  const parent = await mkdtemp(join(tmpdir(), "pfs-cli-etcd-"));
  const processes: PfsdProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((node) => node.stop()));
    await etcd.stop();
    await rm(parent, { recursive: true, force: true });
  };
  try {
    for (let i = 1; i <= nodes; i++) {
      processes.push(spawnPfsd(["--name", `p${i}`, "--data-dir", join(parent, `p${i}`),
        "--etcd-endpoints", etcd.endpoints, "--pfs-address", "127.0.0.1:0", "--shards", "8",
        "--log-level", "warn"]));
    }
    const addresses = await pfsAddresses(etcd.endpoints.split(","), nodes, 60_000);
    return { addresses, stop };
  } catch (error: unknown) {
    await stop();
    throw error;
  }
});
