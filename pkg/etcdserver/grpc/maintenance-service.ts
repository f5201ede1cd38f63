/**
 * etcdserverpb.Maintenance (etcd-api.md §9). Headers as etcd 3.4 sends them: Status, Hash and
 * HashKV carry a full header (HashKV's revision is the revision hashed); Alarm, Defragment,
 * MoveLeader and the Snapshot stream leave it unset.
 */
import type {
  ServerWritableStream,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { nodeId } from "../../common/index.js";
import type { AlarmAction, AlarmType } from "../backend.js";
import { clampedInt64Field, enumField, int64Wire } from "../wire-fields.js";
import { uint64Field } from "./cluster-service.js";
import { type ServiceKit, checkProposalSize, currentHeader, unaryCall } from "./service-kit.js";
import { snapshotChunks } from "./snapshot-chunks.js";
import { StreamScope, writeInOrder } from "./stream-scope.js";

const service = "etcdserverpb.Maintenance";
const unary = (method: string): { service: string; method: string; type: "unary" } =>
  ({ service, method, type: "unary" });
const alarmActions: readonly AlarmAction[] = ["GET", "ACTIVATE", "DEACTIVATE"];
const alarmTypes: readonly AlarmType[] = ["NONE", "NOSPACE", "CORRUPT"];

function snapshotStream(kit: ServiceKit, call: ServerWritableStream<unknown, object>): void {
  const label = { service, method: "Snapshot", type: "server_stream" } as const;
  const scope = StreamScope.open(kit, label, call);
  if (scope === null) return;
  const send = async (): Promise<void> => {
    const chunks = snapshotChunks(await kit.backend.snapshot(scope.context));
    for (const chunk of chunks) {
      if (scope.ended) return;
      await writeInOrder(call, scope, {
        remaining_bytes: int64Wire(chunk.remainingBytes),
        blob: Buffer.from(chunk.blob),
      });
    }
    scope.finish();
  };
  send().catch((error: unknown) => { scope.fail(error); });
}

/** The Maintenance service implementation for grpc-js. */
export function maintenanceService(kit: ServiceKit): UntypedServiceImplementation {
  const { backend } = kit;
  return {
    Alarm: unaryCall(kit, unary("Alarm"), async (wire) => {
      checkProposalSize(kit, wire);
      const alarms = await backend.alarm(
        enumField(wire, "action", alarmActions),
        nodeId(uint64Field(wire, "memberID")),
        enumField(wire, "alarm", alarmTypes),
      );
      return {
        alarms: alarms.map((member) => ({
          memberID: int64Wire(member.memberId), alarm: member.alarm,
        })),
      };
    }),
    Status: unaryCall(kit, unary("Status"), async () => {
      const status = await backend.status();
      return {
        header: currentHeader(backend, status.revision),
        version: status.version,
        dbSize: int64Wire(status.dbSize),
        leader: int64Wire(status.leader),
        raftIndex: int64Wire(status.raftIndex),
        raftTerm: int64Wire(status.raftTerm),
        raftAppliedIndex: int64Wire(status.raftAppliedIndex),
        errors: [...status.errors],
        dbSizeInUse: int64Wire(status.dbSizeInUse),
        isLearner: status.isLearner,
      };
    }, { learnerAllowed: () => true }),
    Defragment: unaryCall(kit, unary("Defragment"), async (_wire, context) => {
      await backend.defragment(context);
      return {};
    }),
    Hash: unaryCall(kit, unary("Hash"), async (_wire, context) => {
      const hash = await backend.hash(context);
      return { header: currentHeader(backend), hash };
    }),
    HashKV: unaryCall(kit, unary("HashKV"), async (wire, context) => {
      const hashed = await backend.hashKv(context, clampedInt64Field(wire, "revision"));
      return {
        header: currentHeader(backend, hashed.revision),
        hash: hashed.hash,
        compact_revision: int64Wire(hashed.compactRevision),
      };
    }),
    MoveLeader: unaryCall(kit, unary("MoveLeader"), async (wire) => {
      await backend.moveLeader(nodeId(uint64Field(wire, "targetID")));
      return {};
    }),
    Snapshot: (call: ServerWritableStream<unknown, object>) => {
      snapshotStream(kit, call);
    },
  };
}
