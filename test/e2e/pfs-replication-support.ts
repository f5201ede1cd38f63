// Shared set-up of the replication e2e tests (test/e2e/pfs-replication-*.test.ts): one
// single-member coordination store of each kind (real etcd 3.4.23 and pfsd's embedded layer),
// etcd3 clients on it, and a way to revoke a campaign's lease from outside.
import { existsSync } from "node:fs";
import test from "ava";
import { Etcd3 } from "etcd3";
import { type MemberCluster, type MemberKind, startCluster } from "../support/member-cluster.js";

/** How long one unary call may take (streams: no bound). */
const callDeadlineMs = 10_000;
/** A broken watch reopens after this long, constant (etcd3's default grows to 30 s). */
const watchReconnectMs = 250;

interface ConstantBackoff {
  readonly duration: number;
  next(): ConstantBackoff;
}
const constantBackoff: ConstantBackoff = { duration: watchReconnectMs, next: () => constantBackoff };

/** A running store and the clients made on it (closed by `stop`). */
export interface Store {
  readonly kind: MemberKind;
  readonly cluster: MemberCluster;
  client(): Etcd3;
  stop(): Promise<void>;
}

/** Starts one member of `kind` (data in /dev/shm when there is one). */
export async function startStore(kind: MemberKind): Promise<Store> {
  const cluster = await startCluster({
    kind, size: 1, ...(existsSync("/dev/shm") ? { parentDir: "/dev/shm" } : {}),
  });
  const clients: Etcd3[] = [];
  const client = (): Etcd3 => {
    const etcd = new Etcd3({
      hosts: cluster.members.map((member) => member.clientUrl),
      defaultCallOptions: (context) => context.isStream
        ? {}
        : { deadline: Date.now() + callDeadlineMs },
      faultHandling: { watchBackoff: constantBackoff },
    });
    clients.push(etcd);
    return etcd;
  };
  const stop = async (): Promise<void> => {
    for (const etcd of clients) etcd.close();
    await Promise.all(cluster.members.map((member) => member.kill9()));
    await cluster.stop();
  };
  return { kind, cluster, client, stop };
}

/** Revokes the lease whose id ends an election key (as the etcd3 election names its keys). */
export async function revokeLeaseOfKey(client: Etcd3, key: string): Promise<void> {
  const id = key.slice(key.lastIndexOf("/") + 1);
  if (!/^[0-9]+$/.test(id)) throw new Error(`${key} does not end with a lease id`);
  await client.leaseClient.leaseRevoke({ ID: id });
}

/** Every key under `prefix`. */
export async function keysUnder(client: Etcd3, prefix: string): Promise<string[]> {
  return client.getAll().prefix(prefix).keys();
}

/**
 * Starts one store of each kind before the file's tests and stops them after; returns the
 * accessor the tests use.
 */
export function useStores(kinds: readonly MemberKind[]): (kind: MemberKind) => Store {
  const stores = new Map<MemberKind, Store>();
  test.before(async () => {
    // One after the other: ports are probed free and bound later, so two members started at
    // once could be handed the same port.
    for (const kind of kinds) stores.set(kind, await startStore(kind));
  });
  test.after.always(async () => {
    await Promise.all([...stores.values()].map((store) => store.stop()));
  });
  return (kind) => {
    const store = stores.get(kind);
    if (store === undefined) throw new Error(`no ${kind} store`);
    return store;
  };
}
