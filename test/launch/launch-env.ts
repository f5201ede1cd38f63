// The cluster the tests of test/launch/ run against, as scripts/launch_test gives it: the
// environment its launch printed (PFS_ADDRESS, ETCDCTL_ENDPOINTS; with TLS PFS_CACERT,
// PFS_CERT, PFS_KEY, ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY; PFS_METRICS_URLS when the
// nodes serve metrics). Every direct client of these tests is built here, from that
// environment, so TLS reaches all of them; `pfs` and `etcdctl` child processes inherit it.
// Without PFS_ADDRESS and ETCDCTL_ENDPOINTS every function throws an error that says to run
// the tests through scripts/launch_test (the plain ava run leaves test/launch/ out).
import { readFileSync } from "node:fs";
import { Etcd3, type IOptions } from "etcd3";
// eslint-disable-next-line pfs/boundaries -- the tests load the client alone, not all of pkg/pfs
import { PfsClient, clientCredentials, usesTls } from "../../pkg/pfs/client/index.js";
import { runPfs } from "../e2e/pfs-cli-suite.js";

/** What launch_test's environment says about the cluster. */
export interface LaunchEnv {
  /** The pfs API address of one node (PFS_ADDRESS). */
  readonly pfsAddress: string;
  /** The etcd client URLs (ETCDCTL_ENDPOINTS). */
  readonly etcdEndpoints: readonly string[];
  /** The base URLs of the nodes' /metrics, /livez and /readyz; empty when not served. */
  readonly metricsUrls: readonly string[];
}

function variable(name: string): string {
  return process.env[name] ?? "";
}

/** The launched cluster's environment; throws unless run through scripts/launch_test. */
export function launchEnv(): LaunchEnv {
  const pfsAddress = variable("PFS_ADDRESS");
  const endpoints = variable("ETCDCTL_ENDPOINTS");
  if (pfsAddress === "" || endpoints === "") {
    throw new Error("PFS_ADDRESS and ETCDCTL_ENDPOINTS are not set: the tests in test/launch/ " +
      "run against a launched cluster; run them through scripts/launch_test");
  }
  const list = (text: string): string[] => text.split(",").filter((item) => item !== "");
  return { pfsAddress, etcdEndpoints: list(endpoints),
    metricsUrls: list(variable("PFS_METRICS_URLS")) };
}

/**
 * A pfs API client of the node at `address`, with the TLS files the environment names
 * (PFS_CACERT, PFS_CERT, PFS_KEY, as the CLI reads them); plaintext without them.
 */
export async function launchPfsClient(address: string): Promise<PfsClient> {
  launchEnv();
  const files = { cacert: process.env["PFS_CACERT"], cert: process.env["PFS_CERT"],
    key: process.env["PFS_KEY"] };
  if (!usesTls(files)) return new PfsClient({ address });
  return new PfsClient({ address, credentials: await clientCredentials(files) });
}

/** An etcd3 client of ETCDCTL_ENDPOINTS, with etcdctl's TLS variables when they are set. */
export function launchEtcdClient(): Etcd3 {
  const { etcdEndpoints } = launchEnv();
  const options: IOptions = { hosts: [...etcdEndpoints],
    defaultCallOptions: () => ({ deadline: Date.now() + 10_000 }) };
  const cacert = variable("ETCDCTL_CACERT");
  if (cacert === "") return new Etcd3(options);
  const cert = variable("ETCDCTL_CERT");
  const key = variable("ETCDCTL_KEY");
  const rootCertificate = readFileSync(cacert);
  return new Etcd3({ ...options, credentials: cert === "" || key === "" ? { rootCertificate }
    : { rootCertificate, certChain: readFileSync(cert), privateKey: readFileSync(key) } });
}

/** The cluster status JSON (the fields these tests read). */
export interface StatusJson {
  readonly nodes: readonly {
    readonly id: string; readonly address: string; readonly online: boolean;
    readonly faulty: boolean;
  }[];
  readonly shards: readonly { readonly shard: number; readonly master: string }[];
}

/** `pfs cluster status --json` through PFS_ADDRESS. */
export async function clusterStatus(): Promise<StatusJson> {
  launchEnv();
  const run = await runPfs(["cluster", "status", "--json"]);
  if (run.code !== 0) throw new Error(`pfs cluster status exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as StatusJson;
}

/** The pfs API address of every node, in node order, from the cluster status. */
export async function launchAddresses(): Promise<string[]> {
  const status = await clusterStatus();
  const addresses = [...status.nodes].sort((a, b) => a.id.localeCompare(b.id))
    .map((node) => node.address);
  if (addresses.length < 2 || addresses.some((address) => address === "")) {
    throw new Error(`the cluster status names too few node addresses: ${addresses.join(",")}`);
  }
  return addresses;
}
