// The bad inputs of the raw gRPC bad-input test (issue 4, test 5; etcd-api.md §5, §7, §9, §11,
// §12), each a small script run the same way on etcd and on the subject. A case returns what
// must compare equal: unary outcomes, watch responses, raw HTTP/2 statuses. Revisions a case
// needs (compacted, future) come from the member's own revision at the start of the case.
import type { GrpcMember } from "./grpc-members.js";
import { type GrpcOutcome, callUnary } from "./grpc-outcome.js";
import { keepAliveOnce } from "./grpc-lease-stream.js";
import { grpcFrame, rawGrpcRequest } from "./grpc-raw-http2.js";
import { WatchRecorder } from "./grpc-watch-recorder.js";

/** One bad input: a name and the script run on each member. */
export interface BadInputCase {
  readonly name: string;
  /**
   * Set where pfsd is known to answer differently (how, briefly): the case then runs as
   * test.failing against pfsd, so that a fix shows up as a failure asking to clear this.
   */
  readonly pfsdDifference?: string;
  /** Runs on `member`, whose revision was `base` when the case began. */
  run(member: GrpcMember, base: number): Promise<unknown>;
}

/** etcd's max-request-bytes (1.5 MiB) and its gRPC receive limit (that + 512 KiB). */
const requestBytesMax = 1_572_864;
const receiveBytesMax = 2_097_152;
/** etcd's max-txn-ops. */
const txnOpsMax = 128;
/** A lease ID no case ever grants. */
const unknownLeaseId = "32343";
/** How long a watch must stay silent before its responses are compared. */
const watchQuietMs = 400;

const bytes = (text: string): Buffer => Buffer.from(text, "latin1");

function kv(member: GrpcMember, method: string, request: object): Promise<GrpcOutcome> {
  return callUnary(member.clients.KV, method, request);
}

function unaryCase(name: string, service: "KV" | "Lease" | "Maintenance", method: string,
  request: object): BadInputCase {
  return { name, run: (member) => callUnary(member.clients[service], method, request) };
}

function put(key: string, value = "v", extra: object = {}): object {
  return { request_put: { key: bytes(key), value: bytes(value), ...extra } };
}

function deleteRange(key: string, rangeEnd = ""): object {
  const request = rangeEnd === ""
    ? { key: bytes(key) }
    : { key: bytes(key), range_end: bytes(rangeEnd) };
  return { request_delete_range: request };
}

function nested(success: object[], failure: object[] = []): object {
  return { request_txn: { compare: [], success, failure } };
}

function txnCase(name: string, request: object): BadInputCase {
  return unaryCase(name, "KV", "Txn", request);
}

const emptyKeyCases: BadInputCase[] = [
  unaryCase("Range with an empty key", "KV", "Range", { key: Buffer.alloc(0) }),
  unaryCase("Put with an empty key", "KV", "Put", { key: Buffer.alloc(0), value: bytes("v") }),
  unaryCase("DeleteRange with an empty key", "KV", "DeleteRange", { key: Buffer.alloc(0) }),
  txnCase("Txn compare with an empty key", {
    compare: [{ key: Buffer.alloc(0), target: "VERSION", result: "EQUAL", version: "0" }],
    success: [put("t")],
  }),
  txnCase("Txn put with an empty key", { success: [put("")] }),
  txnCase("Txn range with an empty key",
    { success: [{ request_range: { key: Buffer.alloc(0) } }] }),
  txnCase("Txn delete with an empty key", { failure: [deleteRange("")] }),
];

function filler(length: number): Buffer {
  return Buffer.alloc(length, 0x61);
}

