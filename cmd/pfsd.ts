#!/usr/bin/env node
/**
 * pfsd, the daemon: composition root only (STYLE rule 5): parse → validate → freeze → wire →
 * listen. `main` calls `run()` for an exit code. With etcd's flags, pfsd is an
 * etcd-compatible member (pkg/etcdserver: the replicated member, the etcd v3 gRPC services on
 * every --listen-client-urls, metrics and health on --listen-metrics-urls). It runs in the
 * foreground without reading stdin; SIGTERM or SIGINT drains and exits 0 within
 * shutdownDrainMsMax; a fatal member error exits non-zero.
 */
import { Command, Option } from "commander";
import {
  AssertionError,
  ConfigError,
  type Logger,
  type PfsdConfig,
  limits,
  type ConfigSources,
  type FieldSpec,
  createLogger,
  flagOf,
  pfsVersion,
  pfsdSchema,
  resolvePfsdConfig,
} from "../pkg/common/index.js";
import { EtcdDaemon } from "../pkg/etcdserver/index.js";

/** Exit codes: 0 success, 1 member failure, 2 bad usage or configuration, 70 internal error. */
const exitFailure = 1;
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

/** Parses argv and resolves the configuration: the config, or the exit code to stop with. */
function configure(argv: readonly string[], env: NodeJS.ProcessEnv): PfsdConfig | number {
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
  return resolved.value;
}

/** Resolves with the exit code once a signal has drained the daemon or the member died. */
function serveUntilStopped(daemon: EtcdDaemon, logger: Logger, fatal: Promise<unknown>,
  signaled: Promise<NodeJS.Signals>): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info("received signal; shutting down", { signal });
      const forced = setTimeout(() => {
        logger.error("drain took too long; exiting", { deadlineMs: limits.shutdownDrainMsMax });
        resolve(exitFailure);
      }, limits.shutdownDrainMsMax - 500);
      forced.unref();
      daemon.close().then(() => { resolve(0); }, (error: unknown) => {
        logger.error("shutdown failed", { error });
        resolve(exitFailure);
      });
    };
    void signaled.then(stop);
    fatal.then((error: unknown) => {
      logger.error("member failed; exiting", { error });
      const exit = (): void => { resolve(exitFailure); };
      daemon.close().then(exit, exit);
    }, () => undefined);
  });
}

/** Parses argv, resolves the configuration and runs; resolves with the exit code. */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = configure(argv, env);
  if (typeof config === "number") return config;
  const logger = createLogger({
    nodeId: config.name,
    component: "pfsd",
    level: config.logLevel,
    format: config.logFormat,
  });
  logger.info("pfsd configuration", { version: pfsVersion, config });
  // Listen for signals before starting: a SIGTERM during start-up drains once it is done.
  const signaled = new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  let onFatal: (error: unknown) => void = () => undefined;
  const fatal = new Promise<unknown>((resolve) => { onFatal = resolve; });
  let daemon: EtcdDaemon;
  try {
    daemon = await EtcdDaemon.start(config, { logger, onFatal: (error) => { onFatal(error); } });
  } catch (error: unknown) {
    const usage = error instanceof ConfigError;
    logger.error("cannot start", { error });
    process.stderr.write(`pfsd: ${error instanceof Error ? error.message : String(error)}\n`);
    return usage ? exitUsage : exitFailure;
  }
  return serveUntilStopped(daemon, logger, fatal, signaled);
}

function fail(error: unknown): number {
  const what = error instanceof AssertionError ? "assertion failed" : "internal error";
  const text = error instanceof Error ? error.stack ?? error.message : String(error);
  process.stderr.write(`pfsd: ${what}: ${text}\n`);
  return exitSoftware;
}

/** Runs pfsd and exits with its code (timers and sockets of a drained daemon are gone). */
async function main(): Promise<void> {
  let code: number;
  try {
    code = await run(process.argv, process.env);
  } catch (error: unknown) {
    code = fail(error);
  }
  process.exit(code);
}

process.on("uncaughtException", (error: unknown) => {
  process.exit(fail(error));
});

await main();
