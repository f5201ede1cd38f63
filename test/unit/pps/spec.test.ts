// Goal: pipeline specs are checked as pkg/pps/spec.ts documents: defaults filled in, Pachyderm's
// nesting accepted, every malformed field refused with an INVALID_ARGUMENT error naming it,
// unknown fields refused, datum_timeout read as a Go duration; specDocument round-trips; the
// pipeline graph refuses cycles and names them.
// Method: tables of specs and their exact outcomes, and a seeded property: a spec built from
// random valid parts round-trips through specDocument (fast-check prints the seed).
import test from "ava";
import fc from "fast-check";
import {
  type PipelineSpec, checkAcyclic, checkPipelineSpec, readersOf, specDocument,
} from "../../../pkg/pps/index.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 2 ** 31);

const minimal = {
  name: "wordcount",
  input: { repo: "text", glob: "/*" },
  transform: { cmd: ["sh", "-c", "wc -w $PFS_IN/text/* > $PFS_OUT/count"] },
};

function checked(value: unknown): PipelineSpec {
  const spec = checkPipelineSpec(value);
  if (!spec.ok) throw new Error(spec.error.message);
  return spec.value;
}

function refusal(value: unknown): string {
  const spec = checkPipelineSpec(value);
  if (spec.ok) throw new Error(`accepted: ${JSON.stringify(value)}`);
  if (spec.error.code !== "INVALID_ARGUMENT") throw new Error(`code ${spec.error.code}`);
  return spec.error.message;
}

test("a minimal spec gets the documented defaults", (t) => {
  t.deepEqual(checked(minimal), {
    name: "wordcount", description: "",
    input: { repo: "text", branch: "master", glob: "/*", name: "text" },
    transform: { cmd: minimal.transform.cmd, env: {}, stdin: [] },
    parallelism: 1, datumTries: 3, datumTimeoutSeconds: null,
  });
});

test("Pachyderm's nesting reads the same as the flat form", (t) => {
  const pachyderm = {
    pipeline: { name: "wordcount" },
    input: { pfs: { repo: "text", glob: "/*" } },
    transform: minimal.transform,
    parallelism_spec: { constant: 4 },
  };
  t.deepEqual(checked(pachyderm), { ...checked(minimal), parallelism: 4 });
});

test("every field is read, and the glob is normalized", (t) => {
  const spec = checked({
    ...minimal, description: "counts words",
    input: { repo: "text", branch: "dev", glob: "/a//*/", name: "docs" },
    transform: { cmd: ["cat"], env: { B: "2", A_1: "1" }, stdin: ["x", ""] },
    parallelism: 8, datum_tries: 1, datum_timeout: "1m30s",
  });
  t.deepEqual(spec.input, { repo: "text", branch: "dev", glob: "/a/*", name: "docs" });
  t.deepEqual(spec.transform, { cmd: ["cat"], env: { A_1: "1", B: "2" }, stdin: ["x", ""] });
  t.is(spec.parallelism, 8);
  t.is(spec.datumTries, 1);
  t.is(spec.datumTimeoutSeconds, 90);
  t.is(checked({ ...minimal, datum_timeout: 2.5 }).datumTimeoutSeconds, 2.5);
  t.is(checked({ ...minimal, datum_timeout: "1h500ms" }).datumTimeoutSeconds, 3600.5);
});

