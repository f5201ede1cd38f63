#!/usr/bin/env node
/**
 * pfs, the command-line client: composition root only. Commands follow pachctl's grammar
 * (`pfs <verb> <noun>`). Output for people goes to stdout; `--json` prints one JSON value and
 * nothing else on stdout; errors are one line on stderr with a non-zero exit code.
 */
import { Command, CommanderError } from "commander";
import { AssertionError, PfsError, pfsVersion } from "../pkg/common/index.js";
import { addDeployCommand } from "./deploy-local.js";
import { addClusterCommands } from "./pfs-cluster.js";
import { addFileCommands } from "./pfs-files.js";
import { addGcCommand } from "./pfs-gc.js";
import { addMetadataCommands } from "./pfs-metadata.js";
import { addPipelineCommands } from "./pfs-pps.js";
import { addSyncCommand } from "./pfs-sync.js";

/** A failed command (the server refused it, bad input, an unreachable server). */
const exitFailure = 1;
const exitUsage = 2;
const exitSoftware = 70;
/** A reader of stdout went away (`pfs get file … | head`): 128 + SIGPIPE, as `cat` ends. */
const exitBrokenPipe = 141;

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
  addPipelineCommands(program);
  addSyncCommand(program);
  addGcCommand(program);
  addClusterCommands(program);
  addDeployCommand(program);
  return program;
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

/**
 * Node ignores SIGPIPE, so a write to a closed pipe is an EPIPE error instead: the command
 * ends at once and quietly, with cat's status, as a Unix tool killed by SIGPIPE does (no
 * "write EPIPE" line, no stack trace). Another failed write (a full disk: the error names its
 * system call) is a failure. An error without a system call is one a stream pipeline passed
 * on when its source failed (a download cut short): the command reports it itself.
 */
function onStdoutError(error: NodeJS.ErrnoException): void {
  if (error.code === "EPIPE") process.exit(exitBrokenPipe);
  if (error.syscall === undefined) return;
  process.stderr.write(`pfs: cannot write the output: ${oneLine(error.message)}\n`);
  process.exit(exitFailure);
}

async function main(): Promise<void> {
  process.on("unhandledRejection", exitOnUnhandled);
  process.stdout.on("error", onStdoutError);
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
