/**
 * `pfs deploy kubernetes` flag validation. Goal: the defaults are what the docs say, and bad
 * input is refused with one line naming the flag (the CLI then exits 2 printing nothing on
 * stdout): --replicas above --nodes, node counts out of range, names Kubernetes would refuse,
 * sizes that are not quantities, URLs that are not http(s) origins.
 */
import test from "ava";
import { limits } from "../../../pkg/common/index.js";
import {
  type RawKubernetesDeployOptions, deployLimits, kubernetesDeployCommand,
  parseKubernetesDeployOptions,
} from "../../../pkg/deploy/index.js";

test("the defaults: 3 nodes, 16 shards, 3 replicas, embedded etcd, pfsd in default", (t) => {
  const parsed = parseKubernetesDeployOptions({});
  if (!parsed.ok) throw new Error(parsed.error);
  t.like(parsed.value, {
    nodes: 3, shards: limits.pfsShardsDefault, replicas: 3, image: "pfs:0.1.0",
    storageClass: undefined, storageSize: "10Gi", namespace: "default", name: "pfsd",
    antiAffinity: "required",
  });
  t.deepEqual(parsed.value.etcdEndpoints, []);
  t.true(Object.isFrozen(parsed.value));
});

test("--replicas defaults to --nodes when fewer than 3; endpoints are normalized", (t) => {
  const parsed = parseKubernetesDeployOptions({
    nodes: "2", etcdEndpoints: "http://etcd-0:2379, https://etcd-1:2379/",
  });
  if (!parsed.ok) throw new Error(parsed.error);
  t.is(parsed.value.replicas, 2);
  t.deepEqual(parsed.value.etcdEndpoints, ["http://etcd-0:2379", "https://etcd-1:2379"]);
});

const refusals: readonly [RawKubernetesDeployOptions, RegExp][] = [
  [{ nodes: "3", replicas: "4" }, /^--replicas 4 is above --nodes 3/],
  [{ nodes: "1", replicas: "2" }, /^--replicas 2 is above --nodes 1/],
  [{ nodes: "0" }, /^--nodes must be an integer between 1 and 64/],
  [{ nodes: String(deployLimits.kubernetesNodesMax + 1) }, /^--nodes must be/],
  [{ nodes: "3.5" }, /^--nodes must be/],
  [{ nodes: "-1" }, /^--nodes must be/],
  [{ nodes: "" }, /^--nodes must be/],
  [{ shards: "0" }, /^--shards must be/],
  [{ shards: "1025" }, /^--shards must be/],
  [{ replicas: "0" }, /^--replicas must be/],
  [{ name: "Pfsd" }, /^--name must be a DNS label/],
  [{ name: "0pfsd" }, /^--name must be a DNS label/],
  [{ name: "a".repeat(deployLimits.kubernetesNameLengthMax + 1) }, /^--name must be/],
  [{ namespace: "my_ns" }, /^--namespace must be a DNS label/],
  [{ namespace: "ns-" }, /^--namespace must be/],
  [{ storageSize: "10 Gi" }, /^--storage-size must be a whole quantity/],
  [{ storageSize: "1.5Gi" }, /^--storage-size must be/],
  [{ storageSize: "0" }, /^--storage-size must be/],
  [{ storageClass: "Fast SSD" }, /^--storage-class must be a DNS subdomain/],
  [{ image: "pfs:0.1.0; rm -rf /" }, /^--image must be an image reference/],
  [{ image: "" }, /^--image must be/],
  [{ etcdEndpoints: "etcd-0:2379" }, /^--etcd-endpoints: /],
  [{ etcdEndpoints: "ftp://etcd-0:2379" }, /^--etcd-endpoints: URL .* must use http or https/],
  [{ etcdEndpoints: "http://etcd-0:2379/v3" }, /^--etcd-endpoints: URL .* must not have a path/],
  [{ etcdEndpoints: "http://etcd-0:2379,," }, /^--etcd-endpoints must be 1 to 16/],
  [{ antiAffinity: "sometimes" }, /^--anti-affinity must be required or preferred/],
  [{ clusterDomain: "cluster..local" }, /^--cluster-domain must be/],
];

for (const [raw, message] of refusals) {
  test(`refuses ${JSON.stringify(raw)}`, (t) => {
    const parsed = parseKubernetesDeployOptions(raw);
    t.false(parsed.ok);
    if (!parsed.ok) {
      t.regex(parsed.error, message);
      t.false(parsed.error.includes("\n"), "one line");
    }
  });
}

test("the command line names the flags given, in the CLI's order", (t) => {
  t.is(kubernetesDeployCommand({}), "pfs deploy kubernetes");
  t.is(kubernetesDeployCommand({ replicas: "2", nodes: "5", etcdEndpoints: "http://e:2379" }),
    "pfs deploy kubernetes --nodes 5 --replicas 2 --etcd-endpoints http://e:2379");
});