const refusals: [string, unknown, string][] = [
  ["not an object", [], "invalid pipeline spec: (document) must be an object"],
  ["unknown top field", { ...minimal, paralelism: 2 },
    'invalid pipeline spec: "paralelism" is not a known field'],
  ["unknown input field", { ...minimal, input: { repo: "text", glob: "/", lazy: true } },
    'invalid pipeline spec: "input.lazy" is not a known field'],
  ["no name", { input: minimal.input, transform: minimal.transform },
    "invalid pipeline spec: name must be a string"],
  ["bad name", { ...minimal, name: "-x" },
    'invalid pipeline spec: name is an invalid repo name "-x": it must not start with "-"'],
  ["both names", { ...minimal, pipeline: { name: "y" } },
    "invalid pipeline spec: pipeline and name both give the name; give one"],
  ["no input", { name: "p", transform: minimal.transform },
    "invalid pipeline spec: input is required"],
  ["no glob", { ...minimal, input: { repo: "text" } },
    "invalid pipeline spec: input.glob must be a string"],
  ["relative glob", { ...minimal, input: { repo: "text", glob: "*" } },
    'invalid pipeline spec: input.glob is an invalid glob "*": it must start with "/"'],
  ["reads itself", { ...minimal, input: { repo: "wordcount", glob: "/" } },
    "invalid pipeline spec: input.repo is the pipeline's own output repo wordcount"],
  ["no transform", { name: "p", input: minimal.input },
    "invalid pipeline spec: transform is required"],
  ["empty cmd", { ...minimal, transform: { cmd: [] } },
    "invalid pipeline spec: transform.cmd must be a non-empty list of strings"],
  ["cmd not strings", { ...minimal, transform: { cmd: ["sh", 1] } },
    "invalid pipeline spec: transform.cmd[1] must be a string"],
  ["image", { ...minimal, transform: { image: "ubuntu", cmd: ["sh"] } },
    "invalid pipeline spec: transform.image is not supported: datums run as local processes " +
    "on the pfs nodes"],
  ["reserved env", { ...minimal, transform: { cmd: ["sh"], env: { PFS_OUT: "/tmp" } } },
    "invalid pipeline spec: transform.env.PFS_OUT is set by the worker for each datum"],
  ["bad env name", { ...minimal, transform: { cmd: ["sh"], env: { "1A": "x" } } },
    'invalid pipeline spec: transform.env."1A" is not a variable name (letters, digits and ' +
    '"_", not starting with a digit)'],
  ["parallelism 0", { ...minimal, parallelism: 0 },
    "invalid pipeline spec: parallelism must be between 1 and 256 (ppsParallelismMax); got 0"],
  ["fractional tries", { ...minimal, datum_tries: 1.5 },
    "invalid pipeline spec: datum_tries must be a whole number"],
  ["bad timeout", { ...minimal, datum_timeout: "10 minutes" },
    'invalid pipeline spec: datum_timeout must be a duration like "30s", "5m" or "1h30m"'],
  ["zero timeout", { ...minimal, datum_timeout: "0s" },
    "invalid pipeline spec: datum_timeout must be above 0 and at most 86400 s " +
    "(ppsDatumTimeoutSecondsMax)"],
];

for (const [what, value, message] of refusals) {
  test(`refused: ${what}`, (t) => {
    t.is(refusal(value), message);
  });
}

test("specDocument round-trips any valid spec", (t) => {
  const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/);
  fc.assert(fc.property(name, name, fc.constantFrom("/", "/*", "/**", "/a/*.csv"),
    fc.array(fc.string(), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 256 }),
    fc.option(fc.integer({ min: 1, max: 86_400 }), { nil: undefined }),
    (pipeline, repo, glob, cmd, parallelism, timeout) => {
      fc.pre(pipeline !== repo && cmd[0] !== "");
      const spec = checked({ name: pipeline, input: { repo, glob }, transform: { cmd },
        parallelism, ...(timeout === undefined ? {} : { datum_timeout: timeout }) });
      t.deepEqual(checked(specDocument(spec)), spec);
    }), { seed, numRuns: 300 });
  t.pass();
});

function pipe(name: string, repo: string): PipelineSpec {
  return checked({ name, input: { repo, glob: "/" }, transform: { cmd: ["true"] } });
}

test("the pipeline graph refuses a cycle and names it", (t) => {
  const existing = [pipe("b", "a"), pipe("c", "b")];
  t.true(checkAcyclic(existing, pipe("d", "c")).ok);
  const cycle = checkAcyclic(existing, pipe("a", "c"));
  t.false(cycle.ok);
  if (!cycle.ok) t.is(cycle.error.message, "pipeline a would make a cycle: a → c → b → a");
  // An update that re-points a pipeline counts its new input, not its old one.
  const update = checkAcyclic(existing, pipe("b", "c"));
  t.false(update.ok);
  if (!update.ok) t.is(update.error.message, "pipeline b would make a cycle: b → c → b");
  t.true(checkAcyclic(existing, pipe("b", "x")).ok);
  t.deepEqual(readersOf([...existing, pipe("e", "b")], "b"), ["c", "e"]);
});
