/**
 * pfsd's --advertise-pfs-address (env PFSD_ADVERTISE_PFS_ADDRESS), the pfs address a pod
 * publishes under /pfs/nodes/ (its headless DNS name; a 0.0.0.0 bind alone would publish
 * 127.0.0.1). Goal: the flag and its environment variable resolve to HOST:PORT, it is absent
 * by default, and it is refused without --pfs-address or with port 0 (nothing can dial that).
 */
import test from "ava";
import { resolvePfsdConfig } from "../../../pkg/common/index.js";

const pod = "pfsd-1.pfsd-headless.default.svc.cluster.local";

test("absent by default; from the flag or PFSD_ADVERTISE_PFS_ADDRESS", (t) => {
  const none = resolvePfsdConfig({ flags: { pfsAddress: "0.0.0.0:30650" }, env: {} });
  if (!none.ok) throw new Error(none.error.message);
  t.is(none.value.advertisePfsAddress, undefined);
  const fromEnv = resolvePfsdConfig({ flags: {}, env: {
    PFSD_PFS_ADDRESS: "0.0.0.0:30650", PFSD_ADVERTISE_PFS_ADDRESS: `${pod}:30650`,
  } });
  if (!fromEnv.ok) throw new Error(fromEnv.error.message);
  t.deepEqual(fromEnv.value.advertisePfsAddress, { host: pod, port: 30_650 });
  const fromFlag = resolvePfsdConfig({
    flags: { pfsAddress: "0.0.0.0:0", advertisePfsAddress: "[::1]:4000" },
    env: { PFSD_ADVERTISE_PFS_ADDRESS: `${pod}:30650` },
  });
  if (!fromFlag.ok) throw new Error(fromFlag.error.message);
  t.deepEqual(fromFlag.value.advertisePfsAddress, { host: "::1", port: 4_000 });
});

test("refused without --pfs-address, with port 0, or when not HOST:PORT", (t) => {
  for (const [flags, message] of [
    [{ advertisePfsAddress: `${pod}:30650` }, /needs --pfs-address/],
    [{ pfsAddress: "0.0.0.0:30650", advertisePfsAddress: `${pod}:0` }, /not 0/],
    [{ pfsAddress: "0.0.0.0:30650", advertisePfsAddress: pod }, /HOST:PORT/],
  ] as const) {
    const resolved = resolvePfsdConfig({ flags, env: {} });
    t.false(resolved.ok);
    if (!resolved.ok) {
      t.regex(resolved.error.message, message);
      t.regex(resolved.error.message, /--advertise-pfs-address/);
    }
  }
});
