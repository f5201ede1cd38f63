/**
 * The Kubernetes objects of a pfs cluster, as plain JSON-shaped values (`kubernetesManifests`)
 * and as multi-document YAML (`renderKubernetesManifests`). Pure: the same options always give
 * the same bytes, so deploy/kubernetes/ can be checked against a fresh run.
 *
 * What the objects guarantee (test/unit/deploy checks each):
 * - a StatefulSet `<name>` of `nodes` pods `<name>-0…` with a volume each (mounted at
 *   kubernetesDataMountPath, the data dir beneath it), Parallel pod management so the founding
 *   members start together and find each other;
 * - a headless Service `<name>-headless` that publishes not-ready addresses, so members resolve
 *   each other's `<pod>.<name>-headless.<ns>.svc.<domain>` names before any is ready;
 * - a client Service `<name>` (etcd client and pfs ports), a PodDisruptionBudget of
 *   maxUnavailable 1, anti-affinity on the hostname, probes on the metrics port.
 * The container starts `pfsd-entrypoint` (deploy/kubernetes/pfsd-entrypoint.sh) whose contract
 * is the PFS_* variables below: pods with an ordinal below PFS_FOUNDING_MEMBERS bootstrap with
 * PFS_INITIAL_CLUSTER, later ones (added by `kubectl scale`) run `pfsd --join PFS_JOIN_URLS`.
 */
import { stringify } from "yaml";
import { envOf, pfsdEnvPrefix, pfsVersion, type PfsdConfig } from "../common/index.js";
import type { KubernetesDeployOptions } from "./kubernetes-options.js";
import {
  kubernetesClientPort, kubernetesCpuRequest, kubernetesMemoryLimit, kubernetesMemoryRequest,
  kubernetesMetricsPort, kubernetesPeerPort, kubernetesPfsPort, kubernetesRunAsUserId,
  kubernetesStartupProbeFailuresMax, kubernetesStartupProbePeriodSeconds,
  kubernetesTerminationGraceSecondsDefault,
} from "./limits.js";

/** One Kubernetes object: the fields every object has, the rest as JSON. */
export interface KubernetesManifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

/** Where each pod's volume is mounted; pfsd's data dir is a folder in it (not the root, which
 * may hold the file system's lost+found). */
export const kubernetesDataMountPath = "/var/lib/pfs";
export const kubernetesDataDir = `${kubernetesDataMountPath}/data`;
/** The command the image puts on PATH (Dockerfile) and the StatefulSet runs. */
export const kubernetesEntrypointCommand = "pfsd-entrypoint";

/** The entrypoint's own variables (not pfsd's; pfsd ignores them). */
export const entrypointEnv = {
  foundingMembers: "PFS_FOUNDING_MEMBERS",
  initialCluster: "PFS_INITIAL_CLUSTER",
  joinUrls: "PFS_JOIN_URLS",
} as const;

/** pfsd's environment variable for a config key (ETCD_… or PFSD_…), from its schema. */
function pfsdEnv(key: keyof PfsdConfig): string {
  return envOf(pfsdEnvPrefix(key), key);
}

/** The names derived from the options. */
export function headlessServiceName(options: KubernetesDeployOptions): string {
  return `${options.name}-headless`;
}

/** The DNS name of pod `pod` (a name or a `$(POD_NAME)` reference) through the headless
 * Service. */
export function podDnsName(options: KubernetesDeployOptions, pod: string): string {
  return `${pod}.${headlessServiceName(options)}.${options.namespace}.svc.${options.clusterDomain}`;
}

/** The founding members, `<name>-i=http://<pod dns>:2380` for i in [0, nodes). */
export function initialCluster(options: KubernetesDeployOptions): string {
  return Array.from({ length: options.nodes }, (_, ordinal) => `${options.name}-${ordinal}`)
    .map((pod) => `${pod}=http://${podDnsName(options, pod)}:${kubernetesPeerPort}`).join(",");
}

/** The client URLs of the founding members: what a pod added later joins through (the client
 * Service could route it to another learner, which refuses member calls). */
export function joinUrls(options: KubernetesDeployOptions): string {
  return Array.from({ length: options.nodes }, (_, ordinal) =>
    `http://${podDnsName(options, `${options.name}-${ordinal}`)}:${kubernetesClientPort}`).join(",");
}

