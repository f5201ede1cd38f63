/**
 * v3electionpb.Election (etcd-api.md §8): the Go client's election recipe run in the server.
 * Campaign puts `<name>/<lease hex>` (proclaiming a new value over an old one of the same
 * lease) and returns once it holds the lowest create revision under `<name>/`; Proclaim and
 * Resign act only while the leader key has the given create revision; Leader reads the
 * lowest key; Observe streams the leader and each of its values. Failures are gRPC Unknown
 * with the inner error's text or etcd's election texts.
 */
import type { ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { type LeaseId, PfsError, leaseId } from "../../common/index.js";
import type { CallContext, EtcdBackend } from "../backend.js";
import { encodeHeader, encodeKeyValue } from "../kv-response-codec.js";
import {
  type Compare,
  type KeyValue,
  type ResponseHeader,
  deleteRangeRequest,
  putRequest,
  rangeRequest,
} from "../mvcc/index.js";
import {
  type WireMessage,
  bytesField,
  clampedInt64Field,
  int64Field,
  int64Wire,
  optionalMessage,
} from "../wire-fields.js";
import {
  asConcurrencyError,
  concatBytes,
  ownerRange,
  sessionKey,
  sessionLease,
  waitDeletes,
} from "./concurrency-recipes.js";
import { observeLeader } from "./election-observe.js";
import { type ServiceKit, type UnaryHandler, headerFill, unaryCall } from "./service-kit.js";
import { StreamScope, writeInOrder } from "./stream-scope.js";

const service = "v3electionpb.Election";

/** A decoded LeaderKey. */
interface LeaderKey {
  readonly name: Uint8Array;
  readonly key: Uint8Array;
  readonly rev: number;
  readonly lease: LeaseId;
}

function leaderKeyOf(wire: WireMessage): LeaderKey {
  const leader = optionalMessage(wire, "leader");
  if (leader === null) throw new PfsError("ELECTION_MISSING_LEADER_KEY");
  return {
    name: bytesField(leader, "name"),
    key: bytesField(leader, "key"),
    rev: clampedInt64Field(leader, "rev"),
    lease: leaseId(int64Field(leader, "lease")),
  };
}

function createdAt(key: Uint8Array, rev: number): Compare {
  return { key, rangeEnd: new Uint8Array(0), target: "CREATE", result: "EQUAL", operand: rev };
}

/** Puts `value` on the leader key while it is still ours; resolves with the txn header. */
async function proclaim(
  backend: EtcdBackend,
  context: CallContext,
  leader: LeaderKey,
  value: Uint8Array,
): Promise<ResponseHeader> {
  const txn = await backend.txn(context, {
    compare: [createdAt(leader.key, leader.rev)],
    success: [{ type: "put", request: putRequest({ key: leader.key, value, lease: leader.lease }) }],
    failure: [],
  });
  if (!txn.succeeded) throw new PfsError("ELECTION_NOT_LEADER");
  return txn.header;
}

/** Deletes the leader key while it is still ours; resolves with the txn header. */
async function resign(
  backend: EtcdBackend,
  context: CallContext,
  leader: LeaderKey,
): Promise<ResponseHeader> {
  const txn = await backend.txn(context, {
    compare: [createdAt(leader.key, leader.rev)],
    success: [{ type: "deleteRange", request: deleteRangeRequest({ key: leader.key }) }],
    failure: [],
  });
  return txn.header;
}

const campaign = (kit: ServiceKit): UnaryHandler => async (wire, context, signal) => {
  const { backend } = kit;
  const name = bytesField(wire, "name");
  const value = bytesField(wire, "value");
  const prefix = concatBytes(name, "/");
  const lease = await sessionLease(backend, context, leaseId(int64Field(wire, "lease")));
  const key = sessionKey(prefix, lease);
  const txn = await backend.txn(context, {
    compare: [createdAt(key, 0)],
    success: [{ type: "put", request: putRequest({ key, value, lease }) }],
    failure: [{ type: "range", request: rangeRequest({ key }) }],
  });
  const leader: LeaderKey = { name, key, rev: txn.header.revision, lease };
  const [existing] = txn.responses;
  const held = !txn.succeeded && existing?.type === "range" ? existing.response.kvs[0] : undefined;
  const elected = { ...leader, rev: held?.createRevision ?? leader.rev };
  if (held !== undefined && Buffer.compare(held.value, value) !== 0) {
    await proclaim(backend, context, elected, value).catch(async (error: unknown) => {
      await resign(backend, context, elected).catch(() => undefined);
      throw error;
    });
  }
  try {
    await waitDeletes(backend, context, prefix, elected.rev - 1, signal);
  } catch (error: unknown) {
    if (signal.aborted) await resign(backend, context, elected).catch(() => undefined);
    throw error;
  }
  return {
    header: encodeHeader(txn.header, headerFill(backend)),
    leader: {
      name: Buffer.from(name), key: Buffer.from(key),
      rev: int64Wire(elected.rev), lease: int64Wire(lease),
    },
  };
};


/** The Election service implementation for grpc-js. */
export function electionService(kit: ServiceKit): UntypedServiceImplementation {
  const { backend } = kit;
  const unary = (method: string, handle: UnaryHandler): ReturnType<typeof unaryCall> =>
    unaryCall(kit, { service, method, type: "unary" }, async (wire, context, signal) => {
      try {
        return await handle(wire, context, signal);
      } catch (error: unknown) {
        throw asConcurrencyError(error);
      }
    });
  return {
    Campaign: unary("Campaign", campaign(kit)),
    Proclaim: unary("Proclaim", async (wire, context) => {
      const header = await proclaim(backend, context, leaderKeyOf(wire), bytesField(wire, "value"));
      return { header: encodeHeader(header, headerFill(backend)) };
    }),
    Resign: unary("Resign", async (wire, context) => {
      const header = await resign(backend, context, leaderKeyOf(wire));
      return { header: encodeHeader(header, headerFill(backend)) };
    }),
    Leader: unary("Leader", async (wire, context) => {
      const prefix = concatBytes(bytesField(wire, "name"), "/");
      const response = await backend.range(context, ownerRange(prefix, "ASCEND"));
      const kv = response.kvs[0];
      if (kv === undefined) throw new PfsError("ELECTION_NO_LEADER");
      return { header: encodeHeader(response.header, headerFill(backend)), kv: encodeKeyValue(kv) };
    }),
    Observe: (call: ServerWritableStream<unknown, object>) => {
      const label = { service, method: "Observe", type: "server_stream" } as const;
      const scope = StreamScope.open(kit, label, call);
      if (scope === null) return;
      const cancel = new AbortController();
      scope.onEnd(() => { cancel.abort(); });
      const name = bytesField(call.request as WireMessage, "name");
      const send = (header: ResponseHeader, kv: KeyValue): Promise<void> =>
        writeInOrder(call, scope, {
          header: encodeHeader(header, headerFill(backend)), kv: encodeKeyValue(kv),
        });
      observeLeader({ backend, context: scope.context, name, signal: cancel.signal, send })
        .then(() => { scope.finish(); }, () => { scope.finish(); });
    },
  };
}
