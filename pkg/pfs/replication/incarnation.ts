/**
 * A node's data-dir incarnation: 16 random bytes in hex, made the first time pfs runs on a data
 * directory and kept in `<dir>/incarnation`. Staged-on marks (hosted-shard.ts) name the node
 * with it, so a node that comes back under the same name with an empty disk is not taken for
 * the one whose staging logs held a commit's data.
 *
 * The file is written durably (temporary file, fsync, rename, fsync of the directory) before
 * the id is used; a file that does not hold 32 hex characters is DATA_CORRUPTED.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { PfsError } from "../../common/index.js";
import {
  isNotFound, makeDirDurable, publishTemporary, writeTemporary,
} from "../durable-fs.js";

const incarnationPattern = /^[0-9a-f]{32}$/;

/** The incarnation kept in `dir` (created with it when missing). */
export async function readOrCreateIncarnation(dir: string): Promise<string> {
  const file = path.join(dir, "incarnation");
  try {
    const text = (await readFile(file, "utf8")).trim();
    if (!incarnationPattern.test(text)) {
      throw new PfsError("DATA_CORRUPTED", `${file} does not hold a data-dir incarnation`);
    }
    return text;
  } catch (error: unknown) {
    if (!isNotFound(error)) throw error;
  }
  await makeDirDurable(dir);
  const incarnation = randomBytes(16).toString("hex");
  await publishTemporary(await writeTemporary(file, Buffer.from(`${incarnation}\n`)), file);
  return incarnation;
}
