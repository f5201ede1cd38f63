// Goal: random operation sequences leave a LeaseManager agreeing with a naive model, on the
// replicated state and on the leader's expiry clock. Method: a seeded Prng drives grants (ids
// from a small pool including negatives, and chosen ids), revokes, attaches, detaches, renews,
// expiry checks (the leader then revokes some of what was reported), time advances,
// promote/demote and snapshot-restores through both. The model keeps plain maps and recomputes
// every answer by brute force. After each step every lease's existence, TimeToLive (with keys),
// every key's lease and the leases() order must match. A failure message names seed and step.
import test, { type ExecutionContext } from "ava";
import { Prng, leaseId, limits } from "../../../pkg/common/index.js";
import { LeaseManager, chooseLeaseId } from "../../../pkg/etcdserver/index.js";

const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
const stepsPerSeed = 500;
const ttlSecondsMin = 2;
const idPool = [-3n, -1n, 1n, 2n, 3n, 4n, 5n];
const keyPool = ["a", "a\x00", "b", "c\xff", "d"];
const ttlPool = [-1n, 0n, 1n, 2n, 3n, 7n, 9_000_000_001n];
const retryMs = limits.etcdLeaseRevokeRetryMs;

interface ModelLease {
  ttl: number;
  expiryMs: number; // NaN on a follower
  retryAtMs: number; // -1: not reported
}

/** The naive model: plain maps, every answer recomputed by brute force. */
class Model {
  readonly leases = new Map<bigint, ModelLease>();
  readonly keyLease = new Map<string, bigint>();
  leading = false;

  keysOf(id: bigint): string[] {
    const keys = [...this.keyLease].filter(([, lease]) => lease === id).map(([key]) => key);
    return keys.sort((a, b) => Buffer.compare(Buffer.from(a, "latin1"), Buffer.from(b, "latin1")));
  }

  grant(id: bigint, ttl: bigint, nowMs: number): string {
    if (ttl > 9_000_000_000n) return "ETCD_LEASE_TTL_TOO_LARGE";
    if (this.leases.has(id)) return "ETCD_LEASE_EXIST";
    const granted = Math.max(ttlSecondsMin, Number(ttl));
    const expiryMs = this.leading ? nowMs + granted * 1000 : NaN;
    this.leases.set(id, { ttl: granted, expiryMs, retryAtMs: -1 });
    return `ok ${granted}`;
  }

  revoke(id: bigint): string {
    if (!this.leases.has(id)) return "ETCD_LEASE_NOT_FOUND";
    const keys = this.keysOf(id);
    for (const key of keys) this.keyLease.delete(key);
    this.leases.delete(id);
    return `ok ${keys.join(",")}`;
  }

  renew(id: bigint, nowMs: number): number {
    const lease = this.leases.get(id);
    if (lease === undefined || lease.expiryMs <= nowMs) return 0;
    lease.expiryMs = nowMs + lease.ttl * 1000;
    lease.retryAtMs = -1;
    return lease.ttl;
  }

  expired(nowMs: number, max: number): bigint[] {
    if (!this.leading) return [];
    const due = [...this.leases]
      .filter(([, l]) => l.expiryMs <= nowMs && (l.retryAtMs === -1 || l.retryAtMs <= nowMs))
      .sort(([a, x], [b, y]) => x.expiryMs - y.expiryMs || (a < b ? -1 : 1))
      .slice(0, max);
    for (const [, lease] of due) lease.retryAtMs = nowMs + retryMs;
    return due.map(([id]) => id);
  }

  promote(nowMs: number, extendMs: number): void {
    this.leading = true;
    for (const lease of this.leases.values()) {
      lease.expiryMs = nowMs + lease.ttl * 1000 + extendMs;
      lease.retryAtMs = -1;
    }
  }

  demote(): void {
    this.leading = false;
    for (const lease of this.leases.values()) lease.expiryMs = NaN;
  }

  ttlOf(id: bigint, nowMs: number): [number, number] {
    const lease = this.leases.get(id);
    if (lease === undefined) return [-1, 0];
    if (!this.leading) return [lease.ttl, lease.ttl];
    return [Math.max(0, Math.floor((lease.expiryMs - nowMs) / 1000)), lease.ttl];
  }

  order(): bigint[] {
    const ids = [...this.leases.keys()].sort((a, b) => (a < b ? -1 : 1));
    if (!this.leading) return ids;
    const expiry = (id: bigint): number => this.leases.get(id)?.expiryMs ?? 0;
    return ids.sort((a, b) => expiry(a) - expiry(b) || (a < b ? -1 : 1));
  }
}

interface World {
  readonly prng: Prng;
  readonly model: Model;
  manager: LeaseManager;
  nowMs: number;
}

const bytes = (key: string): Uint8Array => Buffer.from(key, "latin1");
const text = (key: Uint8Array): string => Buffer.from(key).toString("latin1");

function grantStep(world: World): string {
  const { prng, model, manager } = world;
  const chosen = chooseLeaseId(prng, (id) => manager.leaseExists(id));
  const id = prng.chance(0.2) ? chosen : prng.pick(idPool);
  const ttl = prng.pick(ttlPool);
  const result = manager.grant(leaseId(id), ttl, world.nowMs);
  const actual = result.ok ? `ok ${result.value.ttlSeconds}` : result.error.code;
  return `grant ${id} ${ttl}: ${actual} vs ${model.grant(id, ttl, world.nowMs)}`;
}

