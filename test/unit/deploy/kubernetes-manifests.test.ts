/**
 * pkg/deploy's Kubernetes manifests. Goal: every object of every variant passes the Kubernetes
 * schemas (kubernetes-models 4 validators), and the objects agree with each other the way a
 * working cluster needs: the StatefulSet's pods are what the Services, the PodDisruptionBudget
 * and the anti-affinity select; the initial cluster names the pods' DNS names through the
 * headless Service; probes hit the port the metrics URL listens on; the data dir is on the
 * volume. Method: the committed variants and a few chosen ones, then a seeded property test
 * over random flag combinations (the seed is printed; PFS_SEED=<n> replays it).
 */
import test, { type ExecutionContext } from "ava";
import fc from "fast-check";
import type { IIoK8sApiCoreV1Container } from "kubernetes-models/v1/Container";
import { limits } from "../../../pkg/common/index.js";
import {
  type RawKubernetesDeployOptions, entrypointEnv, kubernetesDataMountPath,
} from "../../../pkg/deploy/index.js";
import { testSeed } from "../pfs/storage-fixtures.js";
import { type ValidatedManifests, committedVariants, validatedManifests } from "./kubernetes-support.js";

function envValue(container: IIoK8sApiCoreV1Container, name: string): string | undefined {
  return container.env?.find((variable) => variable.name === name)?.value;
}

function includesLabels(labels: Record<string, string> | undefined,
  selector: Record<string, string> | undefined): boolean {
  const wanted = Object.entries(selector ?? {});
  return wanted.length > 0 && wanted.every(([key, value]) => labels?.[key] === value);
}

function podContainer(manifests: ValidatedManifests): IIoK8sApiCoreV1Container {
  const container = manifests.statefulSet.spec?.template.spec?.containers[0];
  if (container === undefined) throw new Error("the StatefulSet has no container");
  return container;
}

/** Each pod's expected peer URL, as the initial cluster must list it. */
function expectedInitialCluster(manifests: ValidatedManifests): string {
  const { options } = manifests;
  const headless = manifests.headless.metadata?.name ?? "";
  return Array.from({ length: options.nodes }, (_, ordinal) => {
    const pod = `${manifests.statefulSet.metadata?.name ?? ""}-${ordinal}`;
    return `${pod}=http://${pod}.${headless}.${options.namespace}.svc.${options.clusterDomain}:2380`;
  }).join(",");
}

function checkSelection(t: ExecutionContext, manifests: ValidatedManifests): void {
  const { statefulSet, headless, client, budget } = manifests;
  const podLabels = statefulSet.spec?.template.metadata?.labels;
  t.true(includesLabels(podLabels, statefulSet.spec?.selector.matchLabels), "set selector");
  t.true(includesLabels(podLabels, headless.spec?.selector), "headless selector");
  t.true(includesLabels(podLabels, client.spec?.selector), "client selector");
  t.true(includesLabels(podLabels, budget.spec?.selector?.matchLabels), "budget selector");
  t.is(budget.spec?.maxUnavailable, 1);
  const affinity = statefulSet.spec?.template.spec?.affinity?.podAntiAffinity;
  const term = manifests.options.antiAffinity === "required"
    ? affinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0]
    : affinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
  t.is(term?.topologyKey, "kubernetes.io/hostname");
  t.true(includesLabels(podLabels, term?.labelSelector?.matchLabels), "anti-affinity selector");
  for (const object of [statefulSet, headless, client, budget]) {
    t.is(object.metadata?.namespace, manifests.options.namespace);
  }
}

function checkPorts(t: ExecutionContext, manifests: ValidatedManifests): void {
  const container = podContainer(manifests);
  const ports = new Map((container.ports ?? []).map((port) => [port.name, port.containerPort]));
  const metricsUrl = new URL(envValue(container, "ETCD_LISTEN_METRICS_URLS") ?? "");
  for (const [probe, path] of [[container.livenessProbe, "/livez"],
    [container.readinessProbe, "/readyz"], [container.startupProbe, "/livez"]] as const) {
    t.is(probe?.httpGet?.path, path);
    const port = probe?.httpGet?.port;
    t.is(typeof port === "string" ? ports.get(port) : port, Number(metricsUrl.port));
  }
  for (const service of [manifests.headless, manifests.client]) {
    for (const port of service.spec?.ports ?? []) {
      t.is(ports.get(String(port.targetPort)), port.port, `${service.metadata?.name} ${port.name}`);
    }
  }
  const clientPorts = (manifests.client.spec?.ports ?? []).map((port) => port.name).sort();
  const embedded = manifests.options.etcdEndpoints.length === 0;
  t.deepEqual(clientPorts, embedded ? ["client", "pfs"] : ["pfs"]);
  t.is(ports.has("peer"), embedded);
  t.is(manifests.headless.spec?.clusterIP, "None");
  t.true(manifests.headless.spec?.publishNotReadyAddresses);
}

