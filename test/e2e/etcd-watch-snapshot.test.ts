// Goal: a watch on a follower that falls so far behind that it must install a Raft snapshot
// delivers every event exactly once, in order, each revision whole. Method: three real pfsd
// processes with --snapshot-count 20; a raw gRPC Watch on a follower from revision 1; the
// follower is SIGSTOPped while many more writes (puts, deletes, two-key txns) than the snapshot
// count go through another member, so the leader compacts its log past the follower (and the
// follower stays stopped past the peer keepalive, so nothing queued for it survives); after
// SIGCONT the follower must log that it restored a snapshot, and the watch must then hold
// exactly the writes' events, followed by live ones written after the restore. A second watch,
// created before the stop with a start revision the follower had not reached yet (and that
// the snapshot then skips), gets exactly the events from that revision on.
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import test from "ava";
import type { Client } from "@grpc/grpc-js";
import { limits } from "../../pkg/common/index.js";
import { etcdService, unary } from "../compat/support/etcd-process.js";
import { WatchRecorder } from "../compat/support/grpc-watch-recorder.js";
import { type ClusterMember, type MemberCluster, startCluster } from "../support/member-cluster.js";

/** Entries between the members' snapshots: small, so the stopped follower falls off the log. */
const snapshotCount = 20;
/** Writes while the follower is stopped: many snapshot counts' worth. */
const writesWhileStopped = 8 * snapshotCount;
/**
 * How long the follower stays stopped at least: past the leader's keepalive timeout on its
 * peer connection, so the leader drops the appends queued for it (otherwise they wait in the
 * transport and, on SIGCONT, catch the follower up from the log without any snapshot).
 */
const stoppedMsMin = limits.raftPeerKeepaliveMs + limits.raftPeerKeepaliveTimeoutMs + 2_000;
/** How long the follower may take to restore and its watch to deliver everything. */
const deliveryMsMax = 20_000;
const restoredLine = "state restored from a snapshot";

const prefix = "w/";
/**
 * Padding of every value: the appends sent while the follower is stopped then outgrow the
 * HTTP/2 flow-control window of its peer stream (64 KiB), so they cannot all sit in its
 * socket buffer waiting for SIGCONT, and the leader must send a snapshot instead.
 */
const padding = "x".repeat(2_048);
/** A value as the expectations show it: its head and its length. */
const show = (value: string): string => `${value.slice(0, 6)}~${value.length}`;
const utf8 = (bytes: Buffer | undefined): string => (bytes ?? Buffer.alloc(0)).toString("utf8");

interface WireEvent {
  readonly type?: string;
  readonly kv?: { readonly key?: Buffer; readonly value?: Buffer; readonly mod_revision?: string };
}

interface WireStatus {
  readonly header?: { readonly member_id?: string };
  readonly leader?: string;
}

/** "PUT w/k=v@rev" or "DELETE w/k@rev". */
function describe(event: WireEvent): string {
  const type = event.type ?? "PUT";
  const value = type === "PUT" ? `=${show(utf8(event.kv?.value))}` : "";
  return `${type} ${utf8(event.kv?.key)}${value}@${event.kv?.mod_revision ?? "?"}`;
}

/** Writes through `kv`, recording the events each write must produce, in revision order. */
class Writer {
  readonly expected: string[] = [];
  #step = 0;

  constructor(readonly kv: Client) {}

  async write(): Promise<void> {
    const step = this.#step;
    this.#step += 1;
    const key = `${prefix}${step % 7}`;
    const value = `v${step}:${padding}`;
    if (step % 5 === 4) {
      const response = await unary(this.kv, "DeleteRange", { key: Buffer.from(key) }) as
        { header?: { revision?: string }; deleted?: string };
      if (Number(response.deleted) > 0) {
        this.expected.push(`DELETE ${key}@${response.header?.revision ?? "?"}`);
      }
    } else if (step % 5 === 2) {
      const other = `${prefix}t${step % 3}`;
      const put = (k: string): object => ({ request_put: { key: Buffer.from(k),
        value: Buffer.from(value) } });
      const response = await unary(this.kv, "Txn", { success: [put(key), put(other)] }) as
        { header?: { revision?: string } };
      const at = response.header?.revision ?? "?";
      this.expected.push(`PUT ${key}=${show(value)}@${at}`, `PUT ${other}=${show(value)}@${at}`);
    } else {
      const response = await unary(this.kv, "Put", { key: Buffer.from(key),
        value: Buffer.from(value) }) as { header?: { revision?: string } };
      this.expected.push(`PUT ${key}=${show(value)}@${response.header?.revision ?? "?"}`);
    }
  }
}

/** Each member's ID and the leader's, from Maintenance.Status. */
async function memberIds(cluster: MemberCluster): Promise<{ ids: string[]; leader: string }> {
  const Maintenance = etcdService("etcdserverpb.Maintenance");
  const statuses = await Promise.all(cluster.members.map(async (member) => {
    const client = new Maintenance(member.clientAddress, cluster.credentials());
    try {
      return await unary(client, "Status", {}, 5_000) as WireStatus;
    } finally {
      client.close();
    }
  }));
  return {
    ids: statuses.map((status) => status.header?.member_id ?? ""),
    leader: statuses[0]?.leader ?? "",
  };
}

