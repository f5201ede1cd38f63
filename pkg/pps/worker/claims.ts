/**
 * The coordination-store transactions of a worker (keys.ts, task-records.ts):
 *
 * - `claimTask`: one transaction takes a parallelism slot `keys.slot(P, k)` AND the claim
 *   `keys.claim(job, datum)`, both on the worker's lease, if the slot and the claim are free
 *   and the task still exists. Slot and claim go together or not at all, so a lost race
 *   leaves nothing to give back.
 * - `releaseSlot` / `releaseClaim`: delete a key only while it is still the one this worker
 *   wrote (its mod revision), so a key re-created by another worker is never touched.
 * - `writeResult`: the datum's result, the deletion of its task and its claim, in one
 *   transaction guarded by the claim still being ours.
 *
 * Every put of one transaction has the transaction's revision as its mod revision; that
 * revision is the claim's (and slot's) guard for the later calls. Store failures reject with
 * UNAVAILABLE; a lost guard is an answer, not an error.
 */
import type { Etcd3 } from "etcd3";
import { PfsError, assert } from "../../common/index.js";
import type { PpsKeys } from "../keys.js";
import {
  type DatumResultRecord, type DatumTaskRecord, encodeDatumClaim, encodeDatumResult,
} from "../task-records.js";

/** A claim this worker holds: the keys it wrote and the revision that guards them. */
export interface HeldClaim {
  readonly task: DatumTaskRecord;
  readonly taskKey: string;
  readonly claimKey: string;
  readonly slotKey: string;
  /** Mod revision of the claim and the slot (the claiming transaction's revision). */
  readonly revision: string;
  readonly leaseId: string;
}

/** How a claim attempt ended: claimed, the slot was taken (try another), or the task gone. */
export type ClaimOutcome =
  | { readonly kind: "claimed"; readonly claim: HeldClaim }
  | { readonly kind: "slot-taken" }
  | { readonly kind: "task-taken" };

/** What the worker writes into its claim and slot keys. */
export interface ClaimWriter {
  readonly node: string;
  readonly leaseId: string;
  readonly wallMs: number;
}

function unavailable(what: string, error: unknown): PfsError {
  const message = error instanceof Error ? error.message : String(error);
  return new PfsError("UNAVAILABLE", `cannot ${what}: ${message}`);
}

/** Tries to take slot `slotIndex` of the task's pipeline and the task's claim at once. */
export async function claimTask(client: Etcd3, keys: PpsKeys, task: DatumTaskRecord,
  slotIndex: number, writer: ClaimWriter): Promise<ClaimOutcome> {
  const taskKey = keys.task(task.jobId, task.datum.id);
  const claimKey = keys.claim(task.jobId, task.datum.id);
  const slotKey = keys.slot(task.pipeline, slotIndex);
  const value = encodeDatumClaim({ node: writer.node, claimedMs: writer.wallMs });
  const response = await client.if(slotKey, "Create", "==", 0)
    .and(claimKey, "Create", "==", 0)
    .and(taskKey, "Create", ">", 0)
    .then(client.put(slotKey).value(value).lease(writer.leaseId),
      client.put(claimKey).value(value).lease(writer.leaseId))
    .else(client.get(claimKey), client.get(taskKey))
    .commit()
    .catch((error: unknown) => { throw unavailable(`claim ${claimKey}`, error); });
  if (response.succeeded) {
    const revision = response.header.revision;
    assert(BigInt(revision) > 0n, () => `claim revision ${revision}`);
    return {
      kind: "claimed",
      claim: { task, taskKey, claimKey, slotKey, revision, leaseId: writer.leaseId },
    };
  }
  const claimHeld = (response.responses[0]?.response_range.kvs.length ?? 0) > 0;
  const taskThere = (response.responses[1]?.response_range.kvs.length ?? 0) > 0;
  return claimHeld || !taskThere ? { kind: "task-taken" } : { kind: "slot-taken" };
}

/** Deletes the claim's slot if it is still the one the claim took; whether it did. */
export async function releaseSlot(client: Etcd3, claim: HeldClaim): Promise<boolean> {
  const response = await client.if(claim.slotKey, "Mod", "==", claim.revision)
    .then(client.delete().key(claim.slotKey))
    .commit()
    .catch((error: unknown) => { throw unavailable(`release ${claim.slotKey}`, error); });
  return response.succeeded;
}

/** Deletes the claim (and its slot, if still held) so the task runs again elsewhere. */
export async function releaseClaim(client: Etcd3, claim: HeldClaim): Promise<void> {
  await client.if(claim.claimKey, "Mod", "==", claim.revision)
    .then(client.delete().key(claim.claimKey))
    .commit()
    .catch((error: unknown) => { throw unavailable(`release ${claim.claimKey}`, error); });
  await releaseSlot(client, claim);
}

/**
 * Writes the datum's result and deletes its task and claim, if the claim is still ours;
 * whether it did (false: the lease lapsed or the job was cleaned up, and the datum's result
 * belongs to whoever claims it next).
 */
export async function writeResult(client: Etcd3, keys: PpsKeys, claim: HeldClaim,
  result: DatumResultRecord): Promise<boolean> {
  assert(result.jobId === claim.task.jobId && result.datumId === claim.task.datum.id,
    () => `result of ${result.jobId}/${result.datumId} for claim ${claim.claimKey}`);
  const resultKey = keys.result(result.jobId, result.datumId);
  const response = await client.if(claim.claimKey, "Mod", "==", claim.revision)
    .then(client.put(resultKey).value(encodeDatumResult(result)),
      client.delete().key(claim.taskKey), client.delete().key(claim.claimKey))
    .commit()
    .catch((error: unknown) => { throw unavailable(`write ${resultKey}`, error); });
  return response.succeeded;
}
