// Goal: replica status records and their keys round-trip exactly, and everything that is not a
// record or a key is refused with a reason instead of being read as one.
// Method: fixed cases plus a seeded property test (fast-check) over records and keys.
import test from "ava";
import fc from "fast-check";
// pkg/pfs/index.ts does not re-export the replication module yet.
// eslint-disable-next-line pfs/boundaries
import {
  decodeReplicaStatus, encodeReplicaStatus, parseReplicaStatusKey, replicaStatusKey,
  replicaStatusPrefix,
} from "../../../pkg/pfs/replication/index.js";

const seed = Date.now() % 1_000_000;

test("keys: prefix, key and parse back", (t) => {
  t.is(replicaStatusPrefix("/pfs"), "/pfs/replica-status/");
  t.is(replicaStatusKey("/pfs", 3, "node-a"), "/pfs/replica-status/3/node-a");
  t.deepEqual(parseReplicaStatusKey("/pfs", "/pfs/replica-status/12/n.1"),
    { ok: true, value: { shard: 12, node: "n.1" } });
  for (const bad of ["/other/replica-status/1/a", "/pfs/replica-status/1", "/pfs/replica-status/x/a",
    "/pfs/replica-status/01/a", "/pfs/replica-status/-1/a", "/pfs/replica-status/1/a/b",
    "/pfs/replica-status/1/", "/pfs/replica-status/1/.."]) {
    t.false(parseReplicaStatusKey("/pfs", bad).ok, bad);
  }
  t.throws(() => replicaStatusKey("/pfs", -1, "a"));
  t.throws(() => replicaStatusKey("/pfs", 1, "a/b"));
  t.throws(() => replicaStatusPrefix("/pfs/"));
});

test("records: encode, decode and refusals", (t) => {
  const text = encodeReplicaStatus({ lag: 2, finished: 7, updatedMs: 1_700_000_000_000 });
  t.is(text, '{"lag":2,"finished":7,"updatedMs":1700000000000}');
  t.deepEqual(decodeReplicaStatus(text),
    { ok: true, value: { lag: 2, finished: 7, updatedMs: 1_700_000_000_000 } });
  const refused: [string, RegExp][] = [
    ["not json", /not JSON/], ["[1]", /not an object/], ["null", /not an object/],
    ['{"finished":1,"updatedMs":1}', /lag/], ['{"lag":-1,"finished":1,"updatedMs":1}', /lag/],
    ['{"lag":1.5,"finished":1,"updatedMs":1}', /lag/],
    ['{"lag":0,"finished":"3","updatedMs":1}', /finished/],
    ['{"lag":0,"finished":3}', /updatedMs/],
  ];
  for (const [bad, reason] of refused) {
    const decoded = decodeReplicaStatus(bad);
    t.false(decoded.ok, bad);
    if (!decoded.ok) t.regex(decoded.error, reason, bad);
  }
  t.throws(() => encodeReplicaStatus({ lag: -1, finished: 0, updatedMs: 0 }));
});

test("property: records and keys round-trip", (t) => {
  const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const name = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,20}$/);
  const result = fc.check(fc.property(count, count, count, fc.integer({ min: 0, max: 1023 }), name,
    (lag, finished, updatedMs, shard, node) => {
      const decoded = decodeReplicaStatus(encodeReplicaStatus({ lag, finished, updatedMs }));
      const parsed = parseReplicaStatusKey("/r", replicaStatusKey("/r", shard, node));
      return decoded.ok && decoded.value.lag === lag && decoded.value.finished === finished &&
        decoded.value.updatedMs === updatedMs && parsed.ok && parsed.value.shard === shard &&
        parsed.value.node === node;
    }), { seed, numRuns: 300 });
  t.false(result.failed, `seed ${seed}: counterexample ${JSON.stringify(result.counterexample)}`);
});
