// Goal: AuthStore.apply and its checks follow etcd 3.4.23's auth rules and errors exactly.
// Method: table-driven scripts of requests, each with the expected outcome ("ok" or the error
// code) and the auth revision after it; the expectations were taken from etcd's
// auth/store.go and apply_auth.go and checked against a real etcd 3.4.23 with etcdctl
// (user add/delete/grant-role/revoke-role, role add/delete/grant-permission/revoke-permission,
// auth enable/disable, get --user). Then the read-side calls, tokens and txn checks.
import test from "ava";
import {
  type AuthRequest,
  AuthStore,
  type Permission,
  hashPassword,
  putRequest,
  rangeRequest,
  deleteRangeRequest,
  type TxnRequest,
} from "../../../pkg/etcdserver/index.js";
import { Prng } from "../../../pkg/common/index.js";
import {
  newSimpleToken, newSimpleTokenPrefix, simpleToken, simpleTokenIndex,
} from "../../../pkg/etcdserver/index.js";

const bytes = (text: string): Uint8Array => Buffer.from(text, "latin1");
const rootHash = hashPassword("rootpw");
const userHash = hashPassword("pw");

const req = {
  enable: (): AuthRequest => ({ type: "enable" }),
  disable: (): AuthRequest => ({ type: "disable" }),
  auth: (name: string, token: string): AuthRequest => ({ type: "authenticate", name, token }),
  userAdd: (name: string, noPassword = false): AuthRequest =>
    ({ type: "userAdd", name, passwordHash: noPassword ? "" : userHash, noPassword }),
  rootAdd: (): AuthRequest =>
    ({ type: "userAdd", name: "root", passwordHash: rootHash, noPassword: false }),
  userDelete: (name: string): AuthRequest => ({ type: "userDelete", name }),
  password: (name: string, passwordHash: string): AuthRequest =>
    ({ type: "userChangePassword", name, passwordHash }),
  grantRole: (user: string, role: string): AuthRequest => ({ type: "userGrantRole", user, role }),
  revokeRole: (name: string, role: string): AuthRequest =>
    ({ type: "userRevokeRole", name, role }),
  roleAdd: (name: string): AuthRequest => ({ type: "roleAdd", name }),
  roleDelete: (role: string): AuthRequest => ({ type: "roleDelete", role }),
  grant: (name: string, permType: Permission["permType"], key: string, end = ""): AuthRequest =>
    ({ type: "roleGrantPermission", name, permission: { permType, key: bytes(key), rangeEnd: bytes(end) } }),
  revoke: (role: string, key: string, end = ""): AuthRequest =>
    ({ type: "roleRevokePermission", role, key: bytes(key), rangeEnd: bytes(end) }),
};

/** One step: the request, "ok" or the error code, and the auth revision after it. */
type Step = readonly [AuthRequest, string, number];

function run(store: AuthStore, steps: readonly Step[]): string[] {
  const problems: string[] = [];
  steps.forEach(([request, expected, revision], index) => {
    const result = store.apply(request, 0);
    const got = result.ok ? "ok" : result.error.code;
    if (got !== expected || store.revision !== revision) {
      problems.push(`step ${index} ${JSON.stringify(request.type)}: got ${got} rev ` +
        `${store.revision}, want ${expected} rev ${revision}`);
    }
  });
  return problems;
}

