/**
 * `MemberCore`: the running member behind `startEtcdMember` (etcd-member.ts), and the
 * `EtcdBackend` the gRPC services call. See etcd-member.ts for the read, write, lease and
 * watch rules. Besides the backend it offers `close()` (graceful: rejects what is pending
 * with ETCD_STOPPED, stops Raft, the transport and the WAL; well under 10 s), `peerPort`
 * (the bound peer port) and `raftStatus()`.
 */
import {
  EtcdError, LoopMonitor, PfsError, assert, formatHexId, limits, ok, type Clock, type Result,
  type LeaseId, type Logger, type NodeId, type PfsdConfig, type Prng, type Timer,
} from "../../common/index.js";
import { ConfChangeType, type ConfChange, type Role } from "../../raft/index.js";
import type { GrpcTransport, RaftNode, RaftNodeStatus } from "../../raftnode/index.js";
import type {
  AlarmAction, AlarmMember, AlarmType, CallContext, EtcdBackend, Member, MemberStatus,
  Permission,
} from "../backend.js";
import { chooseLeaseId, grantedTtlSeconds, type LeaseTimeToLive } from "../lease/index.js";
import {
  checkDeleteRangeRequest, checkPutRequest, checkRangeRequest, checkTxnRequest,
  type CompactionRequest, type CompactionResponse, type DeleteRangeRequest,
  type DeleteRangeResponse, type PutRequest, type PutResponse, type RangeRequest,
  type RangeResponse, type RequestOp, type TxnRequest, type TxnResponse,
} from "../mvcc/index.js";
import type { WatchCreateRequest, WatchHub, WatchStream } from "../watch/index.js";
import {
  encodeAuthRequest, hashPassword, newSimpleTokenPrefix, simpleTokenIndex, type AuthRequest,
  type AuthStore,
} from "../auth/index.js";
import type { MemberMetrics } from "../metrics/index.js";
import type { LeaseForwarder } from "./lease-forwarder.js";
import type { MemberIdentity } from "./member-bootstrap.js";
import { computeMemberId, peerAddress } from "./member-id.js";
import { ProposalGate } from "./proposal-gate.js";
import { encodeEtcdRequest, type EtcdRequest } from "./request-codec.js";
import type { ApplyResult, ApplyValue, EtcdStateMachine } from "./state-machine.js";

/** The version Status reports: a 3.4 server, as clients expect. */
const serverVersion = "3.4.23";

export interface MemberCoreOptions {
  readonly config: PfsdConfig;
  readonly identity: MemberIdentity;
  readonly machine: EtcdStateMachine;
  readonly transport: GrpcTransport;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly electionTicks: number;
  readonly forwarder: LeaseForwarder;
  readonly prng: Prng;
  readonly onFatal?: (error: unknown) => void;
  /** Told of leader changes, proposals ending and lease grants and revocations. */
  readonly metrics?: MemberMetrics;
}

/** What pfsd gets from `startEtcdMember`: the backend plus its lifecycle. */
export interface EtcdMember extends EtcdBackend {
  /** The bound peer port (useful when --listen-peer-urls names port 0). */
  readonly peerPort: number;
  /** The Raft driver's view (leader, term, indexes); cheap. */
  raftStatus(): RaftNodeStatus;
  /** On the leader, the other members that answered within the last election timeout. */
  activePeers(): readonly NodeId[];
  /** Graceful stop; pending requests fail with ETCD_STOPPED. Idempotent. */
  close(): Promise<void>;
}

export class MemberCore implements EtcdMember {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  readonly #options: MemberCoreOptions;
  readonly #machine: EtcdStateMachine;
  readonly #gate = new ProposalGate();
  readonly #streams = new Map<WatchStream, () => void>();
  readonly #leaderLost = new Set<() => void>();
  readonly #revokeWaiters = new Map<bigint, Set<() => void>>();
  #raft: RaftNode<ApplyResult> | undefined;
  #hub: WatchHub | undefined;
  #housekeeping: Timer | undefined;
  #loopMonitor: LoopMonitor | undefined;
  #wakeScheduled = false;
  #leadership: { leader: NodeId; role: Role } | undefined;
  #published = false;
  /** True once this member's record was seen, and once it was seen removed. */
  #listed = false;
  #removed = false;
  #closing = false;

  constructor(options: MemberCoreOptions) {
    this.#options = options;
    this.#machine = options.machine;
    this.clusterId = options.identity.clusterId;
    this.memberId = options.identity.memberId;
    assert(this.memberId !== 0n, "a running member has an id");
  }