const sizeCases: BadInputCase[] = [
  unaryCase("Put just under max-request-bytes", "KV", "Put",
    { key: bytes("big"), value: filler(requestBytesMax - 1_024) }),
  unaryCase("Put of max-request-bytes (request too large)", "KV", "Put",
    { key: bytes("big"), value: filler(requestBytesMax) }),
  txnCase("Txn of two puts over max-request-bytes together", {
    success: [put("big1", "a".repeat(800_000)), put("big2", "a".repeat(800_000))],
  }),
  unaryCase("Range with a key over max-request-bytes", "KV", "Range",
    { key: filler(requestBytesMax + 1_024) }),
  {
    ...unaryCase("Put over the 2 MiB gRPC receive limit", "KV", "Put",
      { key: bytes("huge"), value: filler(receiveBytesMax + 1_024) }),
    pfsdDifference: "grpc-js's text: 8 Received message larger than max (2098187 vs 2097152)",
  },
];

function manyPuts(count: number): object[] {
  return Array.from({ length: count }, (_, index) => put(`many/${index}`));
}

function manyCompares(count: number): object[] {
  return Array.from({ length: count }, (_, index) =>
    ({ key: bytes(`many/${index}`), target: "VERSION", result: "GREATER", version: "-1" }));
}

const txnSizeCases: BadInputCase[] = [
  txnCase("Txn with 129 compares", { compare: manyCompares(txnOpsMax + 1) }),
  txnCase("Txn with 129 success ops", { success: manyPuts(txnOpsMax + 1) }),
  txnCase("Txn with 129 failure ops", { failure: manyPuts(txnOpsMax + 1) }),
  txnCase("Txn with 128 compares and 128 ops (allowed)", {
    compare: manyCompares(txnOpsMax), success: manyPuts(txnOpsMax), failure: manyPuts(txnOpsMax),
  }),
];

/** TestV3TxnDuplicateKeys of etcd's integration/v3_grpc_test.go, plus the §5 cases. */
const duplicateKeyOps: readonly (readonly [string, object[]])[] = [
  ["two puts of one key", [put("abc"), put("abc")]],
  ["a put and a delete of that key", [put("abc"), deleteRange("abc")]],
  ["a put inside a delete range", [put("abc"), deleteRange("a", "b")]],
  ["a put and a nested delete range over it", [put("abc"), nested([deleteRange("a", "b")])]],
  ["a delete range and a nested put inside it", [deleteRange("a", "b"), nested([put("abc")])]],
  ["the same put in two nested txns", [nested([put("abc")], [put("abc")]),
    nested([put("abc")], [put("abc")])]],
  ["a nested put colliding with an outer put", [put("abc"), nested([], [put("abc")])]],
  // etcd 3.4's check misses "\0" (open-ended) delete ranges, so this one is allowed.
  ["a put inside a \\0 delete range (allowed by etcd 3.4)",
    [put("abc"), deleteRange("a", "\0")]],
  ["a delete range outside and a put in both nested branches (allowed)",
    [deleteRange("abb", "abc"), nested([put("abc")], [put("abc")])]],
  ["overlapping nested deletes (allowed)", [nested([deleteRange("a", "b")]),
    nested([deleteRange("a", "b")], [deleteRange("a", "b")])]],
  ["overlapping deletes (allowed)", [deleteRange("abc"), deleteRange("a", "b"),
    deleteRange("abc"), deleteRange("a", "b")]],
  ["a put next to a delete range that ends at it (allowed)",
    [put("abc"), deleteRange("abb", "abc")]],
];

const duplicateKeyCases: BadInputCase[] = duplicateKeyOps.flatMap(([label, ops]) => [
  txnCase(`Txn success with ${label}`, { success: ops }),
  txnCase(`Txn failure with ${label}`, {
    compare: [{ key: bytes("abc"), target: "VERSION", result: "LESS", version: "0" }],
    failure: ops,
  }),
]);

