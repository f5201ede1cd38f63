/**
 * `EtcdStateMachine`: the replicated state of one etcd member (the MVCC store, the leases,
 * the member records, the alarms and the auth store's bytes) and the one place committed
 * requests change it. It implements raftnode's `StateMachine`: the driver calls `apply` in
 * log order and `snapshot`/`restore` for Raft compaction; `snapshot()` is also the payload
 * of Maintenance.Snapshot.
 *
 * Apply rules (etcd-api.md §4, §7): every put and delete moves its key's lease attachment in
 * the lease manager (a put with a lease attaches, replacing an earlier one; lease 0 and
 * deletes detach; ignore_lease keeps the key's lease, which the store reports in the event);
 * a lease revoke deletes all its keys at one revision and publishes their DELETE events
 * together. Events of each write are handed to `hooks.onEvents` synchronously, in revision
 * order, before the next entry applies.
 *
 * Determinism: the result of `apply` depends only on the state and the request. The clock
 * is read only to start a lease's expiry on the leader, which is leader-local state.
 */
import { crc32 } from "node:zlib";
import {
  ByteReader, ByteWriter, EtcdError, MalformedPayloadError, PfsError, assertNever, crc32Steps,
  runAtOnce, runInSlices, err, limits, nodeId, ok, type Clock, type LeaseId, type Logger,
  type NodeId, type Result,
} from "../../common/index.js";
import { AuthStore, decodeAuthRequest, simpleToken } from "../auth/index.js";
import { LeaseManager, type LeaseGrant, type LeaseManagerOptions } from "../lease/index.js";
import {
  MvccStore, type CompactionResponse, type DeleteRangeResponse, type LeaseLookup, type MvccEvent,
  type PutResponse, type TxnResponse,
} from "../mvcc/index.js";
import type { WatchSource } from "../watch/index.js";
import type { AlarmMember, AlarmType, Member } from "../backend.js";
import type { AppliedEntry, StateMachine } from "../../raftnode/index.js";
import { decodeEtcdRequest, readMember, writeMember, type EtcdRequest } from "./request-codec.js";

/** The requests that change member records. */
type MemberRequest = Extract<EtcdRequest, { type: "memberAttributes" | "memberAdd" |
  "memberRemove" | "memberUpdate" | "memberPromote" }>;

/** What an applied request produced, tagged by the request type. */
export type ApplyValue =
  | { readonly type: "put"; readonly response: PutResponse }
  | { readonly type: "deleteRange"; readonly response: DeleteRangeResponse }
  | { readonly type: "txn"; readonly response: TxnResponse }
  | { readonly type: "compact"; readonly response: CompactionResponse }
  | { readonly type: "leaseGrant"; readonly grant: LeaseGrant }
  | { readonly type: "leaseRevoke"; readonly revision: number }
  | { readonly type: "members"; readonly members: readonly Member[] }
  | { readonly type: "alarms"; readonly alarms: readonly AlarmMember[] }
  /** An applied auth request; `token` is the minted token of an authenticate, else "". */
  | { readonly type: "auth"; readonly token: string }
  | { readonly type: "none" };

/** The result of one entry: a value, or the etcd error the request failed with. */
export type ApplyResult = Result<ApplyValue, EtcdError>;

/** Callbacks into the member; each runs synchronously inside `apply`/`restore`. */
export interface StateMachineHooks {
  /** The events of one write, all of the store's current revision. */
  readonly onEvents?: (events: readonly MvccEvent[]) => void;
  /** The member records changed (an add, remove, update, promote, or a restore). */
  readonly onMembersChanged?: () => void;
  /** A lease was granted. */
  readonly onLeaseGranted?: (id: LeaseId) => void;
  /** A lease was revoked (by a client or by expiry). */
  readonly onLeaseRevoked?: (id: LeaseId) => void;
  /** The whole state was replaced from a snapshot. */
  readonly onRestored?: () => void;
}

