// Goal: random operation sequences keep the store's invariants and agree with a naive model.
// Method: a seeded Prng drives puts, deletes, txns (compares of every target on single keys and
// ranges, put/delete branches), compactions and snapshot-restores through the store and through a
// model that copies the whole key map at every revision. After each step: the revision moves by
// exactly one per effective write and never back; a read of every retained revision equals the
// model's map at it (so version, create and mod revisions follow the rules); reads below the
// compaction revision fail; replaying the event log from the compaction revision onto the
// model's map there gives the current map; the lease index lists the model's keys of the lease;
// a restored snapshot hashes and reads the same.
// A failure message names the seed and the step.
import test, { type ExecutionContext } from "ava";
import { type LeaseId, Prng, leaseId, revision as toRevision } from "../../../pkg/common/index.js";
import {
  type Compare,
  type KeyValue,
  MvccStore,
  type RequestOp,
  deleteRangeRequest,
  putRequest,
  rangeRequest,
} from "../../../pkg/etcdserver/index.js";

const seeds = [11, 12, 13, 14, 15, 16];
const stepsPerSeed = 400;
const keys = ["a", "b", "b\x00", "c", "d\xff", "e"];
const values = ["", "1", "2", "\xff"];
const leases: LeaseId[] = [leaseId(0n), leaseId(5n)];
const leaseLookup = { leaseExists: (id: LeaseId): boolean => id === 5n };

type State = ReadonlyMap<string, KeyValue>;
const bytes = (text: string): Buffer => Buffer.from(text, "latin1");
const text = (value: Uint8Array): string => Buffer.from(value).toString("latin1");

/** The naive model: the whole key map at every revision. */
class Model {
  readonly states: State[] = [new Map(), new Map()]; // index = revision; revision 0 unused
  compacted = -1;

  get revision(): number {
    return this.states.length - 1;
  }

  latest(): State {
    return this.states[this.revision] ?? new Map();
  }

  /** Applies writes (key → value/lease, or null to delete) at the next revision. */
  write(changes: readonly [string, { value: string; lease: LeaseId } | null][]): void {
    const next = new Map(this.latest());
    const at = toRevision(this.revision + 1);
    let changed = false;
    for (const [key, change] of changes) {
      const previous = next.get(key);
      if (change === null) {
        changed = next.delete(key) || changed;
        continue;
      }
      changed = true;
      next.set(key, {
        key: bytes(key), value: bytes(change.value), lease: change.lease, modRevision: at,
        createRevision: previous?.createRevision ?? at, version: (previous?.version ?? 0) + 1,
      });
    }
    if (changed) this.states.push(next);
  }
}

function inRange(key: string, start: string, end: string): boolean {
  if (end === "") return key === start;
  if (end === "\x00") return key >= start;
  return key >= start && key < end;
}

function modelCompare(state: State, compare: Compare): boolean {
  const start = text(compare.key);
  const end = text(compare.rangeEnd);
  const kvs = [...state.values()].filter((kv) => inRange(text(kv.key), start, end));
  if (kvs.length === 0 && compare.target === "VALUE") return false;
  const field = (kv: KeyValue | undefined): number => {
    switch (compare.target) {
      case "VERSION": return Math.sign((kv?.version ?? 0) - compare.operand);
      case "CREATE": return Math.sign((kv?.createRevision ?? 0) - compare.operand);
      case "MOD": return Math.sign((kv?.modRevision ?? 0) - compare.operand);
      case "VALUE": return Math.sign(Buffer.compare(Buffer.from(kv?.value ?? []), Buffer.from(compare.operand)));
      case "LEASE": return Number((kv?.lease ?? 0n) > compare.operand) - Number((kv?.lease ?? 0n) < compare.operand);
    }
  };
  const holds = (ordering: number): boolean => ({
    EQUAL: ordering === 0, NOT_EQUAL: ordering !== 0, GREATER: ordering > 0, LESS: ordering < 0,
  })[compare.result];
  return kvs.length === 0 ? holds(field(undefined)) : kvs.every((kv) => holds(field(kv)));
}

function randomCompare(prng: Prng, revision: number): Compare {
  const key = bytes(prng.pick(keys));
  const rangeEnd = bytes(prng.pick(["", "", "", "c", "\x00"]));
  const result = prng.pick(["EQUAL", "GREATER", "LESS", "NOT_EQUAL"] as const);
  const target = prng.pick(["VERSION", "CREATE", "MOD", "VALUE", "LEASE"] as const);
  if (target === "VALUE") return { key, rangeEnd, result, target, operand: bytes(prng.pick(values)) };
  if (target === "LEASE") return { key, rangeEnd, result, target, operand: prng.pick(leases) };
  const operand = target === "VERSION" ? prng.intBetween(0, 3) : prng.intBetween(0, revision + 1);
  return { key, rangeEnd, result, target, operand };
}

type Change = [string, { value: string; lease: LeaseId } | null];

