/**
 * The committed deployment files. Goal: deploy/kubernetes/*.yaml are exactly what
 * `pfs deploy kubernetes` prints today (a stale file fails with the command that regenerates
 * it), they parse as YAML documents, and the Dockerfile builds from files that exist: every
 * COPY source is in the repository (or, from the build stage, in dist/ after `npm run build`),
 * the entrypoint the manifests run is installed under that name, and the ports are exposed.
 */
import { accessSync, constants, existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { parseAllDocuments } from "yaml";
import {
  deployLimits, kubernetesDeployCommand, kubernetesEntrypointCommand, kubernetesManifests,
  parseKubernetesDeployOptions, renderKubernetesManifests,
} from "../../../pkg/deploy/index.js";
import { committedVariants } from "./kubernetes-support.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const deployDir = join(root, "deploy", "kubernetes");

for (const [file, raw] of committedVariants) {
  test(`deploy/kubernetes/${file} is what the generator prints`, (t) => {
    const options = parseKubernetesDeployOptions(raw);
    if (!options.ok) throw new Error(options.error);
    const command = kubernetesDeployCommand(raw);
    const expected = renderKubernetesManifests(options.value, command);
    const actual = readFileSync(join(deployDir, file), "utf8");
    t.is(actual, expected, `stale; regenerate with: npm run build && ` +
      `node dist/cmd/${command.replace(/^pfs /, "pfs.js ")} > deploy/kubernetes/${file}`);
    // The YAML reads back as the very objects the schema tests validate (quoted numbers in
    // env values stay strings, long lines stay whole).
    const documents = parseAllDocuments(actual);
    const objects = (Array.isArray(documents) ? documents : [documents])
      .map((document) => document.toJS() as unknown);
    t.deepEqual(objects, JSON.parse(JSON.stringify(kubernetesManifests(options.value))));
  });
}

test("deploy/kubernetes holds no YAML the generator does not make", (t) => {
  const yamlFiles = readdirSync(deployDir).filter((name) => name.endsWith(".yaml")).sort();
  t.deepEqual(yamlFiles, [...committedVariants.keys()].sort());
});

/** The Dockerfile's instructions, one per line (continuations joined). */
function dockerfile(): string[] {
  return readFileSync(join(root, "Dockerfile"), "utf8").replace(/\\\n/g, " ").split("\n")
    .map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
}

test("the Dockerfile copies files that exist and installs the manifests' entrypoint", (t) => {
  const lines = dockerfile();
  const copies = lines.filter((line) => line.startsWith("COPY "));
  t.true(copies.length >= 6);
  for (const line of copies) {
    const words = line.split(/\s+/).slice(1);
    const fromBuild = words[0] === "--from=build";
    const sources = words.slice(fromBuild ? 1 : 0, -1);
    for (const source of sources) {
      const path = fromBuild ? join(root, source.replace(/^\/src\//, "")) : join(root, source);
      t.true(existsSync(path), `${line}: ${path} is missing`);
    }
  }
  const entrypoint = join(deployDir, "pfsd-entrypoint.sh");
  accessSync(entrypoint, constants.X_OK);
  t.true(copies.some((line) =>
    line.endsWith(`deploy/kubernetes/pfsd-entrypoint.sh /usr/local/bin/${kubernetesEntrypointCommand}`)));
  t.true(existsSync(join(root, "dist", "cmd", "pfsd.js")));
  t.true(lines.some((line) => line.includes("ln -s /app/dist/cmd/pfsd.js /usr/local/bin/pfsd")));
  t.deepEqual(lines.filter((line) => line.startsWith("FROM ")),
    ["FROM node:20-bookworm-slim AS build", "FROM node:20-bookworm-slim AS runtime"]);
  const user = lines.filter((line) => line.startsWith("USER ")).pop();
  t.is(user, "USER node");
  const exposed = lines.find((line) => line.startsWith("EXPOSE "))?.split(/\s+/).slice(1);
  t.deepEqual(exposed?.map(Number).sort(), [deployLimits.kubernetesClientPort,
    deployLimits.kubernetesPeerPort, deployLimits.kubernetesMetricsPort,
    deployLimits.kubernetesPfsPort].sort());
});

test(".dockerignore leaves in everything the Dockerfile copies", (t) => {
  const ignored = readFileSync(join(root, ".dockerignore"), "utf8").split("\n")
    .map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
  for (const needed of ["package.json", "package-lock.json", "tsconfig.json", "cmd", "pkg",
    "deploy"]) {
    t.false(ignored.includes(needed), needed);
  }
  t.true(ignored.includes("node_modules"));
});
