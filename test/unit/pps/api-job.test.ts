// Goal: with the pps master and worker that every pfsd runs, a pipeline created through the
// CLI over a repo with one file produces a successful job whose output commit holds the right
// bytes, and the job is seen the same way by `list job --json` (newest first, the issue's
// shape), `inspect job --json`, `list pipeline --json` (last job state) and `wait commit`; a
// pipeline whose command fails gets a failed job whose stderr `pfs logs` shows under a header
// naming the job and the datum; the node's pfs_pipeline_* metrics count both jobs; deleting
// the pipelines removes their jobs, skip records and output repos.
// Method: one 1-node pfsd; the CLI as a child process; jobs polled (generous bounds).
import test from "ava";
import { type PpsTestNode, ppsKeys, startPpsNode } from "./api-support.js";

let node: PpsTestNode;

test.before(async () => {
  node = await startPpsNode();
});

test.after.always(async () => {
  await node.stop();
});

interface JobJson {
  id: string; pipeline: string; state: string; input_commit: string; output_commit: string;
  datums_total: number; datums_processed: number; datums_skipped: number; datums_failed: number;
  error: string;
}

/** The pipeline's newest job once it is final (or the last seen, after `timeoutMs`). */
async function finalJob(pipeline: string, timeoutMs = 120_000): Promise<JobJson | undefined> {
  const deadline = Date.now() + timeoutMs;
  let newest: JobJson | undefined;
  while (Date.now() < deadline) {
    const { jobs } = await node.json(["list", "job", "-p", pipeline]) as { jobs: JobJson[] };
    newest = jobs[0];
    if (newest !== undefined && ["success", "failure", "killed"].includes(newest.state)) {
      return newest;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return newest;
}

async function ok(args: readonly string[], input?: string): Promise<string> {
  const run = await node.pfs(args, input);
  if (run.code !== 0) throw new Error(`pfs ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

test("a pipeline over one file succeeds; a failing one shows its stderr in logs", async (t) => {
  await ok(["create", "repo", "text"]);
  await ok(["put", "file", "text@master:/a.txt", "-f", "-"], "one two three\n");
  await ok(["create", "pipeline", "-f", "-"], JSON.stringify({
    name: "count", input: { repo: "text", glob: "/*" },
    transform: { cmd: ["sh", "-c",
      "for f in \"$PFS_IN\"/text/*; do wc -w < \"$f\" | tr -d ' ' > \"$PFS_OUT/$(basename \"$f\")\"; " +
      "echo counted \"$f\" >&2; done"] },
  }));
  await ok(["create", "pipeline", "-f", "-"], "name: broken\ninput: {repo: text, glob: /}\n" +
    "transform: {cmd: [sh, -c, 'echo boom-on-stderr >&2; exit 3']}\ndatum_tries: 1\n");
  const [count, broken] = await Promise.all([finalJob("count"), finalJob("broken")]);
  t.like(count, { pipeline: "count", state: "success", datums_total: 1, datums_processed: 1,
    datums_skipped: 0, datums_failed: 0, error: "" });
  t.regex(count?.input_commit ?? "", /^text@[0-9a-f]{32}$/);
  t.regex(count?.output_commit ?? "", /^count@[0-9a-f]{32}$/);
  t.is(await ok(["get", "file", `${count?.output_commit ?? ""}:/a.txt`]), "3\n");
  t.deepEqual(await node.json(["inspect", "job", count?.id ?? ""]), count);
  const waited = await node.pfs(["wait", "commit", count?.output_commit ?? ""]);
  t.is(waited.code, 0, waited.stderr);
  const { pipelines } = await node.json(["list", "pipeline"]) as
    { pipelines: { name: string; last_job: string; last_job_state: string }[] };
  t.like(pipelines.find((pipeline) => pipeline.name === "count"),
    { last_job: count?.id, last_job_state: "success" });
  t.like(broken, { pipeline: "broken", state: "failure", datums_total: 1 });
  const logs = await ok(["logs", "-p", "broken"]);
  t.regex(logs, new RegExp(`^==> job ${broken?.id ?? "?"}  datum .* <==$`, "m"));
  t.regex(logs, /boom-on-stderr/);
  const countLogs = await ok(["logs", "-p", "count", "--job", count?.id ?? ""]);
  t.regex(countLogs, /counted .*a\.txt/);
  // The node's pfs_pipeline_* metrics see the same (read from the store at scrape time).
  const metrics = await (await fetch(node.metricsUrl)).text();
  t.regex(metrics, /^pfs_pipeline_pipelines 2$/m);
  t.regex(metrics, /^pfs_pipeline_jobs\{pipeline="count",state="success"\} 1$/m);
  t.regex(metrics, /^pfs_pipeline_jobs\{pipeline="broken",state="failure"\} 1$/m);
  // Deleting both takes their jobs, skip records and output repos with them.
  await ok(["delete", "pipeline", "count"]);
  await ok(["delete", "pipeline", "broken"]);
  t.deepEqual(await node.json(["list", "job"]), { jobs: [] });
  const repos = await node.json(["list", "repo"]) as { name: string }[];
  t.deepEqual(repos.map((repo) => repo.name), ["text"]);
  t.deepEqual((await ppsKeys(node.etcd)).filter((key) => /\/(count|broken)(\/|$)/.test(key)),
    []);
});
