// Goal: a datum attempt runs as pkg/pps/datum-runner.ts documents, with real processes and
// files: inputs under $PFS_IN/<input name>/<path>, outputs from $PFS_OUT with their pfs paths,
// the spec's env and stdin lines, stdout+stderr kept (and cut at the limit), a non-zero exit or
// a missing command failing with a one-line reason, a timeout or an abort killing the whole
// process group (a background grandchild too), and a symlink in $PFS_OUT refused.
// Method: `sh -c` commands in a temp dir per test, removed afterwards.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { compileGlob } from "../../../pkg/pfs/index.js";
import {
  type Datum, type DatumAttemptResult, type PipelineSpec, checkPipelineSpec,
  ppsDatumLogBytesMax, runDatumAttempt, splitDatums,
} from "../../../pkg/pps/index.js";

const contents = new Map([["/docs/a.txt", "one two three\n"], ["/docs/b.txt", "four\n"]]);

function spec(script: string, extra: object = {}): PipelineSpec {
  const checked = checkPipelineSpec({ name: "wc", input: { repo: "text", glob: "/*" },
    transform: { cmd: ["sh", "-c", script] }, ...extra });
  if (!checked.ok) throw new Error(checked.error.message);
  return checked.value;
}

function datum(): Datum {
  const glob = compileGlob("/*");
  if (!glob.ok) throw new Error(glob.error.message);
  const files = [...contents].map(([path, text]) => ({ path, size: text.length, hash: path }));
  const datums = splitDatums(glob.value, files);
  if (!datums.ok || datums.value[0] === undefined) throw new Error("no datum");
  return datums.value[0];
}

async function attempt(pipeline: PipelineSpec, signal?: AbortSignal):
  Promise<{ result: DatumAttemptResult; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "pfs-datum-"));
  const result = await runDatumAttempt({
    spec: pipeline, datum: datum(), jobId: "job1", workDir: join(dir, "work"),
    fetch: async (file, destination) => {
      await writeFile(destination, contents.get(file.path) ?? "");
    },
    ...(signal === undefined ? {} : { signal }),
  });
  return { result, dir };
}

test("inputs, env, stdin and outputs", async (t) => {
  const script = 'cat $PFS_IN/text/docs/*.txt | wc -w | tr -d " " > $PFS_OUT/count; ' +
    'mkdir -p $PFS_OUT/deep/er && printf "%s %s %s" "$GREETING" "$PFS_DATUM_ID" "$PFS_JOB_ID"' +
    ' > $PFS_OUT/deep/er/env; cat > $PFS_OUT/stdin; echo to-stdout; echo to-stderr >&2';
  const { result, dir } = await attempt(spec(script,
    { transform: { cmd: ["sh", "-c", script], env: { GREETING: "hello" },
      stdin: ["line 1", "line 2"] } }));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.true(result.ok, result.error);
  t.is(result.error, "");
  t.is(result.exitCode, 0);
  t.deepEqual(result.outputs.map((output) => [output.path, output.size]),
    [["/count", 2], ["/deep/er/env", `hello ${datum().id} job1`.length], ["/stdin", 14]]);
  const byPath = new Map(result.outputs.map((output) => [output.path, output.file]));
  t.is(await readFile(byPath.get("/count") ?? "", "utf8"), "4\n");
  t.is(await readFile(byPath.get("/stdin") ?? "", "utf8"), "line 1\nline 2\n");
  t.regex(result.log.toString(), /to-stdout/);
  t.regex(result.log.toString(), /to-stderr/);
});

test("a non-zero exit fails with its code, stderr in the log", async (t) => {
  const { result, dir } = await attempt(spec("echo broken input >&2; exit 3"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.false(result.ok);
  t.is(result.error, "exited with code 3");
  t.is(result.exitCode, 3);
  t.deepEqual(result.outputs, []);
  t.regex(result.log.toString(), /broken input\n\[pfs: datum \/docs failed: exited with code 3\]/);
});

test("a missing command fails with a clear reason", async (t) => {
  const pipeline = { ...spec(""), transform: { cmd: ["pfs-no-such-command"], env: {}, stdin: [] } };
  const { result, dir } = await attempt(pipeline);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.false(result.ok);
  t.regex(result.error, /^cannot run "pfs-no-such-command": .*ENOENT/);
});

/** Whether `pid` runs (a zombie waiting for a reaper that may never come does not). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

test("a timeout kills the whole process group", async (t) => {
  const { result, dir } = await attempt(spec(
    "sleep 60 & echo $! > $PFS_OUT/../grandchild; sleep 60", { datum_timeout: "500ms" }));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.false(result.ok);
  t.true(result.timedOut);
  t.is(result.error, "timed out after datum_timeout (0.5 s)");
  const grandchild = Number(await readFile(join(dir, "work", "grandchild"), "utf8"));
  t.false(await alive(grandchild));
});

test("an abort kills the attempt", async (t) => {
  const controller = new AbortController();
  setTimeout(() => { controller.abort(); }, 300);
  const { result, dir } = await attempt(spec("sleep 60"), controller.signal);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.false(result.ok);
  t.true(result.aborted);
  t.is(result.error, "killed");
});

test("a symlink in $PFS_OUT is refused", async (t) => {
  const { result, dir } = await attempt(spec("ln -s /etc/passwd $PFS_OUT/leak"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.false(result.ok);
  t.is(result.error, 'output "/leak" is not a regular file or directory');
});

test("the log is cut at ppsDatumLogBytesMax with a note", async (t) => {
  const { result, dir } = await attempt(spec(
    `head -c ${ppsDatumLogBytesMax + 5000} /dev/zero | tr '\\0' x`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.true(result.ok, result.error);
  const text = result.log.toString();
  t.true(text.startsWith("x".repeat(1000)));
  t.regex(text, /\[pfs: 5000 more bytes of output cut at ppsDatumLogBytesMax\]\n$/);
});
