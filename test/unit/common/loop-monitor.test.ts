// Goal: a synchronous stretch on the event loop is noticed and logged at warn with its
// length; a stopped monitor notices nothing.
// Method: the real clock; the thread is kept busy for 300 ms (well past the warn threshold
// plus one interval), then the monitor must have measured a stall of at least the busy time
// minus one interval.
import test from "ava";
import { LoopMonitor, MemoryLogger, SystemClock, limits } from "../../../pkg/common/index.js";

const busyMs = 300;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

test("a busy event loop is reported as a stall with its length", async (t) => {
  const logger = new MemoryLogger();
  const monitor = new LoopMonitor(new SystemClock(), logger);
  monitor.start();
  t.teardown(() => { monitor.stop(); });
  await sleep(limits.loopMonitorIntervalMs / 2);
  const until = performance.now() + busyMs;
  while (performance.now() < until) { /* hold the thread */ }
  await sleep(limits.loopMonitorIntervalMs * 2);
  t.true(monitor.worstStallMs >= busyMs - limits.loopMonitorIntervalMs,
    `worst stall ${monitor.worstStallMs} ms`);
  const warnings = logger.records.filter((record) => record.message === "event loop stalled");
  t.true(warnings.length >= 1, "the stall was logged");
  const stalled = warnings[0]?.fields["stalledMs"];
  t.is(typeof warnings[0]?.fields["gcMs"], "number");
  t.true(typeof stalled === "number" && stalled >= limits.loopStallWarnMs);
});

test("a stopped monitor measures and logs nothing more", async (t) => {
  const logger = new MemoryLogger();
  const monitor = new LoopMonitor(new SystemClock(), logger);
  monitor.start();
  monitor.start(); // idempotent: one timer
  await sleep(limits.loopMonitorIntervalMs);
  monitor.stop();
  monitor.stop();
  await sleep(limits.loopMonitorIntervalMs); // a warning measured before the stop is written
  const worst = monitor.worstStallMs;
  const logged = logger.records.length;
  const until = performance.now() + busyMs;
  while (performance.now() < until) { /* hold the thread */ }
  await sleep(limits.loopMonitorIntervalMs * 2);
  t.is(monitor.worstStallMs, worst);
  t.is(logger.records.length, logged);
});
