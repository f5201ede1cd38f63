/**
 * A pipeline spec as the user wrote it (JSON or YAML text, the body of CreatePipeline and
 * UpdatePipeline) parsed and checked. YAML 1.2 reads JSON too, so one parser serves both; a
 * document that is not one mapping, has YAML errors, or is over `ppsSpecBytesMax` is
 * INVALID_ARGUMENT (the limit's error is LIMIT_EXCEEDED naming it). Pure.
 */
import { parseDocument } from "yaml";
import { LimitError, PfsError, type Result, err } from "../../common/index.js";
import { ppsSpecBytesMax } from "../limits.js";
import { type PipelineSpec, checkPipelineSpec } from "../spec.js";

/** Why the text is not a spec document, in one line. */
function firstLine(text: string): string {
  return text.split("\n")[0]?.trim() ?? "";
}

/** The checked spec of `text`. */
export function parseSpecText(text: string): Result<PipelineSpec, PfsError> {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > ppsSpecBytesMax) return err(new LimitError("ppsSpecBytesMax", ppsSpecBytesMax, bytes));
  if (text.trim() === "") {
    return err(new PfsError("INVALID_ARGUMENT", "invalid pipeline spec: the spec is empty"));
  }
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const problem = document.errors[0];
  if (problem !== undefined) {
    return err(new PfsError("INVALID_ARGUMENT",
      `invalid pipeline spec: not JSON or YAML: ${firstLine(problem.message)}`));
  }
  return checkPipelineSpec(document.toJS({ maxAliasCount: 100 }));
}
