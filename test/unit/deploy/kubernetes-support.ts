/**
 * Test support for pkg/deploy: generates the manifests of a set of flags and checks each one
 * against the Kubernetes schemas of kubernetes-models 4 (its ajv validators throw on a field
 * of the wrong type, an unknown required field missing, a bad enum value…), handing back the
 * typed objects for the invariant checks.
 */
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Service } from "kubernetes-models/v1/Service";
import {
  type KubernetesDeployOptions, type KubernetesManifest, type RawKubernetesDeployOptions,
  kubernetesManifests, parseKubernetesDeployOptions,
} from "../../../pkg/deploy/index.js";

/** The validated objects of one generated cluster. */
export interface ValidatedManifests {
  readonly options: KubernetesDeployOptions;
  readonly headless: Service;
  readonly client: Service;
  readonly budget: PodDisruptionBudget;
  readonly statefulSet: StatefulSet;
}

/** The model of a manifest; the JSON round trip strips `undefined` as YAML output would. */
function model<M>(modelClass: new (data: never) => M, manifest: KubernetesManifest): M {
  return new modelClass(JSON.parse(JSON.stringify(manifest)) as never);
}

/** Parses the flags (they must be valid), generates, validates every object; throws if any
 * object fails its schema or an object is missing or extra. */
export function validatedManifests(raw: RawKubernetesDeployOptions): ValidatedManifests {
  const parsed = parseKubernetesDeployOptions(raw);
  if (!parsed.ok) throw new Error(`flags ${JSON.stringify(raw)} refused: ${parsed.error}`);
  const manifests = kubernetesManifests(parsed.value);
  const services: Service[] = [];
  const budgets: PodDisruptionBudget[] = [];
  const sets: StatefulSet[] = [];
  for (const manifest of manifests) {
    if (manifest.kind === "Service") services.push(model(Service, manifest));
    else if (manifest.kind === "PodDisruptionBudget") {
      budgets.push(model(PodDisruptionBudget, manifest));
    } else if (manifest.kind === "StatefulSet") sets.push(model(StatefulSet, manifest));
    else throw new Error(`unexpected kind ${manifest.kind}`);
  }
  for (const model of [...services, ...budgets, ...sets]) model.validate();
  const [headless, client] = services;
  const [budget] = budgets;
  const [statefulSet] = sets;
  if (services.length !== 2 || headless === undefined || client === undefined ||
    budgets.length !== 1 || budget === undefined || sets.length !== 1 ||
    statefulSet === undefined) {
    throw new Error(`expected 2 Services, 1 PodDisruptionBudget, 1 StatefulSet: ` +
      manifests.map((manifest) => manifest.kind).join(", "));
  }
  return { options: parsed.value, headless, client, budget, statefulSet };
}

/** The variants deploy/kubernetes/ holds: file name → flags (kept in sync by a test). */
export const committedVariants: ReadonlyMap<string, RawKubernetesDeployOptions> = new Map([
  ["pfs.yaml", {}],
  ["pfs-external-etcd.yaml", {
    etcdEndpoints: "http://etcd-0.etcd:2379,http://etcd-1.etcd:2379,http://etcd-2.etcd:2379",
  }],
]);
