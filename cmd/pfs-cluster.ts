/**
 * `pfs cluster status` and `pfs cluster remove-node ID` (pfs.API ClusterStatus, RemoveNode):
 * the node and shard tables of the cluster, `--json` the response as one JSON object,
 * `--watch [SECONDS]` redrawn every SECONDS (default 2) until Ctrl-C; and retiring a node for
 * good, printing what was done. Address, deadline and errors as every API command
 * (pfs-context.ts).
 */
import { type Command, Option } from "commander";
import { PfsError } from "../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import { formatJson } from "../pkg/pfs/client/index.js";
// eslint-disable-next-line pfs/boundaries -- the cluster commands' client and formatting
import {
  ClusterClient, formatClusterStatus, formatRemoveNode, statusLimits,
} from "../pkg/pfs/status/index.js";
import { type ApiOptions, apiConnection, noun, verb } from "./pfs-context.js";

interface StatusOptions extends ApiOptions {
  /** true: --watch without a value; a string: its value. */
  readonly watch?: string | true;
}

/** Runs `body` with a cluster client on the command's address, deadline and TLS. */
async function withClusterClient<T>(options: ApiOptions,
  body: (client: ClusterClient) => Promise<T>): Promise<T> {
  const client = new ClusterClient(await apiConnection(options));
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

/** The --watch interval in milliseconds; undefined without --watch. */
function watchIntervalMs(watch: string | true | undefined): number | undefined {
  if (watch === undefined) return undefined;
  const { watchIntervalSecondsDefault, watchIntervalSecondsMin, watchIntervalSecondsMax } =
    statusLimits;
  const seconds = watch === true ? watchIntervalSecondsDefault : Number(watch);
  if (!Number.isFinite(seconds) || seconds < watchIntervalSecondsMin ||
    seconds > watchIntervalSecondsMax) {
    throw new PfsError("INVALID_ARGUMENT", `--watch must be in [${watchIntervalSecondsMin}, ` +
      `${watchIntervalSecondsMax}] seconds, got ${JSON.stringify(watch)}`);
  }
  return Math.round(seconds * 1_000);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/** Redraws the status every `intervalMs` until SIGINT; a failed read is shown, not fatal. */
async function watchStatus(options: StatusOptions, intervalMs: number): Promise<void> {
  const stop = new AbortController();
  const onInterrupt = (): void => { stop.abort(); };
  process.once("SIGINT", onInterrupt);
  try {
    await withClusterClient(options, async (client) => {
      while (!stop.signal.aborted) {
        let text: string;
        try {
          const status = await client.clusterStatus();
          text = options.json === true ? formatJson(status) : formatClusterStatus(status);
        } catch (error: unknown) {
          if (!(error instanceof PfsError)) throw error;
          text = `pfs: ${error.message}\n`;
        }
        const stamp = `every ${intervalMs / 1_000}s, ${new Date().toISOString()}\n\n`;
        // --json: one object per line; tables: clear the screen and draw again.
        process.stdout.write(options.json === true ? text : `\x1b[2J\x1b[H${stamp}${text}`);
        await pause(intervalMs, stop.signal);
      }
    });
  } finally {
    process.removeListener("SIGINT", onInterrupt);
  }
}

/** Adds `pfs cluster status` and `pfs cluster remove-node` to `program`. */
export function addClusterCommands(program: Command): void {
  const cluster = verb(program, "cluster", "the cluster's nodes and shards");
  noun(cluster, "status", "show the nodes and shards of the cluster", true)
    .addOption(new Option("--watch [seconds]",
      `redraw every SECONDS (default ${statusLimits.watchIntervalSecondsDefault}) until Ctrl-C`))
    .action(async (options: StatusOptions) => {
      const intervalMs = watchIntervalMs(options.watch);
      if (intervalMs !== undefined) {
        await watchStatus(options, intervalMs);
        return;
      }
      const status = await withClusterClient(options, (client) => client.clusterStatus());
      process.stdout.write(options.json === true ? formatJson(status)
        : formatClusterStatus(status));
    });
  noun(cluster, "remove-node", "retire a node for good (usually a dead one)", true)
    .argument("<id>", "the node's id (its pfsd --name)")
    .option("--force", "retire it even though it is online")
    .action(async (id: string, options: ApiOptions & { force?: boolean }) => {
      const removed = await withClusterClient(options,
        (client) => client.removeNode(id, options.force === true));
      process.stdout.write(options.json === true ? formatJson(removed)
        : formatRemoveNode(removed));
    });
}
