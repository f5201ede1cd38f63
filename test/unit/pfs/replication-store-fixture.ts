// Shared pieces of the replication tests that run against a real member (etcd or pfsd): a
// client configured as a node configures its own (deadlines on unary calls only, no circuit
// breaker, a watch backoff that never grows), and where member data goes.
import { existsSync } from "node:fs";
import { noop } from "cockatiel";
import { Etcd3 } from "etcd3";
import type { MemberCluster } from "../../support/member-cluster.js";

/** Parent of the members' data directories: /dev/shm when there is one (fsync is free). */
export const memberParentDir: { parentDir?: string } =
  existsSync("/dev/shm") ? { parentDir: "/dev/shm" } : {};

/** A watch backoff that never grows (etcd3's default leaves a 30 s timer behind). */
interface ConstantBackoff { readonly duration: number; next(): ConstantBackoff }
const constantBackoff: ConstantBackoff = { duration: 250, next: () => constantBackoff };

/** A client of `cluster`, remembered in `clients` so the test file closes it at the end. */
export function storeClient(cluster: MemberCluster, clients: Etcd3[]): Etcd3 {
  const client = new Etcd3({
    hosts: cluster.members.map((member) => member.clientUrl),
    defaultCallOptions: (context) => context.isStream ? {} : { deadline: Date.now() + 10_000 },
    faultHandling: { watchBackoff: constantBackoff, host: () => noop },
  });
  clients.push(client);
  return client;
}
