/**
 * Goal: the leader's flow control holds its bounds: appends pipeline up to the in-flight
 * window and no further, each message stays within maxMessageBytes (one entry at least), the
 * uncommitted limit refuses proposals, an unreachable follower falls back to probing, and the
 * Ready/advance protocol is enforced. Method: a harness cluster with a follower cut off.
 */
import test from "ava";
import { type Message } from "../../pkg/raft/index.js";
import { Cluster, id, text } from "./harness.js";

/** The appends carrying entries (not the empty commit updates) sent to `to`. */
const appendsTo = (messages: readonly Message[], to: number): Message[] =>
  messages.filter((m) => m.type === "appendEntries" && m.to === id(to) && m.entries.length > 0);

test("pipelining stops at maxInflightMessages until acknowledgements free the window", (t) => {
  const c = new Cluster([1, 2, 3], { maxInflightMessages: 2 });
  c.elect(1);
  c.cut.add("1->3"); // Appends to 3 are lost; 3 stays in replicate state with a full window.
  const sent: Message[] = [];
  for (let k = 0; k < 5; k += 1) {
    t.true(c.raw(1).propose(text(`e${k}`)).ok);
    c.processAll();
    sent.push(...c.queue);
    c.deliver();
    c.processAll();
  }
  t.is(appendsTo(sent, 3).length, 2, "two appends in flight, then the window is full");
  t.is(c.raw(1).status().progress?.get(id(3))?.state, "replicate");
  c.heal();
  c.tick(3); // Heartbeat responses free the window; 3 detects the gap and is repaired.
  t.deepEqual(c.appliedText(3), ["e0", "e1", "e2", "e3", "e4"]);
});

test("each append stays within maxMessageBytes, but always carries one entry", (t) => {
  const c = new Cluster([1, 2], { maxMessageBytes: 100 });
  c.elect(1);
  c.isolate(2);
  for (let k = 0; k < 6; k += 1) t.true(c.raw(1).propose(new Uint8Array(40)).ok);
  t.true(c.raw(1).propose(new Uint8Array(300)).ok);
  c.stabilize();
  c.heal();
  const seen: Message[] = [];
  for (let k = 0; k < 10; k += 1) {
    c.raw(1).tick();
    c.processAll();
    seen.push(...c.queue);
    c.deliver();
    c.processAll();
  }
  const sizes = appendsTo(seen, 2)
    .flatMap((m) => (m.type === "appendEntries" && m.entries.length > 0 ? [m.entries] : []))
    .map((entries) => entries.reduce((sum, e) => sum + e.data.length, 0));
  t.true(sizes.length >= 4, `sizes ${sizes.join(",")}`);
  for (const size of sizes) t.true(size <= 100 || size === 300, `message of ${size} bytes`);
  t.is(c.get(2).applied.length, c.get(1).applied.length);
});

test("the uncommitted limit refuses proposals until entries commit", (t) => {
  const c = new Cluster([1, 2, 3], { maxUncommittedBytes: 100 });
  c.elect(1);
  c.isolate(1);
  t.true(c.raw(1).propose(new Uint8Array(60)).ok);
  t.true(c.raw(1).propose(new Uint8Array(40)).ok);
  t.deepEqual(c.raw(1).propose(new Uint8Array(1)), { ok: false, error: "uncommitted-limit" });
  c.heal();
  c.tick(2);
  t.true(c.raw(1).propose(new Uint8Array(60)).ok, "applied entries free the budget");
});

test("reportUnreachable drops a follower from pipelining back to probing", (t) => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  t.is(c.raw(1).status().progress?.get(id(2))?.state, "replicate");
  c.raw(1).reportUnreachable(id(2));
  t.is(c.raw(1).status().progress?.get(id(2))?.state, "probe");
});

test("ready and advance must alternate; a proposal without a leader is refused", (t) => {
  const c = new Cluster([1, 2, 3]);
  t.deepEqual(c.raw(2).propose(text("x")), { ok: false, error: "no-leader" });
  t.deepEqual(c.raw(2).readIndex(text("r")), { ok: false, error: "no-leader" });
  c.raw(1).campaign();
  const node = c.raw(1);
  t.true(node.hasReady());
  node.ready();
  t.false(node.hasReady(), "no new Ready while one is outstanding");
  t.throws(() => node.ready(), { message: /before advance/ });
  node.advance();
  t.throws(() => { node.advance(); }, { message: /without an outstanding/ });
  t.deepEqual(node.step({ type: "timeoutNow", from: id(2), to: id(3), term: 1 as never }), {
    ok: false, error: "wrong-recipient",
  });
});

test("pipelining also stops at maxInflightBytes", (t) => {
  const c = new Cluster([1, 2, 3], { maxMessageBytes: 100, maxInflightBytes: 250 });
  c.elect(1);
  c.cut.add("1->3");
  const sent: Message[] = [];
  for (let k = 0; k < 6; k += 1) {
    t.true(c.raw(1).propose(new Uint8Array(100)).ok);
    c.processAll();
    sent.push(...c.queue);
    c.deliver();
    c.processAll();
  }
  t.is(appendsTo(sent, 3).length, 3, "100 + 100 + 100 bytes reach the 250-byte window");
  c.heal();
  c.tick(4);
  t.is(c.get(3).applied.length, c.get(1).applied.length);
});

test("a leader transfer to an unreachable voter is abandoned after an election timeout", (t) => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.isolate(3);
  c.tick(1);
  t.true(c.raw(1).propose(text("lagging")).ok);
  c.stabilize();
  t.true(c.raw(1).transferLeader(id(3)).ok);
  t.deepEqual(c.raw(1).propose(text("x")), { ok: false, error: "transfer-in-progress" });
  c.tick(10, [1, 2]);
  t.deepEqual(c.leaders(), [1]);
  t.true(c.raw(1).propose(text("after")).ok, "proposals resume once the transfer is dropped");
  c.stabilize();
  t.deepEqual(c.appliedText(2), ["lagging", "after"]);
});
