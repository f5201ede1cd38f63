/**
 * The configuration of one Raft node: identity, timing in ticks, flow-control bounds and the
 * storage it starts from. Defaults come from pkg/common/limits.ts; `validateConfig` refuses
 * bad combinations before a node is built.
 */
import { type LogIndex, type NodeId, type Result, err, limits, ok } from "../common/index.js";
import type { Storage } from "./types.js";

/** What a caller passes to `new RawNode(...)`: optional fields take the defaults. */
export interface RaftConfig {
  /** This node's id; never 0n. */
  readonly id: NodeId;
  /** Election timeout in ticks; randomized per term in [electionTicks, 2 * electionTicks). */
  readonly electionTicks: number;
  /** Heartbeat interval in ticks; must be below electionTicks. */
  readonly heartbeatTicks: number;
  /** The stable log and persisted state the node starts from (read-only to the core). */
  readonly storage: Storage;
  /**
   * The last index the state machine applied before a restart (0 on a fresh node); at most
   * the persisted commit. Committed entries after it are handed out again. Conf changes
   * after the ConfState that `storage.initialState()` returns must be re-applied through
   * `applyConfChange`, so either pass the index that ConfState was taken at (the snapshot
   * index, letting the state machine skip entries it already has, as etcd's consistent
   * index) or make initialState return the ConfState as of `applied`.
   */
  readonly applied?: LogIndex;
  /** Seed of the PRNG that randomizes the election timeout (deterministic replay). */
  readonly seed: number;
  /** Pre-vote (thesis §9.6): a partitioned node does not disrupt the cluster. Default true. */
  readonly preVote?: boolean;
  /** Check quorum: a leader steps down without a live quorum; default true. */
  readonly checkQuorum?: boolean;
  /** Bytes of entry data per appendEntries message (at least one entry is always sent). */
  readonly maxMessageBytes?: number;
  /** Entries per appendEntries message. */
  readonly maxEntriesPerMessage?: number;
  /** Appends in flight to one follower in replicate state (the pipelining window). */
  readonly maxInflightMessages?: number;
  /** Bytes in flight to one follower; 0 = no byte limit. */
  readonly maxInflightBytes?: number;
  /** Bytes of uncommitted entry data the leader accepts before refusing proposals. */
  readonly maxUncommittedBytes?: number;
}

/** A validated configuration with every default filled in. */
export interface ResolvedRaftConfig {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly storage: Storage;
  readonly applied: LogIndex;
  readonly seed: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxMessageBytes: number;
  readonly maxEntriesPerMessage: number;
  readonly maxInflightMessages: number;
  readonly maxInflightBytes: number;
  readonly maxUncommittedBytes: number;
}

function positiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

/**
 * Fills defaults and checks the configuration. Errors (a sentence naming the field and value):
 * id 0; non-positive ticks; heartbeat not below election; non-positive limits; a byte window
 * smaller than one message; applied not a non-negative integer.
 */
export function validateConfig(config: RaftConfig): Result<ResolvedRaftConfig, string> {
  const resolved: ResolvedRaftConfig = {
    id: config.id,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    storage: config.storage,
    applied: config.applied ?? (0 as LogIndex),
    seed: config.seed,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    maxMessageBytes: config.maxMessageBytes ?? limits.raftMessageBytesMax,
    maxEntriesPerMessage: config.maxEntriesPerMessage ?? limits.raftEntriesPerMessageMax,
    maxInflightMessages: config.maxInflightMessages ?? limits.raftInflightMessagesMax,
    maxInflightBytes: config.maxInflightBytes ?? limits.raftInflightBytesMax,
    maxUncommittedBytes: config.maxUncommittedBytes ?? limits.raftUncommittedBytesMax,
  };
  const r = resolved;
  if (r.id === 0n) return err("raft id must not be 0");
  if (!positiveInteger(r.heartbeatTicks)) return err(`heartbeat ticks ${r.heartbeatTicks} <= 0`);
  if (!positiveInteger(r.electionTicks)) return err(`election ticks ${r.electionTicks} <= 0`);
  if (r.heartbeatTicks >= r.electionTicks) {
    return err(`heartbeat ticks ${r.heartbeatTicks} must be below election ${r.electionTicks}`);
  }
  if (!Number.isSafeInteger(r.applied) || r.applied < 0) return err(`applied ${r.applied} < 0`);
  if (!Number.isSafeInteger(r.seed) || r.seed < 0) return err(`seed ${r.seed} is not valid`);
  if (!positiveInteger(r.maxMessageBytes)) return err(`maxMessageBytes ${r.maxMessageBytes}`);
  if (!positiveInteger(r.maxEntriesPerMessage)) {
    return err(`maxEntriesPerMessage ${r.maxEntriesPerMessage} <= 0`);
  }
  if (!positiveInteger(r.maxInflightMessages)) {
    return err(`maxInflightMessages ${r.maxInflightMessages} <= 0`);
  }
  if (!Number.isSafeInteger(r.maxInflightBytes) || r.maxInflightBytes < 0) {
    return err(`maxInflightBytes ${r.maxInflightBytes} < 0`);
  }
  if (r.maxInflightBytes !== 0 && r.maxInflightBytes < r.maxMessageBytes) {
    return err(`maxInflightBytes ${r.maxInflightBytes} below maxMessageBytes ${r.maxMessageBytes}`);
  }
  if (!positiveInteger(r.maxUncommittedBytes)) {
    return err(`maxUncommittedBytes ${r.maxUncommittedBytes} <= 0`);
  }
  return ok(Object.freeze(resolved));
}