function revokeStep(world: World, id: bigint): string {
  const result = world.manager.revoke(leaseId(id));
  const actual = result.ok ? `ok ${result.value.map(text).join(",")}` : result.error.code;
  return `revoke ${id}: ${actual} vs ${world.model.revoke(id)}`;
}

function attachStep(world: World): string {
  const { prng, model, manager } = world;
  const key = prng.pick(keyPool);
  const live = [...model.leases.keys()];
  if (live.length === 0 || prng.chance(0.3)) {
    manager.detach(bytes(key));
    model.keyLease.delete(key);
    return `detach ${key}: ok vs ok`;
  }
  const id = prng.pick(live);
  manager.attach(bytes(key), leaseId(id));
  model.keyLease.set(key, id);
  return `attach ${key} ${id}: ok vs ok`;
}

function expiryStep(world: World): string {
  const { prng, model, manager } = world;
  const max = prng.intBetween(1, 4);
  const actual = manager.expired(world.nowMs, max);
  const expected = model.expired(world.nowMs, max);
  for (const id of expected) if (prng.chance(0.6)) revokeStep(world, id);
  return `expired ${world.nowMs} ${max}: ${actual.join(",")} vs ${expected.join(",")}`;
}

function roleStep(world: World): string {
  const { prng, model, manager } = world;
  const choice = prng.intBelow(4) - 1; // promote twice as likely: expiry needs a leader
  if (choice <= 0) {
    const extendMs = prng.pick([0, 1000]);
    manager.promote(world.nowMs, extendMs);
    model.promote(world.nowMs, extendMs);
    return `promote ${extendMs}: ok vs ok`;
  }
  if (choice === 1) {
    manager.demote();
    model.demote();
    return "demote: ok vs ok";
  }
  const restored = LeaseManager.restore(manager.snapshot(), { ttlSecondsMin });
  if (!restored.ok) return `restore: ${restored.error.message} vs ok`;
  world.manager = restored.value;
  model.demote();
  return "restore: ok vs ok";
}

function step(world: World): string {
  const { prng, model, manager } = world;
  const choice = prng.intBelow(10);
  if (choice <= 1) return grantStep(world);
  if (choice === 2) return revokeStep(world, prng.pick(idPool));
  if (choice <= 4) return attachStep(world);
  if (choice === 5) {
    world.nowMs += prng.intBelow(4000);
    return "tick: ok vs ok";
  }
  if (choice === 6 && model.leading) {
    const id = prng.pick([...idPool, ...model.leases.keys()]);
    const expected = model.renew(id, world.nowMs);
    return `renew ${id}: ${manager.renew(leaseId(id), world.nowMs)} vs ${expected}`;
  }
  if (choice <= 8) return expiryStep(world);
  return roleStep(world);
}

function checkState(t: ExecutionContext, world: World, where: string): void {
  const { model, manager, nowMs } = world;
  t.deepEqual(manager.leases(), model.order().map((id) => leaseId(id)), `${where}: leases()`);
  for (const id of new Set([...idPool, ...model.leases.keys()])) {
    const answer = manager.timeToLive(leaseId(id), true, nowMs);
    const [ttl, granted] = model.ttlOf(id, nowMs);
    const expected = { ttl, granted, keys: model.leases.has(id) ? model.keysOf(id) : [] };
    const actual = { ttl: answer.ttlSeconds, granted: answer.grantedTtlSeconds,
      keys: answer.keys.map(text) };
    t.deepEqual(actual, expected, `${where}: timeToLive ${id}`);
    t.is(manager.leaseExists(leaseId(id)), model.leases.has(id), `${where}: exists ${id}`);
  }
  for (const key of keyPool) {
    t.is(manager.leaseOf(bytes(key)), leaseId(model.keyLease.get(key) ?? 0n), `${where}: lease of ${key}`);
  }
}

for (const seed of seeds) {
  test(`random lease operations agree with the naive model (seed ${seed})`, (t) => {
    const world: World = {
      prng: new Prng(seed), model: new Model(), manager: new LeaseManager({ ttlSecondsMin }),
      nowMs: 0,
    };
    let mismatches = 0;
    const lines: string[] = [];
    for (let index = 0; index < stepsPerSeed && mismatches === 0; index += 1) {
      const where = `seed ${seed} step ${index}`;
      const line = step(world);
      lines.push(line);
      const [actual, expected] = line.split(" vs ");
      if (actual?.replace(/^[^:]*: /, "") !== expected) mismatches += 1;
      t.is(actual?.replace(/^[^:]*: /, ""), expected, `${where}: ${line}`);
      checkState(t, world, where);
    }
    // The sequence must reach the interesting cases, or passing proves little.
    const reached = [
      /^grant -?\d+ \d+: ok/, /^grant .*ETCD_LEASE_EXIST/, /^grant .*TOO_LARGE/,
      /^revoke .*: ok \S/, /^revoke .*NOT_FOUND/, /^expired \d+ \d: \S/, /^renew .*: [1-9]/,
      /^renew .*: 0 /, /^promote/, /^restore/,
    ];
    for (const pattern of reached) {
      t.true(lines.some((line) => pattern.test(line)), `seed ${seed} never reached ${pattern}`);
    }
  });
}
