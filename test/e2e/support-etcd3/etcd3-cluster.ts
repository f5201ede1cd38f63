// Shared set-up of the etcd3 client tests (test/e2e/etcd3-*.test.ts): a 3-member cluster of
// pfsd (the subject) or of real etcd 3.4.23 (the reference), and etcd3 clients pointed at some
// or all of its members, over TLS when the cluster has it.
//
// The kind comes from PFS_ETCD3_KIND ("pfsd" by default, "etcd" to check a test against the
// reference), so CI runs each file once, against pfsd.
import { existsSync, readFileSync } from "node:fs";
import { Etcd3, type IOptions } from "etcd3";
import {
  type ClusterMember, type ClusterTls, type MemberCluster, type MemberKind, startCluster,
} from "../../support/member-cluster.js";
import { makeTlsCerts, type TlsCerts } from "../../support/tls-certs.js";

/** How long one unary call may take before the client gives up on it (streams: no bound). */
const callDeadlineMs = 10_000;

/**
 * The watch manager's wait before it reopens a broken watch stream: constant and short. etcd3's
 * default backoff grows to 30 s and its pending timer, never unref'd, keeps the test process
 * alive that long after the last watcher is gone.
 */
const watchReconnectMs = 250;

/** A cockatiel backoff (the shape etcd3 calls: duration, next()) that never grows. */
interface ConstantBackoff {
  readonly duration: number;
  next(): ConstantBackoff;
}

const constantWatchBackoff: ConstantBackoff = {
  duration: watchReconnectMs,
  next: () => constantWatchBackoff,
};

/** The member kind under test: PFS_ETCD3_KIND, default pfsd. */
export function memberKind(): MemberKind {
  const kind = process.env["PFS_ETCD3_KIND"] ?? "pfsd";
  if (kind !== "pfsd" && kind !== "etcd") throw new Error(`PFS_ETCD3_KIND=${kind}`);
  return kind;
}

/** A running cluster, its certificates when it uses TLS, and a way to make clients. */
export interface Etcd3Cluster {
  readonly cluster: MemberCluster;
  readonly certs: TlsCerts | undefined;
  /** A client of the given members (default all), with the client certificate under TLS. */
  client(members?: readonly ClusterMember[], extra?: Partial<IOptions>): Etcd3;
  /** Closes every client made here, kills the members (-9), removes data and certificates. */
  stop(): Promise<void>;
}

export interface Etcd3ClusterOptions {
  /** Client TLS on every member, with --client-cert-auth when "client-cert-auth". */
  readonly tls?: "server-only" | "client-cert-auth";
  readonly size?: number;
}

function clientTls(certs: TlsCerts, clientCertAuth: boolean): ClusterTls {
  return { caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile, clientCertAuth };
}

function credentialsOf(certs: TlsCerts | undefined): IOptions["credentials"] {
  if (certs === undefined) return undefined;
  return {
    rootCertificate: readFileSync(certs.caFile),
    privateKey: readFileSync(certs.clientKeyFile),
    certChain: readFileSync(certs.clientCertFile),
  };
}

/** Starts a cluster of memberKind() (3 members unless told); data dirs in /dev/shm if any. */
export async function startEtcd3Cluster(options: Etcd3ClusterOptions = {}): Promise<Etcd3Cluster> {
  const certs = options.tls === undefined ? undefined : await makeTlsCerts();
  const tls = certs === undefined
    ? undefined
    : clientTls(certs, options.tls === "client-cert-auth");
  let cluster: MemberCluster;
  try {
    cluster = await startCluster({
      kind: memberKind(),
      size: options.size ?? 3,
      ...(existsSync("/dev/shm") ? { parentDir: "/dev/shm" } : {}),
      ...(tls === undefined ? {} : { clientTls: tls }),
    });
  } catch (error: unknown) {
    await certs?.cleanup();
    throw error;
  }
  const clients: Etcd3[] = [];
  const client = (members: readonly ClusterMember[] = cluster.members,
    extra: Partial<IOptions> = {}): Etcd3 => {
    const credentials = credentialsOf(certs);
    const etcd = new Etcd3({
      hosts: members.map((member) => member.clientUrl),
      defaultCallOptions: (context) => context.isStream
        ? {}
        : { deadline: Date.now() + callDeadlineMs },
      ...(credentials === undefined ? {} : { credentials }),
      faultHandling: { watchBackoff: constantWatchBackoff },
      ...extra,
    });
    clients.push(etcd);
    return etcd;
  };
  const stop = async (): Promise<void> => {
    for (const etcd of clients) etcd.close();
    // kill -9 first: a graceful stop of a 3-member etcd takes seconds and is tested elsewhere
    await Promise.all(cluster.members.map((member) => member.kill9()));
    await cluster.stop();
    await certs?.cleanup();
  };
  return { cluster, certs, client, stop };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 50 ms until it holds; rejects with `what` after `timeoutMs`. */
export async function eventually(what: string, timeoutMs: number,
  condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}

/** The member that is Raft leader now, as the members' Status reports it. */
export async function leaderMember(etcd3: Etcd3Cluster): Promise<ClusterMember> {
  const running = etcd3.cluster.members.filter((member) => member.running);
  for (const member of running) {
    const etcd = etcd3.client([member]);
    try {
      const status = await etcd.maintenance.status({});
      if (status.leader === status.header.member_id) return member;
    } catch {
      // this member cannot say; ask the next
    } finally {
      etcd.close();
    }
  }
  throw new Error("no member reports itself the leader");
}