/** The revision an expected or received event line ends with. */
const revisionOf = (event: string): number => Number(event.slice(event.lastIndexOf("@") + 1));

/**
 * The events of watch `watchId` in arrival order; fails on a revision split across responses
 * or repeated.
 */
function receivedEvents(recorder: WatchRecorder, watchId: string): string[] {
  const events: string[] = [];
  let lastRevision = 0;
  for (const response of recorder.responses) {
    if ((response.watch_id ?? "0") !== watchId) continue;
    const wire = (response.events ?? []) as readonly WireEvent[];
    const revisions = wire.map((event) => Number(event.kv?.mod_revision));
    const first = revisions[0];
    if (first !== undefined && first <= lastRevision) {
      throw new Error(`revision ${first} after ${lastRevision}: split or repeated`);
    }
    lastRevision = revisions.at(-1) ?? lastRevision;
    events.push(...wire.map(describe));
  }
  return events;
}

/**
 * SIGSTOPs `follower`, writes writesWhileStopped times, and keeps it stopped at least
 * stoppedMsMin in all; the caller continues it.
 */
async function stopWhileWriting(follower: ClusterMember, writer: Writer): Promise<void> {
  follower.sigstop();
  const stoppedAt = Date.now();
  for (let i = 0; i < writesWhileStopped; i += 1) await writer.write();
  const stoppedMs = Date.now() - stoppedAt;
  if (stoppedMs < stoppedMsMin) {
    await new Promise((resolve) => setTimeout(resolve, stoppedMsMin - stoppedMs));
  }
}

/** Whether `member` logged a snapshot restore before `deadline` (false once it exits). */
async function waitForRestore(member: ClusterMember, deadline: number): Promise<boolean> {
  while (!member.log().includes(restoredLine)) {
    if (Date.now() > deadline || !member.running) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

test("a watch on a follower that installs a snapshot gets every event once, in order",
  async (t) => {
    const startedMs = Date.now();
    const cluster = await startCluster({
      kind: "pfsd", size: 3,
      ...(existsSync("/dev/shm") ? { parentDir: "/dev/shm" } : { parentDir: tmpdir() }),
      extraArgs: ["--snapshot-count", String(snapshotCount), "--log-level", "info"],
    });
    const clients: Client[] = [];
    let recorder: WatchRecorder | undefined;
    try {
      t.log(`cluster serving at ms ${Date.now() - startedMs}`);
      const { ids, leader } = await memberIds(cluster);
      const followerIndex = ids.findIndex((id) => id !== leader);
      const follower = cluster.members[followerIndex];
      const other = cluster.members.find((member) => member !== follower);
      if (follower === undefined || other === undefined) throw new Error(`ids ${ids.join()}`);
      const Kv = etcdService("etcdserverpb.KV");
      const Watch = etcdService("etcdserverpb.Watch");
      const kv = new Kv(other.clientAddress, cluster.credentials());
      const watchClient = new Watch(follower.clientAddress, cluster.credentials());
      clients.push(kv, watchClient);
      const writer = new Writer(kv);
      for (let i = 0; i < 10; i += 1) await writer.write();
      recorder = new WatchRecorder(watchClient);
      await recorder.create({ key: Buffer.from(prefix), range_end: Buffer.from("w0"),
        start_revision: "1" });
      const watch = recorder;
      // Created while the follower is at this revision, waiting for one the snapshot will skip.
      const futureStart = revisionOf(writer.expected.at(-1) ?? "@0") + writesWhileStopped / 2;
      await watch.create({ key: Buffer.from(prefix), range_end: Buffer.from("w0"),
        start_revision: String(futureStart) });
      const expectedFuture = (): string[] =>
        writer.expected.filter((event) => revisionOf(event) >= futureStart);
      await watch.until(() => receivedEvents(watch, "0").length === writer.expected.length);

      await stopWhileWriting(follower, writer);
      t.log(`writes done at ms ${Date.now() - startedMs}`);
      t.false(follower.log().includes(restoredLine)); // a fresh member restored nothing yet
      follower.sigcont();
      const deadline = Date.now() + deliveryMsMax;
      const restored = await waitForRestore(follower, deadline);
      if (!restored) {
        t.fail(`no snapshot restore on ${follower.name}:\n` + cluster.members.map((member) =>
          `${member.name}:\n${member.log().slice(-3_000)}`).join("\n"));
        return;
      }
      t.log(`snapshot restored at ms ${Date.now() - startedMs}`);
      for (let i = 0; i < 10; i += 1) await writer.write();
      while ((receivedEvents(watch, "0").length < writer.expected.length ||
        receivedEvents(watch, "1").length < expectedFuture().length) &&
        watch.ended === null && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await new Promise((resolve) => setTimeout(resolve, 300)); // room for a duplicate to show
      t.log(`all delivered at ms ${Date.now() - startedMs}`);
      t.is(watch.ended, null);
      t.deepEqual(receivedEvents(watch, "0"), writer.expected);
      t.deepEqual(receivedEvents(watch, "1"), expectedFuture());
      t.true(expectedFuture().length > writesWhileStopped / 3);
      t.true(follower.running, follower.log().slice(-5_000));
    } finally {
      recorder?.close();
      for (const client of clients) client.close();
      await cluster.stop();
    }
  });
