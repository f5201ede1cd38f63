#!/usr/bin/env node
/**
 * pfs, the command-line client: composition root only. Commands follow pachctl's grammar
 * (`pfs <verb> <noun>`). Output for people goes to stdout; `--json` prints one JSON value and
 * nothing else on stdout; errors are one line on stderr with a non-zero exit code.
 */
import { Command, CommanderError } from "commander";
import { AssertionError, pfsVersion } from "../pkg/common/index.js";

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
  return program;
}

/** Parses argv and runs the chosen command; returns the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "node" });
    return 0;
  } catch (error: unknown) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : exitUsage;
    throw error;
  }
}

async function main(): Promise<void> {
  try {
    process.exitCode = await run(process.argv);
  } catch (error: unknown) {
    if (error instanceof AssertionError) {
      process.stderr.write(`pfs: assertion failed: ${error.message}\n`);
    } else {
      process.stderr.write(`pfs: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exitCode = exitSoftware;
  }
}

await main();
