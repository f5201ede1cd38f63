// Goal: pfsd's configuration resolves flags over environment over defaults as etcd does,
// derives etcd's defaults, refuses every bad value with a message naming the flag, and is
// frozen once resolved.
import test from "ava";
import {
  type ConfigSources,
  effectiveWriteQuorum,
  parseHostPort,
  resolvePfsdConfig,
} from "../../../pkg/common/index.js";

function resolve(flags: ConfigSources["flags"], env: ConfigSources["env"] = {}) {
  return resolvePfsdConfig({ flags, env });
}

test("defaults are etcd's", (t) => {
  const result = resolve({});
  if (!result.ok) return t.fail(result.error.message);
  const config = result.value;
  t.is(config.name, "default");
  t.is(config.dataDir, "default.etcd");
  t.deepEqual(config.listenClientUrls, ["http://localhost:2379"]);
  t.deepEqual(config.initialCluster, [{ name: "default", peerUrls: ["http://localhost:2380"] }]);
  t.is(config.initialClusterState, "new");
  t.is(config.initialClusterToken, "etcd-cluster");
  t.is(config.heartbeatInterval, 100);
  t.is(config.electionTimeout, 1000);
  t.is(config.pfsAddress, undefined);
  t.is(effectiveWriteQuorum(config), 2);
});

test("flags beat environment, environment beats defaults, with etcd's and pfs's prefixes", (t) => {
  const result = resolve(
    { name: "n1", initialCluster: "n1=http://localhost:2380" },
    { ETCD_NAME: "ignored", ETCD_DATA_DIR: "/var/lib/n1", PFSD_SHARDS: "32", ETCD_SHARDS: "8" },
  );
  if (!result.ok) return t.fail(result.error.message);
  t.is(result.value.name, "n1");
  t.is(result.value.dataDir, "/var/lib/n1");
  t.is(result.value.shards, 32);
});

test("the resolved configuration is deeply frozen", (t) => {
  const result = resolve({});
  if (!result.ok) return t.fail(result.error.message);
  t.true(Object.isFrozen(result.value));
  t.true(Object.isFrozen(result.value.listenClientUrls));
  t.true(Object.isFrozen(result.value.initialCluster[0]));
});

const badValues: [string, ConfigSources["flags"], RegExp][] = [
  ["--shards", { shards: "zero" }, /--shards: "zero": expected a whole number/],
  ["--shards", { shards: "0" }, /--shards: "0": expected a whole number from 1 to 1024/],
  ["--replicas", { replicas: "9" }, /--replicas/],
  ["--listen-client-urls", { listenClientUrls: "ftp://x:1" }, /--listen-client-urls: .*http or https/],
  ["--listen-peer-urls", { listenPeerUrls: "not a url" }, /--listen-peer-urls: .*not a URL/],
  ["--initial-cluster-state", { initialClusterState: "old" }, /--initial-cluster-state: .*new, existing/],
  ["--log-level", { logLevel: "loud" }, /--log-level/],
  ["--client-cert-auth", { clientCertAuth: "maybe" }, /--client-cert-auth: .*true or false/],
  ["--pfs-address", { pfsAddress: "localhost" }, /--pfs-address: .*HOST:PORT/],
  ["--pfs-address", { pfsAddress: "localhost:70000" }, /--pfs-address: .*above 65535/],
  ["--election-timeout", { electionTimeout: "400" }, /--election-timeout: 400 ms must be at least 5 times/],
  ["--write-quorum", { writeQuorum: "3", replicas: "1" }, /--write-quorum: 3 is above --replicas 1/],
  ["--key-file", { certFile: "a.pem" }, /--key-file: --cert-file and --key-file go together/],
  ["--trusted-ca-file", { clientCertAuth: true }, /--trusted-ca-file: required by --client-cert-auth/],
  ["--initial-cluster", { name: "n2", initialCluster: "n1=http://a:1" }, /couldn't find local name "n2"/],
  ["--initial-cluster", { initialCluster: "default=http://a:1" }, /do not match --initial-advertise-peer-urls/],
  ["--initial-cluster", { initialCluster: "justaname" }, /is not NAME=URL/],
];

for (const [flag, flags, message] of badValues) {
  test(`a bad ${flag} is refused with a message naming it (${JSON.stringify(flags)})`, (t) => {
    const result = resolve(flags);
    if (result.ok) return t.fail("accepted");
    t.is(result.error.code, "CONFIG_INVALID");
    t.is(result.error.flag, flag);
    t.true(result.error.message.includes(flag));
    t.regex(result.error.message, message);
  });
}

test("a bad environment value names the flag it stands for", (t) => {
  const result = resolve({}, { PFSD_SHARDS: "-3" });
  if (result.ok) return t.fail("accepted");
  t.is(result.error.flag, "--shards");
});

test("initial cluster entries with several URLs per name, and host:port parsing", (t) => {
  const result = resolve({
    name: "a",
    initialCluster: "a=http://127.0.0.1:1,a=http://127.0.0.2:1,b=http://127.0.0.3:1",
    initialAdvertisePeerUrls: "http://127.0.0.2:1,http://127.0.0.1:1",
  });
  if (!result.ok) return t.fail(result.error.message);
  t.deepEqual(result.value.initialCluster[0]?.peerUrls, ["http://127.0.0.1:1", "http://127.0.0.2:1"]);
  t.deepEqual(parseHostPort("[::1]:30650"), { ok: true, value: { host: "::1", port: 30650 } });
  t.false(parseHostPort(":1").ok);
});