/** The labels that select the pods (never change them: a StatefulSet selector is immutable). */
export function selectorLabels(options: KubernetesDeployOptions): Record<string, string> {
  return { "app.kubernetes.io/name": "pfs", "app.kubernetes.io/instance": options.name };
}

function labels(options: KubernetesDeployOptions): Record<string, string> {
  return {
    ...selectorLabels(options), "app.kubernetes.io/component": "pfsd",
    "app.kubernetes.io/version": pfsVersion, "app.kubernetes.io/managed-by": "pfs-deploy",
  };
}

function metadata(options: KubernetesDeployOptions, name: string): KubernetesManifest["metadata"] {
  return { name, namespace: options.namespace, labels: labels(options) };
}

function embedded(options: KubernetesDeployOptions): boolean {
  return options.etcdEndpoints.length === 0;
}

/** The container's ports, named so probes and Services refer to them by name. */
function containerPorts(options: KubernetesDeployOptions): { name: string; port: number }[] {
  const pfs = [{ name: "pfs", port: kubernetesPfsPort },
    { name: "metrics", port: kubernetesMetricsPort }];
  return embedded(options) ? [{ name: "client", port: kubernetesClientPort },
    { name: "peer", port: kubernetesPeerPort }, ...pfs] : pfs;
}

function servicePorts(ports: readonly { name: string; port: number }[]): unknown[] {
  return ports.map(({ name, port }) => ({ name, port, targetPort: name, protocol: "TCP" }));
}

/**
 * The container's environment: pfsd's own variables (named from its schema) with the pod's
 * name from the downward API, which Kubernetes substitutes for `$(POD_NAME)` in later values.
 */
function containerEnv(options: KubernetesDeployOptions): unknown[] {
  const self = podDnsName(options, "$(POD_NAME)");
  const values: [string, string][] = [
    [pfsdEnv("name"), "$(POD_NAME)"],
    [pfsdEnv("dataDir"), kubernetesDataDir],
    [pfsdEnv("listenMetricsUrls"), `http://0.0.0.0:${kubernetesMetricsPort}`],
    [pfsdEnv("pfsAddress"), `0.0.0.0:${kubernetesPfsPort}`],
    [pfsdEnv("advertisePfsAddress"), `${self}:${kubernetesPfsPort}`],
    [pfsdEnv("shards"), String(options.shards)],
    [pfsdEnv("replicas"), String(options.replicas)],
    [pfsdEnv("logFormat"), "json"],
  ];
  if (embedded(options)) {
    values.push(
      [pfsdEnv("listenClientUrls"), `http://0.0.0.0:${kubernetesClientPort}`],
      [pfsdEnv("advertiseClientUrls"), `http://${self}:${kubernetesClientPort}`],
      [pfsdEnv("listenPeerUrls"), `http://0.0.0.0:${kubernetesPeerPort}`],
      [pfsdEnv("initialAdvertisePeerUrls"), `http://${self}:${kubernetesPeerPort}`],
      [pfsdEnv("initialClusterToken"), `${options.name}.${options.namespace}`],
      [entrypointEnv.foundingMembers, String(options.nodes)],
      [entrypointEnv.initialCluster, initialCluster(options)],
      [entrypointEnv.joinUrls, joinUrls(options)],
    );
  } else {
    values.push([pfsdEnv("etcdEndpoints"), options.etcdEndpoints.join(",")]);
  }
  return [
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ...values.map(([name, value]) => ({ name, value })),
  ];
}

