/**
 * The one way this module reads its stored JSON values (the replica map, offline records):
 * text → a plain object's fields, or an error string saying why not. Field checks stay with
 * each record's own decoder.
 */
import { err, ok, type Result } from "../../common/index.js";

/** Parses `text` as one JSON object; arrays, null and scalars are refused. */
export function parseJsonRecord(text: string): Result<Record<string, unknown>, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return err("not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return err("not an object");
  }
  return ok(parsed as Record<string, unknown>);
}
