// Goal: the master's verdict on a finished job (judgeResults, pkg/pps/master/assembly.ts) is
// exactly the runtime rule: any failed datum fails the job, naming the failed datums' roots
// (the first five, then a count); else two datums — skipped ones included — writing the same
// path fail it, naming both roots and the path; else it succeeds; the counts add up.
// Method: fast-check over random results and skip records (paths from a small alphabet so
// collisions happen); the expected verdict is computed the naive way. Seed printed on failure.
import test from "ava";
import fc from "fast-check";
import type { DatumResultRecord, SkipRecord } from "../../../pkg/pps/index.js";
// eslint-disable-next-line pfs/boundaries -- the master under test, from its own index
import { judgeResults } from "../../../pkg/pps/master/index.js";

const paths = fc.uniqueArray(fc.constantFrom("/a", "/b", "/c", "/d", "/e", "/f"),
  { maxLength: 2 });
const datum = fc.record({ ok: fc.boolean(), outputs: paths,
  skipped: fc.boolean() });

function result(index: number, ok: boolean, outputs: readonly string[]): DatumResultRecord {
  return { jobId: "j", datumId: `d${index}`, root: `/r${index}`, ok, node: "n", attempts: 2,
    outputs: ok ? outputs : [], staged: "p@c", error: ok ? "" : `exit ${index}`,
    durationMs: 1, finishedMs: 1 };
}

test("judgeResults: failures first, then collisions, else success", (t) => {
  fc.assert(fc.property(fc.array(datum, { maxLength: 12 }), (datums) => {
    const results = new Map<string, DatumResultRecord>();
    const skipped = new Map<string, SkipRecord>();
    datums.forEach((entry, index) => {
      if (entry.skipped) {
        skipped.set(`d${index}`, { datumId: `d${index}`, root: `/r${index}`,
          outputCommit: "p@old", outputs: entry.outputs });
      } else {
        results.set(`d${index}`, result(index, entry.ok, entry.outputs));
      }
    });
    const verdict = judgeResults(results, skipped);
    const failed = [...results.values()].filter((entry) => !entry.ok);
    t.is(verdict.failed, failed.length);
    t.is(verdict.processed, results.size - failed.length);
    if (failed.length > 0) {
      for (const entry of failed.slice(0, 5)) t.true(verdict.error.includes(`datum ${entry.root} failed`));
      t.is(verdict.error.includes("more failed datum"), failed.length > 5);
      return;
    }
    const written = [...results.values(), ...skipped.values()].flatMap((entry) => entry.outputs);
    const clash = written.length !== new Set(written).size;
    t.is(verdict.error !== "", clash, verdict.error);
    if (clash) t.regex(verdict.error, /^datums \/r\d+ and \/r\d+ both wrote \/[a-f]$/);
  }), { seed: Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 1_000_000) });
});
