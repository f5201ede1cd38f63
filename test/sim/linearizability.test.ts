/**
 * Goal: the linearizability checker accepts exactly the linearizable histories.
 * Method: hand-written histories for the classic anomalies (stale read, inconsistent read
 * order, lost acknowledged write), operations of unknown outcome that did or did not happen,
 * the key-partitioned map model, the step budget; then a property test against a brute-force
 * oracle on thousands of small seeded random histories.
 */
import test from "ava";
import { Prng } from "../../pkg/common/index.js";
import { bruteForceLinearizable } from "./brute-force-linearizability.js";
import { kvModel, type KvInput, type KvOutput } from "./kv-model.js";
import { checkLinearizable, describeFailure, type Operation } from "./linearizability.js";
import { registerModel, type RegisterInput, type RegisterOutput } from "./register-model.js";
import { randomRegisterHistory } from "./register-history-generator.js";

type RegisterOperation = Operation<RegisterInput, RegisterOutput>;
type KvOperation = Operation<KvInput, KvOutput>;

function write(clientId: number, value: number, callTime: number, returnTime: number):
  RegisterOperation {
  const output = returnTime === Infinity ? undefined : { kind: "write" as const };
  return { clientId, input: { kind: "write", value }, output, callTime, returnTime };
}

function read(clientId: number, value: number, callTime: number, returnTime: number):
  RegisterOperation {
  return {
    clientId, input: { kind: "read" }, output: { kind: "read", value }, callTime, returnTime,
  };
}

function cas(
  clientId: number, expected: number, value: number, succeeded: boolean | undefined,
  callTime: number, returnTime: number,
): RegisterOperation {
  const output = succeeded === undefined ? undefined : { kind: "cas" as const, succeeded };
  return { clientId, input: { kind: "cas", expected, value }, output, callTime, returnTime };
}

const register = registerModel(0);

function outcome(history: readonly RegisterOperation[]): string {
  return checkLinearizable(register, history).outcome;
}

test("an empty history and a sequential history are linearizable", (t) => {
  t.is(outcome([]), "ok");
  t.is(outcome([write(1, 1, 0, 1), read(1, 1, 2, 3), write(1, 2, 4, 5), read(2, 2, 6, 7)]), "ok");
});

test("overlapping operations may take effect in either order", (t) => {
  // The write overlaps both reads: one sees the old value, the later one the new value.
  t.is(outcome([write(1, 1, 0, 10), read(2, 0, 1, 2), read(3, 1, 3, 4)]), "ok");
  // Two concurrent writes, then reads agreeing on the last one.
  t.is(outcome([write(1, 1, 0, 5), write(2, 2, 0, 5), read(3, 1, 6, 7), read(4, 1, 8, 9)]), "ok");
  t.is(outcome([write(1, 1, 0, 5), write(2, 2, 0, 5), read(3, 2, 6, 7)]), "ok");
  // Equal return and call times count as concurrent.
  t.is(outcome([write(1, 1, 0, 5), read(2, 0, 5, 6)]), "ok");
});

test("a stale read after a completed write is not linearizable", (t) => {
  t.is(outcome([write(1, 1, 0, 1), read(2, 0, 2, 3)]), "illegal");
  // The Jepsen etcd 0.4 anomaly: write foo, write bar, read foo.
  t.is(outcome([write(1, 1, 0, 1), write(1, 2, 2, 3), read(2, 1, 4, 5)]), "illegal");
});

test("reads that see two writes in inconsistent orders are not linearizable", (t) => {
  const history = [
    write(1, 1, 0, 10), write(2, 2, 0, 10),
    read(3, 1, 1, 2), read(3, 2, 3, 4),
    read(4, 2, 1, 2), read(4, 1, 3, 4),
  ];
  t.is(outcome(history), "illegal");
  // Each reader alone is fine.
  t.is(outcome(history.slice(0, 4)), "ok");
});

test("a lost acknowledged write is not linearizable", (t) => {
  // Write 1 is acknowledged, then a read sees the initial value, never 1.
  t.is(outcome([write(1, 1, 0, 2), read(2, 0, 3, 4), read(3, 0, 5, 6)]), "illegal");
  // A CAS that saw the lost value as current.
  t.is(outcome([write(1, 1, 0, 2), cas(2, 0, 5, true, 3, 4)]), "illegal");
});

test("an operation of unknown outcome may have happened or not", (t) => {
  // Timed-out write that took effect: a later read sees it.
  t.is(outcome([write(1, 1, 0, Infinity), read(2, 1, 5, 6)]), "ok");
  // Timed-out write that did not take effect.
  t.is(outcome([write(1, 1, 0, Infinity), read(2, 0, 5, 6)]), "ok");
  // ... but not both: once seen, it cannot un-happen.
  t.is(outcome([write(1, 1, 0, Infinity), read(2, 1, 5, 6), read(2, 0, 7, 8)]), "illegal");
  // It cannot take effect before it was called.
  t.is(outcome([read(2, 1, 0, 1), write(1, 1, 2, Infinity)]), "illegal");
  // A timed-out CAS that took effect, and one that did not.
  t.is(outcome([cas(1, 0, 3, undefined, 0, Infinity), read(2, 3, 4, 5)]), "ok");
  t.is(outcome([cas(1, 7, 3, undefined, 0, Infinity), read(2, 3, 4, 5)]), "illegal");
  // A read of unknown outcome constrains nothing.
  const lostRead: RegisterOperation = {
    clientId: 3, input: { kind: "read" }, output: undefined, callTime: 0, returnTime: Infinity,
  };
  t.is(outcome([write(1, 1, 0, 1), lostRead, read(2, 1, 2, 3)]), "ok");
});

