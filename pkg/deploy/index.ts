/**
 * pkg/deploy: what `pfs deploy kubernetes` generates. Pure (no I/O): options in, Kubernetes
 * objects and their YAML out. Depends only on pkg/common.
 */
export {
  type KubernetesAntiAffinity,
  type KubernetesDeployOptions,
  type RawKubernetesDeployOptions,
  kubernetesDeployCommand,
  kubernetesDeployDefaults,
  kubernetesDeployFlags,
  parseKubernetesDeployOptions,
} from "./kubernetes-options.js";
export {
  type KubernetesManifest,
  entrypointEnv,
  headlessServiceName,
  initialCluster,
  joinUrls,
  kubernetesDataDir,
  kubernetesDataMountPath,
  kubernetesEntrypointCommand,
  kubernetesManifests,
  podDnsName,
  renderKubernetesManifests,
  selectorLabels,
} from "./kubernetes-manifests.js";
export * as deployLimits from "./limits.js";
