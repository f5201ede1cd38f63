// Goal: AuthStore.checkRange agrees with a brute-force model of etcd's permission rules on
// random users, roles and permissions. Method: a seeded Prng builds a store (roles with random
// READ/WRITE/READWRITE permissions over keys from a small alphabet: single keys, ranges,
// "\0" ends, ends at or below their key; users holding random roles, sometimes root; auth on)
// and asks random checks. The model enumerates: a request for one key is allowed when some
// permission holds the key; a request for [key, end) with end > key is allowed when every
// candidate key in it is held, where the candidates are the key itself and every permission
// bound (the smallest key a union of half-open intervals misses is always one of those);
// a request whose end is at or below its key needs its key. A failure prints the seed.
import test from "ava";
import { Prng } from "../../../pkg/common/index.js";
import {
  type AuthRequest,
  AuthStore,
  type Permission,
  type PermissionType,
} from "../../../pkg/etcdserver/index.js";

const seeds = Array.from({ length: 12 }, (_, i) => i + 1);
const checksPerSeed = 1_000;
const alphabet = ["a", "b", "c"];

/** Bounds compare bytewise; "" is +infinity (an open end). */
function compareBound(a: string, b: string): number {
  if (a === "") return b === "" ? 0 : 1;
  if (b === "") return -1;
  return Buffer.compare(Buffer.from(a, "latin1"), Buffer.from(b, "latin1"));
}

function randomKey(prng: Prng): string {
  let key = "";
  const length = prng.intBetween(1, 3);
  for (let i = 0; i < length; i += 1) key += prng.pick(alphabet);
  if (prng.chance(0.15)) key += "\0";
  return key;
}

/**
 * A random range end for `key`: "" (one key), "\0" (no bound), a random key (maybe at or
 * below `key`), or a near end above it (a longer key, or the prefix end), so that ranges nest
 * and touch often.
 */
function randomEnd(prng: Prng, key: string): string {
  const draw = prng.intBelow(10);
  if (draw < 2) return "";
  if (draw < 3) return "\0";
  if (draw < 6) return randomKey(prng);
  if (draw < 8) return key + prng.pick(alphabet);
  const last = key.charCodeAt(key.length - 1);
  return key.slice(0, -1) + String.fromCharCode(Math.min(last + prng.intBetween(1, 2), 255));
}

/** The interval [begin, end) a permission holds; "" end = +infinity. */
function modelInterval(key: string, rangeEnd: string): [string, string] {
  if (rangeEnd === "") return [key, `${key}\0`];
  if (rangeEnd === "\0") return [key, ""];
  return [key, rangeEnd];
}

function holds([begin, end]: [string, string], key: string): boolean {
  return key !== "" && compareBound(begin, key) <= 0 && compareBound(key, end) < 0;
}

function modelAllows(perms: readonly [string, string][], key: string, rangeEnd: string): boolean {
  const end = rangeEnd === "\0" ? "" : rangeEnd;
  if (rangeEnd === "" || compareBound(end, key) <= 0) return perms.some((p) => holds(p, key));
  const candidates = [key, ...perms.flatMap(([begin, permEnd]) => [begin, permEnd])]
    .filter((k) => k !== "" && compareBound(key, k) <= 0 && compareBound(k, end) < 0);
  return candidates.every((k) => perms.some((p) => holds(p, k)));
}

interface World {
  readonly store: AuthStore;
  readonly rolesOf: Map<string, string[]>;
  readonly permissionsOf: Map<string, Permission[]>;
}

function mustApply(store: AuthStore, request: AuthRequest): void {
  const result = store.apply(request, 0);
  if (!result.ok) throw new Error(`${request.type}: ${result.error.code}`);
}

