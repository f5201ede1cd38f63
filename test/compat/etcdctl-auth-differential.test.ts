// Goal: etcdctl's auth commands cannot tell pfsd from etcd 3.4.23. Method: one fresh
// single-member etcd and one fresh single-member pfsd (test/support/member-cluster.ts) run the
// same etcdctl auth script (test/compat/support/etcdctl-auth-script.ts): user/role management
// with its error cases, permission grants (plain, --prefix, --from-key, read/write/readwrite),
// auth enable (the root-missing failure and etcdctl's automatic root-role retry), allowed and
// denied reads and writes, wrong passwords, revocations, deletions, auth disable and endpoint
// health with auth on. Every step's exit code, stdout and user-facing stderr must be equal,
// with endpoints, ids and durations masked. The first differing step is reported whole.
import test from "ava";
import { type MemberCluster, type MemberKind, startCluster } from "../support/member-cluster.js";
import { type StepOutcome, authScript, runScript } from "./support/etcdctl-auth-script.js";

/** The server compared with etcd (PFS_AUTH_DIFF_TARGET=etcd checks the masking alone). */
const target: MemberKind = process.env["PFS_AUTH_DIFF_TARGET"] === "etcd" ? "etcd" : "pfsd";

async function runOn(kind: MemberKind): Promise<StepOutcome[]> {
  const cluster: MemberCluster = await startCluster({ kind, parentDir: "/dev/shm" });
  try {
    return await runScript(cluster.endpoints, authScript);
  } finally {
    await cluster.stop();
  }
}

test(`etcdctl auth script: ${target} answers as etcd 3.4.23`, async (t) => {
  t.timeout(240_000);
  const [expected, actual] = await Promise.all([runOn("etcd"), runOn(target)]);
  t.is(actual.length, expected.length);
  const differing = expected.flatMap((want, index) => {
    const got = actual[index];
    return got === undefined || JSON.stringify(got) !== JSON.stringify(want)
      ? [{ step: index, etcd: want, [target]: got }] : [];
  });
  t.deepEqual(differing, [], `${differing.length} of ${expected.length} steps differ`);
  // The script must exercise both outcomes, or the comparison proves little.
  t.true(expected.some((outcome) => outcome.exitCode !== 0));
  t.true(expected.filter((outcome) => outcome.exitCode === 0).length > 40);
});
