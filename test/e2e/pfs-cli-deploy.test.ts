// Goal: the `pfs` CLI suite (pfs-cli-suite.ts) against a real 3-node `pfs deploy local
// --detach` cluster: pfsd nodes with embedded Raft members, started by the CLI itself.
// Method: deploy on a run of free ports (node i serves pfs on the pfs base port + i, which is
// how the suite reaches each node); the cluster is stopped with `pfs deploy local down` and
// its directory removed afterwards.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePortRange } from "../support/port-range.js";
import { cliSuite, pfsScript } from "./pfs-cli-suite.js";

const nodes = 3;

/** Runs `pfs args…` to its end; resolves with stdout, or rejects with stderr. */
function pfsToEnd(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [pfsScript, ...args], { timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout);
        else reject(new Error(`pfs ${args.join(" ")}: ${stderr}`));
      });
  });
}

cliSuite("deploy", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pfs-cli-cluster-"));
  const stop = async (): Promise<void> => {
    await pfsToEnd(["deploy", "local", "down", "--dir", dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const base = await freePortRange(2 * nodes + nodes, 17);
  const pfsBase = base + 2 * nodes;
  try {
    const up = await pfsToEnd(["deploy", "local", "--detach", "--dir", dir, "--nodes",
      String(nodes), "--base-port", String(base), "--pfs-base-port", String(pfsBase),
      "--shards", "4"]);
    if (!up.includes(`export PFS_ADDRESS=127.0.0.1:${pfsBase}\n`)) {
      throw new Error(`deploy local printed no PFS_ADDRESS: ${up}`);
    }
  } catch (error: unknown) {
    await stop();
    throw error;
  }
  const addresses = Array.from({ length: nodes }, (_, i) => `127.0.0.1:${pfsBase + i}`);
  return { addresses, stop };
});
