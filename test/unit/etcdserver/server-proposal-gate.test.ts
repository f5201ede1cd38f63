// The push-back gate: callers beyond the in-flight bound wait in FIFO order instead of
// failing; only beyond the pending bound are they refused with etcd's "too many requests";
// close refuses waiters with "server stopped".
import test from "ava";
import { ProposalGate } from "../../../pkg/etcdserver/index.js";

test("waits, then refuses past the bound, in FIFO order", async (t) => {
  const gate = new ProposalGate(2, 4);
  const releases: (() => void)[] = [];
  const order: number[] = [];
  const work = (id: number) => gate.run(() => new Promise<number>((resolve) => {
    order.push(id);
    releases.push(() => { resolve(id); });
  }));
  const running = [work(1), work(2), work(3), work(4)];
  await t.throwsAsync(work(5), { message: "etcdserver: too many requests" });
  t.is(gate.inFlight, 2);
  t.is(gate.waiting, 2);
  t.deepEqual(order, [1, 2]);
  releases.shift()?.();
  await running[0];
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(order, [1, 2, 3]);
  while (releases.length > 0 || order.length < 4) {
    releases.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.deepEqual(await Promise.all(running), [1, 2, 3, 4]);
  t.is(gate.inFlight, 0);
});

test("close refuses waiting and later callers", async (t) => {
  const gate = new ProposalGate(1, 3);
  let release: (() => void) | undefined;
  const first = gate.run(() => new Promise<void>((resolve) => { release = resolve; }));
  const waiting = gate.run(() => Promise.resolve());
  gate.close();
  await t.throwsAsync(waiting, { message: "etcdserver: server stopped" });
  await t.throwsAsync(gate.run(() => Promise.resolve()), { message: "etcdserver: server stopped" });
  release?.();
  await first;
});
