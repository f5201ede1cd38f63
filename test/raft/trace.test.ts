/**
 * Goal: the exact message flows of key protocols stay as reviewed (STYLE rule 18). Method: run
 * a script on the harness, render every delivered message and role change as one line (as
 * etcd-io/raft's interaction traces), and compare with the recorded ava snapshot; a change in
 * behaviour shows up as a diff to review (`npx ava test/raft/trace.test.ts -u` re-records).
 */
import test from "ava";
import type { Message } from "../../pkg/raft/index.js";
import { Cluster, id, text, textOf } from "./harness.js";

function render(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case "appendEntries":
      return `${head} prev=${m.index}/${m.logTerm} commit=${m.commit} entries=[${m.entries.map((e) => `${e.index}/${e.term}${e.data.length > 0 ? `:${textOf(e.data)}` : ""}`).join(" ")}]`;
    case "appendEntriesResponse":
      return `${head} index=${m.index}${m.reject ? ` reject hint=${m.rejectHint}/${m.logTerm}` : ""}`;
    case "requestVote":
      return `${head}${m.preVote ? " pre" : ""}${m.transfer ? " transfer" : ""} last=${m.index}/${m.logTerm}`;
    case "requestVoteResponse":
      return `${head}${m.preVote ? " pre" : ""}${m.reject ? " reject" : " grant"}`;
    case "heartbeat":
      return `${head} commit=${m.commit}${m.context.length > 0 ? ` ctx=${textOf(m.context)}` : ""}`;
    case "heartbeatResponse":
      return `${head}${m.context.length > 0 ? ` ctx=${textOf(m.context)}` : ""}`;
    case "readIndexResponse":
      return `${head} index=${m.index} ctx=${textOf(m.context)}`;
    default:
      return head;
  }
}

/** Runs the cluster to quiescence, recording deliveries and role changes. */
function traced(c: Cluster, lines: string[], action: () => void): void {
  action();
  for (let round = 0; round < 100; round += 1) {
    c.processAll();
    for (const [nodeId, h] of c.nodes) {
      const soft = h.readies[h.readies.length - 1]?.softState;
      if (soft !== undefined && !lines.includes(`# ${nodeId} ${soft.role} lead=${soft.leader} @${h.readies.length}`)) {
        lines.push(`# ${nodeId} ${soft.role} lead=${soft.leader} @${h.readies.length}`);
      }
    }
    if (c.queue.length === 0) return;
    for (const m of c.deliver()) lines.push(render(m));
  }
}

test("pre-vote election, replication, ReadIndex and leader transfer (trace)", (t) => {
  const c = new Cluster([1, 2, 3]);
  const lines: string[] = [];
  lines.push("> campaign 1");
  traced(c, lines, () => { c.raw(1).campaign(); });
  lines.push("> propose 1 hello");
  traced(c, lines, () => { c.raw(1).propose(text("hello")); });
  lines.push("> read-index 2 r1");
  traced(c, lines, () => { c.raw(2).readIndex(text("r1")); });
  lines.push("> transfer-leader 1 -> 3");
  traced(c, lines, () => { c.raw(1).transferLeader(id(3)); });
  t.snapshot(lines.join("\n"));
});
