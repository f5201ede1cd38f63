// Goal: simulated time moves only when told to, fires timers in (due, insertion) order with
// the clock reading each timer's own due time, and supports cancel and abortable sleep.
import test from "ava";
import { SimulatedClock, SystemClock } from "../../../pkg/common/index.js";

test("time stands still until advanced", (t) => {
  const clock = new SimulatedClock(100);
  t.is(clock.nowMs(), 100);
  clock.advance(50);
  t.is(clock.nowMs(), 150);
  t.is(clock.wallMs() - clock.nowMs(), 1_700_000_000_000);
});

test("timers fire in due order, ties in insertion order, each at its due time", (t) => {
  const clock = new SimulatedClock();
  const fired: string[] = [];
  clock.setTimer(30, () => fired.push(`c@${clock.nowMs()}`));
  clock.setTimer(10, () => fired.push(`a@${clock.nowMs()}`));
  clock.setTimer(10, () => fired.push(`b@${clock.nowMs()}`));
  clock.advance(20);
  t.deepEqual(fired, ["a@10", "b@10"]);
  clock.advance(20);
  t.deepEqual(fired, ["a@10", "b@10", "c@30"]);
  t.is(clock.nowMs(), 40);
});

test("a timer set by a firing timer fires in the same advance when due", (t) => {
  const clock = new SimulatedClock();
  const fired: number[] = [];
  clock.setTimer(5, () => {
    fired.push(clock.nowMs());
    clock.setTimer(5, () => fired.push(clock.nowMs()));
  });
  clock.advance(12);
  t.deepEqual(fired, [5, 10]);
});

test("cancelled timers never fire", (t) => {
  const clock = new SimulatedClock();
  let fired = false;
  const timer = clock.setTimer(5, () => { fired = true; });
  t.is(clock.pendingTimerCount(), 1);
  timer.cancel();
  timer.cancel();
  clock.advance(10);
  t.false(fired);
  t.is(clock.pendingTimerCount(), 0);
});

test("sleep resolves when time passes and rejects on abort", async (t) => {
  const clock = new SimulatedClock();
  const slept = clock.sleep(100);
  clock.advance(100);
  await t.notThrowsAsync(slept);
  const controller = new AbortController();
  const aborted = clock.sleep(100, controller.signal);
  controller.abort(new Error("stop"));
  await t.throwsAsync(aborted, { message: "stop" });
  t.is(clock.pendingTimerCount(), 0);
});

test("time cannot go backwards", (t) => {
  const clock = new SimulatedClock(10);
  t.throws(() => { clock.advanceTo(5); }, { message: /back from 10 to 5/ });
  t.throws(() => { clock.advance(-1); }, { message: /-1/ });
});

test("the system clock is monotonic and its timers fire", async (t) => {
  const clock = new SystemClock();
  const before = clock.nowMs();
  await clock.sleep(5);
  t.true(clock.nowMs() >= before);
  t.true(Math.abs(clock.wallMs() - Date.now()) < 1000);
});
