/**
 * The options of `pfs deploy kubernetes`, and their validation. `parseKubernetesDeployOptions`
 * turns the raw flag strings into frozen, checked options or one clear message naming the flag;
 * it never throws on bad input. Invariants of a parsed value: 1 ≤ replicas ≤ nodes ≤
 * kubernetesNodesMax, names are DNS labels short enough for every object derived from them,
 * and etcdEndpoints (empty = the embedded coordination layer) are http(s) origins.
 */
import {
  type Result, deepFreeze, err, limits, ok, parseUrl, pfsVersion,
} from "../common/index.js";
import {
  kubernetesEtcdEndpointsMax, kubernetesImageLengthMax, kubernetesNameLengthMax,
  kubernetesNamespaceLengthMax, kubernetesNodesMax, kubernetesStorageClassLengthMax,
  kubernetesStorageSizeDefault,
} from "./limits.js";

/**
 * How strictly pods avoid sharing a host: `required` (the default) never places two on one
 * node, so one host failure costs at most one Raft member and one replica of each shard;
 * `preferred` lets a single-node cluster (kind, minikube) run every pod.
 */
export type KubernetesAntiAffinity = "required" | "preferred";

/** Checked options of `pfs deploy kubernetes`. */
export interface KubernetesDeployOptions {
  /** Founding pods (Raft members of the initial cluster); later ones join as learners. */
  readonly nodes: number;
  readonly shards: number;
  /** R: replicas of each shard, at most `nodes`. */
  readonly replicas: number;
  readonly image: string;
  /** StorageClass of the volumes; absent = the cluster's default class. */
  readonly storageClass: string | undefined;
  /** Size of each pod's volume, a Kubernetes quantity such as 10Gi. */
  readonly storageSize: string;
  /** External etcd client URLs; empty = every pod runs an embedded member. */
  readonly etcdEndpoints: readonly string[];
  readonly namespace: string;
  /** Name of the StatefulSet and the client Service; pods are `<name>-0`, `<name>-1`, … */
  readonly name: string;
  /** DNS suffix of the cluster's Services (`svc.<domain>`). */
  readonly clusterDomain: string;
  readonly antiAffinity: KubernetesAntiAffinity;
}

/** The flags as the CLI hands them over: strings, absent when not given. */
export type RawKubernetesDeployOptions = Partial<Record<keyof KubernetesDeployOptions, string>>;

/** The defaults of every flag but --replicas (whose default depends on --nodes). */
export const kubernetesDeployDefaults = {
  nodes: 3,
  shards: limits.pfsShardsDefault,
  image: `pfs:${pfsVersion}`,
  storageSize: kubernetesStorageSizeDefault,
  namespace: "default",
  name: "pfsd",
  clusterDomain: "cluster.local",
  antiAffinity: "required",
} as const;

const dnsLabelPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsServiceNamePattern = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const dnsSubdomainPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Binary or decimal Kubernetes quantities, whole numbers only (a volume of 1.5Gi is odd). */
const storageSizePattern = /^[1-9][0-9]{0,9}(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
/** An image reference: registry/path[:tag][@digest], no spaces or shell characters. */
const imagePattern = /^[a-z0-9][a-zA-Z0-9._\-/:@]*$/;

function integer(flag: string, raw: string, min: number, max: number): Result<number, string> {
  const value = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max)) {
    return err(`${flag} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return ok(value);
}

function matching(flag: string, raw: string, pattern: RegExp, lengthMax: number, what: string):
  Result<string, string> {
  if (raw.length > lengthMax || !pattern.test(raw)) {
    return err(`${flag} must be ${what} of at most ${lengthMax} characters, ` +
      `got ${JSON.stringify(raw)}`);
  }
  return ok(raw);
}

function endpoints(raw: string | undefined): Result<readonly string[], string> {
  if (raw === undefined) return ok([]);
  const parts = raw.split(",").map((part) => part.trim());
  if (parts.length > kubernetesEtcdEndpointsMax || parts.some((part) => part === "")) {
    return err(`--etcd-endpoints must be 1 to ${kubernetesEtcdEndpointsMax} comma-separated ` +
      `URLs, got ${JSON.stringify(raw)}`);
  }
  const origins: string[] = [];
  for (const part of parts) {
    const url = parseUrl(part);
    if (!url.ok) return err(`--etcd-endpoints: ${url.error}`);
    origins.push(url.value.origin);
  }
  return ok(origins);
}

function antiAffinity(raw: string | undefined): Result<KubernetesAntiAffinity, string> {
  const value = raw ?? kubernetesDeployDefaults.antiAffinity;
  if (value !== "required" && value !== "preferred") {
    return err(`--anti-affinity must be required or preferred, got ${JSON.stringify(value)}`);
  }
  return ok(value);
}

/** Names and sizes: each checked against the Kubernetes rule for where it ends up. */
function names(raw: RawKubernetesDeployOptions): Result<Pick<KubernetesDeployOptions,
  "image" | "storageClass" | "storageSize" | "namespace" | "name" | "clusterDomain">, string> {
  const defaults = kubernetesDeployDefaults;
  const name = matching("--name", raw.name ?? defaults.name, dnsServiceNamePattern,
    kubernetesNameLengthMax, "a DNS label starting with a letter");
  if (!name.ok) return name;
  const namespace = matching("--namespace", raw.namespace ?? defaults.namespace,
    dnsLabelPattern, kubernetesNamespaceLengthMax, "a DNS label");
  if (!namespace.ok) return namespace;
  const image = matching("--image", raw.image ?? defaults.image, imagePattern,
    kubernetesImageLengthMax, "an image reference");
  if (!image.ok) return image;
  const storageClass = raw.storageClass === undefined ? ok(undefined)
    : matching("--storage-class", raw.storageClass, dnsSubdomainPattern,
      kubernetesStorageClassLengthMax, "a DNS subdomain");
  if (!storageClass.ok) return storageClass;
  const storageSize = matching("--storage-size", raw.storageSize ?? defaults.storageSize,
    storageSizePattern, 12, "a whole quantity such as 10Gi");
  if (!storageSize.ok) return storageSize;
  const clusterDomain = matching("--cluster-domain", raw.clusterDomain ?? defaults.clusterDomain,
    dnsSubdomainPattern, 200, "a DNS subdomain");
  if (!clusterDomain.ok) return clusterDomain;
  return ok({
    name: name.value, namespace: namespace.value, image: image.value,
    storageClass: storageClass.value, storageSize: storageSize.value,
    clusterDomain: clusterDomain.value,
  });
}

/**
 * Checks the raw flags; the frozen options, or one line naming the flag at fault. --replicas
 * defaults to min(3, --nodes) and is refused above --nodes (a shard cannot have two replicas
 * on one pod).
 */
export function parseKubernetesDeployOptions(raw: RawKubernetesDeployOptions):
  Result<KubernetesDeployOptions, string> {
  const nodes = integer("--nodes", raw.nodes ?? String(kubernetesDeployDefaults.nodes), 1,
    kubernetesNodesMax);
  if (!nodes.ok) return nodes;
  const shards = integer("--shards", raw.shards ?? String(kubernetesDeployDefaults.shards), 1,
    limits.pfsShardsMax);
  if (!shards.ok) return shards;
  const replicasDefault = Math.min(limits.pfsReplicasDefault, nodes.value);
  const replicas = integer("--replicas", raw.replicas ?? String(replicasDefault), 1,
    limits.pfsReplicasMax);
  if (!replicas.ok) return replicas;
  if (replicas.value > nodes.value) {
    return err(`--replicas ${replicas.value} is above --nodes ${nodes.value}: ` +
      "each replica of a shard needs its own pod");
  }
  const etcdEndpoints = endpoints(raw.etcdEndpoints);
  if (!etcdEndpoints.ok) return etcdEndpoints;
  const affinity = antiAffinity(raw.antiAffinity);
  if (!affinity.ok) return affinity;
  const named = names(raw);
  if (!named.ok) return named;
  return ok(deepFreeze({
    ...named.value, nodes: nodes.value, shards: shards.value, replicas: replicas.value,
    etcdEndpoints: etcdEndpoints.value, antiAffinity: affinity.value,
  }));
}

/** The flag of each option, in the order the CLI lists them. */
export const kubernetesDeployFlags: Readonly<Record<keyof KubernetesDeployOptions, string>> = {
  nodes: "--nodes",
  shards: "--shards",
  replicas: "--replicas",
  image: "--image",
  storageClass: "--storage-class",
  storageSize: "--storage-size",
  etcdEndpoints: "--etcd-endpoints",
  namespace: "--namespace",
  name: "--name",
  clusterDomain: "--cluster-domain",
  antiAffinity: "--anti-affinity",
};

/** The command line that gives `raw` (the flags given, in kubernetesDeployFlags's order). */
export function kubernetesDeployCommand(raw: RawKubernetesDeployOptions): string {
  const words = ["pfs", "deploy", "kubernetes"];
  for (const [key, flag] of Object.entries(kubernetesDeployFlags)) {
    const value = raw[key as keyof KubernetesDeployOptions];
    if (value !== undefined) words.push(flag, value);
  }
  return words.join(" ");
}
