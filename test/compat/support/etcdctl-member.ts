// One extra member process joining an existing cluster (`--initial-cluster-state existing`), as
// `etcdctl member add` tells an operator to start it: etcd 3.4.23 or pfsd with the very same
// etcd flags. test/support/member-cluster.ts starts only whole new clusters, so the learner of
// the member tests is started here. Only the process started here is ever signalled.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { etcdBinary, freePort } from "./etcd-process.js";
import { type MemberKind, pfsdScript } from "../../support/member-cluster.js";

/** How long a joining member gets to exit after SIGTERM before SIGKILL. */
const memberStopMsMax = 10_000;

/** The URLs of a member not started yet (ports probed free). */
export interface JoiningUrls {
  readonly clientUrl: string;
  readonly peerUrl: string;
}

export async function joiningUrls(): Promise<JoiningUrls> {
  const [client, peer] = [await freePort(), await freePort()];
  return { clientUrl: `http://127.0.0.1:${client}`, peerUrl: `http://127.0.0.1:${peer}` };
}

/** A started joining member; stop() ends it and removes its data directory. */
export interface JoiningMember {
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts `name` with the cluster's `initialCluster` (from `member add`'s ETCD_INITIAL_CLUSTER)
 * and `--initial-cluster-state existing` (or `new`: then a fresh cluster), its data under
 * `parentDir`.
 */
export async function startJoiningMember(kind: MemberKind, name: string, urls: JoiningUrls,
  initialCluster: string, parentDir: string, state: "new" | "existing" = "existing"):
  Promise<JoiningMember> {
  const dataDir = await mkdtemp(join(parentDir, `pfs-join-${name}-`));
  const args = [
    "--name", name, "--data-dir", dataDir,
    "--listen-client-urls", urls.clientUrl, "--advertise-client-urls", urls.clientUrl,
    "--listen-peer-urls", urls.peerUrl, "--initial-advertise-peer-urls", urls.peerUrl,
    "--initial-cluster", initialCluster, "--initial-cluster-state", state,
    "--initial-cluster-token", "etcd-cluster", "--log-level", "warn",
  ];
  const child: ChildProcess = kind === "etcd"
    ? spawn(etcdBinary, [...args, "--logger", "zap"], { stdio: ["ignore", "ignore", "pipe"] })
    : spawn(process.execPath, [pfsdScript, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-20_000);
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    log: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), memberStopMsMax);
        await exited;
        clearTimeout(timer);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
