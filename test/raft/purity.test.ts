/**
 * Goal: pkg/raft stays pure (STYLE rule 1): no I/O imports, timers, wall clock, global
 * randomness, process access or async code. Method: read every .ts source of pkg/raft and scan
 * it line by line with comments stripped; the scanner is first shown to catch each violation
 * in a synthetic source, so the test can fail.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/test/raft → project root.
const raftDir = path.resolve(here, "../../../pkg/raft");

const forbiddenIdentifiers = [
  "setTimeout", "setInterval", "setImmediate", "Date", "Math.random", "process",
  "async", "await", "performance", "queueMicrotask", "require",
];

/** Returns the violations in one source text. */
function scan(source: string): string[] {
  const found: string[] = [];
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  for (const match of code.matchAll(/\bfrom\s+["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']/g)) {
    const specifier = match[1] ?? match[2] ?? "";
    const allowed = specifier === "../common/index.js" || /^\.\/[a-z0-9-]+\.js$/.test(specifier);
    if (!allowed) found.push(`import '${specifier}'`);
  }
  for (const name of forbiddenIdentifiers) {
    const escaped = name.replace(".", "\\.");
    if (new RegExp(`(^|[^A-Za-z0-9_$.#])${escaped}\\b`).test(code)) found.push(name);
  }
  return found;
}

test("the scanner catches each kind of violation", (t) => {
  t.deepEqual(scan(`import { readFileSync } from "node:fs";`), ["import 'node:fs'"]);
  t.deepEqual(scan(`import x from "winston";`), ["import 'winston'"]);
  t.deepEqual(scan(`import { y } from "../raftnode/index.js";`), ["import '../raftnode/index.js'"]);
  t.deepEqual(scan(`import { y } from "../common/log.js";`), ["import '../common/log.js'"]);
  for (const name of forbiddenIdentifiers) {
    const source = name === "async" ? "const f = async () => 1;" : `const x = ${name}(1);`;
    t.true(scan(source).includes(name), `scanner missed ${name}`);
  }
  t.deepEqual(scan(`// setTimeout in a comment is fine\nconst dated = 1; /* Date */`), []);
  t.deepEqual(scan(`import { a } from "../common/index.js";\nimport { b } from "./raft-log.js";`), []);
});

test("every pkg/raft source is pure", (t) => {
  const files = readdirSync(raftDir).filter((name) => name.endsWith(".ts"));
  t.true(files.length >= 5, `expected pkg/raft sources in ${raftDir}, found ${files.length}`);
  for (const file of files) {
    const violations = scan(readFileSync(path.join(raftDir, file), "utf8"));
    t.deepEqual(violations, [], `${file}: ${violations.join(", ")}`);
  }
});
