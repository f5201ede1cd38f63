// Goal: `pfs deploy local`'s stored settings: a new directory stores every setting (nodes,
// ports, shards, pfs base port, replicas, write quorum, dead time, master lease TTL, added
// nodes) in deploy.json; an existing one reuses what it stored, whatever the flags say, and a
// deploy.json from before pfs had shards gets today's defaults; bad values (shards, a pfs port
// or metrics range overlapping another range, pfsd flags out of pfsd's range) are refused before
// anything is written. Method: real temp dirs, removed afterwards.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { type DeploySettings, deploySettings } from "../../../cmd/deploy-local.js";

const given: DeploySettings = {
  nodes: 3, basePort: 2379, host: "127.0.0.1", shards: 16, pfsBasePort: 30_650,
  replicas: 3, writeQuorum: 2, deadTime: 20, masterLeaseTtl: 2, joinedNodes: 0,
};

async function inTempDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "pfs-deploy-settings-"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("a new directory stores every setting; an existing one reuses them", async (t) => {
  await inTempDir(async (dir) => {
    t.deepEqual(deploySettings(dir, { ...given, shards: 8, pfsBasePort: 40_000 }),
      { ...given, shards: 8, pfsBasePort: 40_000 });
    const stored = JSON.parse(await readFile(join(dir, "deploy.json"), "utf8")) as unknown;
    t.deepEqual(stored, { ...given, shards: 8, pfsBasePort: 40_000 });
    t.deepEqual(deploySettings(dir, { ...given, shards: 32, nodes: 5 }),
      { ...given, shards: 8, pfsBasePort: 40_000 });
  });
});

test("a deploy.json from before pfs had shards or replicas gets today's defaults", async (t) => {
  await inTempDir(async (dir) => {
    await writeFile(join(dir, "deploy.json"),
      JSON.stringify({ nodes: 1, basePort: 3000, host: "127.0.0.1" }));
    t.deepEqual(deploySettings(dir, { ...given, shards: 2, pfsBasePort: 5000 }),
      {
        nodes: 1, basePort: 3000, host: "127.0.0.1", shards: 16, pfsBasePort: 30_650,
        replicas: 1, writeQuorum: 0, deadTime: 30, masterLeaseTtl: 3, joinedNodes: 0,
      });
  });
});

test("bad shards and overlapping ports are refused before anything is written", async (t) => {
  await inTempDir((dir) => {
    t.throws(() => deploySettings(dir, { ...given, shards: 0 }),
      { message: "--shards must be between 1 and 1024, got 0" });
    t.throws(() => deploySettings(dir, { ...given, shards: 1.5 }), { message: /--shards/ });
    t.throws(() => deploySettings(dir, { ...given, pfsBasePort: 2383 }),
      { message: "--pfs-base-port 2383 overlaps the ports from --base-port 2379" });
    t.throws(() => deploySettings(dir, { ...given, pfsBasePort: 65_534 }),
      { message: /--pfs-base-port 65534 leaves no room for 3 nodes/ });
    t.throws(() => deploySettings(dir, { ...given, metricsBasePort: 30_652 }),
      { message: "--metrics-base-port 30652 overlaps the ports from --pfs-base-port 30650" });
    t.throws(() => deploySettings(dir, { ...given, metricsBasePort: 2384 }),
      { message: "--metrics-base-port 2384 overlaps the ports from --base-port 2379" });
    t.throws(() => deploySettings(dir, { ...given, metricsBasePort: 80 }),
      { message: "--metrics-base-port 80 leaves no room for 3 nodes" });
    t.throws(() => deploySettings(dir, { ...given, replicas: 0 }),
      { message: "--replicas 0: expected a whole number from 1 to 7" });
    t.throws(() => deploySettings(dir, { ...given, writeQuorum: 4 }),
      { message: "--write-quorum 4 is above --replicas 3" });
    t.throws(() => deploySettings(dir, { ...given, deadTime: 0 }), { message: /--dead-time 0/ });
    t.throws(() => deploySettings(dir, { ...given, masterLeaseTtl: 61 }),
      { message: /--master-lease-ttl 61/ });
    t.false(existsSync(join(dir, "deploy.json")));
  });
});
