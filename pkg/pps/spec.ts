/**
 * Pipeline specs (DESIGN.md §5): what `pfs create pipeline -f` reads, checked field by field.
 * Pure.
 *
 * The shape is the issue's, in Pachyderm's snake_case:
 * `{name, description, input: {repo, branch, glob, name}, transform: {cmd, env, stdin},
 * parallelism, datum_tries, datum_timeout}`. Pachyderm's own nesting is accepted too, so a
 * Pachyderm user's spec reads unchanged where its features exist here: `pipeline: {name}` for
 * `name`, `input: {pfs: {...}}` for `input`, `parallelism_spec: {constant}` for `parallelism`.
 * A field this module does not know is refused (a typo must not pass silently), and so is a
 * Pachyderm field we do not support (`transform.image`: datums run as local processes).
 *
 * Defaults: `input.branch` "master", `input.name` the input repo's name, `transform.env` {},
 * `transform.stdin` [], `parallelism` 1, `datum_tries` 3, `datum_timeout` none, `description`
 * "". `datum_timeout` is a Go duration ("90s", "1m30s", "2h") or a number of seconds.
 *
 * Every error is INVALID_ARGUMENT and names the field: `invalid pipeline spec: transform.cmd
 * must be a non-empty list of strings`.
 */
import { PfsError, type Result, err, ok } from "../common/index.js";
import { checkBranchName, checkRepoName, compileGlob } from "../pfs/index.js";
import {
  ppsCmdArgsMax,
  ppsDatumTimeoutSecondsMax,
  ppsDatumTriesDefault,
  ppsDatumTriesMax,
  ppsDescriptionBytesMax,
  ppsEnvVarsMax,
  ppsParallelismDefault,
  ppsParallelismMax,
  ppsSpecStringBytesMax,
  ppsStdinLinesMax,
} from "./limits.js";

/** The input of a pipeline: a branch of a repo, split into datums by a glob. */
export interface PipelineInput {
  readonly repo: string;
  readonly branch: string;
  /** The glob in its normalized form. */
  readonly glob: string;
  /** The directory name under `$PFS_IN` (default: the repo's name). */
  readonly name: string;
}

/** What runs for each datum: a command with its arguments, environment and stdin lines. */
export interface PipelineTransform {
  readonly cmd: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: readonly string[];
}

/** A checked pipeline spec. */
export interface PipelineSpec {
  /** The pipeline's name, which is also its output repo's name. */
  readonly name: string;
  readonly description: string;
  readonly input: PipelineInput;
  readonly transform: PipelineTransform;
  /** Datums of this pipeline running at once across the cluster. */
  readonly parallelism: number;
  /** Attempts of a datum before it fails its job. */
  readonly datumTries: number;
  /** A datum attempt's time limit in seconds, or null for none. */
  readonly datumTimeoutSeconds: number | null;
}

/** Variables the worker sets for each datum; a spec may not set them. */
export const reservedEnvNames: readonly string[] = ["PFS_IN", "PFS_OUT", "PFS_DATUM_ID", "PFS_JOB_ID"];

const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
const topFields = new Set([
  "name", "pipeline", "description", "input", "transform", "parallelism", "parallelism_spec",
  "datum_tries", "datum_timeout",
]);
const inputFields = new Set(["repo", "branch", "glob", "name"]);
const transformFields = new Set(["cmd", "env", "stdin"]);

type Fields = Readonly<Record<string, unknown>>;

/** The error for field `field` (a dotted path) of a spec. */
export function specError(field: string, reason: string): PfsError {
  return new PfsError("INVALID_ARGUMENT", `invalid pipeline spec: ${field} ${reason}`, { field });
}

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function unknownField(value: Fields, known: ReadonlySet<string>, where: string): PfsError | null {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      const field = where === "" ? key : `${where}.${key}`;
      return specError(JSON.stringify(field), "is not a known field");
    }
  }
  return null;
}

function stringBytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** A string field: absent gives `fallback` (undefined means required). */
function stringField(value: unknown, field: string, fallback?: string,
  bytesMax = ppsSpecStringBytesMax): Result<string, PfsError> {
  if (value === undefined && fallback !== undefined) return ok(fallback);
  if (typeof value !== "string") return err(specError(field, "must be a string"));
  if (stringBytes(value) > bytesMax) {
    return err(specError(field, `is ${stringBytes(value)} bytes, above its limit of ${bytesMax}`));
  }
  return ok(value);
}

/** A whole number in [min, max]; absent gives `fallback`. */
function integerInRange(value: unknown, field: string, fallback: number, min: number,
  max: number, limitName: string): Result<number, PfsError> {
  if (value === undefined) return ok(fallback);
  if (typeof value !== "number" || !Number.isInteger(value)) {
    return err(specError(field, "must be a whole number"));
  }
  if (value < min || value > max) {
    return err(specError(field, `must be between ${min} and ${max} (${limitName}); got ${value}`));
  }
  return ok(value);
}

