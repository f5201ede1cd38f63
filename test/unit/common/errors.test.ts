// Goal: every error code maps to exactly one valid gRPC status, etcd codes carry etcd's exact
// text, the README documents every code, and toGrpcStatus never leaks an unknown error as a
// retryable-looking status by accident.
import { readFileSync } from "node:fs";
import { status as grpcStatus } from "@grpc/grpc-js";
import test from "ava";
import {
  ConfigError,
  EtcdError,
  GrpcStatus,
  LimitError,
  PfsError,
  errorTable,
  toGrpcStatus,
  type ErrorCode,
  type EtcdErrorCode,
} from "../../../pkg/common/index.js";

const codes = Object.keys(errorTable) as ErrorCode[];

test("our GrpcStatus numbers equal grpc-js's", (t) => {
  for (const [name, value] of Object.entries(grpcStatus)) {
    if (typeof value !== "number") continue;
    t.is((GrpcStatus as unknown as Record<string, number>)[name], value, name);
  }
});

test("every code maps to exactly one valid gRPC status, never OK", (t) => {
  for (const code of codes) {
    const statusCode = errorTable[code].status;
    t.true(Object.values(GrpcStatus).includes(statusCode), code);
    t.not(statusCode, GrpcStatus.OK, code);
    t.is(new PfsError(code).status, statusCode, code);
  }
});

test("codes are SCREAMING_SNAKE and etcd codes carry a unique etcd wire text", (t) => {
  const texts = new Set<string>();
  for (const code of codes) {
    t.regex(code, /^[A-Z][A-Z0-9_]*$/);
    const spec = errorTable[code] as { wireMessage?: string };
    if (code.startsWith("ETCD_")) {
      t.truthy(spec.wireMessage, code);
      t.regex(spec.wireMessage ?? "", /^etcdserver: /, code);
      t.false(texts.has(spec.wireMessage ?? ""), `duplicate text for ${code}`);
      texts.add(spec.wireMessage ?? "");
    } else {
      t.is(spec.wireMessage, undefined, code);
    }
  }
});

test("etcd errors match etcd 3.4's rpctypes exactly (spot checks)", (t) => {
  const expected: [EtcdErrorCode, GrpcStatus, string][] = [
    ["ETCD_KEY_NOT_PROVIDED", GrpcStatus.INVALID_ARGUMENT, "etcdserver: key is not provided"],
    ["ETCD_COMPACTED", GrpcStatus.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"],
    ["ETCD_LEASE_NOT_FOUND", GrpcStatus.NOT_FOUND, "etcdserver: requested lease not found"],
    ["ETCD_NO_LEADER", GrpcStatus.UNAVAILABLE, "etcdserver: no leader"],
    ["ETCD_INVALID_AUTH_TOKEN", GrpcStatus.UNAUTHENTICATED, "etcdserver: invalid auth token"],
    ["ETCD_PEER_URL_EXIST", GrpcStatus.FAILED_PRECONDITION, "etcdserver: Peer URLs already exists"],
  ];
  for (const [code, statusCode, message] of expected) {
    const error = new EtcdError(code);
    t.is(error.status, statusCode, code);
    t.is(error.message, message, code);
  }
});

test("subclasses keep the hierarchy, code and a message that names the subject", (t) => {
  const config = new ConfigError("--shards", "expected a whole number");
  t.true(config instanceof PfsError);
  t.is(config.code, "CONFIG_INVALID");
  t.is(config.message, "invalid value for --shards: expected a whole number");
  const limit = new LimitError("etcdTxnOpsMax", 128, 129);
  t.is(limit.status, GrpcStatus.RESOURCE_EXHAUSTED);
  t.regex(limit.message, /etcdTxnOpsMax is 128; got 129/);
});

test("toGrpcStatus keeps known errors and maps unknown ones to UNKNOWN, flagged", (t) => {
  t.deepEqual(toGrpcStatus(new EtcdError("ETCD_TOO_MANY_OPS")), {
    code: GrpcStatus.INVALID_ARGUMENT,
    message: "etcdserver: too many operations in txn request",
    known: true,
  });
  t.deepEqual(toGrpcStatus(new TypeError("boom")), { code: GrpcStatus.UNKNOWN, message: "boom", known: false });
  t.deepEqual(toGrpcStatus("text"), { code: GrpcStatus.UNKNOWN, message: "text", known: false });
});

test("the README's error table lists exactly the codes of the error table", (t) => {
  const readme = readFileSync(new URL("../../../../README.md", import.meta.url), "utf8");
  const section = readme.split("## Error codes")[1]?.split("\n## ")[0] ?? "";
  const documented = new Set([...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
  t.deepEqual([...documented].sort(), [...codes].sort());
  for (const code of codes) {
    const statusName = GrpcStatus[errorTable[code].status];
    t.regex(section, new RegExp(`\\| \`${code}\` \\| ${statusName} \\|`), `${code} row has ${statusName}`);
  }
});
