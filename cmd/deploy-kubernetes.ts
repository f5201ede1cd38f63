/**
 * `pfs deploy kubernetes`: prints the manifests of a pfs cluster on Kubernetes (pkg/deploy) as
 * multi-document YAML on stdout, for `kubectl apply -f -`. It talks to no cluster. Bad flags
 * print one line on stderr, exit 2 and print nothing on stdout.
 */
import type { Command } from "commander";
import { limits } from "../pkg/common/index.js";
import {
  type RawKubernetesDeployOptions, deployLimits, kubernetesDeployCommand,
  kubernetesDeployDefaults, parseKubernetesDeployOptions, renderKubernetesManifests,
} from "../pkg/deploy/index.js";

/** Exit code of bad input, as for every usage error of the CLI. */
const exitUsage = 2;

/** Attaches `kubernetes` to the `deploy` command. */
export function addDeployKubernetesCommand(deploy: Command): void {
  const defaults = kubernetesDeployDefaults;
  deploy
    .command("kubernetes")
    .description("print Kubernetes manifests of a pfs cluster (for `kubectl apply -f -`)")
    .option("--nodes <n>", `founding pods (Raft members), 1 to ${deployLimits.kubernetesNodesMax}; ` +
      "pods added by `kubectl scale` join as learners")
    .option("--shards <n>", `shards of the file system (default: ${defaults.shards})`)
    .option("--replicas <n>", `replicas of each shard, at most --nodes ` +
      `(default: ${limits.pfsReplicasDefault} or --nodes if fewer)`)
    .option("--image <ref>", `pfsd image (default: ${defaults.image})`)
    .option("--storage-class <name>", "StorageClass of the volumes (default: the cluster's)")
    .option("--storage-size <quantity>", `volume of each pod (default: ${defaults.storageSize})`)
    .option("--etcd-endpoints <urls>", "use this external etcd cluster: no embedded members")
    .option("--namespace <ns>", `namespace of every object (default: ${defaults.namespace})`)
    .option("--name <name>", `StatefulSet and client Service name (default: ${defaults.name})`)
    .option("--cluster-domain <domain>", `cluster DNS domain (default: ${defaults.clusterDomain})`)
    .option("--anti-affinity <kind>", "required (one pod per host) or preferred " +
      `(default: ${defaults.antiAffinity})`)
    .action((raw: RawKubernetesDeployOptions) => {
      const options = parseKubernetesDeployOptions(raw);
      if (!options.ok) {
        process.stderr.write(`pfs: ${options.error}\n`);
        process.exitCode = exitUsage;
        return;
      }
      process.stdout.write(renderKubernetesManifests(options.value, kubernetesDeployCommand(raw)));
    });
}
