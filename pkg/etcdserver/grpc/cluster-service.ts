/**
 * etcdserverpb.Cluster (etcd-api.md §9). etcd 3.4 leaves the header's revision at 0 on every
 * Cluster RPC (observed for MemberList), so these headers carry only cluster, member and term.
 * Member IDs are uint64s on the wire, as decimal strings.
 */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { EtcdError, nodeId } from "../../common/index.js";
import type { EtcdBackend, Member } from "../backend.js";
import { encodeHeader } from "../kv-response-codec.js";
import { type WireMessage, WireFieldError, boolField, int64Wire } from "../wire-fields.js";
import { revision } from "../../common/index.js";
import { type ServiceKit, headerFill, unaryCall } from "./service-kit.js";

const service = "etcdserverpb.Cluster";
const unary = (method: string): { service: string; method: string; type: "unary" } =>
  ({ service, method, type: "unary" });

/** etcdserverpb.Member. */
export function encodeMember(member: Member): object {
  return {
    ID: int64Wire(member.id),
    name: member.name,
    peerURLs: [...member.peerUrls],
    clientURLs: [...member.clientUrls],
    isLearner: member.isLearner,
  };
}

function clusterHeader(backend: EtcdBackend): object {
  return encodeHeader({ revision: revision(0) }, headerFill(backend));
}

/** A uint64 field (decimal string, number or bigint). */
export function uint64Field(message: WireMessage, field: string): bigint {
  const value = message[field];
  if (value === undefined || value === null) return 0n;
  if (typeof value === "bigint") return nodeId(value);
  if (typeof value === "number" && Number.isSafeInteger(value)) return nodeId(BigInt(value));
  if (typeof value === "string" && /^\d+$/.test(value)) return nodeId(BigInt(value));
  throw new WireFieldError(`${field} is not a uint64`);
}

function stringList(message: WireMessage, field: string): string[] {
  const value = message[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new WireFieldError(`${field} is not a list of strings`);
  }
  return value;
}

/** etcd parses peer URLs with types.NewURLs; a bad one is refused before anything else. */
function peerUrlsOf(message: WireMessage): string[] {
  const urls = stringList(message, "peerURLs");
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new EtcdError("ETCD_MEMBER_BAD_URLS");
    }
    const schemeOk = parsed.protocol === "http:" || parsed.protocol === "https:";
    if (!schemeOk || parsed.port === "" || parsed.pathname.length > 1) {
      throw new EtcdError("ETCD_MEMBER_BAD_URLS");
    }
  }
  return urls;
}

/** The Cluster service implementation for grpc-js. */
export function clusterService(kit: ServiceKit): UntypedServiceImplementation {
  const { backend } = kit;
  const answer = async (): Promise<object> => ({
    header: clusterHeader(backend),
    members: (await backend.memberList()).map(encodeMember),
  });
  return {
    MemberAdd: unaryCall(kit, unary("MemberAdd"), async (wire) => {
      const added = await backend.memberAdd(peerUrlsOf(wire), boolField(wire, "isLearner"));
      return {
        header: clusterHeader(backend),
        member: { ...encodeMember(added), name: "", clientURLs: [] },
        members: (await backend.memberList()).map(encodeMember),
      };
    }),
    MemberRemove: unaryCall(kit, unary("MemberRemove"), async (wire) => {
      await backend.memberRemove(nodeId(uint64Field(wire, "ID")));
      return answer();
    }),
    MemberUpdate: unaryCall(kit, unary("MemberUpdate"), async (wire) => {
      await backend.memberUpdate(nodeId(uint64Field(wire, "ID")), stringList(wire, "peerURLs"));
      return answer();
    }),
    MemberList: unaryCall(kit, unary("MemberList"), answer),
    MemberPromote: unaryCall(kit, unary("MemberPromote"), async (wire) => {
      await backend.memberPromote(nodeId(uint64Field(wire, "ID")));
      return answer();
    }),
  };
}
