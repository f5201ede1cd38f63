// Two fresh single-member servers side by side for raw gRPC differential tests: the reference,
// always a real etcd 3.4.23, and the subject, pfsd by default (PFS_DIFF_SUBJECT=etcd makes it a
// second etcd, which must agree with the first under the same masking: the check that the
// comparison itself is sound). Both get the very same etcd flags from test/support's
// member-cluster, their data directories on /dev/shm when it exists so that fsync is free.
import { existsSync } from "node:fs";
import type { Client } from "@grpc/grpc-js";
import {
  type MemberCluster, type MemberKind, startCluster,
} from "../../support/member-cluster.js";
import { etcdService } from "./etcd-process.js";

/** The etcd services a differential test calls, by short name. */
export const grpcServiceNames = ["KV", "Lease", "Watch", "Maintenance", "Cluster"] as const;
export type GrpcServiceName = (typeof grpcServiceNames)[number];

/** One running member and a raw client per service. */
export interface GrpcMember {
  /** "etcd" or "pfsd", for messages. */
  readonly kind: MemberKind;
  /** host:port of the client URL. */
  readonly address: string;
  readonly clients: Readonly<Record<GrpcServiceName, Client>>;
  /** The member's stderr so far, for failure messages. */
  log(): string;
}

/** The reference etcd and the subject, started together. */
export interface GrpcPair {
  readonly reference: GrpcMember;
  readonly subject: GrpcMember;
  /** Closes the clients, stops both members and removes their data. */
  stop(): Promise<void>;
}

/** What PFS_DIFF_SUBJECT asks for (default pfsd). */
export function subjectKind(): MemberKind {
  const wanted = process.env["PFS_DIFF_SUBJECT"] ?? "pfsd";
  if (wanted !== "etcd" && wanted !== "pfsd") {
    throw new Error(`PFS_DIFF_SUBJECT must be etcd or pfsd, not ${wanted}`);
  }
  return wanted;
}

function openClients(cluster: MemberCluster): GrpcMember {
  const member = cluster.members[0];
  if (member === undefined) throw new Error("cluster has no member");
  const entries = grpcServiceNames.map((name) => {
    const Service = etcdService(`etcdserverpb.${name}`);
    return [name, new Service(member.clientAddress, cluster.credentials())] as const;
  });
  const clients = Object.fromEntries(entries) as unknown as Record<GrpcServiceName, Client>;
  return { kind: cluster.kind, address: member.clientAddress, clients, log: () => member.log() };
}

function closeClients(member: GrpcMember): void {
  for (const client of Object.values(member.clients)) client.close();
}

/** Starts a fresh etcd and a fresh subject (in parallel); resolves once both serve. */
export async function startGrpcPair(): Promise<GrpcPair> {
  const parentDir = existsSync("/dev/shm") ? "/dev/shm" : undefined;
  const options = (kind: MemberKind): { kind: MemberKind; parentDir?: string } =>
    parentDir === undefined ? { kind } : { kind, parentDir };
  const started = await Promise.allSettled([
    startCluster(options("etcd")), startCluster(options(subjectKind())),
  ]);
  const clusters = started.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
  const failed = started.find((result) => result.status === "rejected");
  if (failed !== undefined || clusters.length !== 2) {
    await Promise.all(clusters.map((cluster) => cluster.stop()));
    throw failed?.status === "rejected" ? failed.reason : new Error("a member did not start");
  }
  const [referenceCluster, subjectCluster] = clusters as [MemberCluster, MemberCluster];
  const reference = openClients(referenceCluster);
  const subject = openClients(subjectCluster);
  return {
    reference, subject,
    stop: async (): Promise<void> => {
      closeClients(reference);
      closeClients(subject);
      await Promise.all([referenceCluster.stop(), subjectCluster.stop()]);
    },
  };
}
