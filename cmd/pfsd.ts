#!/usr/bin/env node
/**
 * pfsd, the daemon: composition root only (STYLE rule 5): parse → validate → freeze → wire →
 * listen. `main` calls `run()` for an exit code. Until the coordination layer and the file
 * system land, pfsd validates its flags, logs its configuration and exits.
 */
import { Command, Option } from "commander";
import {
  AssertionError,
  type ConfigSources,
  type FieldSpec,
  createLogger,
  flagOf,
  pfsVersion,
  pfsdSchema,
  resolvePfsdConfig,
} from "../pkg/common/index.js";

/** Exit codes: 0 success, 2 bad usage or configuration, 70 internal error (sysexits). */
const exitUsage = 2;
const exitSoftware = 70;

function describeDefault(field: FieldSpec<unknown>): string {
  const value = field.defaultValue;
  if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) return "";
  const shown = Array.isArray(value) ? value.join(",") : JSON.stringify(value);
  return ` (default: ${shown})`;
}

/** Builds the commander program with one option per schema field. */
function buildProgram(): Command {
  const program = new Command("pfsd")
    .description("pfs daemon: an etcd-compatible Raft member, shard services and the pfs API")
    .version(pfsVersion, "--version", "print the version and exit")
    .helpOption("-h, --help", "show this help")
    .allowExcessArguments(false)
    .showHelpAfterError(false)
    .exitOverride();
  for (const [key, field] of Object.entries(pfsdSchema) as [string, FieldSpec<unknown>][]) {
    const flag = flagOf(key);
    const syntax = field.placeholder === "" ? `${flag} [bool]` : `${flag} <${field.placeholder}>`;
    program.addOption(new Option(syntax, `${field.description}${describeDefault(field)}`));
  }
  return program;
}

/** Parses argv, resolves the configuration and runs; returns the exit code. */
export function run(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const program = buildProgram();
  try {
    program.parse(argv, { from: "node" });
  } catch (error: unknown) {
    const exitCode = (error as { exitCode?: unknown }).exitCode;
    return typeof exitCode === "number" && exitCode === 0 ? 0 : exitUsage;
  }
  const sources: ConfigSources = {
    flags: program.opts<Record<string, string | boolean | undefined>>(),
    env,
  };
  const resolved = resolvePfsdConfig(sources);
  if (!resolved.ok) {
    process.stderr.write(`pfsd: ${resolved.error.message}\n`);
    return exitUsage;
  }
  const config = resolved.value;
  const logger = createLogger({
    nodeId: config.name,
    component: "pfsd",
    level: config.logLevel,
    format: config.logFormat,
  });
  logger.info("pfsd configuration", { version: pfsVersion, config });
  logger.info("nothing to serve yet: the coordination layer is not built; exiting");
  return 0;
}

function main(): void {
  try {
    process.exitCode = run(process.argv, process.env);
  } catch (error: unknown) {
    const what = error instanceof AssertionError ? "assertion failed" : "internal error";
    process.stderr.write(`pfsd: ${what}: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = exitSoftware;
  }
}

main();
