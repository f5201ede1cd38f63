/**
 * deploy/kubernetes/pfsd-entrypoint.sh, run by real `sh` with the environment the generated
 * StatefulSet gives a pod (Kubernetes's `$(VAR)` substitution done here) and a stand-in `pfsd`
 * on PATH that prints its argv and environment. Goal: founding pods (ordinal < --nodes) start
 * pfsd with the initial cluster, pods added by `kubectl scale` with `--join` and no initial
 * cluster, external-etcd pods as they are; and pfsd's own config resolver accepts each result
 * (the pod's name is in the initial cluster with its advertised peer URL; --join goes with no
 * initial cluster). Bad pod names are refused before pfsd runs.
 */
import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import test from "ava";
import { resolvePfsdConfig } from "../../../pkg/common/index.js";
import { joinUrls, type RawKubernetesDeployOptions } from "../../../pkg/deploy/index.js";
import { validatedManifests } from "./kubernetes-support.js";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../../../../deploy/kubernetes/pfsd-entrypoint.sh",
  import.meta.url));

const standIn = `#!/bin/sh
for arg in "$@"; do printf 'ARG %s\\n' "$arg"; done
env | sed 's/^/ENV /'
`;

/** The pod's environment as Kubernetes builds it: fieldRef POD_NAME, then `$(NAME)` in each
 * later value replaced by the variables defined before it. */
function podEnv(raw: RawKubernetesDeployOptions, pod: string): Record<string, string> {
  const container = validatedManifests(raw).statefulSet.spec?.template.spec?.containers[0];
  const env: Record<string, string> = {};
  for (const variable of container?.env ?? []) {
    if (variable.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[variable.name] = pod;
    else {
      env[variable.name] = (variable.value ?? "").replace(/\$\(([A-Z_]+)\)/g,
        (whole, name: string) => env[name] ?? whole);
    }
  }
  return env;
}

interface Started { readonly argv: readonly string[]; readonly env: Record<string, string> }

async function withStandIn<T>(body: (bin: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "pfs-entrypoint-"));
  try {
    await writeFile(join(dir, "pfsd"), standIn);
    await chmod(join(dir, "pfsd"), 0o755);
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the entrypoint for `env` with the stand-in; what pfsd was started with. */
async function start(env: Record<string, string>): Promise<Started> {
  return withStandIn(async (bin) => {
    const { stdout } = await run("sh", [script], { env: { ...env, PATH: `${bin}:/usr/bin:/bin` } });
    const lines = stdout.split("\n");
    const started: Started = { argv: [], env: {} };
    for (const line of lines) {
      if (line.startsWith("ARG ")) (started.argv as string[]).push(line.slice(4));
      const equals = line.indexOf("=");
      if (line.startsWith("ENV ") && equals > 0) started.env[line.slice(4, equals)] = line.slice(equals + 1);
    }
    return started;
  });
}

test("founding pods bootstrap with the initial cluster that pfsd accepts", async (t) => {
  for (const ordinal of [0, 1, 2]) {
    const pod = `pfsd-${ordinal}`;
    const env = podEnv({}, pod);
    const started = await start(env);
    t.deepEqual(started.argv, [], pod);
    t.is(started.env["ETCD_INITIAL_CLUSTER"], env["PFS_INITIAL_CLUSTER"]);
    t.is(started.env["ETCD_INITIAL_CLUSTER_STATE"], "new");
    const config = resolvePfsdConfig({ flags: {}, env: started.env });
    if (!config.ok) throw new Error(`${pod}: ${config.error.message}`);
    t.is(config.value.name, pod);
    t.is(config.value.initialCluster.length, 3);
    t.is(config.value.dataDir, "/var/lib/pfs/data");
    t.is(config.value.advertisePfsAddress?.host,
      `${pod}.pfsd-headless.default.svc.cluster.local`);
  }
});

test("pods beyond --nodes join through the founding members as learners", async (t) => {
  for (const [raw, pod] of [[{}, "pfsd-3"], [{ nodes: "1", name: "p" }, "p-1"],
    [{ nodes: "5" }, "pfsd-12"]] as const) {
    const env = podEnv(raw, pod);
    const started = await start({ ...env, ETCD_INITIAL_CLUSTER: "stray=http://x:2380" });
    const parsed = validatedManifests(raw).options;
    t.deepEqual(started.argv, ["--join", joinUrls(parsed)], pod);
    t.is(started.env["ETCD_INITIAL_CLUSTER"], undefined, "a learner must not bootstrap");
    const config = resolvePfsdConfig({ flags: { join: started.argv[1] }, env: started.env });
    if (!config.ok) throw new Error(`${pod}: ${config.error.message}`);
    t.is(config.value.join.length, parsed.nodes);
    t.is(config.value.name, pod);
  }
});

test("external etcd: pfsd runs as it is, on the endpoints", async (t) => {
  const raw = { etcdEndpoints: "http://etcd-0.etcd:2379,http://etcd-1.etcd:2379" };
  for (const pod of ["pfsd-0", "pfsd-7"]) {
    const started = await start(podEnv(raw, pod));
    t.deepEqual(started.argv, []);
    const config = resolvePfsdConfig({ flags: {}, env: started.env });
    if (!config.ok) throw new Error(`${pod}: ${config.error.message}`);
    t.deepEqual(config.value.etcdEndpoints.map(String), raw.etcdEndpoints.split(","));
    t.is(started.env["ETCD_INITIAL_CLUSTER"], undefined);
  }
});

test("a pod name without an ordinal, or no POD_NAME, is refused before pfsd runs", async (t) => {
  for (const env of [podEnv({}, "pfsd"), podEnv({}, "pfsd-x1"), {}]) {
    const failure = await t.throwsAsync(start(env));
    t.is((failure as { code?: unknown } | undefined)?.code, 2);
    t.notRegex(String((failure as { stdout?: unknown } | undefined)?.stdout), /ENV /);
    t.regex(String((failure as { stderr?: unknown } | undefined)?.stderr), /^pfsd-entrypoint: /);
  }
});
