/**
 * v3lockpb.Lock (etcd-api.md §8): the Go client's mutex recipe run in the server. Lock puts
 * `<name>/<lease hex>` with the session lease if absent (lease 0: a new 60 s lease that
 * nobody keeps alive, as etcd), and returns once every key under `<name>/` created before it
 * is gone; Unlock deletes the key. Failures are gRPC Unknown with the inner error's text.
 */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { leaseId } from "../../common/index.js";
import type { CallContext } from "../backend.js";
import { encodeHeader } from "../kv-response-codec.js";
import {
  checkDeleteRangeRequest,
  deleteRangeRequest,
  putRequest,
  rangeRequest,
} from "../mvcc/index.js";
import type { ResponseHeader } from "../mvcc/index.js";
import { type WireMessage, bytesField, int64Field } from "../wire-fields.js";
import {
  asConcurrencyError,
  concatBytes,
  ownerRange,
  sessionKey,
  sessionLease,
  waitDeletes,
} from "./concurrency-recipes.js";
import { valueOf } from "./kv-service.js";
import { type ServiceKit, headerFill, unaryCall } from "./service-kit.js";

const service = "v3lockpb.Lock";

async function lock(
  kit: ServiceKit,
  wire: WireMessage,
  context: CallContext,
  signal: AbortSignal,
): Promise<object> {
  const { backend } = kit;
  const prefix = concatBytes(bytesField(wire, "name"), "/");
  const lease = await sessionLease(backend, context, leaseId(int64Field(wire, "lease")));
  const key = sessionKey(prefix, lease);
  const txn = await backend.txn(context, {
    compare: [{ key, rangeEnd: new Uint8Array(0), target: "CREATE", result: "EQUAL", operand: 0 }],
    success: [
      { type: "put", request: putRequest({ key, lease }) },
      { type: "range", request: ownerRange(prefix, "ASCEND") },
    ],
    failure: [
      { type: "range", request: rangeRequest({ key }) },
      { type: "range", request: ownerRange(prefix, "ASCEND") },
    ],
  });
  const [mine, owner] = txn.responses;
  let myRevision: number = txn.header.revision;
  if (!txn.succeeded && mine?.type === "range") {
    myRevision = mine.response.kvs[0]?.createRevision ?? myRevision;
  }
  const ownerKv = owner?.type === "range" ? owner.response.kvs[0] : undefined;
  let header: ResponseHeader = txn.header;
  if (ownerKv !== undefined && ownerKv.createRevision !== myRevision) {
    try {
      header = (await waitDeletes(backend, context, prefix, myRevision - 1, signal)).header;
    } catch (error: unknown) {
      await backend.deleteRange(context, deleteRangeRequest({ key })).catch(() => undefined);
      throw error;
    }
  }
  return { header: encodeHeader(header, headerFill(backend)), key: Buffer.from(key) };
}

/** The Lock service implementation for grpc-js. */
export function lockService(kit: ServiceKit): UntypedServiceImplementation {
  const { backend } = kit;
  return {
    Lock: unaryCall(kit, { service, method: "Lock", type: "unary" },
      async (wire, context, signal) => {
        try {
          return await lock(kit, wire, context, signal);
        } catch (error: unknown) {
          throw asConcurrencyError(error);
        }
      }),
    Unlock: unaryCall(kit, { service, method: "Unlock", type: "unary" },
      async (wire, context) => {
        try {
          const request = deleteRangeRequest({ key: bytesField(wire, "key") });
          valueOf(checkDeleteRangeRequest(request));
          const response = await backend.deleteRange(context, request);
          return { header: encodeHeader(response.header, headerFill(backend)) };
        } catch (error: unknown) {
          throw asConcurrencyError(error);
        }
      }),
  };
}