  /** Wires the hooks, starts Raft and the timers, and publishes this member's attributes. */
  async start(raft: RaftNode<ApplyResult>, hub: WatchHub): Promise<void> {
    this.#raft = raft;
    this.#hub = hub;
    this.#machine.setHooks({
      onEvents: (events) => {
        hub.publish(events);
        this.#scheduleWake();
      },
      onLeaseGranted: () => { this.#options.metrics?.leaseGranted(); },
      onLeaseRevoked: (id) => {
        this.#options.metrics?.leaseRevoked();
        this.#revoked(id);
      },
      onMembersChanged: () => { this.#membersChanged(); },
      onRestored: () => { this.#restored(); },
    });
    this.#loopMonitor = new LoopMonitor(this.#options.clock, this.#options.logger);
    this.#loopMonitor.start();
    await raft.start();
    this.#membersChanged();
    this.#scheduleHousekeeping();
    void this.#publishAttributes();
  }

  get peerPort(): number { return this.#options.transport.port; }

  raftStatus(): RaftNodeStatus { return this.#node().status(); }

  activePeers(): readonly NodeId[] { return this.#raft?.activePeers() ?? []; }

  /** The member's Raft loop died: stop serving and tell the owner. */
  fatal(error: unknown): void {
    this.#options.logger.error("etcd member stopped by a fatal error", { error });
    this.#options.onFatal?.(error);
  }

  /** Called by the driver between persist and send: only records and schedules. */
  leadershipChanged(leader: NodeId, role: Role): void {
    const known = this.#leadership?.leader;
    if (leader !== 0n && leader !== known) this.#options.metrics?.leaderChanged();
    this.#leadership = { leader, role };
    queueMicrotask(() => { this.#applyLeadership(); });
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#housekeeping?.cancel();
    this.#loopMonitor?.stop();
    this.#gate.close();
    for (const stream of [...this.#streams.keys()]) this.watchClose(stream);
    for (const waiters of this.#revokeWaiters.values()) for (const wake of waiters) wake();
    this.#revokeWaiters.clear();
    this.#options.forwarder.close();
    await this.#raft?.close();
  }

  // ---- header facts ----------------------------------------------------------------------

  raftTerm(): number { return this.#raft?.status().term ?? 0; }
  revision(): number { return this.#machine.store.revision; }
  hasLeader(): boolean { return (this.#raft?.status().leader ?? 0n) !== 0n; }

  isLearner(): boolean {
    return this.#machine.member(this.memberId)?.isLearner ??
      this.#node().membership().learners.includes(this.memberId);
  }

  // ---- KV ----------------------------------------------------------------------------------

  async range(context: CallContext, request: RangeRequest): Promise<RangeResponse> {
    unwrap(checkRangeRequest(request));
    await this.#permit(context, (auth, user) =>
      auth.checkRange(user, request.key, request.rangeEnd, "READ"));
    if (!request.serializable) {
      this.#refuseLearner();
      await this.#readBarrier();
    }
    return unwrap(this.#machine.store.range(request));
  }

  async put(context: CallContext, request: PutRequest): Promise<PutResponse> {
    unwrap(checkPutRequest(request));
    await this.#permit(context, (auth, user) => auth.checkPut(user, request));
    this.#checkWritable();
    const value = await this.#propose({ type: "put", request });
    assert(value.type === "put", () => `put answered with ${value.type}`);
    return value.response;
  }

  async deleteRange(context: CallContext,
    request: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    unwrap(checkDeleteRangeRequest(request));
    await this.#permit(context, (auth, user) => auth.checkDeleteRange(user, request));
    this.#refuseLearner();
    const value = await this.#propose({ type: "deleteRange", request });
    assert(value.type === "deleteRange", () => `delete answered with ${value.type}`);
    return value.response;
  }

  async txn(context: CallContext, request: TxnRequest): Promise<TxnResponse> {
    unwrap(checkTxnRequest(request));
    await this.#permit(context, (auth, user) => auth.checkTxn(user, request));
    this.#refuseLearner();
    if (txnIsReadOnly(request)) {
      await this.#readBarrier();
      const local = unwrap(this.#machine.store.txn(request));
      assert(local.events.length === 0, "a read-only txn wrote");
      return local.response;
    }
    this.#checkWritable();
    const value = await this.#propose({ type: "txn", request });
    assert(value.type === "txn", () => `txn answered with ${value.type}`);
    return value.response;
  }

  async compact(_context: CallContext, request: CompactionRequest): Promise<CompactionResponse> {
    this.#refuseLearner();
    const value = await this.#propose({ type: "compact", request });
    assert(value.type === "compact", () => `compact answered with ${value.type}`);
    return value.response;
  }

  // ---- leases ------------------------------------------------------------------------------

  async leaseGrant(_context: CallContext, id: LeaseId, ttlSeconds: bigint):
    Promise<{ readonly id: LeaseId; readonly ttlSeconds: number }> {
    this.#checkWritable();
    const leases = this.#machine.leases;
    unwrap(grantedTtlSeconds(ttlSeconds, 1));
    const chosen = id !== 0n ? id
      : chooseLeaseId(this.#options.prng, (candidate) => leases.leaseExists(candidate));
    const value = await this.#propose({ type: "leaseGrant", id: chosen, ttlSeconds });
    assert(value.type === "leaseGrant", () => `grant answered with ${value.type}`);
    return value.grant;
  }

  async leaseRevoke(_context: CallContext, id: LeaseId): Promise<void> {
    this.#refuseLearner();
    const value = await this.#propose({ type: "leaseRevoke", id });
    assert(value.type === "leaseRevoke", () => `revoke answered with ${value.type}`);
  }

  async leaseKeepAlive(id: LeaseId): Promise<number> {
    this.#refuseLearner();
    for (let attempt = 0; ; attempt += 1) {
      const leases = this.#machine.leases;
      if (leases.leading) {
        const ttl = leases.renew(id, this.#leaseNowMs());
        if (ttl === 0 && leases.leaseExists(id)) await this.#waitRevoke(id);
        return ttl;
      }
      const leader = this.#node().status().leader;
      if (leader === 0n) throw new EtcdError("ETCD_NO_LEADER");
      if (leader !== this.memberId) {
        return this.#options.forwarder.keepAlive(this.#leaderClientUrl(leader), id);
      }
      // Leader in Raft, promotion of the leases still queued: wait a tick.
      if (attempt * this.#options.config.heartbeatInterval > limits.raftRequestTimeoutMs) {
        throw new EtcdError("ETCD_TIMEOUT");
      }
      await this.#options.clock.sleep(this.#options.config.heartbeatInterval);
    }
  }

  async leaseTimeToLive(id: LeaseId, keys: boolean): Promise<LeaseTimeToLive> {
    const leases = this.#machine.leases;
    const leader = this.#raft?.status().leader ?? 0n;
    if (leases.leading || leader === 0n || leader === this.memberId ||
      !leases.leaseExists(id)) {
      return leases.timeToLive(id, keys, this.#leaseNowMs());
    }
    try {
      return await this.#options.forwarder.timeToLive(this.#leaderClientUrl(leader), id, keys);
    } catch (error) {
      // The leader's client API is unreachable: the local record is still right about the
      // granted TTL and the keys; only the remaining time is the leader's to know.
      this.#options.logger.debug("lease TimeToLive answered locally", { error: String(error) });
      return leases.timeToLive(id, keys, this.#leaseNowMs());
    }
  }

  leaseLeases(): Promise<readonly LeaseId[]> {
    return Promise.resolve(this.#machine.leases.leases());
  }

  // ---- watch -------------------------------------------------------------------------------

  watchOpen(onReady: () => void): WatchStream {
    this.#refuseLearner();
    const stream = this.#watchHub().openStream();
    this.#streams.set(stream, onReady);
    return stream;
  }

  watchCreate(context: CallContext, stream: WatchStream,
    request: WatchCreateRequest): string | undefined {
    const user = this.#callerNow(context);
    const allowed = user.ok ? this.#machine.auth.checkRange(user.value, request.key,
      request.rangeEnd, "READ") : user;
    if (!allowed.ok) return allowed.error.message;
    stream.create(request);
    this.#scheduleWake();
    return undefined;
  }

  watchClose(stream: WatchStream): void {
    this.#streams.delete(stream);
    this.#hub?.closeStream(stream);
  }

  onLeaderLost(listener: () => void): () => void {
    this.#leaderLost.add(listener);
    return () => { this.#leaderLost.delete(listener); };
  }

  // ---- cluster -----------------------------------------------------------------------------

  memberList(): Promise<readonly Member[]> {
    return Promise.resolve(this.#machine.members());
  }

  /**
   * etcd's AddMember: a random (time-hashed) ID, the member record through Raft (which
   * refuses a taken ID or peer URL), then the Raft change (AddLearner or AddNode, with the
   * peer address as context). A refused Raft change removes the record again.
   */
  async memberAdd(peerUrls: readonly string[], isLearner: boolean): Promise<Member> {
    this.#refuseLearner();
    assert(peerUrls.length > 0, "member add without peer URLs");
    const seconds = Math.floor(this.#options.clock.wallMs() / 1000);
    const member: Member = {
      id: computeMemberId(peerUrls, "", seconds), name: "", peerUrls: [...peerUrls],
      clientUrls: [], isLearner,
    };
    if (this.#machine.members().some((m) => m.peerUrls.some((url) => peerUrls.includes(url)))) {
      throw new EtcdError("ETCD_PEER_URL_EXIST");
    }
    if (!isLearner && !readyToAddVoter(this.#machine.members())) {
      throw new EtcdError("ETCD_UNHEALTHY");
    }
    await this.#propose({ type: "memberAdd", member });
    const type = isLearner ? ConfChangeType.AddLearner : ConfChangeType.AddNode;
    const context = new TextEncoder().encode(peerAddress(member.peerUrls[0] ?? ""));
    try {
      await this.#confChange({ type, nodeId: member.id, context });
    } catch (error) {
      await this.#propose({ type: "memberRemove", id: member.id }).catch(() => undefined);
      throw error;
    }
    return member;
  }

  /** etcd's RemoveMember: refuses to leave too few started voters; Raft first, then record. */
  async memberRemove(id: NodeId): Promise<void> {
    this.#refuseLearner();
    const member = this.#machine.member(id);
    if (member === undefined) throw new EtcdError("ETCD_MEMBER_NOT_FOUND");
    if (!member.isLearner && !readyToRemoveVoter(this.#machine.members(), id)) {
      throw new EtcdError("ETCD_UNHEALTHY");
    }
    await this.#confChange({ type: ConfChangeType.RemoveNode, nodeId: id,
      context: new Uint8Array(0) });
    await this.#propose({ type: "memberRemove", id });
  }

  /** etcd's UpdateMember: new peer URLs in the record (transports follow on apply). */
  async memberUpdate(id: NodeId, peerUrls: readonly string[]): Promise<void> {
    this.#refuseLearner();
    if (this.#machine.member(id) === undefined) throw new EtcdError("ETCD_MEMBER_NOT_FOUND");
    await this.#propose({ type: "memberUpdate", id, peerUrls });
  }

  /** etcd's PromoteMember: a learner becomes a voter (AddNode), then its record follows. */
  async memberPromote(id: NodeId): Promise<void> {
    this.#refuseLearner();
    const member = this.#machine.member(id);
    if (member === undefined) throw new EtcdError("ETCD_MEMBER_NOT_FOUND");
    if (!member.isLearner) throw new EtcdError("ETCD_MEMBER_NOT_LEARNER");
    if (!readyToAddVoter(this.#machine.members())) throw new EtcdError("ETCD_UNHEALTHY");
    const address = peerAddress(member.peerUrls[0] ?? "");
    await this.#confChange({ type: ConfChangeType.AddNode, nodeId: id,
      context: new TextEncoder().encode(address) });
    await this.#propose({ type: "memberPromote", id });
  }

  // ---- maintenance -------------------------------------------------------------------------

  status(): Promise<MemberStatus> {
    const raft = this.#node().status();
    const errors: string[] = [];
    if (raft.leader === 0n) errors.push(new EtcdError("ETCD_NO_LEADER").message);
    for (const alarm of this.#machine.alarms()) {
      errors.push(`memberID:${alarm.memberId} alarm:${alarm.alarm} `);
    }
    const size = this.#machine.sizeBytes;
    return Promise.resolve({
      version: serverVersion, dbSize: size, dbSizeInUse: size, leader: raft.leader,
      raftIndex: raft.commit, raftTerm: raft.term, raftAppliedIndex: raft.applied,
      isLearner: this.isLearner(), errors, revision: this.#machine.store.revision,
    });
  }

  // hashKv, hash, snapshot and defragment need an admin while auth is on (etcd 3.4's
  // authMaintenanceServer); status and moveLeader do not.
  async hashKv(context: CallContext, revision: number): Promise<{
    readonly hash: number; readonly compactRevision: number; readonly revision: number;
  }> {
    this.#refuseLearner();
    await this.#admin(context);
    return unwrap(this.#machine.store.hashKv(revision));
  }

  async hash(context: CallContext): Promise<number> {
    this.#refuseLearner();
    await this.#admin(context);
    return unwrap(this.#machine.store.hashKv(0)).hash;
  }

  async snapshot(context: CallContext): Promise<Uint8Array> {
    this.#refuseLearner();
    await this.#admin(context);
    return this.#machine.snapshot();
  }

  async alarm(action: AlarmAction, memberId: NodeId, alarm: AlarmType):
    Promise<readonly AlarmMember[]> {
    this.#refuseLearner();
    if (action === "GET") return [...this.#machine.alarms()];
    const existed = this.#machine.alarms().some((active) =>
      active.memberId === memberId && active.alarm === alarm);
    const value = await this.#propose({ type: "alarm", action, memberId, alarm });
    assert(value.type === "alarms", () => `alarm answered with ${value.type}`);
    // etcd answers with the alarm the request changed: the one activated, or the one
    // deactivated if it was active.
    if (alarm === "NONE") return [];
    return action === "ACTIVATE" || existed ? [{ memberId, alarm }] : [];
  }

  async defragment(context: CallContext): Promise<void> {
    this.#refuseLearner();
    await this.#admin(context);
  }

  async moveLeader(target: NodeId): Promise<void> {
    this.#refuseLearner();
    const raft = this.#node();
    const status = raft.status();
    if (status.leader !== this.memberId) throw new EtcdError("ETCD_NOT_LEADER");
    if (!raft.membership().voters.includes(target)) {
      throw new EtcdError("ETCD_BAD_LEADER_TRANSFEREE");
    }
    await raft.transferLeadership(target);
  }

  // ---- auth --------------------------------------------------------------------------------

  async authEnable(context: CallContext): Promise<void> {
    await this.#admin(context);
    await this.#proposeAuth({ type: "enable" });
  }

  async authDisable(context: CallContext): Promise<void> {
    await this.#admin(context);
    await this.#proposeAuth({ type: "disable" });
  }

  /**
   * Checks the password here (the proposer), then replicates the token: the proposer picks
   * its random part, the applying entry's index completes it (auth/simple-token.ts).
   */
  async authenticate(name: string, password: string): Promise<string> {
    this.#refuseLearner();
    unwrap(this.#machine.auth.checkPassword(name, password));
    return this.#proposeAuth({ type: "authenticate", name,
      token: newSimpleTokenPrefix(this.#options.prng) });
  }

  async userAdd(context: CallContext, name: string, password: string,
    noPassword: boolean): Promise<void> {
    await this.#admin(context);
    const passwordHash = noPassword ? "" : hashPassword(password);
    await this.#proposeAuth({ type: "userAdd", name, passwordHash, noPassword });
  }

  async userGet(context: CallContext, name: string): Promise<readonly string[]> {
    const caller = await this.#caller(context);
    unwrap(this.#machine.auth.checkUserGet(caller, name));
    return unwrap(this.#machine.auth.userGet(name));
  }

  async userList(context: CallContext): Promise<readonly string[]> {
    await this.#admin(context);
    return this.#machine.auth.userList();
  }

  async userDelete(context: CallContext, name: string): Promise<void> {
    await this.#admin(context);
    await this.#proposeAuth({ type: "userDelete", name });
  }

  async userChangePassword(context: CallContext, name: string, password: string):
    Promise<void> {
    await this.#admin(context);
    await this.#proposeAuth({ type: "userChangePassword", name,
      passwordHash: hashPassword(password) });
  }

  async userGrantRole(context: CallContext, user: string, role: string): Promise<void> {
    await this.#admin(context);
    await this.#proposeAuth({ type: "userGrantRole", user, role });
  }

  async userRevokeRole(context: CallContext, name: string, role: string): Promise<void> {
    await this.#admin(context);
    await this.#proposeAuth({ type: "userRevokeRole", name, role });
  }

  async roleAdd(context: CallContext, name: string): Promise<void> {
    await this.#admin(context);
    await this.#proposeAuth({ type: "roleAdd", name });
  }

  async roleGet(context: CallContext, role: string): Promise<readonly Permission[]> {
    const caller = await this.#caller(context);
    unwrap(this.#machine.auth.checkRoleGet(caller, role));
    return unwrap(this.#machine.auth.roleGet(role));
  }

  async roleList(context: CallContext): Promise<readonly string[]> {
    await this.#admin(context);
    return this.#machine.auth.roleList();
  }

  async roleDelete(context: CallContext, role: string): Promise<void> {
    await this.#admin(context);
    await this.#proposeAuth({ type: "roleDelete", role });
  }

  async roleGrantPermission(context: CallContext, name: string,
    permission: Permission): Promise<void> {
    await this.#admin(context);
    await this.#proposeAuth({ type: "roleGrantPermission", name, permission });
  }

  async roleRevokePermission(context: CallContext, role: string, key: Uint8Array,
    rangeEnd: Uint8Array): Promise<void> {
    await this.#admin(context);
    await this.#proposeAuth({ type: "roleRevokePermission", role, key, rangeEnd });
  }

  /** Proposes an auth request; resolves with the minted token (authenticate) or "". */
  async #proposeAuth(request: AuthRequest): Promise<string> {
    this.#refuseLearner();
    const value = await this.#propose({ type: "auth", payload: encodeAuthRequest(request) });
    assert(value.type === "auth", () => `auth answered with ${value.type}`);
    return value.token;
  }

  /**
   * The user a call acts as while auth is enabled ("" while it is disabled): the user of its
   * token, once this member applied the entry that minted it (waiting up to the request
   * timeout), else the verified client certificate's common name. No token and no
   * certificate is the empty user, as in etcd 3.4, whose checks then refuse with
   * "user name is empty"; a token that is not (or no longer) valid → ETCD_INVALID_AUTH_TOKEN.
   */
  async #caller(context: CallContext): Promise<string> {
    const auth = this.#machine.auth;
    if (!auth.enabled) return "";
    const token = context.token;
    if (token === undefined || token === "") {
      return context.certCommonName ?? "";
    }
    const index = simpleTokenIndex(token);
    if (index !== undefined) await this.#waitApplied(index);
    return unwrap(auth.userOfToken(token, this.#leaseNowMs()));
  }

  /** The caller's user without waiting (for watch creation, which is synchronous). */
  #callerNow(context: CallContext): Result<string, EtcdError> {
    const auth = this.#machine.auth;
    if (!auth.enabled) return ok("");
    const token = context.token;
    if (token === undefined || token === "") {
      return ok(context.certCommonName ?? "");
    }
    return auth.userOfToken(token, this.#leaseNowMs());
  }

  async #admin(context: CallContext): Promise<void> {
    const caller = await this.#caller(context);
    unwrap(this.#machine.auth.isAdmin(caller));
  }

  /** Waits (bounded by the request timeout) until this member applied `index`. */
  async #waitApplied(index: number): Promise<void> {
    const clock = this.#options.clock;
    const deadline = clock.nowMs() + limits.raftRequestTimeoutMs;
    while (this.#node().status().applied < index) {
      if (clock.nowMs() >= deadline) throw new EtcdError("ETCD_TIMEOUT");
      await clock.sleep(this.#options.config.heartbeatInterval / 4);
    }
  }

  // ---- internals ---------------------------------------------------------------------------
  /** Lease times are whole milliseconds (the lease manager asserts safe integers). */
  #leaseNowMs(): number {
    return Math.floor(this.#options.clock.nowMs());
  }


  #node(): RaftNode<ApplyResult> {
    if (this.#raft === undefined || this.#closing) throw new EtcdError("ETCD_STOPPED");
    return this.#raft;
  }

  #watchHub(): WatchHub {
    const hub = this.#hub;
    if (hub === undefined || this.#closing) throw new EtcdError("ETCD_STOPPED");
    return hub;
  }

  /** With auth enabled, runs `check` for the caller's user; throws its refusal. */
  async #permit(context: CallContext,
    check: (auth: AuthStore, user: string) => Result<void, EtcdError>): Promise<void> {
    const auth = this.#machine.auth;
    if (!auth.enabled) return;
    unwrap(check(auth, await this.#caller(context)));
  }

  #refuseLearner(): void {
    if (this.isLearner()) throw new EtcdError("ETCD_LEARNER_NOT_SUPPORTED");
  }

  /** Writes that add data are refused while the NOSPACE alarm is active. */
  #checkWritable(): void {
    this.#refuseLearner();
    if (this.#machine.hasAlarm("NOSPACE")) throw new EtcdError("ETCD_NO_SPACE");
  }

  /** Proposes through the push-back gate; resolves with the value or throws its error. */
  async #propose(request: EtcdRequest): Promise<ApplyValue> {
    const payload = encodeEtcdRequest(request);
    if (payload.length > this.#options.config.maxRequestBytes) {
      throw new EtcdError("ETCD_REQUEST_TOO_LARGE");
    }
    const startedMs = this.#options.clock.nowMs();
    const result = await this.#gate.run(() => this.#withLeader((raft) => raft.propose(payload)))
      .catch((error: unknown) => {
        this.#options.metrics?.proposalEnded("failed");
        throw error;
      });
    if (!result.ok) {
      this.#options.metrics?.proposalEnded("failed");
      throw result.error;
    }
    this.#options.metrics?.proposalEnded({
      seconds: (this.#options.clock.nowMs() - startedMs) / 1_000,
    });
    this.#afterWrite(request);
    return result.value;
  }

  /** Raises NOSPACE through Raft when the store outgrew --quota-backend-bytes. */
  #afterWrite(request: EtcdRequest): void {
    const quota = this.#options.config.quotaBackendBytes;
    if (quota === 0 || this.#machine.sizeBytes <= quota || this.#machine.hasAlarm("NOSPACE")) {
      return;
    }
    if (request.type === "alarm") return;
    this.#options.logger.warn("store above its quota: raising NOSPACE", {
      sizeBytes: this.#machine.sizeBytes, quotaBytes: quota,
    });
    void this.#propose({ type: "alarm", action: "ACTIVATE", memberId: this.memberId,
      alarm: "NOSPACE" }).catch((error: unknown) => {
      this.#options.logger.warn("raising NOSPACE failed", { error: String(error) });
    });
  }

  /** A Raft membership change, through the push-back gate and the leader wait. */
  async #confChange(change: ConfChange): Promise<void> {
    await this.#gate.run(() => this.#withLeader((raft) => raft.proposeConfChange(change)));
  }

  /** A ReadIndex barrier, retried while no leader is known (reads are safe to repeat). */
  #readBarrier(): Promise<void> {
    return this.#withLeader((raft) => raft.readIndex(), true);
  }

  /**
   * Runs `attempt` once a leader is known, and again when it fails with ETCD_NO_LEADER (the
   * request never reached a log) or, for reads, ETCD_LEADER_CHANGED, until the member's
   * leader wait (3 election timeouts) is over; then the last error stands.
   */
  async #withLeader<T>(attempt: (raft: RaftNode<ApplyResult>) => Promise<T>,
    read = false): Promise<T> {
    const clock = this.#options.clock;
    const deadline = clock.nowMs() + 3 * this.#options.config.electionTimeout;
    for (;;) {
      const raft = this.#node();
      if (raft.status().leader !== 0n || clock.nowMs() >= deadline) {
        try {
          return await attempt(raft);
        } catch (error) {
          const retry = error instanceof EtcdError && (error.code === "ETCD_NO_LEADER" ||
            (read && error.code === "ETCD_LEADER_CHANGED"));
          if (!retry || clock.nowMs() >= deadline) throw error;
        }
      }
      await clock.sleep(this.#options.config.heartbeatInterval);
    }
  }

  #leaderClientUrl(leader: NodeId): string {
    const url = this.#machine.member(leader)?.clientUrls[0];
    if (url === undefined) throw new EtcdError("ETCD_NO_LEADER");
    return url;
  }

  #waitRevoke(id: LeaseId): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiters = this.#revokeWaiters.get(id) ?? new Set<() => void>();
      const timer = this.#options.clock.setTimer(limits.etcdLeaseRevokeWaitMs, () => {
        waiters.delete(wake);
        resolve();
      });
      const wake = (): void => {
        timer.cancel();
        resolve();
      };
      waiters.add(wake);
      this.#revokeWaiters.set(id, waiters);
    });
  }

  #revoked(id: LeaseId): void {
    const waiters = this.#revokeWaiters.get(id);
    if (waiters === undefined) return;
    this.#revokeWaiters.delete(id);
    for (const wake of waiters) wake();
  }

  /** Wakes every stream with responses waiting, once per event-loop turn. */
  #scheduleWake(): void {
    if (this.#wakeScheduled) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      const hub = this.#hub;
      if (hub === undefined || this.#closing) return;
      if (hub.catchingUp) hub.sync();
      for (const [stream, onReady] of this.#streams) if (stream.pending > 0) onReady();
      if (hub.catchingUp) this.#scheduleWake();
    });
  }

  #applyLeadership(): void {
    const change = this.#leadership;
    if (change === undefined || this.#closing) return;
    this.#leadership = undefined;
    const leases = this.#machine.leases;
    if (change.role === "leader" && !leases.leading) {
      leases.promote(this.#leaseNowMs(), this.#options.config.electionTimeout);
      this.#options.logger.info("leases promoted", { leases: leases.size });
    } else if (change.role !== "leader" && leases.leading) {
      leases.demote();
    }
    if (change.leader === 0n) for (const listener of [...this.#leaderLost]) listener();
  }

  /**
   * The state was replaced by a snapshot (at start, or a follower that fell behind): watchers
   * whose next revision the snapshot skipped catch up from its history (WatchHub.restored),
   * driven by the wake loop.
   */
  #restored(): void {
    this.#options.logger.info("state restored from a snapshot", {
      revision: this.#machine.store.revision,
      compactRevision: this.#machine.store.compactRevision,
    });
    this.#hub?.restored();
    this.#scheduleWake();
    const role = this.#raft?.status().role;
    if (role === "leader") {
      this.#machine.leases.promote(this.#leaseNowMs(),
        this.#options.config.electionTimeout);
    }
  }

  /**
   * Points the transport at every member's first peer URL (restarts restore addresses), and
   * stops serving once this member's own record was removed (etcd's "the member has been
   * permanently removed from the cluster"): the owner is told through onFatal.
   */
  #membersChanged(): void {
    if (this.#closing) return;
    const listed = this.#machine.member(this.memberId) !== undefined;
    if (listed) this.#listed = true;
    else if (this.#listed && !this.#removed) {
      this.#removed = true;
      this.#options.logger.warn("this member was removed from the cluster; stopping");
      const error = new PfsError("FAILED_PRECONDITION",
        "the member has been permanently removed from the cluster");
      queueMicrotask(() => { this.fatal(error); });
    }
    for (const member of this.#machine.members()) {
      const url = member.peerUrls[0];
      if (member.id === this.memberId || url === undefined) continue;
      this.#options.transport.setPeer(member.id, peerAddress(url));
    }
  }

  #scheduleHousekeeping(): void {
    this.#housekeeping = this.#options.clock.setTimer(limits.etcdLeaseExpiryCheckMs, () => {
      if (this.#closing) return;
      this.#expireLeases();
      this.#hub?.tick(this.#leaseNowMs());
      this.#scheduleHousekeeping();
    });
  }

  /** Leader only: proposes a revoke for each expired lease (the manager retries later). */
  #expireLeases(): void {
    const leases = this.#machine.leases;
    if (!leases.leading) return;
    const expired = leases.expired(this.#leaseNowMs(), limits.etcdLeaseRevokeBatchMax);
    for (const id of expired) {
      void this.#propose({ type: "leaseRevoke", id }).catch((error: unknown) => {
        this.#options.logger.debug("lease expiry revoke failed", {
          lease: formatHexId(BigInt.asUintN(64, id)), error: String(error),
        });
      });
    }
  }

  /** etcd's publish: this member's name and client URLs, through Raft, retried until done. */
  async #publishAttributes(): Promise<void> {
    const { name, advertiseClientUrls } = this.#options.config;
    while (!this.#published && !this.#closing) {
      try {
        await this.#propose({
          type: "memberAttributes", id: this.memberId, name, clientUrls: advertiseClientUrls,
        });
        this.#published = true;
      } catch (error) {
        this.#options.logger.debug("publishing member attributes failed; retrying", {
          error: String(error),
        });
        await this.#options.clock.sleep(limits.etcdLeaseExpiryCheckMs);
      }
    }
  }
}

function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: Error }): T {
  if (!result.ok) throw result.error;
  return result.value;
}

/** etcd's "started": a member that published its name (bootstrap members have names). */
function started(member: Member): boolean {
  return member.name !== "";
}

/** etcd's IsReadyToAddVotingMember (also used before promoting a learner). */
function readyToAddVoter(members: readonly Member[]): boolean {
  const voters = members.filter((member) => !member.isLearner);
  const quorum = Math.floor((voters.length + 1) / 2) + 1;
  return voters.filter(started).length >= quorum;
}

/** etcd's IsReadyToRemoveVotingMember. */
function readyToRemoveVoter(members: readonly Member[], id: NodeId): boolean {
  const remaining = members.filter((member) => !member.isLearner && member.id !== id);
  const quorum = Math.floor(remaining.length / 2) + 1;
  return remaining.filter(started).length >= quorum;
}

/** True when no op, at any depth, writes. */
function txnIsReadOnly(request: TxnRequest): boolean {
  const pending: RequestOp[] = [...request.success, ...request.failure];
  for (let op = pending.pop(); op !== undefined; op = pending.pop()) {
    if (op.type === "put" || op.type === "deleteRange") return false;
    if (op.type === "txn") pending.push(...op.request.success, ...op.request.failure);
  }
  return true;
}


