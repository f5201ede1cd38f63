// Goal: the driver turns the core into a working replicated state machine: proposals from
// any member resolve with their result once applied, every member applies the same sequence,
// reads are linearizable barriers, a lagging member catches up from a snapshot, a restarted
// member rebuilds from its WAL and snapshot, and close/overload fail with etcd's errors.
// Method: three RaftNodes on an in-memory network (or real WAL files in a temp dir) with the
// checksum-list state machine, a 10 ms tick; waits are event-driven polls that fail only
// past a generous bound.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import {
  EtcdError, SystemClock, limits, nodeId, silentLogger, type NodeId,
} from "../../../pkg/common/index.js";
import {
  ChecksumListStateMachine, DiskNodeStorage, MemoryNetwork, MemoryNodeStorage, NodeFileIo,
  RaftNode, ReadyPhases, type NodeStorage, type Transport,
} from "../../../pkg/raftnode/index.js";
import { ConfChangeType, decodeMessage } from "../../../pkg/raft/index.js";

const waitBoundMs = 20_000;
const ids = [nodeId(1n), nodeId(2n), nodeId(3n)];

interface Member {
  readonly id: NodeId;
  readonly node: RaftNode<{ length: number; checksum: string }>;
  readonly machine: ChecksumListStateMachine;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + waitBoundMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The list machine with `snapshotInSlices`: captured at the call, delivered a few event-loop
 * turns and timers later, so the driver's background snapshot path runs with applies going
 * on meanwhile. Counts how many snapshots were asked for that way.
 */
class SlicedListStateMachine extends ChecksumListStateMachine {
  slicedSnapshots = 0;