const scripts: Record<string, readonly Step[]> = {
  "enable needs root holding role root; the role root need not exist": [
    [req.enable(), "ETCD_ROOT_USER_NOT_EXIST", 1],
    [req.rootAdd(), "ok", 2],
    [req.enable(), "ETCD_ROOT_ROLE_NOT_EXIST", 2],
    [req.grantRole("root", "root"), "ok", 3],
    [req.grantRole("root", "root"), "ok", 3], // already granted: ignored, no revision
    [req.enable(), "ok", 3], // enable keeps the revision
    [req.enable(), "ok", 3], // idempotent
    [req.disable(), "ok", 4],
    [req.disable(), "ok", 4], // idempotent, no revision
  ],
  "root is protected only while enabled": [
    [req.rootAdd(), "ok", 2],
    [req.grantRole("root", "root"), "ok", 3],
    [req.enable(), "ok", 3],
    [req.userDelete("root"), "ETCD_INVALID_AUTH_MGMT", 3],
    [req.revokeRole("root", "root"), "ETCD_INVALID_AUTH_MGMT", 3],
    [req.roleDelete("root"), "ETCD_INVALID_AUTH_MGMT", 3], // even when the role does not exist
    [req.disable(), "ok", 4],
    [req.roleDelete("root"), "ETCD_ROLE_NOT_FOUND", 4],
    [req.revokeRole("root", "root"), "ok", 5],
    [req.revokeRole("root", "root"), "ETCD_ROLE_NOT_GRANTED", 5],
    [req.userDelete("root"), "ok", 6],
  ],
  "user rules": [
    [req.userAdd(""), "ETCD_USER_EMPTY", 1],
    [req.userAdd("u"), "ok", 2],
    [req.userAdd("u"), "ETCD_USER_ALREADY_EXIST", 2],
    [req.userDelete("v"), "ETCD_USER_NOT_FOUND", 2],
    [req.userDelete(""), "ETCD_USER_NOT_FOUND", 2],
    [req.password("v", userHash), "ETCD_USER_NOT_FOUND", 2],
    [req.password("u", rootHash), "ok", 3],
    [req.grantRole("v", "r"), "ETCD_USER_NOT_FOUND", 3],
    [req.grantRole("u", "r"), "ETCD_ROLE_NOT_FOUND", 3],
    [req.revokeRole("v", "r"), "ETCD_USER_NOT_FOUND", 3],
    [req.revokeRole("u", "r"), "ETCD_ROLE_NOT_GRANTED", 3],
    [req.userDelete("u"), "ok", 4],
  ],
  "role rules; deleting a role takes it from its users": [
    [req.roleAdd(""), "ETCD_ROLE_EMPTY", 1],
    [req.roleAdd("r"), "ok", 2],
    [req.roleAdd("r"), "ETCD_ROLE_ALREADY_EXIST", 2],
    [req.roleDelete("s"), "ETCD_ROLE_NOT_FOUND", 2],
    [req.grant("s", "READ", "a"), "ETCD_ROLE_NOT_FOUND", 2],
    [req.grant("root", "READ", "a"), "ETCD_ROLE_NOT_FOUND", 2],
    [req.revoke("s", "a"), "ETCD_ROLE_NOT_FOUND", 2],
    [req.revoke("r", "a"), "ETCD_PERMISSION_NOT_GRANTED", 2],
    [req.userAdd("u"), "ok", 3],
    [req.grantRole("u", "r"), "ok", 4],
    [req.roleDelete("r"), "ok", 5],
    [req.revokeRole("u", "r"), "ETCD_ROLE_NOT_GRANTED", 5],
  ],
  "grant updates the first permission with the key, revoke needs key and range_end": [
    [req.roleAdd("r"), "ok", 2],
    [req.grant("r", "READ", "a"), "ok", 3],
    [req.grant("r", "WRITE", "a"), "ok", 4], // same key and end: type replaced
    [req.grant("r", "READ", "a", "b"), "ok", 5], // same key, other end: appended
    [req.revoke("r", "a", "c"), "ETCD_PERMISSION_NOT_GRANTED", 5],
    [req.revoke("r", "a", "b"), "ok", 6],
    [req.revoke("r", "a", "b"), "ETCD_PERMISSION_NOT_GRANTED", 6],
  ],
  "authenticate needs auth on, a known user with a password": [
    [req.userAdd("u"), "ok", 2],
    [req.userAdd("nop", true), "ok", 3],
    [req.auth("u", "t.1"), "ETCD_AUTH_NOT_ENABLED", 3],
    [req.rootAdd(), "ok", 4],
    [req.grantRole("root", "root"), "ok", 5],
    [req.enable(), "ok", 5],
    [req.auth("x", "t.2"), "ETCD_AUTH_FAILED", 5],
    [req.auth("nop", "t.3"), "ETCD_AUTH_FAILED", 5],
    [req.auth("u", "t.4"), "ok", 5], // tokens do not change the revision
  ],
};

for (const [name, steps] of Object.entries(scripts)) {
  test(`apply: ${name}`, (t) => {
    t.deepEqual(run(new AuthStore(), steps), []);
  });
}

/** A store with root (enabled), user u holding role r, and the given permissions of r. */
function storeWith(grants: readonly AuthRequest[], enable = true): AuthStore {
  const store = new AuthStore();
  const setup = [req.rootAdd(), req.grantRole("root", "root"), req.userAdd("u"),
    req.roleAdd("r"), req.grantRole("u", "r"), ...grants];
  if (enable) setup.push(req.enable());
  for (const request of setup) {
    const result = store.apply(request, 0);
    if (!result.ok) throw new Error(`setup ${request.type}: ${result.error.code}`);
  }
  return store;
}

