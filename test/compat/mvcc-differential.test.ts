// Goal: our MVCC store, reached through the KV wire codec, answers every KV request exactly as
// a real etcd 3.4.23 does. Method: for each seed, start a fresh single-member etcd, grant two
// leases with fixed IDs on it (and tell our store those exist; a third ID exists nowhere),
// generate a seeded random sequence of Put / DeleteRange / Range (every option, historical
// revisions) / Txn (nested, every compare target and result, range compares) / Compact, send
// each as a raw gRPC request to etcd and through the codec to our store, and compare responses
// field by field (header cluster_id, member_id and raft_term masked) or errors by gRPC code and
// message. Finally a Watch with prev_kv from the compaction revision, from below it and from the
// future replays the same events (or the same refusal) from etcd as from our event log.
// A mismatch reports the seed, the op index, the request and both outcomes. PFS_DIFF_SEED=n runs
// one other seed.
import { existsSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { type Client, credentials } from "@grpc/grpc-js";
import test from "ava";
import { type LeaseId, Prng } from "../../pkg/common/index.js";
import { MvccStore } from "../../pkg/etcdserver/index.js";
import { etcdService, startEtcd, unary } from "./support/etcd-process.js";
import { kvEdgeCases } from "./support/kv-edge-cases.js";
import { KvWireGenerator, type WireOp, grantedLeaseIds } from "./support/kv-wire-generator.js";
import { type WireOutcome, applyWire, maskHeader, show } from "./support/store-wire.js";
import { etcdReplay, storeReplay } from "./support/watch-replay.js";

const seeds = [1, 2, 3, 4, 5, 6];
const opsPerSeed = 400;
const extraSeed = process.env["PFS_DIFF_SEED"];

async function etcdOutcome(client: Client, op: WireOp): Promise<WireOutcome> {
  try {
    return { ok: true, response: maskHeader(await unary(client, op.method, op.request)) };
  } catch (error: unknown) {
    const status = error as { code?: unknown; details?: unknown };
    if (typeof status.code !== "number" || typeof status.details !== "string") throw error;
    return { ok: false, code: status.code, message: status.details };
  }
}

/**
 * After the ops: a Watch from the compaction revision (or 1) with prev_kv replays the same
 * events from etcd as from our event log; one from below the compaction revision is refused.
 */
async function compareReplay(seed: number, address: string, store: MvccStore): Promise<string | null> {
  const Watch = etcdService("etcdserverpb.Watch");
  const client = new Watch(address, credentials.createInsecure());
  try {
    const starts = [Math.max(store.compactRevision, 1), store.compactRevision - 1, store.revision + 1];
    for (const from of starts.filter((start) => start >= 1)) {
      const expected = await etcdReplay(client, from, store.revision);
      const actual = storeReplay(store, from);
      if (!isDeepStrictEqual(actual, expected)) {
        return `seed ${seed} watch replay from ${from}:\netcd: ${show(expected)}\nours: ${show(actual)}`;
      }
    }
    return null;
  } finally {
    client.close();
  }
}

/** Runs `ops` (or `count` generated ops) on a fresh etcd and a fresh store; the first mismatch. */
async function runSeed(seed: number, scripted?: readonly WireOp[]): Promise<string | null> {
  const etcd = await startEtcd(existsSync("/dev/shm") ? "/dev/shm" : undefined);
  const kv = etcdService("etcdserverpb.KV");
  const Lease = etcdService("etcdserverpb.Lease");
  const client = new kv(etcd.clientAddress, credentials.createInsecure());
  const leaseClient = new Lease(etcd.clientAddress, credentials.createInsecure());
  try {
    for (const id of grantedLeaseIds) {
      await unary(leaseClient, "LeaseGrant", { TTL: "3600", ID: id.toString() });
    }
    const granted = new Set<bigint>(grantedLeaseIds);
    const store = new MvccStore({ leaseExists: (id: LeaseId) => granted.has(id) });
    const generator = new KvWireGenerator(new Prng(seed), () => store);
    const count = scripted?.length ?? opsPerSeed;
    for (let index = 0; index < count; index += 1) {
      const op = scripted?.[index] ?? generator.next();
      const expected = await etcdOutcome(client, op);
      let actual: WireOutcome;
      try {
        actual = applyWire(kv, store, op);
      } catch (error: unknown) {
        const reason = error instanceof Error ? error.stack : String(error);
        return `seed ${seed} op ${index}: ${op.method} ${show(op.request)}\netcd: ${show(expected)}\nours threw: ${reason}`;
      }
      if (!isDeepStrictEqual(maskHeader(actual.ok ? actual.response : actual), expected.ok
        ? expected.response : expected)) {
        return [
          `seed ${seed} op ${index}: ${op.method} ${show(op.request)}`,
          `etcd: ${show(expected)}`,
          `ours: ${show(actual.ok ? { ok: true, response: maskHeader(actual.response) } : actual)}`,
        ].join("\n");
      }
    }
    return await compareReplay(seed, etcd.clientAddress, store);
  } finally {
    client.close();
    leaseClient.close();
    await etcd.stop();
  }
}

test("our store answers like etcd 3.4.23 on the scripted edge cases", async (t) => {
  const mismatch = await runSeed(0, kvEdgeCases);
  t.is(mismatch, null, mismatch ?? "");
});

for (const seed of extraSeed === undefined ? seeds : [Number(extraSeed)]) {
  test(`our store answers like etcd 3.4.23 (seed ${seed}, ${opsPerSeed} ops)`, async (t) => {
    const mismatch = await runSeed(seed);
    t.is(mismatch, null, mismatch ?? "");
  });
}
