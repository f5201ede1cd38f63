/**
 * The metrics of one embedded etcd member, named, typed and labelled as etcd 3.4's where etcd
 * has one, registered on the registry the member is given (one per pfsd process, made in
 * cmd/; never prom-client's global one, so several members in one test process never share a
 * series). Two kinds:
 * - gauges read at scrape time from the member (`bind`): leader, role, term, Raft indexes,
 *   pending proposals, revision, store size, watchers, leases. etcd's
 *   etcd_server_proposals_committed_total and _applied_total are gauges holding the commit
 *   and applied index, and so are ours;
 * - events the member reports as they happen: leader changes, failed proposals, lease grants
 *   and revocations, WAL and snapshot fsync durations and propose → applied durations. The
 *   store lives in memory, so there is no etcd_disk_backend_commit_duration_seconds: its
 *   durable writes are the WAL's and the snapshot files' fsyncs.
 * Names without an etcd 3.4 counterpart start with `pfs_`.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RaftNodeStatus } from "../../raftnode/index.js";
import { diskDurationBucketsSeconds, proposalDurationBucketsSeconds } from "./limits.js";

/** What the scrape-time gauges read; every call is cheap and synchronous. */
export interface MemberMetricsView {
  raftStatus(): RaftNodeStatus;
  isLearner(): boolean;
  /** The store's current revision. */
  revision(): number;
  /** The store's size as Status reports it (dbSize). */
  dbSizeBytes(): number;
  /** Leases the member holds. */
  leaseCount(): number;
  watchStreamCount(): number;
  watcherCount(): number;
}

/** One gauge whose value is read from `read` at every scrape. */
function readGauge(registry: Registry, name: string, help: string,
  read: () => number | undefined): void {
  new Gauge({
    name, help, registers: [registry],
    collect() {
      const value = read();
      if (value !== undefined) this.set(value);
    },
  });
}

export class MemberMetrics {
  readonly #leaderChanges: Counter;
  readonly #proposalsFailed: Counter;
  readonly #leasesGranted: Counter;
  readonly #leasesRevoked: Counter;
  readonly #walFsync: Histogram;
  readonly #snapshotFsync: Histogram;
  readonly #proposalDuration: Histogram;
  /** The member the gauges read; undefined until `bind`, when they report nothing. */
  #view: MemberMetricsView | undefined;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#leaderChanges = new Counter({ name: "etcd_server_leader_changes_seen_total",
      help: "The number of leader changes seen.", registers });
    this.#proposalsFailed = new Counter({ name: "etcd_server_proposals_failed_total",
      help: "The total number of failed proposals seen.", registers });
    this.#leasesGranted = new Counter({ name: "etcd_debugging_lease_granted_total",
      help: "The total number of granted leases.", registers });
    this.#leasesRevoked = new Counter({ name: "etcd_debugging_lease_revoked_total",
      help: "The total number of revoked leases.", registers });
    this.#walFsync = new Histogram({ name: "etcd_disk_wal_fsync_duration_seconds",
      help: "The latency distributions of fsync called by WAL.",
      buckets: [...diskDurationBucketsSeconds], registers });
    this.#snapshotFsync = new Histogram({ name: "pfs_disk_snapshot_fsync_duration_seconds",
      help: "The latency distributions of fsync of a Raft snapshot file: the store's own " +
        "durable write (it lives in memory; our counterpart of etcd's backend commit).",
      buckets: [...diskDurationBucketsSeconds], registers });
    this.#proposalDuration = new Histogram({ name: "pfs_server_proposal_duration_seconds",
      help: "Seconds from a client write's proposal on this member to its being applied here " +
        "(successful proposals only; failures count in etcd_server_proposals_failed_total).",
      buckets: [...proposalDurationBucketsSeconds], registers });
    this.#registerGauges(registry);
  }

  /** Starts reading the gauges from `view` (the member, once started). */
  bind(view: MemberMetricsView): void {
    this.#view = view;
  }

  /** A new leader (non-zero, different from the last known) was seen. */
  leaderChanged(): void { this.#leaderChanges.inc(); }
  /** A proposal ended: applied after `seconds`, or failed. */
  proposalEnded(outcome: { readonly seconds: number } | "failed"): void {
    if (outcome === "failed") this.#proposalsFailed.inc();
    else this.#proposalDuration.observe(outcome.seconds);
  }
  /** A lease grant was applied. */
  leaseGranted(): void { this.#leasesGranted.inc(); }
  /** A lease revocation (by a client or expiry) was applied. */
  leaseRevoked(): void { this.#leasesRevoked.inc(); }
  /** One WAL fsync took `seconds`. */
  walSynced(seconds: number): void { this.#walFsync.observe(seconds); }
  /** One fsync of a snapshot file took `seconds`. */
  snapshotSynced(seconds: number): void { this.#snapshotFsync.observe(seconds); }

  #registerGauges(registry: Registry): void {
    const raft = (): RaftNodeStatus | undefined => this.#view?.raftStatus();
    const flag = (value: boolean | undefined): number | undefined =>
      value === undefined ? undefined : Number(value);
    readGauge(registry, "etcd_server_has_leader",
      "Whether or not a leader exists. 1 is existence, 0 is not.",
      () => flag(raft() === undefined ? undefined : raft()?.leader !== 0n));
    readGauge(registry, "etcd_server_is_leader",
      "Whether or not this member is a leader. 1 if is, 0 otherwise.",
      () => flag(raft() === undefined ? undefined : raft()?.role === "leader"));
    readGauge(registry, "etcd_server_is_learner",
      "Whether or not this member is a learner. 1 if is, 0 otherwise.",
      () => flag(this.#view?.isLearner()));
    readGauge(registry, "etcd_server_proposals_committed_total",
      "The total number of consensus proposals committed.", () => raft()?.commit);
    readGauge(registry, "etcd_server_proposals_applied_total",
      "The total number of consensus proposals applied.", () => raft()?.applied);
    readGauge(registry, "etcd_server_proposals_pending",
      "The current number of pending proposals to commit.", () => raft()?.pendingProposalCount);
    readGauge(registry, "pfs_raft_term", "The Raft term this member is in.", () => raft()?.term);
    readGauge(registry, "pfs_raft_snapshot_index",
      "The log index of the newest Raft snapshot taken or installed.", () => raft()?.snapshotIndex);
    readGauge(registry, "etcd_debugging_mvcc_current_revision",
      "The current revision of store.", () => this.#view?.revision());
    readGauge(registry, "etcd_mvcc_db_total_size_in_bytes",
      "Total size of the store in bytes, as Status reports it (an estimate of the keys, " +
      "values and revisions held; the store lives in memory, made durable by the WAL and " +
      "snapshots).", () => this.#view?.dbSizeBytes());
    readGauge(registry, "etcd_debugging_mvcc_watch_stream_total",
      "Total number of watch streams.", () => this.#view?.watchStreamCount());
    readGauge(registry, "etcd_debugging_mvcc_watcher_total",
      "Total number of watchers.", () => this.#view?.watcherCount());
    readGauge(registry, "pfs_etcd_leases", "Leases the member holds (granted, not yet " +
      "revoked or expired).", () => this.#view?.leaseCount());
  }
}