function stringList(value: unknown, field: string, countMax: number, limitName: string,
  allowEmpty: boolean): Result<readonly string[], PfsError> {
  if (value === undefined && allowEmpty) return ok([]);
  const shape = allowEmpty ? "a list of strings" : "a non-empty list of strings";
  if (!Array.isArray(value) || (!allowEmpty && value.length === 0)) {
    return err(specError(field, `must be ${shape}`));
  }
  if (value.length > countMax) {
    return err(specError(field, `has ${value.length} items, above ${limitName} (${countMax})`));
  }
  const items: string[] = [];
  for (const [index, item] of value.entries()) {
    const checked = stringField(item, `${field}[${index}]`);
    if (!checked.ok) return checked;
    items.push(checked.value);
  }
  return ok(items);
}

function envField(value: unknown): Result<Readonly<Record<string, string>>, PfsError> {
  if (value === undefined) return ok({});
  if (!isObject(value)) return err(specError("transform.env", "must be an object of strings"));
  const names = Object.keys(value);
  if (names.length > ppsEnvVarsMax) {
    return err(specError("transform.env",
      `has ${names.length} variables, above ppsEnvVarsMax (${ppsEnvVarsMax})`));
  }
  const env: Record<string, string> = {};
  for (const name of names.sort()) {
    if (!envNamePattern.test(name)) {
      return err(specError(`transform.env.${JSON.stringify(name)}`,
        "is not a variable name (letters, digits and \"_\", not starting with a digit)"));
    }
    if (reservedEnvNames.includes(name)) {
      return err(specError(`transform.env.${name}`, "is set by the worker for each datum"));
    }
    const checked = stringField(value[name], `transform.env.${name}`);
    if (!checked.ok) return checked;
    env[name] = checked.value;
  }
  return ok(env);
}

function transformField(value: unknown): Result<PipelineTransform, PfsError> {
  if (!isObject(value)) return err(specError("transform", "must be an object with cmd"));
  if ("image" in value) {
    return err(specError("transform.image",
      "is not supported: datums run as local processes on the pfs nodes"));
  }
  const unknown = unknownField(value, transformFields, "transform");
  if (unknown !== null) return err(unknown);
  const cmd = stringList(value["cmd"], "transform.cmd", ppsCmdArgsMax, "ppsCmdArgsMax", false);
  if (!cmd.ok) return cmd;
  if (cmd.value[0] === "") return err(specError("transform.cmd[0]", "must name a command"));
  const stdin = stringList(value["stdin"], "transform.stdin", ppsStdinLinesMax,
    "ppsStdinLinesMax", true);
  if (!stdin.ok) return stdin;
  const env = envField(value["env"]);
  if (!env.ok) return env;
  return ok({ cmd: cmd.value, env: env.value, stdin: stdin.value });
}

function nameMessage(error: PfsError, field: string): PfsError {
  return specError(field, error.message.replace(/^invalid /, "is an invalid "));
}

function inputField(raw: unknown): Result<PipelineInput, PfsError> {
  const value = isObject(raw) && isObject(raw["pfs"]) && Object.keys(raw).length === 1
    ? raw["pfs"] : raw;
  const where = value === raw ? "input" : "input.pfs";
  if (!isObject(value)) return err(specError("input", "must be an object with repo and glob"));
  const unknown = unknownField(value, inputFields, where);
  if (unknown !== null) return err(unknown);
  const repo = stringField(value["repo"], `${where}.repo`);
  if (!repo.ok) return repo;
  const repoName = checkRepoName(repo.value);
  if (!repoName.ok) return err(nameMessage(repoName.error, `${where}.repo`));
  const branch = stringField(value["branch"], `${where}.branch`, "master");
  if (!branch.ok) return branch;
  const branchName = checkBranchName(branch.value);
  if (!branchName.ok) return err(nameMessage(branchName.error, `${where}.branch`));
  const globText = stringField(value["glob"], `${where}.glob`);
  if (!globText.ok) return globText;
  const glob = compileGlob(globText.value);
  if (!glob.ok) return err(nameMessage(glob.error, `${where}.glob`));
  const name = stringField(value["name"], `${where}.name`, repo.value);
  if (!name.ok) return name;
  const inputName = checkRepoName(name.value);
  if (!inputName.ok) return err(nameMessage(inputName.error, `${where}.name`));
  return ok({ repo: repo.value, branch: branch.value, glob: glob.value.pattern, name: name.value });
}

const durationUnits: Readonly<Record<string, number>> = { h: 3_600, m: 60, s: 1, ms: 0.001 };
const durationPattern = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s))+$/;