const putOptionCases: BadInputCase[] = [
  txnCase("Txn with an empty RequestOp", { success: [put("t"), {}] }),
  unaryCase("Put with an unknown lease", "KV", "Put",
    { key: bytes("leased"), value: bytes("v"), lease: unknownLeaseId }),
  txnCase("Txn put with an unknown lease",
    { success: [put("leased", "v", { lease: unknownLeaseId })] }),
  unaryCase("Put with ignore_value on a missing key", "KV", "Put",
    { key: bytes("missing"), ignore_value: true }),
  unaryCase("Put with ignore_lease on a missing key", "KV", "Put",
    { key: bytes("missing"), value: bytes("v"), ignore_lease: true }),
  unaryCase("Put with ignore_value and a value", "KV", "Put",
    { key: bytes("probe"), value: bytes("v"), ignore_value: true }),
  unaryCase("Put with ignore_lease and a lease", "KV", "Put",
    { key: bytes("probe"), value: bytes("v"), lease: unknownLeaseId, ignore_lease: true }),
  unaryCase("Put with ignore_value and ignore_lease on an existing key (allowed)", "KV", "Put",
    { key: bytes("probe"), ignore_value: true, ignore_lease: true, prev_kv: true }),
  txnCase("Txn put with ignore_value on a missing key", {
    success: [put("missing", "", { ignore_value: true })],
  }),
];

/** Two puts and a compaction at the second, on `member`: compaction revision = base + 2. */
async function compactAfterPuts(member: GrpcMember, base: number): Promise<GrpcOutcome[]> {
  return [
    await kv(member, "Put", { key: bytes("old"), value: bytes("1") }),
    await kv(member, "Put", { key: bytes("old"), value: bytes("2") }),
    await kv(member, "Compact", { revision: String(base + 2), physical: true }),
  ];
}

function revisionCase(name: string, request: (base: number) => [string, object]): BadInputCase {
  return {
    name,
    run: async (member, base) => {
      const setup = await compactAfterPuts(member, base);
      const [method, body] = request(base);
      return [...setup, await kv(member, method, body)];
    },
  };
}

const future = (base: number): string => String(base + 1_000);
const compacted = (base: number): string => String(base + 1);

const revisionCases: BadInputCase[] = [
  revisionCase("Range at a future revision", (base) =>
    ["Range", { key: bytes("old"), revision: future(base) }]),
  revisionCase("Range at a compacted revision", (base) =>
    ["Range", { key: bytes("old"), revision: compacted(base) }]),
  revisionCase("Range at the compaction revision (allowed)", (base) =>
    ["Range", { key: bytes("old"), revision: String(base + 2) }]),
  revisionCase("Txn range at a compacted revision", (base) => ["Txn", {
    success: [put("t"), { request_range: { key: bytes("old"), revision: compacted(base) } }],
  }]),
  revisionCase("Txn range at a future revision", (base) => ["Txn", {
    failure: [{ request_range: { key: bytes("old"), revision: future(base) } }],
  }]),
  revisionCase("Compact at a compacted revision", (base) =>
    ["Compact", { revision: compacted(base) }]),
  revisionCase("Compact at the compaction revision", (base) =>
    ["Compact", { revision: String(base + 2) }]),
  revisionCase("Compact at a future revision", (base) => ["Compact", { revision: future(base) }]),
];

/** Opens one watch, then runs `after` (puts), and returns every response once quiet. */
async function watchResponses(member: GrpcMember, creates: object[],
  after: (member: GrpcMember) => Promise<unknown>): Promise<unknown> {
  const recorder = new WatchRecorder(member.clients.Watch);
  try {
    for (const create of creates) await recorder.create(create);
    const outcomes = await after(member);
    await recorder.quiet(watchQuietMs);
    return { outcomes, responses: recorder.responses, ended: recorder.ended };
  } finally {
    recorder.close();
  }
}

const putsOf = (keys: string[]) => async (member: GrpcMember): Promise<GrpcOutcome[]> => {
  const outcomes: GrpcOutcome[] = [];
  for (const key of keys) {
    outcomes.push(await kv(member, "Put", { key: bytes(key), value: bytes(key) }));
  }
  return outcomes;
};

