// Goal: the auth request codec and the auth snapshot round-trip every shape, and hostile bytes
// come back as DATA_CORRUPTED, never a throw; password hashes verify only their password.
// Method: one request of every type (with non-ASCII names and binary keys) is encoded and
// decoded; every truncation and seeded random byte flips of both formats are decoded; a
// snapshot of a store with users, roles, duplicate-key permissions, the implicit root role and
// auth on is restored and must answer every read and check as the original, with no tokens.
import test from "ava";
import { Prng } from "../../../pkg/common/index.js";
import {
  type AuthRequest,
  AuthStore,
  decodeAuthRequest,
  encodeAuthRequest,
  hashPassword,
  verifyPassword,
} from "../../../pkg/etcdserver/index.js";

const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "latin1"));

const everyRequest: readonly AuthRequest[] = [
  { type: "enable" },
  { type: "disable" },
  { type: "authenticate", name: "ünï", token: "AbCdEfGhIjKlMnOp.17" },
  { type: "userAdd", name: "u", passwordHash: "scrypt$1$2$3$x$y", noPassword: false },
  { type: "userAdd", name: "tls-user", passwordHash: "", noPassword: true },
  { type: "userDelete", name: "u" },
  { type: "userChangePassword", name: "u", passwordHash: "h" },
  { type: "userGrantRole", user: "u", role: "rôle" },
  { type: "userRevokeRole", name: "u", role: "r" },
  { type: "roleAdd", name: "r" },
  { type: "roleDelete", role: "r" },
  { type: "roleGrantPermission", name: "r",
    permission: { permType: "READWRITE", key: bytes("\0\xff"), rangeEnd: bytes("\0") } },
  { type: "roleGrantPermission", name: "r",
    permission: { permType: "READ", key: bytes("k"), rangeEnd: bytes("") } },
  { type: "roleRevokePermission", role: "r", key: bytes("a"), rangeEnd: bytes("b") },
];

test("every auth request round-trips", (t) => {
  for (const request of everyRequest) {
    const decoded = decodeAuthRequest(encodeAuthRequest(request));
    t.deepEqual(decoded.ok ? decoded.value : decoded.error.message, request, request.type);
  }
});

function mutations(encoded: Uint8Array, prng: Prng): Uint8Array[] {
  const cases: Uint8Array[] = [];
  for (let length = 0; length < encoded.length; length += 1) cases.push(encoded.slice(0, length));
  cases.push(Uint8Array.from([...encoded, 0]));
  for (let i = 0; i < 40; i += 1) {
    const flipped = encoded.slice();
    const at = prng.intBelow(flipped.length);
    flipped[at] = (flipped[at] ?? 0) ^ (1 << prng.intBelow(8));
    cases.push(flipped);
  }
  return cases;
}

test("hostile request bytes: DATA_CORRUPTED or a valid request, never a throw", (t) => {
  const seed = 20261129;
  const prng = new Prng(seed);
  for (const request of everyRequest) {
    const encoded = encodeAuthRequest(request);
    for (const bad of mutations(encoded, prng)) {
      const decoded = decodeAuthRequest(bad);
      if (!decoded.ok) {
        t.is(decoded.error.code, "DATA_CORRUPTED", `seed ${seed}`);
      } else {
        // A flip inside a name or key can give another valid request; it must re-encode.
        t.deepEqual(Buffer.from(encodeAuthRequest(decoded.value)), Buffer.from(bad), `seed ${seed}`);
      }
    }
  }
  for (const garbage of [bytes(""), bytes("PFSAUTQ1"), bytes("PFSAUTQ1\x63"),
    bytes("PFSAUTQ1\x02\xff\xff\xff\xff"), bytes("PFSAUTQ1\x03\0\0\0\x01\xc3\0\0\0\0\0")]) {
    const decoded = decodeAuthRequest(garbage);
    t.is(decoded.ok ? "ok" : decoded.error.code, "DATA_CORRUPTED");
  }
});

