/**
 * What every `pfs` command shares: the `--address` flag (env `PFS_ADDRESS`, default
 * 127.0.0.1:30650; the flag wins over the variable), the `--deadline-ms` flag (env
 * `PFS_DEADLINE_MS`, default `callDeadlineMsDefault`: how long a call that moves no data, or
 * the connection of one that does, may take), a client opened per command and closed after
 * it, the verb commands of pachctl's grammar (`pfs <verb> <noun>`), and output helpers:
 * `--json` prints exactly one JSON value on stdout, tables otherwise.
 */
import { type Command, Option } from "commander";
import { PfsError, limits } from "../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import { PfsClient, clientLimits, formatJson } from "../pkg/pfs/client/index.js";

/** The pfs API address when neither --address nor PFS_ADDRESS says otherwise. */
export const pfsAddressDefault = `127.0.0.1:${limits.pfsApiPortDefault}`;

/** The option every API command takes. */
export function addressOption(): Option {
  return new Option("--address <host:port>", "pfs API address of any pfsd")
    .env("PFS_ADDRESS").default(pfsAddressDefault);
}

/** The deadline option every API command takes. */
export function deadlineOption(): Option {
  return new Option("--deadline-ms <ms>",
    "deadline of each call that moves no data, and of connecting for one that does")
    .env("PFS_DEADLINE_MS").default(String(clientLimits.callDeadlineMsDefault));
}

/** The `pfs <verb>` command, created on first use. */
export function verb(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((command) => command.name() === name);
  return existing ?? program.command(name).description(description);
}

/** Options every API command has. */
export interface ApiOptions {
  readonly address: string;
  /** --deadline-ms as given (checked by `withClient`). */
  readonly deadlineMs: string;
  readonly json?: boolean;
}

/** Runs `body` with a client of `options.address`, closing it afterwards. */
export async function withClient<T>(options: ApiOptions,
  body: (client: PfsClient) => Promise<T>): Promise<T> {
  const { callDeadlineMsMin, callDeadlineMsMax } = clientLimits;
  const callDeadlineMs = Number(options.deadlineMs);
  if (!Number.isSafeInteger(callDeadlineMs) || callDeadlineMs < callDeadlineMsMin ||
    callDeadlineMs > callDeadlineMsMax) {
    throw new PfsError("INVALID_ARGUMENT", `--deadline-ms must be in ` +
      `[${callDeadlineMsMin}, ${callDeadlineMsMax}], got ${JSON.stringify(options.deadlineMs)}`);
  }
  if (options.address === "") throw new PfsError("INVALID_ARGUMENT", "--address is empty");
  const client = new PfsClient({ address: options.address, callDeadlineMs });
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

/** Prints `value` as JSON when --json is set, else `human(value)`. */
export function print<T>(options: ApiOptions, value: T, human: (value: T) => string): void {
  process.stdout.write(options.json === true ? formatJson(value) : human(value));
}

/** Adds a noun subcommand with --address (and --json when it prints a value). */
export function noun(parent: Command, name: string, description: string, json: boolean):
  Command {
  const command = parent.command(name).description(description).addOption(addressOption())
    .addOption(deadlineOption());
  return json ? command.option("--json", "print one JSON value and nothing else") : command;
}
