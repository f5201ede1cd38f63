// Goal: every pending proposal and read ends exactly once and with the right etcd error;
// the inbox pushes back and drops at its bounds; a proposal overwritten after its leader
// was isolated is rejected with ETCD_LEADER_CHANGED.
// Method: the trackers and the inbox driven directly (no clock), plus one three-member
// in-memory cluster with a partitioned leader.
import test from "ava";
import {
  EtcdError, SystemClock, limits, logIndex, nodeId, silentLogger, type NodeId,
} from "../../../pkg/common/index.js";
import {
  ChecksumListStateMachine, Inbox, MemoryNetwork, MemoryNodeStorage, PendingProposals,
  PendingReads, RaftNode, decodeProposal, encodeProposal,
} from "../../../pkg/raftnode/index.js";

function code(outcome: unknown): string {
  return outcome instanceof EtcdError ? outcome.code : `not an EtcdError: ${String(outcome)}`;
}

test("the proposal header round-trips; short data is a no-op", (t) => {
  const data = encodeProposal({ proposer: nodeId(0xabcn), sequence: 42n }, new Uint8Array([7, 8]));
  const decoded = decodeProposal(data);
  t.is(decoded?.header.proposer, nodeId(0xabcn));
  t.is(decoded?.header.sequence, 42n);
  t.deepEqual([...(decoded?.payload ?? [])], [7, 8]);
  t.is(decodeProposal(new Uint8Array(0)), undefined);
  t.is(decodeProposal(new Uint8Array(16)), undefined);
});

test("an applied proposal resolves and proves earlier ones lost", async (t) => {
  const pending = new PendingProposals<string>();
  const first = pending.add(1n, 1_000).catch((e: unknown) => e);
  const second = pending.add(2n, 1_000);
  const third = pending.add(3n, 1_000);
  pending.applied(logIndex(10), { sequence: 2n, result: "two" });
  t.is(code(await first), "ETCD_LEADER_CHANGED");
  t.is(await second, "two");
  t.is(pending.size, 1);
  pending.applied(logIndex(11), { sequence: 3n, result: "three" });
  t.is(await third, "three");
  t.is(pending.size, 0);
});

test("a leader's proposal overwritten at its index is rejected", async (t) => {
  const pending = new PendingProposals<string>();
  const mine = pending.add(5n, 1_000).catch((e: unknown) => e);
  pending.placedAt(5n, logIndex(20));
  pending.applied(logIndex(19));
  t.is(pending.size, 1);
  pending.applied(logIndex(20));
  t.is(code(await mine), "ETCD_LEADER_CHANGED");
});

test("deadlines: ETCD_TIMEOUT, or ..._DUE_TO_LEADER_FAIL after a leader change", async (t) => {
  const pending = new PendingProposals<string>();
  const early = pending.add(1n, 100).catch((e: unknown) => e);
  const late = pending.add(2n, 200).catch((e: unknown) => e);
  pending.expire(99);
  t.is(pending.size, 2);
  pending.expire(100);
  t.is(code(await early), "ETCD_TIMEOUT");
  pending.leaderChanged();
  pending.expire(200);
  t.is(code(await late), "ETCD_TIMEOUT_DUE_TO_LEADER_FAIL");
  const stopped = pending.add(3n, 300).catch((e: unknown) => e);
  pending.rejectAll(new EtcdError("ETCD_STOPPED"));
  t.is(code(await stopped), "ETCD_STOPPED");
  t.throws(() => { void pending.add(3n, 400); }, { message: /sequence 3 not above 3/ });
});

test("reads resolve once applied reaches their confirmed index", async (t) => {
  const reads = new PendingReads();
  let resolved = false;
  const confirmed = reads.add(1n, 1_000).then(() => { resolved = true; });
  const unconfirmed = reads.add(2n, 1_000).catch((e: unknown) => e);
  let queuedEnded = false;
  const queued = reads.add(4n, 1_000).finally(() => { queuedEnded = true; });
  reads.requested(1n);
  reads.requested(2n);
  reads.confirmed(1n, logIndex(5));
  reads.applied(logIndex(4));
  await Promise.resolve();
  t.false(resolved);
  reads.leaderChanged();
  t.is(code(await unconfirmed), "ETCD_LEADER_CHANGED");
  t.false(queuedEnded, "a read not yet handed to the core survives a leader change");
  reads.applied(logIndex(5));
  await confirmed;
  t.true(resolved);
  const expiring = reads.add(3n, 10).catch((e: unknown) => e);
  reads.expire(10);
  t.is(code(await expiring), "ETCD_TIMEOUT");
  reads.rejectAll(new EtcdError("ETCD_STOPPED"));
  t.is(code(await queued.catch((e: unknown) => e)), "ETCD_STOPPED");
});

test("the inbox pushes back at its soft bound and drops past its hard bound", async (t) => {
  const inbox = new Inbox();
  const message = new Uint8Array([1]);
  const belowSoft = Array.from({ length: limits.raftInboxMessagesSoftMax - 1 }, () => message);
  t.is(inbox.receive(belowSoft), undefined);
  const room = inbox.receive([message]);
  t.not(room, undefined);
  const overflow = limits.raftInboxMessagesMax - limits.raftInboxMessagesSoftMax + 10;
  t.is(inbox.receive(Array.from({ length: overflow }, () => message)), room);
  t.is(inbox.droppedMessageCount, 10);
  let released = false;
  const waiting = room?.then(() => { released = true; });
  await inbox.next();
  t.false(released);
  const batch = inbox.drain();
  t.is(batch.messages.length, limits.raftInboxMessagesMax);
  await waiting;
  t.true(released);
});

test("a proposal on an isolated leader is overwritten and rejected", async (t) => {
  const ids: NodeId[] = [nodeId(1n), nodeId(2n), nodeId(3n)];
  const network = new MemoryNetwork();
  const members = ids.map((id) => {
    const machine = new ChecksumListStateMachine();
    const node = new RaftNode({
      id, storage: new MemoryNodeStorage({ voters: ids, learners: [] }),
      transport: network.transport(id), stateMachine: machine, clock: new SystemClock(),
      logger: silentLogger, seed: Number(id), tickMs: 10,
    });
    return { id, node, machine };
  });
  for (const m of members) await m.node.start();
  t.teardown(() => Promise.all(members.map((m) => m.node.close())));
  const until = async (condition: () => boolean): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error("timed out");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  await until(() => members.some((m) => m.node.status().role === "leader"));
  const old = members.find((m) => m.node.status().role === "leader");
  if (old === undefined) throw new Error("no leader");
  await old.node.propose(new Uint8Array([1]));
  for (const m of members) if (m !== old) network.partition(old.id, m.id);
  let doomedOutcome: unknown = "pending";
  const doomed = old.node.propose(new Uint8Array([2])).then(
    () => { doomedOutcome = "applied"; }, (e: unknown) => { doomedOutcome = e; });
  const others = members.filter((m) => m !== old);
  await until(() => others.some((m) => m.node.status().role === "leader"));
  const fresh = others.find((m) => m.node.status().role === "leader");
  if (fresh === undefined) throw new Error("no new leader");
  await fresh.node.propose(new Uint8Array([3]));
  await fresh.node.propose(new Uint8Array([4]));
  network.heal();
  // The nodes' timers are unref'd and the network is in memory: poll to keep the test alive.
  await until(() => doomedOutcome !== "pending");
  await doomed;
  t.is(code(doomedOutcome), "ETCD_LEADER_CHANGED");
  await until(() => members.every((m) => m.machine.length === 3));
  t.deepEqual(old.machine.items.map((item) => item[0]), [1, 3, 4]);
});