function buildWorld(prng: Prng): World {
  const store = new AuthStore();
  const permissionsOf = new Map<string, Permission[]>();
  const rolesOf = new Map<string, string[]>();
  const types: PermissionType[] = ["READ", "WRITE", "READWRITE"];
  for (const role of ["r0", "r1", "r2", "r3"]) {
    mustApply(store, { type: "roleAdd", name: role });
    const permissions: Permission[] = [];
    for (let i = prng.intBelow(9); i > 0; i -= 1) {
      const key = randomKey(prng);
      const permission = { permType: prng.pick(types), key: Buffer.from(key, "latin1"),
        rangeEnd: Buffer.from(randomEnd(prng, key), "latin1") };
      mustApply(store, { type: "roleGrantPermission", name: role, permission });
      permissions.push(permission);
    }
    permissionsOf.set(role, permissions);
  }
  for (const user of ["root", "u0", "u1", "u2", "u3"]) {
    mustApply(store, { type: "userAdd", name: user, passwordHash: "", noPassword: true });
    const roles = user === "root" ? ["root"] : ["r0", "r1", "r2", "r3", "root"]
      .filter((role) => prng.chance(role === "root" ? 0.1 : 0.4));
    for (const role of roles) mustApply(store, { type: "userGrantRole", user, role });
    rolesOf.set(user, roles);
  }
  mustApply(store, { type: "enable" });
  return { store, rolesOf, permissionsOf };
}

/** The model's answer, by brute force over the user's permissions. */
function modelCheck(world: World, user: string, key: string, end: string, type: string): string {
  const roles = world.rolesOf.get(user);
  if (roles === undefined) return "ETCD_PERMISSION_DENIED";
  if (roles.includes("root")) return "ok";
  // A permission grant updates the type of an equal earlier one; the store's view is the truth
  // for types, so the model reads the permission list back only to know the final types.
  const perms = roles.flatMap((role) => {
    const held = world.store.roleGet(role);
    return held.ok ? [...held.value] : [];
  }).filter((p) => p.permType === "READWRITE" || p.permType === type)
    .map((p) => modelInterval(Buffer.from(p.key).toString("latin1"),
      Buffer.from(p.rangeEnd).toString("latin1")));
  return modelAllows(perms, key, end) ? "ok" : "ETCD_PERMISSION_DENIED";
}

/** etcd's grant rule, replayed by the model: the stored list must equal it. */
function modelPermissionList(granted: readonly Permission[]): string[] {
  const list: Permission[] = [];
  for (const permission of granted) {
    const at = list.findIndex((held) => Buffer.compare(held.key, permission.key) >= 0);
    const first = list[at];
    if (first !== undefined && Buffer.compare(first.key, permission.key) === 0 &&
      Buffer.compare(first.rangeEnd, permission.rangeEnd) === 0) {
      list[at] = { ...first, permType: permission.permType };
    } else {
      list.push(permission);
      list.sort((a, b) => Buffer.compare(a.key, b.key));
    }
  }
  return describe(list);
}

function describe(list: readonly Permission[]): string[] {
  return list.map((p) => `${p.permType} ${Buffer.from(p.key).toString("hex")}..` +
    Buffer.from(p.rangeEnd).toString("hex"));
}

for (const seed of seeds) {
  test(`checkRange agrees with the brute-force model (seed ${seed})`, (t) => {
    const prng = new Prng(seed);
    const world = buildWorld(prng);
    for (const [role, granted] of world.permissionsOf) {
      const stored = world.store.roleGet(role);
      t.deepEqual(stored.ok ? describe(stored.value) : [], modelPermissionList(granted),
        `seed ${seed} role ${role}`);
    }
    const users = ["root", "u0", "u1", "u2", "u3", "ghost"];
    for (let i = 0; i < checksPerSeed; i += 1) {
      const user = prng.pick(users);
      const key = randomKey(prng);
      const end = randomEnd(prng, key);
      const type = prng.pick(["READ", "WRITE"] as const);
      const result = world.store.checkRange(user, Buffer.from(key, "latin1"),
        Buffer.from(end, "latin1"), type);
      const got = result.ok ? "ok" : result.error.code;
      const want = modelCheck(world, user, key, end, type);
      if (got !== want) {
        t.fail(`seed ${seed} check ${i}: ${user} ${type} ${JSON.stringify(key)}..` +
          `${JSON.stringify(end)} roles ${JSON.stringify(world.rolesOf.get(user))}: ` +
          `got ${got}, model ${want}`);
        return;
      }
    }
    t.pass();
  });
}