function checkPods(t: ExecutionContext, manifests: ValidatedManifests): void {
  const { statefulSet, options } = manifests;
  const container = podContainer(manifests);
  t.is(statefulSet.spec?.replicas, options.nodes);
  t.is(statefulSet.spec?.serviceName, manifests.headless.metadata?.name);
  t.is(statefulSet.spec?.podManagementPolicy, "Parallel");
  const claim = statefulSet.spec?.volumeClaimTemplates?.[0];
  const mount = container.volumeMounts?.find((volume) => volume.name === claim?.metadata?.name);
  t.is(mount?.mountPath, kubernetesDataMountPath);
  t.true(envValue(container, "ETCD_DATA_DIR")?.startsWith(`${kubernetesDataMountPath}/`));
  t.is(claim?.spec?.resources?.requests?.["storage"], options.storageSize);
  t.is(claim?.spec?.storageClassName, options.storageClass);
  t.truthy(container.resources?.requests?.["cpu"]);
  t.truthy(container.resources?.requests?.["memory"]);
  const grace = statefulSet.spec?.template.spec?.terminationGracePeriodSeconds ?? 0;
  t.true(grace * 1_000 > limits.shutdownDrainMsMax);
  t.is(envValue(container, "PFSD_SHARDS"), String(options.shards));
  t.is(envValue(container, "PFSD_REPLICAS"), String(options.replicas));
  t.true(options.replicas <= options.nodes);
  if (options.etcdEndpoints.length > 0) {
    t.is(envValue(container, "PFSD_ETCD_ENDPOINTS"), options.etcdEndpoints.join(","));
    t.is(envValue(container, entrypointEnv.initialCluster), undefined);
  } else {
    t.is(envValue(container, entrypointEnv.initialCluster), expectedInitialCluster(manifests));
    t.is(envValue(container, entrypointEnv.foundingMembers), String(options.nodes));
    t.is(envValue(container, "PFSD_ETCD_ENDPOINTS"), undefined);
  }
}

function checkAll(t: ExecutionContext, raw: RawKubernetesDeployOptions): void {
  const manifests = validatedManifests(raw);
  checkSelection(t, manifests);
  checkPorts(t, manifests);
  checkPods(t, manifests);
}

for (const [file, raw] of committedVariants) {
  test(`${file}: every object passes its schema and the invariants hold`, (t) => {
    checkAll(t, raw);
  });
}

test("chosen variants: one node, many nodes, storage class, preferred anti-affinity", (t) => {
  checkAll(t, { nodes: "1" });
  checkAll(t, { nodes: "64", replicas: "7", shards: "1024", namespace: "data-team" });
  checkAll(t, { storageClass: "fast-ssd.example.com", storageSize: "500G", name: "p1" });
  checkAll(t, { antiAffinity: "preferred", clusterDomain: "corp.internal", image: "r.io/a/pfs@sha256:abc" });
});

test("a bad object is caught by the schema validation (the check can fail)", (t) => {
  const manifests = validatedManifests({});
  const spec = manifests.statefulSet.spec;
  if (spec === undefined) throw new Error("no spec");
  (spec as unknown as { replicas: unknown }).replicas = "three";
  t.throws(() => { manifests.statefulSet.validate(); });
});

const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/);
const flags: fc.Arbitrary<RawKubernetesDeployOptions> = fc.integer({ min: 1, max: 64 })
  .chain((nodes) => fc.record({
    nodes: fc.constant(String(nodes)),
    replicas: fc.integer({ min: 1, max: Math.min(nodes, limits.pfsReplicasMax) }).map(String),
    shards: fc.integer({ min: 1, max: limits.pfsShardsMax }).map(String),
    namespace: label,
    name: label,
    storageClass: label,
    storageSize: fc.tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom("Gi", "Ti", "M", ""))
      .map(([size, unit]) => `${size}${unit}`),
    etcdEndpoints: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 })
      .map((hosts) => hosts.map((host) => `http://etcd-${host}.etcd:2379`).join(",")),
    antiAffinity: fc.constantFrom("required", "preferred"),
  }, { requiredKeys: ["nodes"] }));

test("seeded property: random flag combinations give valid, consistent manifests", (t) => {
  const seed = testSeed();
  t.log(`seed ${seed} (replay with PFS_SEED=${seed})`);
  t.notThrows(() => {
    fc.assert(fc.property(flags, (raw) => { checkAll(t, raw); }), { seed, numRuns: 60 });
  }, `seed ${seed}`);
});
