#!/usr/bin/env node
/**
 * pfs, the command-line client: composition root only. Commands follow pachctl's grammar
 * (`pfs <verb> <noun>`). Output for people goes to stdout; `--json` prints one JSON value and
 * nothing else on stdout; errors are one line on stderr with a non-zero exit code.
 */
import { Command, CommanderError } from "commander";
import { AssertionError, PfsError, limits, pfsVersion } from "../pkg/common/index.js";
import { deployLocal, deployLocalDown, deployNodesMax } from "./deploy-local.js";
import { addClusterCommands } from "./pfs-cluster.js";
import { addFileCommands } from "./pfs-files.js";
import { addGcCommand } from "./pfs-gc.js";
import { addMetadataCommands } from "./pfs-metadata.js";
import { addSyncCommand } from "./pfs-sync.js";

/** A failed command (the server refused it, bad input, an unreachable server). */
const exitFailure = 1;
const exitUsage = 2;
const exitSoftware = 70;

function buildProgram(): Command {
  const program = new Command("pfs")
    .description("pfs: a sharded, replicated, commit-based file system (git for data)")
    .helpOption("-h, --help", "show help for a command")
    .showSuggestionAfterError(true)
    .exitOverride();
  program
    .command("version")
    .description("print the version of the pfs client")
    .option("--json", "print a JSON object")
    .action((options: { json?: boolean }) => {
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify({ pfs: pfsVersion })}\n`);
      } else {
        process.stdout.write(`COMPONENT  VERSION\npfs        ${pfsVersion}\n`);
      }
    });
  addMetadataCommands(program);
  addFileCommands(program);
  addSyncCommand(program);
  addGcCommand(program);
  addClusterCommands(program);
  addDeploy(program);
  return program;
}

interface DeployLocalOptions {
  readonly nodes: string;
  readonly dir: string;
  readonly basePort: string;
  readonly pfsBasePort: string;
  readonly shards: string;
  readonly host: string;
  readonly detach?: boolean;
}

/** `pfs deploy local [down]`: a loopback cluster of pfsd processes. */
function addDeploy(program: Command): void {
  const deploy = program.command("deploy").description("run pfs clusters");
  deploy
    .command("local")
    .description("run a cluster of pfsd nodes on this machine (`down` stops a detached one)")
    .argument("[action]", "`down` to stop the detached cluster in --dir")
    .option("--nodes <n>", `nodes to run, 1 to ${deployNodesMax}`, "3")
    .option("--dir <dir>", "data, logs and pid files", "./pfs-data")
    .option("--base-port <port>", "client port of node 1; node i uses base+2(i-1) and +1", "2379")
    .option("--shards <n>", "shards of the file system (fixed when the cluster is created)",
      String(limits.pfsShardsDefault))
    .option("--pfs-base-port <port>", "pfs API port of node 1; node i uses base+(i-1)",
      String(limits.pfsApiPortDefault))
    .option("--host <host>", "loopback address to serve on", "127.0.0.1")
    .option("--detach", "return once the cluster serves, leaving it running")
    .action(async (action: string | undefined, options: DeployLocalOptions) => {
      const progress = (line: string): void => { process.stderr.write(`pfs: ${line}\n`); };
      if (action !== undefined && action !== "down") {
        throw new Error(`unknown action ${JSON.stringify(action)} (only "down")`);
      }
      process.exitCode = action === "down"
        ? await deployLocalDown(options.dir, progress)
        : await deployLocal(options.dir, {
          nodes: Number(options.nodes), basePort: Number(options.basePort), host: options.host,
          shards: Number(options.shards), pfsBasePort: Number(options.pfsBasePort),
        }, options.detach === true, progress);
    });
}

/** Parses argv and runs the chosen command; returns the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "node" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error: unknown) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : exitUsage;
    throw error;
  }
}

/** One line: a message never spreads over several, whatever the server sent. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * A rejection nobody awaited is a bug, but the contract still holds: one line on stderr and
 * a non-zero exit, never a stack trace or a hang.
 */
function exitOnUnhandled(reason: unknown): void {
  const message = reason instanceof Error ? reason.message : String(reason);
  process.stderr.write(`pfs: internal error: ${oneLine(message)}\n`);
  process.exit(exitSoftware);
}

async function main(): Promise<void> {
  process.on("unhandledRejection", exitOnUnhandled);
  try {
    process.exitCode = await run(process.argv);
  } catch (error: unknown) {
    if (error instanceof AssertionError) {
      process.stderr.write(`pfs: assertion failed: ${oneLine(error.message)}\n`);
      process.exitCode = exitSoftware;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`pfs: ${oneLine(message)}\n`);
    process.exitCode = error instanceof PfsError && error.code === "INTERNAL"
      ? exitSoftware : exitFailure;
  }
}

await main();
