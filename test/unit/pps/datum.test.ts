// Goal: a commit splits into datums as Pachyderm's glob model says (`/` one datum, `/*` each
// top-level entry, `/**` every file, patterns a subset); datum ids depend only on the datum's
// files (paths and content hashes), so an unchanged datum keeps its id in the next commit and
// a changed file changes only its own datum's id; the skip key also changes with the
// transform, not with parallelism or tries.
// Method: a fixed tree and tables; a seeded property over random trees (fast-check prints the
// seed): every file is in at most one datum, exactly when some ancestor-or-self matches.
import test from "ava";
import fc from "fast-check";
import { compileGlob, type Glob } from "../../../pkg/pfs/index.js";
import {
  type Datum, type DatumFile, type PipelineSpec, checkPipelineSpec, datumKey, splitDatums,
  transformKey,
} from "../../../pkg/pps/index.js";

const seed = Number(process.env["PFS_TEST_SEED"] ?? Date.now() % 2 ** 31);

function glob(pattern: string): Glob {
  const compiled = compileGlob(pattern);
  if (!compiled.ok) throw new Error(compiled.error.message);
  return compiled.value;
}

function file(path: string, content = path): DatumFile {
  return { path, size: content.length, hash: `h:${content}` };
}

const tree = [file("/b/2.txt"), file("/a.csv"), file("/b/1.txt"), file("/b/c/3.csv")];

function split(pattern: string, files = tree): readonly Datum[] {
  const datums = splitDatums(glob(pattern), files);
  if (!datums.ok) throw new Error(datums.error.message);
  return datums.value;
}

function roots(pattern: string): string[][] {
  return split(pattern).map((datum) => [datum.root, ...datum.files.map((f) => f.path)]);
}

test("the glob forms of Pachyderm's datum model", (t) => {
  t.deepEqual(roots("/"), [["/", "/a.csv", "/b/1.txt", "/b/2.txt", "/b/c/3.csv"]]);
  t.deepEqual(roots("/*"), [["/a.csv", "/a.csv"], ["/b", "/b/1.txt", "/b/2.txt", "/b/c/3.csv"]]);
  t.deepEqual(roots("/**"), [["/a.csv", "/a.csv"], ["/b", "/b/1.txt", "/b/2.txt",
    "/b/c/3.csv"]]);
  t.deepEqual(roots("/**.csv"), [["/a.csv", "/a.csv"], ["/b/c/3.csv", "/b/c/3.csv"]]);
  t.deepEqual(roots("/b/*"), [["/b/1.txt", "/b/1.txt"], ["/b/2.txt", "/b/2.txt"],
    ["/b/c", "/b/c/3.csv"]]);
  t.deepEqual(roots("/nothing/*"), []);
  t.is(split("/*")[1]?.sizeBytes, "/b/1.txt".length + "/b/2.txt".length + "/b/c/3.csv".length);
});

test("ids follow content: an unchanged datum keeps its id, a changed one alone gets a new id",
  (t) => {
    const before = split("/*");
    const after = split("/*", tree.map((f) => (f.path === "/b/2.txt" ? file(f.path, "new") : f)));
    t.is(after[0]?.id, before[0]?.id);
    t.not(after[1]?.id, before[1]?.id);
    // The same files under another root are another datum.
    t.not(split("/")[0]?.id, split("/*")[0]?.id);
  });

function spec(extra: object): PipelineSpec {
  const checked = checkPipelineSpec({ name: "p", input: { repo: "r", glob: "/*" },
    transform: { cmd: ["cat"] }, ...extra });
  if (!checked.ok) throw new Error(checked.error.message);
  return checked.value;
}

test("the skip key changes with the transform, not with scheduling fields", (t) => {
  const datum = split("/*")[0];
  if (datum === undefined) throw new Error("no datum");
  const base = datumKey(transformKey(spec({})), datum);
  t.is(datumKey(transformKey(spec({ parallelism: 9, datum_tries: 1, description: "x" })), datum),
    base);
  t.not(datumKey(transformKey(spec({ transform: { cmd: ["cat", "-n"] } })), datum), base);
  t.not(datumKey(transformKey(spec({ transform: { cmd: ["cat"], env: { A: "1" } } })), datum),
    base);
  t.not(datumKey(transformKey(spec({ input: { repo: "r", glob: "/*", name: "in" } })), datum),
    base);
});

test("property: each file is in at most one datum, exactly when an ancestor matches", (t) => {
  const segment = fc.constantFrom("a", "b", "c.csv", "d.txt");
  const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join("/")}`);
  fc.assert(fc.property(fc.uniqueArray(path, { maxLength: 30 }),
    fc.constantFrom("/", "/*", "/*/*", "/**", "/**.csv", "/a/*", "/?"), (paths, pattern) => {
      // A path that is a prefix directory of another is not a file in a real commit.
      const files = paths.filter((p) => !paths.some((q) => q.startsWith(`${p}/`))).map((p) =>
        file(p));
      const compiled = glob(pattern);
      const datums = split(pattern, files);
      const placed = datums.flatMap((datum) => datum.files.map((f) => f.path));
      t.is(new Set(placed).size, placed.length);
      for (const f of files) {
        t.is(placed.includes(f.path), compiled.datumRootOf(f.path) !== null);
      }
    }), { seed, numRuns: 300 });
  t.pass();
});
