/**
 * Where pipelines keep their state in the coordination store (DESIGN.md §5). Every key is
 * under one root (`/pps` by default, beside pfs's `/pfs`):
 *
 * - `<root>/pipelines/<name>`            PipelineRecord (records.ts), written by pps.API
 * - `<root>/jobs/<job id>`                JobRecord, written by the elected pps master
 * - `<root>/tasks/<job id>/<datum id>`    DatumTaskRecord: a datum waiting to run (master writes,
 *                                          the worker that finishes it deletes)
 * - `<root>/claims/<job id>/<datum id>`   DatumClaimRecord, on the claiming worker's lease: a
 *                                          dead worker's claim goes with its lease
 * - `<root>/results/<job id>/<datum id>`  DatumResultRecord: how a datum ended
 * - `<root>/slots/<pipeline>/<k>`         k < parallelism, on a worker's lease: held while one
 *                                          datum of the pipeline runs (the cluster-wide bound)
 * - `<root>/skip/<pipeline>/<datum key>`  SkipRecord: a datum key's successful outputs
 * - `<root>/election/pps-master/…`        the pps master's election (leader-term.ts)
 *
 * Names and ids are checked before they become keys (a pipeline name is a repo name; ids are
 * hex), so no component holds a "/".
 */
import { assert } from "../common/index.js";

/** The default key root of pipelines. */
export const ppsRootDefault = "/pps";

/** The pps master's election name (under `<root>/election/`). */
export const ppsMasterElection = "pps-master";

const hexId = /^[0-9a-f]{1,64}$/;
const nameLike = /^[A-Za-z0-9_-]{1,63}$/;

function checked(value: string, pattern: RegExp, what: string): string {
  assert(pattern.test(value), () => `${what} ${JSON.stringify(value)} cannot be a key component`);
  return value;
}

/** The keys of one pps root. Prefixes end with "/". */
export class PpsKeys {
  readonly root: string;

  constructor(root: string = ppsRootDefault) {
    assert(root.startsWith("/") && !root.endsWith("/"), () => `pps root ${root}`);
    this.root = root;
  }

  get pipelinesPrefix(): string { return `${this.root}/pipelines/`; }
  pipeline(name: string): string {
    return this.pipelinesPrefix + checked(name, nameLike, "pipeline");
  }

  get jobsPrefix(): string { return `${this.root}/jobs/`; }
  job(id: string): string { return this.jobsPrefix + checked(id, hexId, "job id"); }

  get tasksPrefix(): string { return `${this.root}/tasks/`; }
  tasksOf(jobId: string): string { return `${this.tasksPrefix}${checked(jobId, hexId, "job id")}/`; }
  task(jobId: string, datumId: string): string {
    return this.tasksOf(jobId) + checked(datumId, hexId, "datum id");
  }

  get claimsPrefix(): string { return `${this.root}/claims/`; }
  claimsOf(jobId: string): string {
    return `${this.claimsPrefix}${checked(jobId, hexId, "job id")}/`;
  }
  claim(jobId: string, datumId: string): string {
    return this.claimsOf(jobId) + checked(datumId, hexId, "datum id");
  }

  get resultsPrefix(): string { return `${this.root}/results/`; }
  resultsOf(jobId: string): string {
    return `${this.resultsPrefix}${checked(jobId, hexId, "job id")}/`;
  }
  result(jobId: string, datumId: string): string {
    return this.resultsOf(jobId) + checked(datumId, hexId, "datum id");
  }

  slotsOf(pipeline: string): string {
    return `${this.root}/slots/${checked(pipeline, nameLike, "pipeline")}/`;
  }
  slot(pipeline: string, index: number): string {
    assert(Number.isSafeInteger(index) && index >= 0, () => `slot ${index}`);
    return `${this.slotsOf(pipeline)}${index}`;
  }

  skipOf(pipeline: string): string {
    return `${this.root}/skip/${checked(pipeline, nameLike, "pipeline")}/`;
  }
  skip(pipeline: string, datumKey: string): string {
    return this.skipOf(pipeline) + checked(datumKey, hexId, "datum key");
  }

  /** The last component of `key` under `prefix` (a watch or range gives full keys). */
  static suffix(prefix: string, key: string): string {
    assert(key.startsWith(prefix), () => `${key} is not under ${prefix}`);
    return key.slice(prefix.length);
  }
}