/** Seconds of a Go duration ("1m30s") or a number of seconds; null when absent. */
export function parseDatumTimeout(value: unknown): Result<number | null, PfsError> {
  if (value === undefined || value === null) return ok(null);
  let seconds: number;
  if (typeof value === "number") {
    seconds = value;
  } else if (typeof value === "string" && durationPattern.test(value)) {
    seconds = 0;
    for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) {
      seconds += Number(amount) * (durationUnits[unit ?? "s"] ?? 1);
    }
  } else {
    return err(specError("datum_timeout", 'must be a duration like "30s", "5m" or "1h30m"'));
  }
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > ppsDatumTimeoutSecondsMax) {
    return err(specError("datum_timeout",
      `must be above 0 and at most ${ppsDatumTimeoutSecondsMax} s (ppsDatumTimeoutSecondsMax)`));
  }
  return ok(seconds);
}

/** `name` from the top level or Pachyderm's `pipeline: {name}`. */
function pipelineName(value: Fields): Result<string, PfsError> {
  if (value["name"] !== undefined && value["pipeline"] !== undefined) {
    return err(specError("pipeline", "and name both give the name; give one"));
  }
  let raw = value["name"];
  let field = "name";
  if (value["pipeline"] !== undefined) {
    const nested = value["pipeline"];
    if (!isObject(nested) || Object.keys(nested).some((key) => key !== "name")) {
      return err(specError("pipeline", "must be an object with only a name"));
    }
    raw = nested["name"];
    field = "pipeline.name";
  }
  const name = stringField(raw, field);
  if (!name.ok) return name;
  const checked = checkRepoName(name.value);
  return checked.ok ? checked : err(nameMessage(checked.error, field));
}

function parallelismField(value: Fields): Result<number, PfsError> {
  if (value["parallelism"] !== undefined && value["parallelism_spec"] !== undefined) {
    return err(specError("parallelism_spec", "and parallelism both give it; give one"));
  }
  const nested = value["parallelism_spec"];
  if (nested !== undefined) {
    if (!isObject(nested) || Object.keys(nested).some((key) => key !== "constant")) {
      return err(specError("parallelism_spec", "must be an object with only a constant"));
    }
    return integerInRange(nested["constant"], "parallelism_spec.constant",
      ppsParallelismDefault, 1, ppsParallelismMax, "ppsParallelismMax");
  }
  return integerInRange(value["parallelism"], "parallelism", ppsParallelismDefault, 1,
    ppsParallelismMax, "ppsParallelismMax");
}

/** Checks a parsed spec document (the value of its JSON or YAML). */
export function checkPipelineSpec(value: unknown): Result<PipelineSpec, PfsError> {
  if (!isObject(value)) return err(specError("(document)", "must be an object"));
  const unknown = unknownField(value, topFields, "");
  if (unknown !== null) return err(unknown);
  const name = pipelineName(value);
  if (!name.ok) return name;
  const description = stringField(value["description"], "description", "",
    ppsDescriptionBytesMax);
  if (!description.ok) return description;
  if (value["input"] === undefined) return err(specError("input", "is required"));
  const input = inputField(value["input"]);
  if (!input.ok) return input;
  if (input.value.repo === name.value) {
    return err(specError("input.repo", `is the pipeline's own output repo ${name.value}`));
  }
  if (value["transform"] === undefined) return err(specError("transform", "is required"));
  const transform = transformField(value["transform"]);
  if (!transform.ok) return transform;
  const parallelism = parallelismField(value);
  if (!parallelism.ok) return parallelism;
  const datumTries = integerInRange(value["datum_tries"], "datum_tries", ppsDatumTriesDefault,
    1, ppsDatumTriesMax, "ppsDatumTriesMax");
  if (!datumTries.ok) return datumTries;
  const datumTimeoutSeconds = parseDatumTimeout(value["datum_timeout"]);
  if (!datumTimeoutSeconds.ok) return datumTimeoutSeconds;
  return ok({
    name: name.value, description: description.value, input: input.value,
    transform: transform.value, parallelism: parallelism.value, datumTries: datumTries.value,
    datumTimeoutSeconds: datumTimeoutSeconds.value,
  });
}

/**
 * The spec in the flat snake_case form, every default filled in: what is stored and
 * what `pfs inspect pipeline --json` shows. `checkPipelineSpec(specDocument(s))` gives `s` back.
 */
export function specDocument(spec: PipelineSpec): Fields {
  return {
    name: spec.name,
    description: spec.description,
    input: { ...spec.input },
    transform: { cmd: [...spec.transform.cmd], env: { ...spec.transform.env },
      stdin: [...spec.transform.stdin] },
    parallelism: spec.parallelism,
    datum_tries: spec.datumTries,
    ...(spec.datumTimeoutSeconds === null ? {} : { datum_timeout: spec.datumTimeoutSeconds }),
  };
}
