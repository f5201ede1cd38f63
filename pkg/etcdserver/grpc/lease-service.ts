/**
 * etcdserverpb.Lease (etcd-api.md §7). Grant, Revoke, TimeToLive and Leases are unary; the
 * KeepAlive stream answers every request, in order, with {header, ID, TTL}: TTL 0 for a
 * missing or expired lease (not an error). The header is taken before the renewal, as etcd
 * does, so it never shows a revision later than the renewal. A stream reads at most
 * etcdLeaseKeepAliveInflightMax requests ahead of its answers, then stops reading.
 */
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { type LeaseId, leaseId, limits } from "../../common/index.js";
import { boolField, int64Field, int64Wire, messageOf } from "../wire-fields.js";
import { StreamScope, writeInOrder } from "./stream-scope.js";
import {
  type ServiceKit,
  checkProposalSize,
  currentHeader,
  unaryCall,
} from "./service-kit.js";

const service = "etcdserverpb.Lease";
const unary = (method: string): { service: string; method: string; type: "unary" } =>
  ({ service, method, type: "unary" });

function keepAliveStream(kit: ServiceKit, call: ServerDuplexStream<unknown, object>): void {
  const label = { service, method: "LeaseKeepAlive", type: "bidi_stream" } as const;
  const scope = StreamScope.open(kit, label, call);
  if (scope === null) return;
  const queue: LeaseId[] = [];
  let clientDone = false;
  let pumping = false;
  const pump = async (): Promise<void> => {
    pumping = true;
    for (let id = queue.shift(); id !== undefined && !scope.ended; id = queue.shift()) {
      if (queue.length < limits.etcdLeaseKeepAliveInflightMax) call.resume();
      const header = currentHeader(kit.backend);
      const ttl = await kit.backend.leaseKeepAlive(id);
      await writeInOrder(call, scope, { header, ID: int64Wire(id), TTL: int64Wire(ttl) });
    }
    pumping = false;
    if (clientDone) scope.finish();
  };
  const startPump = (): void => {
    if (!pumping) pump().catch((error: unknown) => { scope.fail(error); });
  };
  call.on("data", (wire: unknown) => {
    try {
      queue.push(leaseId(int64Field(messageOf(wire, "request"), "ID")));
    } catch (error: unknown) {
      scope.fail(error);
      return;
    }
    if (queue.length >= limits.etcdLeaseKeepAliveInflightMax) call.pause();
    startPump();
  });
  call.on("end", () => {
    clientDone = true;
    if (!pumping) scope.finish();
  });
  call.on("error", () => undefined);
}

/** The Lease service implementation for grpc-js. */
export function leaseService(kit: ServiceKit): UntypedServiceImplementation {
  const { backend } = kit;
  return {
    LeaseGrant: unaryCall(kit, unary("LeaseGrant"), async (wire, context) => {
      const id = leaseId(int64Field(wire, "ID"));
      const ttlSeconds = int64Field(wire, "TTL");
      checkProposalSize(kit, wire);
      const granted = await backend.leaseGrant(context, id, ttlSeconds);
      return {
        header: currentHeader(backend),
        ID: int64Wire(granted.id),
        TTL: int64Wire(granted.ttlSeconds),
        error: "",
      };
    }),
    LeaseRevoke: unaryCall(kit, unary("LeaseRevoke"), async (wire, context) => {
      const id = leaseId(int64Field(wire, "ID"));
      checkProposalSize(kit, wire);
      await backend.leaseRevoke(context, id);
      return { header: currentHeader(backend) };
    }),
    LeaseTimeToLive: unaryCall(kit, unary("LeaseTimeToLive"), async (wire) => {
      const id = leaseId(int64Field(wire, "ID"));
      const live = await backend.leaseTimeToLive(id, boolField(wire, "keys"));
      return {
        header: currentHeader(backend),
        ID: int64Wire(live.id),
        TTL: int64Wire(live.ttlSeconds),
        grantedTTL: int64Wire(live.grantedTtlSeconds),
        keys: live.keys.map((key) => Buffer.from(key)),
      };
    }),
    LeaseLeases: unaryCall(kit, unary("LeaseLeases"), async () => {
      const leases = await backend.leaseLeases();
      return {
        header: currentHeader(backend),
        leases: leases.map((id) => ({ ID: int64Wire(id) })),
      };
    }),
    LeaseKeepAlive: (call: ServerDuplexStream<unknown, object>) => {
      keepAliveStream(kit, call);
    },
  };
}
