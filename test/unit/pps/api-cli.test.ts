// Goal: the pipelines API through the real `pfs` CLI against a real pfsd: create (YAML file),
// list, inspect, update (JSON on stdin, --reprocess) and delete round-trip with the --json
// shapes the issue gives; the output repo is made and removed with its pipeline; and every
// refusal (a bad spec naming its field, YAML that does not parse, an oversized spec, an
// unknown input repo, a duplicate name, a name that is a repo already, a cycle, deleting a
// pipeline another one reads, unknown pipelines and jobs) exits non-zero with one line on
// stderr and changes nothing: the /pps keys and the repo list are the same after it.
// Method: one 1-node pfsd (embedded etcd); the CLI as a child process; the store read with
// etcd3. No pps master runs jobs here that the assertions depend on.
import test, { type ExecutionContext } from "ava";
import { oneErrorLine } from "../../e2e/pfs-cli-suite.js";
import { type PpsTestNode, ppsKeys, startPpsNode, storeState } from "./api-support.js";

let node: PpsTestNode;

test.before(async () => {
  node = await startPpsNode();
  for (const repo of ["words", "taken"]) {
    const run = await node.pfs(["create", "repo", repo]);
    if (run.code !== 0) throw new Error(run.stderr);
  }
});

test.after.always(async () => {
  await node.stop();
});

const wcYaml = `
pipeline:
  name: wc
description: counts words
input:
  pfs:
    repo: words
    glob: "/*"
transform:
  cmd: [sh, -c, "wc -w $PFS_IN/words/* > $PFS_OUT/count"]
parallelism_spec:
  constant: 2
`;

interface PipelineJson {
  name: string; version: number; reprocess: boolean; last_job: string; last_job_state: string;
  created_ms: number; updated_ms: number;
  spec: { name: string; input: Record<string, string>; transform: { cmd: string[] };
    parallelism: number; datum_tries: number; description: string };
}

async function repoNames(): Promise<string[]> {
  const repos = await node.json(["list", "repo"]) as { name: string; description: string }[];
  return repos.map((repo) => `${repo.name}:${repo.description}`).sort();
}

test.serial("create, list, inspect, update, delete round-trip with --json shapes", async (t) => {
  const created = await node.pfs(["create", "pipeline", "-f", await node.specFile(wcYaml)]);
  t.is(created.code, 0, created.stderr);
  t.is(created.stdout, "");
  t.true((await repoNames()).includes("wc:output of pipeline wc"));
  const listed = await node.json(["list", "pipeline"]) as { pipelines: PipelineJson[] };
  t.deepEqual(Object.keys(listed), ["pipelines"]);
  t.is(listed.pipelines.length, 1);
  const first = listed.pipelines[0];
  t.like(first, { name: "wc", version: 1, reprocess: false });
  t.deepEqual(first?.spec.input, { repo: "words", branch: "master", glob: "/*", name: "words" });
  t.like(first?.spec, { parallelism: 2, datum_tries: 3, description: "counts words" });
  t.true((first?.created_ms ?? 0) > 0);
  const inspected = await node.json(["inspect", "pipeline", "wc"]) as PipelineJson;
  t.deepEqual(inspected, first);
  const human = await node.pfs(["inspect", "pipeline", "wc"]);
  t.regex(human.stdout, /^Name: +wc$/m);
  t.regex(human.stdout, /^Input: +words@master:\/\*$/m);
  // Update from stdin, as JSON, asking to reprocess.
  const json = JSON.stringify({ name: "wc", input: { repo: "words", glob: "/" },
    transform: { cmd: ["true"] } });
  const updated = await node.pfs(["update", "pipeline", "-f", "-", "--reprocess"], json);
  t.is(updated.code, 0, updated.stderr);
  const after = await node.json(["inspect", "pipeline", "wc"]) as PipelineJson;
  t.like(after, { version: 2, reprocess: true, created_ms: first?.created_ms });
  t.is(after.spec.input["glob"], "/");
  t.true(after.updated_ms >= after.created_ms);
  const jobs = await node.json(["list", "job", "-p", "wc"]) as { jobs: unknown[] };
  t.deepEqual(Object.keys(jobs), ["jobs"]);
  const removed = await node.pfs(["delete", "pipeline", "wc"]);
  t.is(removed.code, 0, removed.stderr);
  t.deepEqual(await node.json(["list", "pipeline"]), { pipelines: [] });
  t.false((await repoNames()).some((repo) => repo.startsWith("wc:")));
  t.deepEqual((await ppsKeys(node.etcd)).filter((key) => key.includes("wc")), []);
});