const watchCases: BadInputCase[] = [
  { name: "Watch with an empty key (means \\0)", run: (member) =>
    watchResponses(member, [{ key: Buffer.alloc(0) }], putsOf(["\0", "a"])) },
  { name: "Watch with an empty key and range_end \\0 (all keys)", run: (member) =>
    watchResponses(member, [{ key: Buffer.alloc(0), range_end: bytes("\0") }], putsOf(["w"])) },
  { name: "Watch with key above range_end", run: (member) =>
    watchResponses(member, [{ key: bytes("b"), range_end: bytes("a") }], putsOf(["a"])) },
  { name: "Watch with key equal to range_end", run: (member) =>
    watchResponses(member, [{ key: bytes("b"), range_end: bytes("b") }], putsOf(["b"])) },
  { name: "Watch with a duplicate watch ID", run: (member) => watchResponses(member,
    [{ key: bytes("w"), watch_id: "7" }, { key: bytes("x"), watch_id: "7" }], putsOf(["w", "x"])) },
  { name: "Watch at a compacted revision", run: async (member, base) => {
    await compactAfterPuts(member, base);
    return watchResponses(member, [{ key: bytes("old"), start_revision: compacted(base),
      prev_kv: true }], putsOf(["old"]));
  } },
  { name: "Watch at a future revision", run: (member, base) => watchResponses(member,
    [{ key: bytes("f"), range_end: bytes("g"), start_revision: String(base + 3), prev_kv: true }],
    putsOf(["f1", "f2", "f3", "f4"])) },
];

/** A watch canceled by compaction on stream `recorder`, with the client-chosen ID 5. */
async function compactedWatch(member: GrpcMember, base: number, recorder: WatchRecorder):
  Promise<void> {
  await compactAfterPuts(member, base);
  await recorder.create({ key: bytes("old"), start_revision: compacted(base), watch_id: "5" });
  await recorder.quiet(watchQuietMs);
}

/** Runs `script` on a fresh Watch stream; returns its responses once quiet. */
async function onWatchStream(member: GrpcMember,
  script: (recorder: WatchRecorder) => Promise<void>): Promise<unknown> {
  const recorder = new WatchRecorder(member.clients.Watch);
  try {
    await script(recorder);
    await recorder.quiet(watchQuietMs);
    return { responses: recorder.responses, ended: recorder.ended };
  } finally {
    recorder.close();
  }
}

/** etcd keeps a compaction-canceled watch's ID taken until the client cancels it. */
const watchIdCases: BadInputCase[] = [
  { name: "Watch reusing the ID of a watch canceled by compaction",
    run: (member, base) =>
    onWatchStream(member, async (recorder) => {
      await compactedWatch(member, base, recorder);
      await recorder.create({ key: bytes("w"), watch_id: "5" });
    }) },
  { name: "Watch auto IDs skip client-chosen and compaction-canceled IDs",
    run: (member, base) =>
    onWatchStream(member, async (recorder) => {
      await recorder.create({ key: bytes("w"), watch_id: "1" });
      await compactedWatch(member, base, recorder);
      for (let index = 0; index < 6; index += 1) await recorder.create({ key: bytes("w") });
    }) },
  { name: "Watch cancel of a watch canceled by compaction, then reuse of its ID",
    run: (member, base) => onWatchStream(member, async (recorder) => {
      await compactedWatch(member, base, recorder);
      recorder.send({ cancel_request: { watch_id: "5" } });
      await recorder.quiet(watchQuietMs);
      await recorder.create({ key: bytes("w"), watch_id: "5" });
    }) },
  { name: "Watch cancel of an unknown ID and a progress request", run: (member) =>
    onWatchStream(member, async (recorder) => {
      await recorder.create({ key: bytes("w") });
      recorder.send({ cancel_request: { watch_id: "9" } });
      recorder.send({ cancel_request: { watch_id: "-1" } });
      recorder.send({ progress_request: {} });
      await recorder.quiet(watchQuietMs);
      recorder.send({ cancel_request: { watch_id: "0" } });
      recorder.send({ cancel_request: { watch_id: "0" } });
    }) },
];

const lease = (member: GrpcMember, method: string, request: object): Promise<GrpcOutcome> =>
  callUnary(member.clients.Lease, method, request);