/** Construction options; `initialMembers` is the bootstrap membership (--initial-cluster). */
export interface EtcdStateMachineOptions {
  readonly lease: LeaseManagerOptions;
  readonly initialMembers: readonly Member[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly hooks?: StateMachineHooks;
}

const snapshotMagic = 0x45544344; // "ETCD"
const snapshotVersion = 1;

/** The replicated state machine of an etcd member. Single-threaded: the driver owns it. */
export class EtcdStateMachine implements StateMachine<ApplyResult> {
  readonly #options: EtcdStateMachineOptions;
  #hooks: StateMachineHooks;
  #leases: LeaseManager;
  #store: MvccStore;
  #auth = new AuthStore();
  /** id → member. Invariant: no two members share a peer URL. */
  #members = new Map<bigint, Member>();
  /** Active alarms, in activation order, at most one per (member, type). */
  #alarms: AlarmMember[] = [];
  /** Estimated bytes of the store (versions × (key + value + overhead)), for the quota. */
  #sizeBytes = 0;
  /** The lookup and source handed out: they follow the current store across restores. */
  readonly leaseLookup: LeaseLookup = { leaseExists: (id) => this.#leases.leaseExists(id) };
  readonly watchSource: WatchSource;

  constructor(options: EtcdStateMachineOptions) {
    this.#options = options;
    this.#hooks = options.hooks ?? {};
    this.#leases = new LeaseManager(options.lease);
    this.#store = new MvccStore(this.leaseLookup);
    for (const member of options.initialMembers) this.#members.set(member.id, member);
    const store = (): MvccStore => this.#store;
    this.watchSource = {
      get revision() { return store().revision; },
      get compactRevision() { return store().compactRevision; },
      events: (from, max, withPrevKv) => store().events(from, max, withPrevKv),
    };
  }

  /** Replaces the hooks (the member wires them after construction). */
  setHooks(hooks: StateMachineHooks): void {
    this.#hooks = hooks;
  }

  get store(): MvccStore { return this.#store; }
  get leases(): LeaseManager { return this.#leases; }
  get sizeBytes(): number { return this.#sizeBytes; }
  get auth(): AuthStore { return this.#auth; }

  /** Members in ID order. */
  members(): Member[] {
    return [...this.#members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  member(id: NodeId): Member | undefined {
    return this.#members.get(id);
  }

  alarms(): readonly AlarmMember[] {
    return this.#alarms;
  }

  hasAlarm(alarm: AlarmType): boolean {
    return this.#alarms.some((active) => active.alarm === alarm);
  }

  apply(entry: AppliedEntry): ApplyResult {
    let request: EtcdRequest;
    try {
      request = decodeEtcdRequest(entry.data);
    } catch (error) {
      // Only our own proposers write entries; an undecodable one is a bug or corruption,
      // and every member skips it the same way.
      if (!(error instanceof MalformedPayloadError)) throw error;
      this.#options.logger.error("undecodable etcd request skipped", {
        index: entry.index, error: error.message,
      });
      return ok({ type: "none" });
    }
    return this.applyRequest(request, entry.index);
  }

  /** Lease times are whole milliseconds (the lease manager asserts safe integers). */
  #leaseNowMs(): number {
    return Math.floor(this.#options.clock.nowMs());
  }

  /**
   * Applies one decoded request (apply's body; tests call it directly). `index` is the
   * entry's Raft index, which an authenticate's token names (auth/simple-token.ts).
   */
  applyRequest(request: EtcdRequest, index = 0): ApplyResult {
    switch (request.type) {
      case "put": {
        const applied = this.#store.put(request.request);
        if (!applied.ok) return applied;
        this.#afterWrite(applied.value.events);
        return ok({ type: "put", response: applied.value.response });
      }
      case "deleteRange": {
        const applied = this.#store.deleteRange(request.request);
        if (!applied.ok) return applied;
        this.#afterWrite(applied.value.events);
        return ok({ type: "deleteRange", response: applied.value.response });
      }
      case "txn": {
        const applied = this.#store.txn(request.request);
        if (!applied.ok) return applied;
        this.#afterWrite(applied.value.events);
        return ok({ type: "txn", response: applied.value.response });
      }
      case "compact": return this.#compact(request.request.revision, request.request.physical);
      case "leaseGrant": {
        const grant = this.#leases.grant(request.id, request.ttlSeconds,
          this.#leaseNowMs());
        if (grant.ok) this.#hooks.onLeaseGranted?.(request.id);
        return grant.ok ? ok({ type: "leaseGrant", grant: grant.value }) : grant;
      }
      case "leaseRevoke": return this.#revoke(request.id);
      case "memberAttributes":
      case "memberAdd":
      case "memberRemove":
      case "memberUpdate":
      case "memberPromote": return this.#applyMember(request);
      case "alarm": return this.#applyAlarm(request);
      case "auth": return this.#applyAuth(request.payload, index);
      default: return assertNever(request, "etcd request");
    }
  }

  /** Moves lease attachments for each changed key, counts size, publishes the events. */
  #afterWrite(events: readonly MvccEvent[]): void {
    for (const event of events) {
      const key = event.kv.key;
      if (event.type === "PUT" && event.kv.lease !== 0n) this.#leases.attach(key, event.kv.lease);
      else this.#leases.detach(key);
      this.#sizeBytes += key.length + event.kv.value.length + limits.etcdVersionOverheadBytes;
    }
    if (events.length > 0) this.#hooks.onEvents?.(events);
  }

  #compact(revision: number, physical: boolean): ApplyResult {
    const compacted = this.#store.compact({ revision, physical });
    if (!compacted.ok) return compacted;
    this.#sizeBytes = this.#estimateSize();
    return ok({ type: "compact", response: compacted.value });
  }

  #revoke(id: LeaseId): ApplyResult {
    const keys = this.#leases.revoke(id);
    if (!keys.ok) return keys;
    const deleted = this.#store.deleteKeys(keys.value);
    this.#afterWrite(deleted.events);
    this.#hooks.onLeaseRevoked?.(id);
    return ok({ type: "leaseRevoke", revision: deleted.response.revision });
  }

  #applyMember(request: MemberRequest): ApplyResult {
    const changed = memberChange(this.#members, request);
    if (!changed.ok) return changed;
    if (request.type !== "memberAttributes") {
      this.#options.logger.info("membership record changed", { change: request.type });
    }
    this.#hooks.onMembersChanged?.();
    return ok({ type: "members", members: this.members() });
  }

  #applyAlarm(request: EtcdRequest & { type: "alarm" }): ApplyResult {
    const same = (active: AlarmMember): boolean =>
      active.memberId === request.memberId && active.alarm === request.alarm;
    switch (request.action) {
      case "ACTIVATE":
        if (request.alarm !== "NONE" && !this.#alarms.some(same)) {
          this.#alarms.push({ memberId: request.memberId, alarm: request.alarm });
        }
        break;
      case "DEACTIVATE":
        this.#alarms = this.#alarms.filter((active) => !same(active));
        break;
      case "GET":
        break;
      default:
        assertNever(request.action, "alarm action");
    }
    return ok({ type: "alarms", alarms: [...this.#alarms] });
  }

  #applyAuth(payload: Uint8Array, index: number): ApplyResult {
    const decoded = decodeAuthRequest(payload);
    if (!decoded.ok) {
      this.#options.logger.error("undecodable auth request skipped", {
        index, error: decoded.error.message,
      });
      return ok({ type: "none" });
    }
    let request = decoded.value;
    let token = "";
    if (request.type === "authenticate") {
      token = simpleToken(request.token, index);
      request = { ...request, token };
    }
    const applied = this.#auth.apply(request, this.#leaseNowMs());
    return applied.ok ? ok({ type: "auth", token }) : applied;
  }

