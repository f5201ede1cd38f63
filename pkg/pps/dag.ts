/**
 * The pipeline graph (DESIGN.md §5): a pipeline reads its input repo and writes the repo of its
 * own name, so pipelines that read other pipelines' output form a graph, which must stay a DAG
 * (a cycle would make every output commit start the job that makes the next one). Pure.
 */
import { PfsError, type Result, err, ok } from "../common/index.js";
import type { PipelineSpec } from "./spec.js";

/** The name → input repo edges of `pipelines` (an input repo that no pipeline writes is a leaf). */
function inputsOf(pipelines: Iterable<PipelineSpec>): Map<string, string> {
  const edges = new Map<string, string>();
  for (const pipeline of pipelines) edges.set(pipeline.name, pipeline.input.repo);
  return edges;
}

/**
 * Checks that `candidate` (a new pipeline, or a new version of one in `existing`) keeps the
 * graph acyclic; the error names the cycle: `a → b → a`.
 */
export function checkAcyclic(existing: Iterable<PipelineSpec>, candidate: PipelineSpec):
  Result<void, PfsError> {
  const edges = inputsOf(existing);
  edges.set(candidate.name, candidate.input.repo);
  const path = [candidate.name];
  let repo: string | undefined = candidate.input.repo;
  const seen = new Set<string>([candidate.name]);
  while (repo !== undefined) {
    path.push(repo);
    if (repo === candidate.name) {
      return err(new PfsError("INVALID_ARGUMENT",
        `pipeline ${candidate.name} would make a cycle: ${path.join(" → ")}`,
        { pipeline: candidate.name }));
    }
    // A cycle already in `existing` that does not pass through the candidate cannot be: every
    // pipeline was checked when it was written. Stop rather than loop if one ever is.
    if (seen.has(repo)) break;
    seen.add(repo);
    repo = edges.get(repo);
  }
  return ok(undefined);
}

/** The pipelines that read `repo` directly, by name. */
export function readersOf(pipelines: Iterable<PipelineSpec>, repo: string): string[] {
  const readers: string[] = [];
  for (const pipeline of pipelines) if (pipeline.input.repo === repo) readers.push(pipeline.name);
  return readers.sort();
}