function sampleStore(): AuthStore {
  const store = new AuthStore();
  const hash = "scrypt$16384$8$1$c2FsdA==$" + Buffer.alloc(32, 7).toString("base64");
  const requests: AuthRequest[] = [
    { type: "userAdd", name: "root", passwordHash: hash, noPassword: false },
    { type: "userGrantRole", user: "root", role: "root" },
    { type: "userAdd", name: "ünï", passwordHash: hash, noPassword: false },
    { type: "userAdd", name: "tls", passwordHash: "", noPassword: true },
    { type: "roleAdd", name: "r" },
    { type: "roleAdd", name: "s" },
    { type: "roleGrantPermission", name: "r",
      permission: { permType: "READ", key: bytes("a"), rangeEnd: bytes("") } },
    { type: "roleGrantPermission", name: "r",
      permission: { permType: "WRITE", key: bytes("a"), rangeEnd: bytes("c") } },
    { type: "roleGrantPermission", name: "s",
      permission: { permType: "READWRITE", key: bytes("\xff"), rangeEnd: bytes("\0") } },
    { type: "userGrantRole", user: "ünï", role: "s" },
    { type: "userGrantRole", user: "ünï", role: "r" },
    { type: "userGrantRole", user: "tls", role: "root" },
    { type: "enable" },
    { type: "authenticate", name: "ünï", token: "abc.9" },
  ];
  for (const request of requests) {
    const result = store.apply(request, 0);
    if (!result.ok) throw new Error(`${request.type}: ${result.error.code}`);
  }
  return store;
}

test("snapshot round trip keeps every read and check, and no tokens", (t) => {
  const store = sampleStore();
  const snapshot = store.snapshot();
  const restored = AuthStore.restore(snapshot);
  t.true(restored.ok);
  if (!restored.ok) return;
  const copy = restored.value;
  t.deepEqual(copy.state(), store.state());
  t.is(copy.enabled, true);
  t.is(copy.revision, store.revision);
  t.deepEqual(copy.userList(), store.userList());
  t.deepEqual(copy.roleList(), store.roleList());
  t.deepEqual(copy.roleGet("r"), store.roleGet("r"));
  t.deepEqual(copy.userGet("ünï"), store.userGet("ünï"));
  for (const [key, end] of [["a", ""], ["b", ""], ["a", "c"], ["\xff\x01", "\0"]] as const) {
    for (const type of ["READ", "WRITE"] as const) {
      t.deepEqual(copy.checkRange("ünï", bytes(key), bytes(end), type),
        store.checkRange("ünï", bytes(key), bytes(end), type), `${type} ${key}..${end}`);
    }
  }
  t.is(store.userOfToken("abc.9", 0).ok, true);
  t.is(copy.userOfToken("abc.9", 0).ok, false);
  t.deepEqual(Buffer.from(copy.snapshot()), Buffer.from(snapshot));
  const fresh = AuthStore.restore(new AuthStore().snapshot());
  t.true(fresh.ok && fresh.value.revision === 1 && !fresh.value.enabled);
});

test("hostile snapshot bytes: DATA_CORRUPTED, never a throw", (t) => {
  const seed = 4242;
  const prng = new Prng(seed);
  const snapshot = sampleStore().snapshot();
  for (const bad of mutations(snapshot, prng)) {
    const restored = AuthStore.restore(bad);
    t.is(restored.ok ? "ok" : restored.error.code, "DATA_CORRUPTED", `seed ${seed}`);
  }
});

test("password hashes: salted, verify only their password, malformed never match", (t) => {
  const first = hashPassword("secret");
  const second = hashPassword("secret");
  t.not(first, second);
  t.true(verifyPassword("secret", first));
  t.true(verifyPassword("secret", second));
  t.false(verifyPassword("Secret", first));
  t.false(verifyPassword("", first));
  t.true(verifyPassword("", hashPassword("")));
  for (const bad of ["", "scrypt", first.replace("scrypt", "bcrypt"), first.slice(0, -4),
    first.replace("$16384$", "$1000$"), first.replace("$16384$", "$1048576$")]) {
    t.false(verifyPassword("secret", bad), bad);
  }
});
