/**
 * `pfs gc`: asks the cluster to collect its garbage now (pfs.API CollectGarbage): every node
 * reconciles its shards with the metadata — dropping the data of deleted repos, deleted and
 * failed commits — and frees the chunks nothing references. Prints the chunks and bytes freed
 * (`--json`: the response, 64-bit counts as decimal strings). Nodes also do this by themselves
 * every `--pfs-gc-interval` seconds and soon after a deletion.
 */
import type { Command } from "commander";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import { formatBytes } from "../pkg/pfs/client/index.js";
import {
  type ApiOptions, addApiOptions, print, withClient,
} from "./pfs-context.js";

/** Adds `pfs gc` to `program`. */
export function addGcCommand(program: Command): void {
  addApiOptions(program.command("gc"))
    .description("free the storage no commit references any more, on every node")
    .option("--json", "print one JSON value and nothing else")
    .action(async (options: ApiOptions) => {
      const freed = await withClient(options, (client) => client.collectGarbage());
      print(options, freed, (value) =>
        `freed ${value.chunks_freed} chunks, ${formatBytes(value.bytes_freed)}\n`);
    });
}