  snapshotInSlices(): Promise<Uint8Array> {
    this.slicedSnapshots += 1;
    const bytes = this.snapshot();
    return new Promise((resolve) => setTimeout(() => { resolve(bytes); }, 15));
  }
}

/** The system clock whose wall time stands still: every member numbers from one sequence. */
class FrozenWallClock extends SystemClock {
  override wallMs(): number {
    return 1_700_000_000_000;
  }
}

function member(id: NodeId, storage: NodeStorage, transport: Transport,
  snapshotEntries = 1_000, sliced = false, clock = new SystemClock()): Member {
  const machine = sliced ? new SlicedListStateMachine() : new ChecksumListStateMachine();
  const node = new RaftNode({
    id, storage, transport, stateMachine: machine, clock,
    logger: silentLogger, seed: Number(id) * 7919, tickMs: 10, snapshotEntries,
    snapshotCatchUpEntries: 5,
  });
  return { id, node, machine };
}

async function memoryCluster(snapshotEntries = 1_000, sliced = false,
  clock = new SystemClock()) {
  const network = new MemoryNetwork();
  const members = ids.map((id) => member(id,
    new MemoryNodeStorage({ voters: ids, learners: [] }), network.transport(id), snapshotEntries,
    sliced, clock));
  for (const m of members) await m.node.start();
  return { network, members };
}

async function leaderOf(members: readonly Member[]): Promise<Member> {
  let leader: Member | undefined;
  await until(() => {
    leader = members.find((m) => m.node.status().role === "leader");
    return leader !== undefined;
  }, "a leader");
  if (leader === undefined) throw new Error("no leader");
  return leader;
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function converged(members: readonly Member[], length: number): boolean {
  const first = members[0];
  return first !== undefined && members.every((m) =>
    m.machine.length === length && m.machine.checksum === first.machine.checksum);
}

test("proposals from leader and followers apply everywhere in one order", async (t) => {
  const { members } = await memoryCluster();
  t.teardown(() => Promise.all(members.map((m) => m.node.close())));
  const leader = await leaderOf(members);
  const follower = members.find((m) => m !== leader);
  if (follower === undefined) throw new Error("no follower");
  const results = await Promise.all([
    ...Array.from({ length: 50 }, (_, i) => leader.node.propose(bytes(`leader-${i}`))),
    ...Array.from({ length: 50 }, (_, i) => follower.node.propose(bytes(`follower-${i}`))),
  ]);
  t.is(new Set(results.map((r) => r.length)).size, 100, "each proposal got its own result");
  await until(() => converged(members, 100), "all members at 100 entries");
  const texts = leader.machine.items.map((item) => new TextDecoder().decode(item));
  t.deepEqual(texts.filter((x) => x.startsWith("leader-")),
    Array.from({ length: 50 }, (_, i) => `leader-${i}`), "one proposer's entries keep order");
  const status = leader.node.status();
  t.is(status.pendingProposalCount, 0);
  t.is(status.pendingReadCount, 0);
  t.true(status.syncCount > 0);
  t.true(status.persistedEntryCount >= 100);
});

test("readIndex is a barrier: after it, a follower has every acknowledged write", async (t) => {
  const { members } = await memoryCluster();
  t.teardown(() => Promise.all(members.map((m) => m.node.close())));
  const leader = await leaderOf(members);
  const follower = members.find((m) => m !== leader);
  if (follower === undefined) throw new Error("no follower");
  for (let round = 0; round < 20; round += 1) {
    const acknowledged = await leader.node.propose(bytes(`write-${round}`));
    await follower.node.readIndex();
    t.true(follower.machine.length >= acknowledged.length,
      `round ${round}: follower at ${follower.machine.length} < ${acknowledged.length}`);
  }
});

for (const sliced of [false, true]) {
  const how = sliced ? " (snapshots made in the background)" : "";
  test(`a partitioned member catches up from a snapshot after compaction${how}`, async (t) => {
    const { network, members } = await memoryCluster(20, sliced);
    t.teardown(() => Promise.all(members.map((m) => m.node.close())));
    const leader = await leaderOf(members);
    const lagging = members.find((m) => m !== leader);
    if (lagging === undefined) throw new Error("no follower");
    for (const other of members) if (other !== lagging) network.partition(lagging.id, other.id);
    for (let i = 0; i < 100; i += 1) await leader.node.propose(bytes(`entry-${i}`));
    await until(() => leader.node.status().snapshotIndex >= 80, "the leader took snapshots");
    if (leader.machine instanceof SlicedListStateMachine) {
      t.true(leader.machine.slicedSnapshots >= 1, "snapshots went through snapshotInSlices");
    }
    network.heal();
    await until(() => converged(members, 100), "the lagging member catches up");
    t.true(lagging.node.status().snapshotIndex >= 80, "it was caught up by a snapshot");
  });
}

test("reads of members whose sequences coincide all complete (contexts carry the ID)",
  async (t) => {
    // Same wall clock → same read sequences on every member; the leader keeps one pending
    // read per context, so without the member ID in it one member's read would be lost.
    const { members } = await memoryCluster(1_000, false, new FrozenWallClock());
    t.teardown(() => Promise.all(members.map((m) => m.node.close())));
    const leader = await leaderOf(members);
    await leader.node.propose(bytes("first"));
    for (let round = 0; round < 5; round += 1) {
      await Promise.all(members.map((m) => m.node.readIndex()));
    }
    t.pass();
  });

test("close rejects pending work with ETCD_STOPPED, and overload is refused", async (t) => {
  const network = new MemoryNetwork();
  const alone = member(ids[0] ?? nodeId(1n),
    new MemoryNodeStorage({ voters: ids, learners: [] }), network.transport(nodeId(1n)));
  await alone.node.start();
  // Without its peers the member never elects a leader, so nothing commits.
  const proposals = Array.from({ length: limits.etcdPendingProposalsMax },
    (_, i) => alone.node.propose(bytes(`p-${i}`)).then(() => "applied", (e: unknown) => e));
  const refused = await alone.node.propose(bytes("one too many")).catch((e: unknown) => e);
  t.true(refused instanceof EtcdError && refused.code === "ETCD_TOO_MANY_REQUESTS");
  const read = alone.node.readIndex().catch((e: unknown) => e);
  await alone.node.close();
  const outcomes = await Promise.all(proposals);
  t.true(outcomes.every((e) => e instanceof EtcdError &&
    (e.code === "ETCD_NO_LEADER" || e.code === "ETCD_STOPPED")));
  const readOutcome = await read;
  t.true(readOutcome instanceof EtcdError);
  const late = await alone.node.propose(bytes("late")).catch((e: unknown) => e);
  t.true(late instanceof EtcdError && late.code === "ETCD_STOPPED");
});

test("the Ready phases assert persist → send → apply → advance", (t) => {
  const phases = new ReadyPhases();
  phases.begin();
  t.throws(() => { phases.sent(); }, { message: /Ready contract broken: 'sent' while 'began'/ });
  const fresh = new ReadyPhases();
  fresh.begin();
  fresh.persisted();
  fresh.sent();
  fresh.applied();
  fresh.advanced();
  t.is(fresh.readyCount, 1);
  t.throws(() => { fresh.advanced(); }, { message: /'idle' while 'idle'/ });
});

for (const sliced of [false, true]) {
  const how = sliced ? " (snapshots made in the background)" : "";
  test(`members restart from their WAL and snapshot files${how}`, async (t) => {
    const root = await mkdtemp(join(tmpdir(), "pfs-raft-node-"));
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const open = (id: NodeId) => DiskNodeStorage.open({
      walDir: join(root, `${id}`, "wal"), snapshotDir: join(root, `${id}`, "snap"),
      io: new NodeFileIo(), logger: silentLogger, initialVoters: ids,
    });
    const boot = async (network: MemoryNetwork) => {
      const members: Member[] = [];
      for (const id of ids) members.push(member(id, await open(id), network.transport(id), 30,
        sliced));
      for (const m of members) await m.node.start();
      return members;
    };
    const first = await boot(new MemoryNetwork());
    const leader = await leaderOf(first);
    for (let i = 0; i < 75; i += 1) await leader.node.propose(bytes(`durable-${i}`));
    await until(() => converged(first, 75), "first life converged");
    const checksum = leader.machine.checksum;
    await Promise.all(first.map((m) => m.node.close()));

    const second = await boot(new MemoryNetwork());
    t.teardown(() => Promise.all(second.map((m) => m.node.close())));
    const newLeader = await leaderOf(second);
    await newLeader.node.propose(bytes("after restart"));
    await until(() => converged(second, 76), "second life converged");
    t.is(second[0]?.machine.items.slice(0, 75).length, 75);
    t.true(second.some((m) => m.node.status().snapshotIndex >= 60), "restarted from a snapshot");
    const replay = new ChecksumListStateMachine();
    for (const item of second[0]?.machine.items.slice(0, 75) ?? []) {
      replay.apply({ index: 1 as never, data: item });
    }
    t.is(replay.checksum, checksum, "the first 75 entries survived the restart unchanged");
  });
}

test("a storage failure stops the node: onFatal, pending proposals ETCD_STOPPED", async (t) => {
  const network = new MemoryNetwork();
  let failWrites = false;
  class FailingStorage extends MemoryNodeStorage {
    override persist(...args: Parameters<NodeStorage["persist"]>): Promise<void> {
      return failWrites ? Promise.reject(new Error("disk on fire")) : super.persist(...args);
    }
  }
  const storage = new FailingStorage({ voters: [nodeId(1n)], learners: [] });
  let fatal: unknown;
  const changes: string[] = [];
  const machine = new ChecksumListStateMachine();
  const node = new RaftNode({
    id: nodeId(1n), storage, transport: network.transport(nodeId(1n)), stateMachine: machine,
    clock: new SystemClock(), logger: silentLogger, seed: 1, tickMs: 10,
    onFatal: (error) => { fatal = error; },
    onLeadershipChange: (change) => { changes.push(`${change.role}:${change.leader}`); },
  });
  await node.start();
  t.teardown(() => node.close());
  await until(() => node.status().role === "leader", "a single-member leader");
  t.is((await node.propose(bytes("ok"))).length, 1);
  t.is(changes.at(-1), "leader:1", changes.join(" "));
  failWrites = true;
  const outcome = await node.propose(bytes("doomed")).catch((e: unknown) => e);
  t.true(outcome instanceof EtcdError && outcome.code === "ETCD_STOPPED");
  t.true(fatal instanceof Error && fatal.message === "disk on fire");
  t.is(machine.length, 1);
});

test("membership changes apply everywhere; leadership moves on request", async (t) => {
  const { network, members } = await memoryCluster();
  const learnerId = nodeId(4n);
  const learner = member(learnerId, new MemoryNodeStorage({ voters: [], learners: [] }),
    network.transport(learnerId));
  t.teardown(() => Promise.all([...members, learner].map((m) => m.node.close())));
  const leader = await leaderOf(members);
  await leader.node.propose(bytes("before the learner"));
  const added = await leader.node.proposeConfChange({
    type: ConfChangeType.AddLearner, nodeId: learnerId, context: bytes("127.0.0.1:1"),
  });
  t.deepEqual(added.learners, [learnerId]);
  await learner.node.start();
  await leader.node.propose(bytes("after the learner"));
  await until(() => converged([...members, learner], 2), "the learner caught up");
  t.not(learner.node.status().role, "leader");

  const target = members.find((m) => m !== leader);
  if (target === undefined) throw new Error("no follower");
  await leader.node.transferLeadership(target.id);
  await until(() => target.node.status().role === "leader", "the transferee leads");
  const refused = await target.node.transferLeadership(learnerId).catch((e: unknown) => e);
  t.true(refused instanceof EtcdError && refused.code === "ETCD_BAD_LEADER_TRANSFEREE");
  const removed = await target.node.proposeConfChange({
    type: ConfChangeType.RemoveNode, nodeId: learnerId, context: new Uint8Array(0),
  });
  t.deepEqual(removed.learners, []);
  t.is(removed.voters.length, 3);
  await until(() => members.every((m) => m.node.membership().learners.length === 0),
    "every member applied the removal");
});

test("messages wait for the disk: acks and votes only after what they promise is stored", async (t) => {
  // Each persist takes a macrotask. Every message is checked when sent: an append ack only
  // once its entries are in the member's storage, a granted vote only once the vote is, and
  // during a persist only a leader's replication messages may leave (the parallel append).
  const network = new MemoryNetwork();
  const violations: string[] = [];
  let acks = 0;
  let votes = 0;
  const early = new Set(["appendEntries", "heartbeat", "installSnapshot"]);
  const members = ids.map((id) => {
    let persisting = false;
    class SlowStorage extends MemoryNodeStorage {
      override async persist(...args: Parameters<NodeStorage["persist"]>): Promise<void> {
        persisting = true;
        await new Promise((resolve) => setImmediate(resolve));
        await super.persist(...args);
        persisting = false;
      }
    }
    const storage = new SlowStorage({ voters: ids, learners: [] });
    const check = (bytes: Uint8Array): void => {
      const decoded = decodeMessage(bytes);
      if (!decoded.ok) return;
      const m = decoded.value;
      if (persisting && !early.has(m.type)) violations.push(`${m.type} during persist`);
      if (m.type === "appendEntriesResponse" && !m.reject) {
        acks += 1;
        if (storage.lastIndex() < m.index) violations.push(`ack ${m.index} > stored`);
      }
      if (m.type === "requestVoteResponse" && !m.reject && !m.preVote) {
        votes += 1;
        const stored = storage.initialState().hardState;
        if (stored.vote !== m.to || stored.term !== m.term) violations.push("vote not stored");
      }
    };
    const inner = network.transport(id);
    const transport: Transport = {
      start: (handler) => inner.start(handler),
      send: (messages) => {
        for (const message of messages) check(message.bytes);
        inner.send(messages);
      },
      setPeer: () => undefined,
      removePeer: () => undefined,
      close: () => inner.close(),
    };
    return member(id, storage, transport);
  });
  for (const m of members) await m.node.start();
  t.teardown(() => Promise.all(members.map((m) => m.node.close())));
  const leader = await leaderOf(members);
  await Promise.all(Array.from({ length: 30 }, (_, i) => leader.node.propose(bytes(`p${i}`))));
  t.deepEqual(violations, []);
  t.true(acks > 0 && votes > 0, `acks ${acks}, votes ${votes}`);
});