/** Probes: alive is /livez, ready is /readyz, and liveness waits for a first start. */
function probes(): Record<string, unknown> {
  const get = (path: string): unknown => ({ path, port: "metrics", scheme: "HTTP" });
  return {
    startupProbe: {
      httpGet: get("/livez"), periodSeconds: kubernetesStartupProbePeriodSeconds,
      timeoutSeconds: 5, failureThreshold: kubernetesStartupProbeFailuresMax,
    },
    livenessProbe: { httpGet: get("/livez"), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
    readinessProbe: { httpGet: get("/readyz"), periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3 },
  };
}

function container(options: KubernetesDeployOptions): unknown {
  return {
    name: "pfsd",
    image: options.image,
    imagePullPolicy: "IfNotPresent",
    command: [kubernetesEntrypointCommand],
    env: containerEnv(options),
    ports: containerPorts(options).map(({ name, port }) =>
      ({ name, containerPort: port, protocol: "TCP" })),
    volumeMounts: [{ name: "data", mountPath: kubernetesDataMountPath },
      { name: "tmp", mountPath: "/tmp" }],
    resources: {
      requests: { cpu: kubernetesCpuRequest, memory: kubernetesMemoryRequest },
      limits: { memory: kubernetesMemoryLimit },
    },
    ...probes(),
    securityContext: {
      allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
  };
}

function antiAffinity(options: KubernetesDeployOptions): unknown {
  const term = {
    labelSelector: { matchLabels: selectorLabels(options) },
    topologyKey: "kubernetes.io/hostname",
  };
  return options.antiAffinity === "required"
    ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
    : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] };
}

function podSpec(options: KubernetesDeployOptions): unknown {
  return {
    automountServiceAccountToken: false,
    // pfsd drains on SIGTERM within limits.shutdownDrainMsMax, well inside the grace period.
    terminationGracePeriodSeconds: kubernetesTerminationGraceSecondsDefault,
    securityContext: {
      runAsNonRoot: true, runAsUser: kubernetesRunAsUserId, runAsGroup: kubernetesRunAsUserId,
      fsGroup: kubernetesRunAsUserId, fsGroupChangePolicy: "OnRootMismatch",
      seccompProfile: { type: "RuntimeDefault" },
    },
    affinity: { podAntiAffinity: antiAffinity(options) },
    containers: [container(options)],
    volumes: [{ name: "tmp", emptyDir: {} }],
  };
}

function statefulSet(options: KubernetesDeployOptions): KubernetesManifest {
  const storageClass = options.storageClass === undefined ? {}
    : { storageClassName: options.storageClass };
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: metadata(options, options.name),
    spec: {
      serviceName: headlessServiceName(options),
      replicas: options.nodes,
      podManagementPolicy: "Parallel",
      updateStrategy: { type: "RollingUpdate" },
      // A pod scaled away keeps its volume: its Raft member still exists, and a member's ID
      // is never reused after its data is lost.
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      selector: { matchLabels: selectorLabels(options) },
      template: { metadata: { labels: labels(options) }, spec: podSpec(options) },
      volumeClaimTemplates: [{
        metadata: { name: "data", labels: selectorLabels(options) },
        spec: {
          accessModes: ["ReadWriteOnce"], ...storageClass,
          resources: { requests: { storage: options.storageSize } },
        },
      }],
    },
  };
}

function services(options: KubernetesDeployOptions): KubernetesManifest[] {
  const ports = containerPorts(options);
  const clientPorts = ports.filter(({ name }) => name === "client" || name === "pfs");
  return [{
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(options, headlessServiceName(options)),
    spec: {
      clusterIP: "None", publishNotReadyAddresses: true,
      selector: selectorLabels(options), ports: servicePorts(ports),
    },
  }, {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(options, options.name),
    spec: { type: "ClusterIP", selector: selectorLabels(options), ports: servicePorts(clientPorts) },
  }];
}

function podDisruptionBudget(options: KubernetesDeployOptions): KubernetesManifest {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: metadata(options, options.name),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(options) } },
  };
}

/** The objects, in apply order: Services, PodDisruptionBudget, StatefulSet. */
export function kubernetesManifests(options: KubernetesDeployOptions): KubernetesManifest[] {
  return [...services(options), podDisruptionBudget(options), statefulSet(options)];
}

/**
 * Multi-document YAML of the objects, after a comment that names the command (`command`, the
 * flags that made them). No line folding: a long --initial-cluster stays one line.
 */
export function renderKubernetesManifests(options: KubernetesDeployOptions, command: string):
  string {
  const documents = kubernetesManifests(options)
    .map((manifest) => stringify(manifest, { lineWidth: 0 }));
  return `# Generated by \`${command}\`; regenerate instead of editing.\n---\n` +
    documents.join("---\n");
}