  #estimateSize(): number {
    let bytes = 0;
    for (const history of this.#store.index.all()) {
      for (const entry of history.entries) {
        bytes += history.key.length + (entry.kv?.value.length ?? 0) +
          limits.etcdVersionOverheadBytes;
      }
    }
    return bytes;
  }

  snapshot(): Uint8Array {
    const plan = this.#snapshotPlan();
    runAtOnce(plan.write(Number.MAX_SAFE_INTEGER));
    return plan.out;
  }

  /**
   * The bytes `snapshot()` would give now, made over later turns of the event loop (about
   * `sliceBytes` of encoding or checksumming a turn) so a large state is snapshotted while
   * the member keeps applying and serving. Everything is captured before this returns, and
   * the snapshot is written in place into one buffer: no copy of it is ever made.
   */
  async snapshotInSlices(sliceBytes: number): Promise<Uint8Array> {
    const plan = this.#snapshotPlan();
    await runInSlices(plan.write(sliceBytes));
    return plan.out;
  }

  /**
   * Layout: magic u32, version u8, the store's snapshot (u32 length, bytes), the tail
   * (leases, members, alarms, auth), then a CRC-32 of everything before it. The state is
   * captured now; `write` fills `out`, pausing after about every `sliceBytes`.
   */
  #snapshotPlan(): { out: Buffer; write: (sliceBytes: number) => Generator<void, void, void> } {
    const store = this.#store.snapshotEncoder();
    const tail = this.#snapshotTail();
    const head = new ByteWriter(16).uint32(snapshotMagic).uint8(snapshotVersion)
      .uint32(store.bytes).finish();
    const bodyBytes = head.length + store.bytes + tail.length;
    const out = Buffer.allocUnsafe(bodyBytes + 4);
    function* write(sliceBytes: number): Generator<void, void, void> {
      out.set(head, 0);
      yield* store.write(out, head.length, sliceBytes);
      out.set(tail, head.length + store.bytes);
      out.writeUInt32BE(yield* crc32Steps(out.subarray(0, bodyBytes), sliceBytes), bodyBytes);
    }
    return { out, write };
  }

  /** Everything after the store: leases, members, alarms and the auth store. */
  #snapshotTail(): Uint8Array {
    const writer = new ByteWriter(1024);
    writer.bytes(this.#leases.snapshot());
    const members = this.members();
    writer.uint32(members.length);
    for (const member of members) writeMember(writer, member);
    writer.uint32(this.#alarms.length);
    for (const alarm of this.#alarms) {
      writer.uint64(alarm.memberId).uint8(alarm.alarm === "NOSPACE" ? 1 : 2);
    }
    writer.bytes(this.#auth.snapshot());
    return writer.finish();
  }

  restore(data: Uint8Array): void {
    const decoded = decodeSnapshot(data, this.#options.lease, this.leaseLookup);
    if (!decoded.ok) throw decoded.error;
    const state = decoded.value;
    this.#store = state.store;
    this.#leases = state.leases;
    this.#members = new Map(state.members.map((member) => [member.id, member]));
    this.#alarms = state.alarms;
    this.#sizeBytes = this.#estimateSize();
    this.#auth = state.auth;
    this.#hooks.onRestored?.();
    this.#hooks.onMembersChanged?.();
  }
}

/** The parts of a state snapshot. */
interface DecodedSnapshot {
  readonly store: MvccStore;
  readonly leases: LeaseManager;
  readonly members: Member[];
  readonly alarms: AlarmMember[];
  readonly auth: AuthStore;
}

/** Decodes `EtcdStateMachine.snapshot` bytes. Errors: DATA_CORRUPTED. */
export function decodeSnapshot(data: Uint8Array, lease: LeaseManagerOptions,
  lookup: LeaseLookup): Result<DecodedSnapshot, PfsError> {
  const corrupt = (why: string): Result<DecodedSnapshot, PfsError> =>
    err(new PfsError("DATA_CORRUPTED", `etcd state snapshot: ${why}`));
  if (data.length < 9) return corrupt(`${data.length} bytes`);
  const body = data.subarray(0, data.length - 4);
  const stored = new DataView(data.buffer, data.byteOffset + body.length, 4).getUint32(0);
  if (crc32(body) !== stored) return corrupt("checksum mismatch");
  try {
    const reader = new ByteReader(body);
    if (reader.uint32() !== snapshotMagic) return corrupt("bad magic");
    const version = reader.uint8();
    if (version !== snapshotVersion) return corrupt(`unknown version ${version}`);
    const store = MvccStore.restore(reader.bytesView(), lookup);
    if (!store.ok) return store;
    const leases = LeaseManager.restore(reader.bytesView(), lease);
    if (!leases.ok) return leases;
    const members: Member[] = [];
    const memberCount = reader.uint32();
    if (memberCount > limits.etcdReplicatedListItemsMax) return corrupt("member count");
    for (let i = 0; i < memberCount; i += 1) members.push(readMember(reader));
    const alarms: AlarmMember[] = [];
    const alarmCount = reader.uint32();
    if (alarmCount > limits.etcdReplicatedListItemsMax) return corrupt("alarm count");
    for (let i = 0; i < alarmCount; i += 1) {
      const memberId = nodeId(reader.uint64());
      alarms.push({ memberId, alarm: reader.uint8() === 1 ? "NOSPACE" : "CORRUPT" });
    }
    const auth = AuthStore.restore(reader.bytesView());
    if (!auth.ok) return auth;
    reader.end();
    return ok({ store: store.value, leases: leases.value, members, alarms, auth: auth.value });
  } catch (error) {
    if (error instanceof MalformedPayloadError) return corrupt(error.message);
    throw error;
  }
}

/** Applies a member-record change to `members`, with etcd's errors. */
function memberChange(members: Map<bigint, Member>,
  request: MemberRequest): Result<void, EtcdError> {
  const urlTaken = (urls: readonly string[], except: bigint): boolean =>
    [...members.values()].some((member) => member.id !== except &&
      member.peerUrls.some((url) => urls.includes(url)));
  switch (request.type) {
    case "memberAdd": {
      const member = request.member;
      if (members.has(member.id)) return err(new EtcdError("ETCD_MEMBER_EXIST"));
      if (urlTaken(member.peerUrls, member.id)) return err(new EtcdError("ETCD_PEER_URL_EXIST"));
      members.set(member.id, member);
      return ok(undefined);
    }
    case "memberRemove":
      if (!members.delete(request.id)) return err(new EtcdError("ETCD_MEMBER_NOT_FOUND"));
      return ok(undefined);
    case "memberAttributes":
    case "memberUpdate":
    case "memberPromote": {
      const member = members.get(request.id);
      if (member === undefined) return err(new EtcdError("ETCD_MEMBER_NOT_FOUND"));
      const updated = updatedMember(member, request, urlTaken);
      if (!updated.ok) return updated;
      members.set(member.id, updated.value);
      return ok(undefined);
    }
    default:
      return assertNever(request, "member request");
  }
}

function updatedMember(member: Member,
  request: EtcdRequest & { type: "memberAttributes" | "memberUpdate" | "memberPromote" },
  urlTaken: (urls: readonly string[], except: bigint) => boolean): Result<Member, EtcdError> {
  switch (request.type) {
    case "memberAttributes":
      return ok({ ...member, name: request.name, clientUrls: [...request.clientUrls] });
    case "memberUpdate":
      if (urlTaken(request.peerUrls, member.id)) return err(new EtcdError("ETCD_PEER_URL_EXIST"));
      return ok({ ...member, peerUrls: [...request.peerUrls] });
    case "memberPromote":
      if (!member.isLearner) return err(new EtcdError("ETCD_MEMBER_NOT_LEARNER"));
      return ok({ ...member, isLearner: false });
    default:
      return assertNever(request, "member request");
  }
}
