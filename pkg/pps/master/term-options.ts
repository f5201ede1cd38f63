/**
 * What one term of the pps master runs with: the store fenced by the term's election key,
 * the signal that aborts when the term is over, and the node's clients.
 */
import type { Etcd3 } from "etcd3";
// eslint-disable-next-line pfs/boundaries -- the pfs client alone (pps calls pfs as a client)
import type { PfsClient } from "../../pfs/client/index.js";
import type { Clock, Logger } from "../../common/index.js";
import type { MasterStore } from "./master-store.js";

export interface TermOptions {
  /** The root client the caches watch with. */
  readonly client: Etcd3;
  /** Every write of the term goes through it (fenced). */
  readonly store: MasterStore;
  readonly pfs: PfsClient;
  /** The cluster's shard count S. */
  readonly shards: number;
  /** Aborts when the term is over (lease lost, resigned). */
  readonly over: AbortSignal;
  readonly clock: Clock;
  readonly logger: Logger;
}
