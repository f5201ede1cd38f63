// Goal: the pure pieces of the etcd gRPC layer behave as etcd's wire demands. Method: direct
// calls — snapshot padding, chunking and SHA-256 (etcdctl 3.4 refuses a file unless its size %
// 512 == 32), header filling, error mapping to grpc-js statuses, etcd's proposal-size rule,
// prefix range ends and the read-only txn test.
import { createHash } from "node:crypto";
import { status as grpcStatus } from "@grpc/grpc-js";
import test from "ava";
import { EtcdError, PfsError, leaseId, limits, nodeId, toGrpcStatus } from "../../../pkg/common/index.js";
import {
  type EtcdBackend,
  currentHeader,
  isReadOnlyTxn,
  paddedSnapshot,
  prefixRangeEnd,
  proposalBytes,
  putRequest,
  rangeRequest,
  serviceError,
  sessionKey,
  snapshotChunks,
  varintBytes,
} from "../../../pkg/etcdserver/index.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test("snapshot: chunks of 32 KiB counting down, then the SHA-256 of every earlier byte", (t) => {
  for (const size of [0, 1, 511, 512, 513, 32 * 1024, 100_000]) {
    const payload = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
    const chunks = snapshotChunks(payload);
    const data = chunks.slice(0, -1);
    const last = chunks.at(-1);
    const total = chunks.reduce((sum, chunk) => sum + chunk.blob.length, 0);
    t.is(total % 512, 32, `size ${size}`);
    t.true(data.every((chunk) => chunk.blob.length <= limits.etcdSnapshotChunkBytes));
    let remaining = data.reduce((sum, chunk) => sum + chunk.blob.length, 0);
    for (const chunk of data) {
      remaining -= chunk.blob.length;
      t.is(chunk.remainingBytes, remaining);
    }
    const joined = Buffer.concat(data.map((chunk) => chunk.blob));
    t.deepEqual(Buffer.from(joined.subarray(0, size)), Buffer.from(payload));
    t.true(joined.subarray(size).every((byte) => byte === 0), "padding is zeros");
    t.is(last?.remainingBytes, 0);
    t.deepEqual(Buffer.from(last?.blob ?? []), createHash("sha256").update(joined).digest());
  }
});

test("snapshot: padding keeps the payload and rounds up to whole 512-byte pads", (t) => {
  t.is(paddedSnapshot(new Uint8Array(0)).length, 512);
  t.is(paddedSnapshot(new Uint8Array(512)).length, 512);
  t.is(paddedSnapshot(new Uint8Array(1000)).length, 1024);
});

test("header: cluster, member and term from the backend; revision current unless given", (t) => {
  const backend = {
    clusterId: 0xfedcba9876543210n, memberId: nodeId(0x8e9e05c52164694dn),
    raftTerm: () => 7, revision: () => 42,
  } as unknown as EtcdBackend;
  t.deepEqual(currentHeader(backend), {
    cluster_id: "18364758544493064720", member_id: "10276657743932975437",
    revision: "42", raft_term: "7",
  });
  t.like(currentHeader(backend, 5), { revision: "5" });
});

test("errors: etcd errors keep their gRPC code and exact text; others become Unknown", (t) => {
  const tooLarge = serviceError(toGrpcStatus(new EtcdError("ETCD_REQUEST_TOO_LARGE")));
  t.is(tooLarge.code, grpcStatus.INVALID_ARGUMENT);
  t.is(tooLarge.details, "etcdserver: request is too large");
  const noLeader = serviceError(toGrpcStatus(new EtcdError("ETCD_NO_LEADER")));
  t.is(noLeader.code, grpcStatus.UNAVAILABLE);
  t.is(noLeader.details, "etcdserver: no leader");
  const election = serviceError(toGrpcStatus(new PfsError("ELECTION_NO_LEADER")));
  t.is(election.code, grpcStatus.UNKNOWN);
  t.is(election.details, "election: no leader");
  const bug = serviceError(toGrpcStatus(new TypeError("boom")));
  t.is(bug.code, grpcStatus.UNKNOWN);
});

test("request size: etcd's InternalRaftRequest framing around the request", (t) => {
  t.is(varintBytes(0), 1);
  t.is(varintBytes(127), 1);
  t.is(varintBytes(128), 2);
  t.is(varintBytes(1_572_864), 3);
  t.is(proposalBytes(100), 100 + 1 + limits.etcdProposalHeaderBytes);
  // etcd 3.4 (observed): a 1.4 MiB put passes and a 1.6 MiB put fails at the default limit.
  t.true(proposalBytes(1.4 * 1024 * 1024) <= limits.etcdRequestBytesMax);
  t.true(proposalBytes(1.6 * 1024 * 1024) > limits.etcdRequestBytesMax);
});

test("concurrency keys: prefix range ends and session keys as the Go client makes them", (t) => {
  t.deepEqual(prefixRangeEnd(bytes("a/")), bytes("a0"));
  t.deepEqual(prefixRangeEnd(new Uint8Array([0x61, 0xff])), bytes("b"));
  t.deepEqual(prefixRangeEnd(new Uint8Array([0xff, 0xff])), new Uint8Array([0]));
  t.deepEqual(sessionKey(bytes("lock/"), leaseId(0x694d77aa9e38260fn)), bytes("lock/694d77aa9e38260f"));
});

test("read-only txn: only ranges, in both branches and nested txns", (t) => {
  const range = { type: "range", request: rangeRequest({ key: bytes("a") }) } as const;
  const put = { type: "put", request: putRequest({ key: bytes("a") }) } as const;
  t.true(isReadOnlyTxn({ compare: [], success: [range], failure: [range] }));
  t.false(isReadOnlyTxn({ compare: [], success: [range], failure: [put] }));
  const nested = { type: "txn", request: { compare: [], success: [], failure: [put] } } as const;
  t.false(isReadOnlyTxn({ compare: [], success: [nested], failure: [] }));
});