test("role get keeps etcd's order: by key, stable for equal keys", (t) => {
  const store = storeWith([req.grant("r", "READ", "b"), req.grant("r", "WRITE", "a", "c"),
    req.grant("r", "READ", "a"), req.grant("r", "READWRITE", "a", "c")]);
  const permissions = store.roleGet("r");
  t.true(permissions.ok);
  if (!permissions.ok) return;
  t.deepEqual(permissions.value.map((p) => [p.permType, Buffer.from(p.key).toString(),
    Buffer.from(p.rangeEnd).toString()]), [
    ["READWRITE", "a", "c"], ["READ", "a", ""], ["READ", "b", ""],
  ]);
  t.is(store.roleGet("nope").ok, false);
});

test("user and role reads: get, sorted lists, not found", (t) => {
  const store = storeWith([req.roleAdd("b"), req.roleAdd("a"), req.grantRole("u", "b"),
    req.grantRole("u", "a"), req.userAdd("U")]);
  t.deepEqual(store.userList(), ["U", "root", "u"]);
  t.deepEqual(store.roleList(), ["a", "b", "r"]); // the implicit root role is not listed
  const roles = store.userGet("u");
  t.deepEqual(roles.ok ? roles.value : roles.error.code, ["a", "b", "r"]);
  const missing = store.userGet("nobody");
  t.is(missing.ok ? "ok" : missing.error.code, "ETCD_USER_NOT_FOUND");
  const rootRole = store.roleGet("root");
  t.is(rootRole.ok ? "ok" : rootRole.error.code, "ETCD_ROLE_NOT_FOUND");
});

const code = (result: { ok: boolean; error?: { code: string } }): string =>
  result.ok ? "ok" : result.error?.code ?? "?";

test("checkPassword: disabled first, then unknown, no-password user, wrong password", (t) => {
  const disabled = storeWith([req.userAdd("nop", true)], false);
  t.is(code(disabled.checkPassword("u", "pw")), "ETCD_AUTH_NOT_ENABLED");
  const store = storeWith([req.userAdd("nop", true)]);
  t.is(code(store.checkPassword("x", "pw")), "ETCD_AUTH_FAILED");
  const noPassword = store.checkPassword("nop", "");
  t.is(code(noPassword), "AUTH_NO_PASSWORD_USER");
  if (!noPassword.ok) {
    t.is(noPassword.error.message,
      "auth: authentication failed, password was given for no password user");
  }
  t.is(code(store.checkPassword("u", "wrong")), "ETCD_AUTH_FAILED");
  t.is(code(store.checkPassword("u", "pw")), "ok");
  t.is(code(store.checkPassword("root", "rootpw")), "ok");
});

test("tokens: TTL refreshed on use, expiry, invalidated by delete, password change, disable",
  (t) => {
    const ttl = 300_000;
    const store = storeWith([req.userAdd("v"), req.userAdd("w")]);
    t.is(code(store.apply(req.auth("u", "A.10"), 1_000)), "ok");
    t.is(code(store.apply(req.auth("v", "B.11"), 1_000)), "ok");
    t.is(code(store.apply(req.auth("w", "C.12"), 1_000)), "ok");
    const used = store.userOfToken("A.10", 1_000 + ttl);
    t.deepEqual(used.ok ? used.value : used.error.code, "u");
    t.is(code(store.userOfToken("A.10", 1_000 + 2 * ttl)), "ok"); // refreshed at 1000 + ttl
    t.is(code(store.userOfToken("A.10", 1_000 + 3 * ttl + 1)), "ETCD_INVALID_AUTH_TOKEN");
    t.is(code(store.userOfToken("nope.1", 0)), "ETCD_INVALID_AUTH_TOKEN");
    t.is(code(store.apply(req.password("v", userHash), 2_000)), "ok");
    t.is(code(store.userOfToken("B.11", 2_000)), "ETCD_INVALID_AUTH_TOKEN");
    t.is(code(store.apply(req.auth("w", "D.13"), 2_000)), "ok");
    t.is(code(store.apply(req.disable(), 2_000)), "ok");
    t.is(code(store.userOfToken("C.12", 2_000)), "ETCD_INVALID_AUTH_TOKEN");
    t.is(code(store.userOfToken("D.13", 2_000)), "ETCD_INVALID_AUTH_TOKEN");
    t.is(store.tokenCount, 0);
  });

