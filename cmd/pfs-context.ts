/**
 * What every `pfs` command shares: the `--address` flag (env `PFS_ADDRESS`, default
 * 127.0.0.1:30650), a client opened per command and closed after it, the verb commands of
 * pachctl's grammar (`pfs <verb> <noun>`), and output helpers: `--json` prints exactly one
 * JSON value on stdout, tables otherwise.
 */
import { type Command, Option } from "commander";
import { limits } from "../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import { PfsClient, formatJson } from "../pkg/pfs/client/index.js";

/** The pfs API address when neither --address nor PFS_ADDRESS says otherwise. */
export const pfsAddressDefault = `127.0.0.1:${limits.pfsApiPortDefault}`;

/** The option every API command takes. */
export function addressOption(): Option {
  return new Option("--address <host:port>", "pfs API address of any pfsd")
    .env("PFS_ADDRESS").default(pfsAddressDefault);
}

/** The `pfs <verb>` command, created on first use. */
export function verb(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((command) => command.name() === name);
  return existing ?? program.command(name).description(description);
}

/** Options every API command has. */
export interface ApiOptions {
  readonly address: string;
  readonly json?: boolean;
}

/** Runs `body` with a client of `options.address`, closing it afterwards. */
export async function withClient<T>(options: ApiOptions,
  body: (client: PfsClient) => Promise<T>): Promise<T> {
  const client = new PfsClient({ address: options.address });
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
  const command = parent.command(name).description(description).addOption(addressOption());
  return json ? command.option("--json", "print one JSON value and nothing else") : command;
}
