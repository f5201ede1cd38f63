// Goal: the datum progress line `pfs wait commit` draws for an output commit's job counts
// processed and skipped datums as done, shows failures, fills its bar in proportion (empty for
// a job with no datum yet), and fits the terminal's width.
// Method: the pure renderer over fixed jobs.
import test from "ava";
import { renderJobProgress } from "../../../cmd/pfs-pps.js";
import type { JobInfoMessage } from "../../../pkg/proto/index.js";

function job(total: number, processed: number, skipped: number, failed: number): JobInfoMessage {
  return { id: "0123456789abcdef0123456789abcdef", pipeline: "wc", pipeline_version: 1,
    state: "RUNNING", input_commit: "", output_commit: "", datums_total: total,
    datums_processed: processed, datums_skipped: skipped, datums_failed: failed,
    created_ms: "0", started_ms: "0", finished_ms: "0", error: "" };
}

test("progress counts processed and skipped as done and fills the bar in proportion", (t) => {
  const half = renderJobProgress(job(40, 15, 5, 1), 80);
  const parts = /^job 01234567 \[(#*)(\.*)\] 20\/40 datums \(5 skipped, 1 failed\)$/.exec(half);
  const [filled, empty] = [parts?.[1]?.length ?? -1, parts?.[2]?.length ?? -1];
  t.true(Math.abs(filled - empty) <= 1, half);
  t.true(half.length <= 80);
  t.regex(renderJobProgress(job(0, 0, 0, 0)), /\[\.{10,}\] 0\/0 datums/);
  t.regex(renderJobProgress(job(3, 3, 0, 0), 60), /\[#+\] 3\/3/);
  t.true(renderJobProgress(job(3, 3, 0, 0), 60).length <= 60);
});