test("tokens: a deleted user's tokens die; expireTokens sweeps", (t) => {
  const store = storeWith([req.userAdd("v")]);
  store.apply(req.auth("v", "A.1"), 0);
  store.apply(req.auth("u", "B.2"), 0);
  t.is(code(store.apply(req.userDelete("v"), 0)), "ok");
  t.is(code(store.userOfToken("A.1", 0)), "ETCD_INVALID_AUTH_TOKEN");
  t.is(store.expireTokens(300_001), 1);
  t.is(store.tokenCount, 0);
});

test("newSimpleToken has etcd's shape and simpleTokenIndex reads it back", (t) => {
  const prng = new Prng(7);
  const token = newSimpleToken(prng, 42);
  t.regex(token, /^[a-zA-Z]{16}\.42$/);
  t.not(newSimpleToken(prng, 42), token);
  t.is(simpleTokenIndex(token), 42);
  const prefix = newSimpleTokenPrefix(prng);
  t.regex(prefix, /^[a-zA-Z]{16}$/);
  t.is(simpleToken(prefix, 7), `${prefix}.7`);
  t.is(simpleTokenIndex(simpleToken(prefix, 7)), 7);
  for (const bad of ["abc", "a.b.c", "a.", "a.x1", "a.-1"]) t.is(simpleTokenIndex(bad), undefined, bad);
});

test("checks while disabled pass; empty user, unknown user, root, admin", (t) => {
  const disabled = storeWith([], false);
  t.is(code(disabled.checkRange("", bytes("a"), bytes(""), "WRITE")), "ok");
  t.is(code(disabled.isAdmin("")), "ok");
  const store = storeWith([req.grant("r", "READ", "a")]);
  t.is(code(store.checkRange("", bytes("a"), bytes(""), "READ")), "ETCD_USER_EMPTY");
  t.is(code(store.checkRange("ghost", bytes("a"), bytes(""), "READ")), "ETCD_PERMISSION_DENIED");
  t.is(code(store.checkRange("root", bytes("zz"), bytes("\0"), "WRITE")), "ok");
  t.is(code(store.checkRange("u", bytes("a"), bytes(""), "READ")), "ok");
  t.is(code(store.checkRange("u", bytes("a"), bytes(""), "WRITE")), "ETCD_PERMISSION_DENIED");
  t.is(code(store.isAdmin("")), "ETCD_USER_EMPTY");
  t.is(code(store.isAdmin("ghost")), "ETCD_USER_NOT_FOUND");
  t.is(code(store.isAdmin("u")), "ETCD_PERMISSION_DENIED");
  t.is(code(store.isAdmin("root")), "ok");
  t.is(code(store.checkUserGet("u", "u")), "ok");
  t.is(code(store.checkUserGet("u", "root")), "ETCD_PERMISSION_DENIED");
  t.is(code(store.checkRoleGet("u", "r")), "ok");
  t.is(code(store.checkRoleGet("u", "s")), "ETCD_PERMISSION_DENIED");
  t.true(store.hasRole("u", "r"));
  t.false(store.hasRole("ghost", "r"));
});

const rangeCases: readonly [string, readonly AuthRequest[], string, string, "READ" | "WRITE", string][] = [
  ["key permission, same key", [req.grant("r", "READ", "a")], "a", "", "READ", "ok"],
  ["key permission, other key", [req.grant("r", "READ", "a")], "b", "", "READ", "ETCD_PERMISSION_DENIED"],
  ["key permission, range of it", [req.grant("r", "READ", "a")], "a", "a\0", "READ", "ok"],
  ["key permission, prefix", [req.grant("r", "READ", "a")], "a", "b", "READ", "ETCD_PERMISSION_DENIED"],
  ["prefix permission, key", [req.grant("r", "READ", "a", "b")], "ab", "", "READ", "ok"],
  ["prefix permission, inner range", [req.grant("r", "READ", "a", "b")], "aa", "ab", "READ", "ok"],
  ["prefix permission, past its end", [req.grant("r", "READ", "a", "b")], "aa", "c", "READ", "ETCD_PERMISSION_DENIED"],
  ["from-key permission, from-key read", [req.grant("r", "READ", "m", "\0")], "n", "\0", "READ", "ok"],
  ["prefix permission, from-key read", [req.grant("r", "READ", "m", "n")], "m", "\0", "READ", "ETCD_PERMISSION_DENIED"],
  ["adjacent permissions of two roles", [req.roleAdd("s"), req.grantRole("u", "s"),
    req.grant("r", "READ", "a", "c"), req.grant("s", "READ", "c", "e")], "b", "d", "READ", "ok"],
  ["a gap between permissions", [req.grant("r", "READ", "a", "c"),
    req.grant("r", "READ", "c\0", "e")], "b", "d", "READ", "ETCD_PERMISSION_DENIED"],
  ["key permission fills the gap", [req.grant("r", "READ", "a", "c"),
    req.grant("r", "READ", "c"), req.grant("r", "READ", "c\0", "e")], "b", "d", "READ", "ok"],
  ["a permission inside another does not shorten it", [req.grant("r", "READ", "a", "z"),
    req.grant("r", "READ", "b", "c"), req.grant("r", "READ", "d", "zz")], "a", "zy", "READ", "ok"],
  ["readwrite gives write", [req.grant("r", "READWRITE", "a")], "a", "", "WRITE", "ok"],
  ["write does not give read", [req.grant("r", "WRITE", "a")], "a", "", "READ", "ETCD_PERMISSION_DENIED"],
  ["end at or below the key holds nothing", [req.grant("r", "READ", "c", "a")], "b", "", "READ", "ETCD_PERMISSION_DENIED"],
  ["a request reading nothing needs its key", [req.grant("r", "READ", "c")], "c", "a", "READ", "ok"],
  ["empty key is never held", [req.grant("r", "READ", "\0", "\0")], "", "", "READ", "ETCD_PERMISSION_DENIED"],
];