const leaseCases: BadInputCase[] = [
  { name: "LeaseGrant with an existing ID", run: async (member) => [
    await lease(member, "LeaseGrant", { ID: "4242", TTL: "600" }),
    await lease(member, "LeaseGrant", { ID: "4242", TTL: "60" }),
    await lease(member, "LeaseRevoke", { ID: "4242" }),
  ] },
  unaryCase("LeaseGrant with a too large TTL", "Lease", "LeaseGrant",
    { ID: "4243", TTL: "9000000001" }),
  { name: "LeaseGrant with TTL 0 and 1 (raised to the minimum)", run: async (member) => [
    await lease(member, "LeaseGrant", { ID: "4244", TTL: "0" }),
    await lease(member, "LeaseGrant", { ID: "4245", TTL: "1" }),
    await lease(member, "LeaseRevoke", { ID: "4244" }),
    await lease(member, "LeaseRevoke", { ID: "4245" }),
  ] },
  { name: "LeaseGrant with a negative ID", run: async (member) => [
    await lease(member, "LeaseGrant", { ID: "-5", TTL: "600" }),
    await lease(member, "LeaseRevoke", { ID: "-5" }),
  ] },
  unaryCase("LeaseRevoke of an unknown lease", "Lease", "LeaseRevoke", { ID: unknownLeaseId }),
  unaryCase("LeaseTimeToLive of an unknown lease", "Lease", "LeaseTimeToLive",
    { ID: unknownLeaseId, keys: true }),
  { name: "LeaseKeepAlive of an unknown lease", run: (member) =>
    keepAliveOnce(member.clients.Lease, unknownLeaseId) },
  unaryCase("MoveLeader to an unknown member", "Maintenance", "MoveLeader",
    { targetID: "12345" }),
];

/** A RangeRequest for key "a": field 1, length 1. */
const rangeA = Buffer.from([0x0a, 0x01, 0x61]);

function rawCase(name: string, payload: Buffer, pfsdDifference?: string,
  path = "/etcdserverpb.KV/Range"): BadInputCase {
  const run = (member: GrpcMember): Promise<unknown> =>
    rawGrpcRequest(member.address, path, payload);
  const item = { name: `raw HTTP/2: ${name}`, run };
  return pfsdDifference === undefined ? item : { ...item, pfsdDifference };
}

/** grpc-js's own text where grpc-go's unmarshalling error names gogoproto's. */
const deserializingText = "13 Error deserializing request";

const shortBodyText = "12 Received no request message for server streaming method";
const rawCases: BadInputCase[] = [
  rawCase("a valid Range (the control)", grpcFrame(rangeA)),
  rawCase("a truncated length-delimited field", grpcFrame(Buffer.from([0x0a, 0x05, 0x61])),
    deserializingText),
  rawCase("an invalid wire type", grpcFrame(Buffer.from([0x0f, 0x01])), deserializingText),
  rawCase("field number 0", grpcFrame(Buffer.from([0x00, 0x01])),
    "decodes it as an empty RangeRequest: 3 etcdserver: key is not provided"),
  rawCase("garbage bytes", grpcFrame(Buffer.from("\xff\xfe\xfd\xfc garbage", "latin1")),
    deserializingText),
  rawCase("a frame shorter than its length prefix", grpcFrame(rangeA, false, 100),
    shortBodyText),
  rawCase("a body shorter than a frame header", Buffer.from([0x00, 0x00]), shortBodyText),
  rawCase("the compressed flag without an encoding", grpcFrame(rangeA, true),
    "accepts it and answers the Range (status 0)"),
  rawCase("an unknown method", grpcFrame(rangeA),
    "12 The server does not implement the method /etcdserverpb.KV/Nope", "/etcdserverpb.KV/Nope"),
  rawCase("an unknown service", grpcFrame(rangeA),
    "12 The server does not implement the method …", "/etcdserverpb.Nope/Range"),
];

/** Every case, in the order the test runs them. */
export const badInputCases: readonly BadInputCase[] = [
  ...emptyKeyCases, ...sizeCases, ...txnSizeCases, ...duplicateKeyCases, ...putOptionCases,
  ...revisionCases, ...watchCases, ...watchIdCases, ...leaseCases, ...rawCases,
];