/** A command that must be refused: its arguments, stdin, and the one line it prints. */
type Refusal = readonly [args: readonly string[], message: RegExp, input?: string];

/**
 * Runs every refusal at once: each exits 1 with one line on stderr matching its message and
 * nothing on stdout, and together they change nothing in the store.
 */
async function refused(t: ExecutionContext, refusals: readonly Refusal[]): Promise<void> {
  const before = await storeState(node.etcd);
  const runs = await Promise.all(refusals.map(([args, , input]) => node.pfs(args, input)));
  for (const [index, run] of runs.entries()) {
    const [args, message] = refusals[index] ?? [[], /$^/];
    const what = `pfs ${args.join(" ")}: ${run.stderr}`;
    t.is(run.code, 1, what);
    t.is(run.stdout, "", what);
    t.regex(run.stderr, oneErrorLine, what);
    t.regex(run.stderr, message, what);
  }
  t.deepEqual(await storeState(node.etcd), before, "a refusal changed the store");
}

function spec(name: string, repo: string, extra = ""): string {
  return `name: ${name}\ninput: {repo: ${repo}, glob: "/*"}\ntransform: {cmd: [cat]}\n${extra}`;
}

test.serial("bad specs are refused naming the field, and change nothing", async (t) => {
  const texts: [string, RegExp][] = [
    ["name: p\ninput: {repo: words, glob: \"/*\"}\ntransform: {}\n",
      /invalid pipeline spec: transform\.cmd must be a non-empty list/],
    [spec("p", "words", "parallelism: 0\n"), /parallelism must be between 1/],
    [spec("p", "words", "colour: red\n"), /"colour" is not a known field/],
    ["name: [p\n", /invalid pipeline spec: not JSON or YAML/],
    ["", /the spec is empty/],
    [spec("p", "words", `description: "${"x".repeat(300 * 1024)}"\n`), /ppsSpecBytesMax/],
  ];
  const refusals: Refusal[] = [];
  for (const [text, message] of texts) {
    refusals.push([["create", "pipeline", "-f", await node.specFile(text)], message]);
  }
  refusals.push([["create", "pipeline"], /give the spec with -f/]);
  refusals.push([["update", "pipeline", "-f", "-"], /transform is required/, "name: p\n" +
    "input: {repo: words, glob: /}\n"]);
  await refused(t, refusals);
});

test.serial("unknown input, duplicates, repo names and cycles are refused", async (t) => {
  const stdin = ["create", "pipeline", "-f", "-"];
  await refused(t, [
    [stdin, /input repo nowhere does not exist/, spec("p", "nowhere")],
    [stdin, /repo taken already exists/, spec("taken", "words")],
  ]);
  t.is((await node.pfs(stdin, spec("a", "words"))).code, 0);
  t.is((await node.pfs(stdin, spec("b", "a"))).code, 0);
  const update = ["update", "pipeline", "-f", "-"];
  await refused(t, [
    [stdin, /pipeline a already exists/, spec("a", "words")],
    [update, /would make a cycle: a → b → a/, spec("a", "b")],
    [update, /pipeline zz does not exist/, spec("zz", "words")],
    [["delete", "pipeline", "a"], /pipeline a cannot be deleted: pipeline b reads its output/],
    [["delete", "pipeline", "zz"], /pipeline zz does not exist/],
    [["inspect", "pipeline", "zz"], /pipeline zz does not exist/],
    [["list", "job", "-p", "zz"], /pipeline zz does not exist/],
    [["inspect", "job", "0123456789abcdef0123456789abcdef"], /job 0123.* does not exist/],
    [["inspect", "job", "NOT-HEX"], /is not a job id/],
    [["logs", "-p", "zz"], /pipeline zz does not exist/],
  ]);
  // Deleting in the right order works, and leaves no /pps key of either behind.
  t.is((await node.pfs(["delete", "pipeline", "b"])).code, 0);
  t.is((await node.pfs(["delete", "pipeline", "a"])).code, 0);
  t.deepEqual((await ppsKeys(node.etcd)).filter((key) => /\/(a|b)(\/|$)/.test(key)), []);
});