for (const [name, grants, key, end, permType, expected] of rangeCases) {
  test(`checkRange: ${name}`, (t) => {
    const store = storeWith(grants);
    t.is(code(store.checkRange("u", bytes(key), bytes(end), permType)), expected);
  });
}

test("checkPut, checkDeleteRange and checkTxn need every permission, nested too", (t) => {
  const store = storeWith([req.grant("r", "READ", "r", "s"), req.grant("r", "WRITE", "w", "x")]);
  const put = (key: string, prevKv = false): TxnRequest["success"][number] =>
    ({ type: "put", request: putRequest({ key: bytes(key), prevKv }) });
  t.is(code(store.checkPut("u", putRequest({ key: bytes("w1") }))), "ok");
  t.is(code(store.checkPut("u", putRequest({ key: bytes("w1"), prevKv: true }))), "ETCD_PERMISSION_DENIED");
  t.is(code(store.checkDeleteRange("u", deleteRangeRequest({ key: bytes("w"), rangeEnd: bytes("x") }))), "ok");
  t.is(code(store.checkDeleteRange("u",
    deleteRangeRequest({ key: bytes("w"), rangeEnd: bytes("x"), prevKv: true }))), "ETCD_PERMISSION_DENIED");
  const compare = (key: string): TxnRequest["compare"][number] =>
    ({ key: bytes(key), rangeEnd: bytes(""), result: "EQUAL", target: "VERSION", operand: 0 });
  const txn = (over: Partial<TxnRequest>): TxnRequest => ({ compare: [], success: [], failure: [], ...over });
  const read = { type: "range", request: rangeRequest({ key: bytes("r1") }) } as const;
  t.is(code(store.checkTxn("u", txn({ compare: [compare("r1")], success: [put("w1")], failure: [read] }))), "ok");
  t.is(code(store.checkTxn("u", txn({ compare: [compare("w1")] }))), "ETCD_PERMISSION_DENIED");
  t.is(code(store.checkTxn("u", txn({ failure: [put("r1")] }))), "ETCD_PERMISSION_DENIED");
  t.is(code(store.checkTxn("u", txn({ success: [put("w1", true)] }))), "ETCD_PERMISSION_DENIED");
  const nested = (inner: TxnRequest): TxnRequest["success"][number] => ({ type: "txn", request: inner });
  t.is(code(store.checkTxn("u", txn({ success: [nested(txn({ success: [nested(txn({
    failure: [put("w2")] }))] }))] }))), "ok");
  t.is(code(store.checkTxn("u", txn({ success: [nested(txn({ success: [nested(txn({
    failure: [put("r2")] }))] }))] }))), "ETCD_PERMISSION_DENIED");
  t.is(code(store.checkTxn("u", txn({ success: [nested(txn({ compare: [compare("x")] }))] }))),
    "ETCD_PERMISSION_DENIED");
  t.is(code(store.checkTxn("root", txn({ compare: [compare("x")], success: [put("y")] }))), "ok");
  t.is(code(store.checkTxn("", txn({ success: [{ type: "empty" }] }))), "ok"); // nothing to check
});
