/**
 * `RawNode`: the synchronous, single-threaded API of the Raft core (etcd-io/raft rawnode.go).
 * Everything enters through its methods; everything leaves through `ready()`.
 */
import { AssertionError, type LogIndex, type NodeId, type Result } from "../common/index.js";
import type { RaftConfig } from "./config.js";
import type { Message } from "./message.js";
import type { ProposalError, RequestError, StepError } from "./raft-error.js";
import type { Ready } from "./ready.js";
import type { Status } from "./status.js";
import type { ConfChange, ConfState } from "./types.js";

function notYet(...args: unknown[]): never {
  throw new AssertionError(`RawNode: signatures only in this commit (${args.length} args)`);
}

/** One Raft node. Not thread-safe by design: one driver owns it. */
export class RawNode {
  constructor(_config: RaftConfig) {
    notYet(_config);
  }
  tick(): void { notYet(); }
  step(_message: Message): Result<void, StepError> { notYet(_message); }
  campaign(): void { notYet(); }
  propose(_data: Uint8Array): Result<void, ProposalError> { notYet(_data); }
  proposeConfChange(_cc: ConfChange): Result<void, ProposalError> { notYet(_cc); }
  applyConfChange(_cc: ConfChange): ConfState { notYet(_cc); }
  readIndex(_context: Uint8Array): Result<void, RequestError> { notYet(_context); }
  transferLeader(_to: NodeId): Result<void, RequestError> { notYet(_to); }
  reportUnreachable(_id: NodeId): void { notYet(_id); }
  reportSnapshot(_id: NodeId, _succeeded: boolean): void { notYet(_id, _succeeded); }
  hasReady(): boolean { notYet(); }
  ready(): Ready { notYet(); }
  advance(): void { notYet(); }
  status(): Status { notYet(); }
  applied(): LogIndex { notYet(); }
}
