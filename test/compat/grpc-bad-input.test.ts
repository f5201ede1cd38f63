// Goal: bad input over raw gRPC gets exactly etcd 3.4.23's answer from the subject (pfsd; or a
// second etcd with PFS_DIFF_SUBJECT=etcd), and the member keeps serving. Method: start a fresh
// etcd and a fresh subject; run each case below on both, one case at a time, in the same order;
// compare the outcomes (responses with cluster_id/member_id/raft_term masked, or the gRPC code
// and message; for raw HTTP/2 requests the grpc-status and grpc-message); then check that both
// still serve a Put and a Range. Revisions compare relative to each member's revision at the
// start of the case, so one case that moves a member's revision wrongly fails alone.
// Cases whose pfsd answer is known to differ (BadInputCase.pfsdDifference: grpc-js's own texts
// for transport-level errors; watch IDs of compaction-canceled watches) run as test.failing
// against pfsd until pfsd matches etcd.
// PFS_DIFF_VERBOSE=1 logs etcd's outcome of every case.
import { isDeepStrictEqual } from "node:util";
import test from "ava";
import { type BadInputCase, badInputCases } from "./support/grpc-bad-input-cases.js";
import {
  type GrpcMember, type GrpcPair, startGrpcPair, subjectKind,
} from "./support/grpc-members.js";
import { type GrpcOutcome, callUnary, showOutcome } from "./support/grpc-outcome.js";

let pair: GrpcPair | undefined;

test.before(async () => {
  pair = await startGrpcPair();
});

test.after.always(async () => {
  await pair?.stop();
});

const revisionFields = new Set(["revision", "create_revision", "mod_revision", "compact_revision"]);

/** `value` with every revision field (decimal string) lowered by `offset`. */
function shiftRevisions(value: unknown, offset: number): unknown {
  if (offset === 0 || value === null || typeof value !== "object") return value;
  if (Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map((item) => shiftRevisions(item, offset));
  const shifted: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    shifted[key] = revisionFields.has(key) && typeof item === "string" && item !== "0"
      ? String(Number(item) - offset)
      : shiftRevisions(item, offset);
  }
  return shifted;
}

async function currentRevision(member: GrpcMember): Promise<number> {
  const outcome = await callUnary(member.clients.KV, "Range", { key: Buffer.from("probe") });
  if (!outcome.ok) throw new Error(`${member.kind} refused a Range: ${showOutcome(outcome)}`);
  return Number((outcome.response as { header: { revision: string } }).header.revision);
}

/** A Put and a Range that must both succeed after every case. */
async function probe(member: GrpcMember, name: string): Promise<GrpcOutcome[]> {
  const key = Buffer.from("probe");
  return [
    await callUnary(member.clients.KV, "Put", { key, value: Buffer.from(name) }),
    await callUnary(member.clients.KV, "Range", { key }),
  ];
}

async function runCase(member: GrpcMember, item: BadInputCase): Promise<unknown> {
  const base = await currentRevision(member);
  const outcome = await item.run(member, base);
  const probes = await probe(member, item.name);
  return shiftRevisions({ outcome, probes }, base);
}

function serving(result: unknown): boolean {
  const probes = (result as { probes: GrpcOutcome[] }).probes;
  return probes.every((outcome) => outcome.ok);
}

for (const item of badInputCases) {
  const known = item.pfsdDifference !== undefined && subjectKind() === "pfsd";
  const declare = known ? test.serial.failing : test.serial;
  declare(`${subjectKind()}: ${item.name}`, async (t) => {
    if (pair === undefined) throw new Error("members not started");
    const [expected, actual] = await Promise.all([
      runCase(pair.reference, item), runCase(pair.subject, item),
    ]);
    if (process.env["PFS_DIFF_VERBOSE"] !== undefined) t.log(showOutcome(expected, 600));
    t.true(serving(expected), `etcd stopped serving: ${showOutcome(expected)}`);
    t.true(serving(actual), `${pair.subject.kind} stopped serving: ${showOutcome(actual)}\n` +
      pair.subject.log().slice(-2_000));
    t.true(isDeepStrictEqual(actual, expected), `${item.name}\n` +
      `reference etcd: ${showOutcome(expected)}\n` +
      `subject ${pair.subject.kind}: ${showOutcome(actual)}`);
  });
}
