/**
 * The bounds and defaults of `pfs deploy kubernetes`. Each is named with its unit and says why;
 * the relations between them are asserted when the module loads.
 */
import { assert, limits } from "../common/index.js";

/**
 * Most pods the generator accepts for --nodes: the first 5 are Raft voters and the rest join
 * as learners that replicate the whole log, so beyond a few dozen the leader's fan-out, not
 * the file system, is what stops scaling.
 */
export const kubernetesNodesMax: number = 64;

/**
 * Longest --name: the headless Service is `<name>-headless` and the StatefulSet's revision label
 * `<name>-<10-character hash>`, and both must stay within a 63-character DNS label.
 */
export const kubernetesNameLengthMax: number = 40;

/** Longest Kubernetes namespace (a DNS-1123 label). */
export const kubernetesNamespaceLengthMax: number = 63;

/** Longest --storage-class (a DNS-1123 subdomain, as StorageClass names are). */
export const kubernetesStorageClassLengthMax: number = 253;

/** Longest --image reference we accept (registry, path, tag and digest together). */
export const kubernetesImageLengthMax: number = 512;

/** Most --etcd-endpoints URLs (an external etcd cluster has a handful of members). */
export const kubernetesEtcdEndpointsMax: number = 16;

/** The ports, as etcd and pachd use them: client, peer, metrics, and the pfs API. */
export const kubernetesClientPort: number = 2_379;
export const kubernetesPeerPort: number = 2_380;
export const kubernetesMetricsPort: number = 2_381;
export const kubernetesPfsPort: number = limits.pfsApiPortDefault;

/**
 * Seconds Kubernetes waits between SIGTERM and SIGKILL: pfsd drains within
 * limits.shutdownDrainMsMax, and the rest covers the preStop-free signal delivery and a slow
 * node under load.
 */
export const kubernetesTerminationGraceSecondsDefault: number = 30;

/**
 * Start-up budget of the startupProbe, as period × failures (seconds): a pfs node waits up to a
 * minute for the coordination store (pfs-node.ts pfsNodeStartMsMax) and then opens its
 * replicas; liveness only counts once this passed, so a slow first start is not a restart loop.
 */
export const kubernetesStartupProbePeriodSeconds: number = 5;
export const kubernetesStartupProbeFailuresMax: number = 60;

/** Default size of each pod's volume (its data dir: WAL, snapshots, shard replicas). */
export const kubernetesStorageSizeDefault: string = "10Gi";

/**
 * Resource requests and limits of a pod. CPU has a request but no limit: a throttled Raft
 * member misses heartbeats and causes elections. Memory is limited, well above what the
 * bounded queues and chunk caches hold, so a leak restarts one pod instead of starving a node.
 */
export const kubernetesCpuRequest: string = "250m";
export const kubernetesMemoryRequest: string = "512Mi";
export const kubernetesMemoryLimit: string = "2Gi";

/** The user and group the container runs as (the `node` user of the node:20 images). */
export const kubernetesRunAsUserId: number = 1_000;

assert(kubernetesTerminationGraceSecondsDefault * 1_000 > limits.shutdownDrainMsMax,
  `grace ${kubernetesTerminationGraceSecondsDefault} s must exceed pfsd's drain deadline ` +
  `${limits.shutdownDrainMsMax} ms`);
assert(kubernetesStartupProbePeriodSeconds * kubernetesStartupProbeFailuresMax * 1_000 >
  60_000, "the startup budget must exceed the pfs node's 60 s wait for the coordination store");
assert(new Set([kubernetesClientPort, kubernetesPeerPort, kubernetesMetricsPort,
  kubernetesPfsPort]).size === 4, "the four ports must differ");