/** A branch of puts on distinct keys, then maybe one delete of a key it does not put. */
function randomBranch(prng: Prng): { ops: RequestOp[]; changes: Change[] } {
  const picked = prng.shuffle([...keys]).slice(0, prng.intBetween(0, 3));
  const ops: RequestOp[] = [];
  const changes: Change[] = [];
  for (const key of picked.slice(1)) {
    const value = prng.pick(values);
    const lease = prng.pick(leases);
    ops.push({ type: "put", request: putRequest({ key: bytes(key), value: bytes(value), lease }) });
    changes.push([key, { value, lease }]);
  }
  const deleted = picked[0];
  if (deleted !== undefined && prng.chance(0.5)) {
    ops.push({ type: "deleteRange", request: deleteRangeRequest({ key: bytes(deleted) }) });
    changes.push([deleted, null]);
  }
  return { ops, changes };
}

function step(prng: Prng, store: MvccStore, model: Model): MvccStore {
  const roll = prng.nextFloat();
  if (roll < 0.35) {
    const [key, value, lease] = [prng.pick(keys), prng.pick(values), prng.pick(leases)];
    store.put(putRequest({ key: bytes(key), value: bytes(value), lease }));
    model.write([[key, { value, lease }]]);
  } else if (roll < 0.5) {
    const [start, end] = [prng.pick(keys), prng.pick(["", "c", "\x00", "b\x00"])];
    store.deleteRange(deleteRangeRequest({ key: bytes(start), rangeEnd: bytes(end) }));
    model.write([...model.latest().keys()].filter((key) => inRange(key, start, end))
      .map((key): Change => [key, null]));
  } else if (roll < 0.85) {
    const compare = Array.from({ length: prng.intBetween(0, 2) }, () => randomCompare(prng, model.revision));
    const [success, failure] = [randomBranch(prng), randomBranch(prng)];
    const holds = compare.every((c) => modelCompare(model.latest(), c));
    store.txn({ compare, success: success.ops, failure: failure.ops });
    model.write(holds ? success.changes : failure.changes);
  } else if (roll < 0.92) {
    const at = prng.intBetween(Math.max(model.compacted, 0), model.revision);
    if (store.compact({ revision: at, physical: false }).ok) model.compacted = at;
  } else {
    const restored = MvccStore.restore(store.snapshot(), leaseLookup);
    if (!restored.ok) throw restored.error;
    return restored.value;
  }
  return store;
}

function check(t: ExecutionContext, store: MvccStore, model: Model, where: string): void {
  t.is(store.revision, model.revision, `${where}: revision`);
  t.is(store.compactRevision, model.compacted, `${where}: compaction revision`);
  const first = Math.max(model.compacted, 1);
  for (let at = first; at <= model.revision; at += 1) {
    const read = store.range(rangeRequest({ key: bytes("\x00"), rangeEnd: bytes("\x00"), revision: at }));
    if (!read.ok) return void t.fail(`${where}: read at ${at}: ${read.error.message}`);
    const expected = [...(model.states[at] ?? new Map<string, KeyValue>()).values()]
      .sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    t.deepEqual(read.value.kvs.map(normalize), expected.map(normalize), `${where}: state at ${at}`);
  }
  const attached = [...model.latest().values()].filter((kv) => kv.lease === 5n).map((kv) => text(kv.key)).sort();
  t.deepEqual(store.keysAttachedTo(leaseId(5n)).map(text), attached, `${where}: lease index`);
  if (model.compacted > 1) {
    t.false(store.range(rangeRequest({ key: bytes("a"), revision: model.compacted - 1 })).ok, where);
  }
  const replayed = new Map(model.states[first]);
  const events = store.events(first, Number.MAX_SAFE_INTEGER, false);
  if (!events.ok) return void t.fail(`${where}: events: ${events.error.message}`);
  for (const group of events.value.filter((g) => g.revision > first)) {
    for (const event of group.events) {
      if (event.type === "PUT") replayed.set(text(event.kv.key), event.kv);
      else replayed.delete(text(event.kv.key));
    }
  }
  t.deepEqual([...replayed.entries()].sort().map(([, kv]) => normalize(kv)),
    [...model.latest().entries()].sort().map(([, kv]) => normalize(kv)), `${where}: replay`);
}

function normalize(kv: KeyValue): unknown {
  return { ...kv, key: text(kv.key), value: text(kv.value) };
}

for (const seed of seeds) {
  test(`random sequences agree with the naive model (seed ${seed})`, (t) => {
    const prng = new Prng(seed);
    let store = new MvccStore(leaseLookup);
    const model = new Model();
    for (let index = 0; index < stepsPerSeed; index += 1) {
      const before = store.revision;
      const hashBefore = store.hashKv(0);
      const next = step(prng, store, model);
      if (next !== store) {
        t.deepEqual(next.hashKv(0), hashBefore, `seed ${seed} step ${index}: restored hash`);
        store = next;
      }
      t.true(store.revision >= before, `seed ${seed} step ${index}: revision went back`);
      if (index % 10 === 9 || index === stepsPerSeed - 1) check(t, store, model, `seed ${seed} step ${index}`);
    }
  });
}