test("compare-and-set outcomes are checked", (t) => {
  t.is(outcome([cas(1, 0, 1, true, 0, 1), cas(2, 0, 2, false, 2, 3), read(3, 1, 4, 5)]), "ok");
  t.is(outcome([cas(1, 0, 1, true, 0, 5), cas(2, 0, 2, true, 0, 5)]), "illegal");
});

test("a failure report names the operations that could not be linearized", (t) => {
  const history = [write(1, 1, 0, 1), read(2, 0, 2, 3)];
  const result = checkLinearizable(register, history);
  const failed = result.partitions[0];
  t.truthy(failed);
  if (failed === undefined) return;
  const report = describeFailure(register, history, failed);
  t.regex(report, /read -> \{"kind":"read","value":0\}/);
  t.deepEqual(failed.longestPrefix, [0]);
});

function kvGet(clientId: number, key: string, value: string | null, version: number,
  callTime: number, returnTime: number): KvOperation {
  return {
    clientId, input: { kind: "get", key }, output: { kind: "get", value, version },
    callTime, returnTime,
  };
}

function kvPut(clientId: number, key: string, value: string, callTime: number,
  returnTime: number): KvOperation {
  return { clientId, input: { kind: "put", key, value }, output: { kind: "put" }, callTime, returnTime };
}

test("the map model checks each key on its own, with versions and deletes", (t) => {
  const kv = kvModel();
  const history: KvOperation[] = [
    kvPut(1, "a", "x", 0, 1), kvPut(2, "b", "y", 0, 1),
    kvGet(3, "a", "x", 1, 2, 3), kvGet(3, "b", "y", 1, 2, 3),
    { clientId: 1, input: { kind: "delete", key: "a" }, output: { kind: "delete", deleted: true },
      callTime: 4, returnTime: 5 },
    kvGet(2, "a", null, 0, 6, 7),
    { clientId: 1, input: { kind: "cas", key: "b", compare: { by: "version", version: 1 }, value: "z" },
      output: { kind: "cas", succeeded: true }, callTime: 8, returnTime: 9 },
    { clientId: 2, input: { kind: "cas", key: "b", compare: { by: "value", value: "y" }, value: "w" },
      output: { kind: "cas", succeeded: false }, callTime: 10, returnTime: 11 },
    kvGet(3, "b", "z", 2, 12, 13),
  ];
  const result = checkLinearizable(kv, history);
  t.is(result.outcome, "ok");
  t.is(result.partitions.length, 2);
  // A stale version on one key fails that key's partition only.
  const stale = [...history, kvGet(4, "b", "z", 1, 14, 15)];
  const staleResult = checkLinearizable(kv, stale);
  t.is(staleResult.outcome, "illegal");
  t.deepEqual(staleResult.partitions.map((p) => p.outcome), ["ok", "illegal"]);
});

test("a put that reports the version it created is pinned to that place in the order", (t) => {
  const kv = kvModel();
  const put = (clientId: number, value: string, version: number): KvOperation => ({
    clientId, input: { kind: "put", key: "a", value }, output: { kind: "put", version },
    callTime: 0, returnTime: 10,
  });
  t.is(checkLinearizable(kv, [put(1, "x", 1), put(2, "y", 2)]).outcome, "ok");
  t.is(checkLinearizable(kv, [put(1, "x", 2), put(2, "y", 1)]).outcome, "ok");
  t.is(checkLinearizable(kv, [put(1, "x", 1), put(2, "y", 1)]).outcome, "illegal");
  // Real time contradicts the versions: x returned before y was called, yet y came first.
  const late = { ...put(2, "y", 1), callTime: 11, returnTime: 12 };
  t.is(checkLinearizable(kv, [put(1, "x", 2), late]).outcome, "illegal");
});

test("the search answers unknown when the step budget runs out", (t) => {
  // Many concurrent writes and a final read of an unwritten value: illegal, but only after
  // exploring many orders.
  const history = Array.from({ length: 14 }, (_, i) => write(i, i + 1, 0, 100));
  history.push(read(99, 77, 101, 102));
  t.is(checkLinearizable(register, history, { stepBudgetPerPartition: 50 }).outcome, "unknown");
  t.is(checkLinearizable(register, history).outcome, "illegal");
});

test("property: the checker agrees with brute force on random small histories", (t) => {
  const seed = 20261122;
  const prng = new Prng(seed);
  const counts = { ok: 0, illegal: 0 };
  for (let run = 0; run < 3000; run += 1) {
    const history = randomRegisterHistory(prng, 7);
    const expected = bruteForceLinearizable(register, history);
    const actual = checkLinearizable(register, history).outcome;
    if (actual !== (expected ? "ok" : "illegal")) {
      t.fail(`seed ${seed} run ${run}: checker ${actual}, brute force ${expected}: ` +
        JSON.stringify(history));
      return;
    }
    counts[actual] += 1;
  }
  t.log(`seed ${seed}: ${counts.ok} linearizable, ${counts.illegal} not`);
  // Both kinds must be well represented, or the property says little.
  t.true(counts.ok > 600 && counts.illegal > 600, JSON.stringify(counts));
});
