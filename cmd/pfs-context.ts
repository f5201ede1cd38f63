/**
 * What every `pfs` command shares: the `--address` flag (env `PFS_ADDRESS`, default
 * 127.0.0.1:30650; the flag wins over the variable), the `--deadline-ms` flag (env
 * `PFS_DEADLINE_MS`, default `callDeadlineMsDefault`: how long a call that moves no data, or
 * the connection of one that does, may take), a client opened per command and closed after
 * it, the verb commands of pachctl's grammar (`pfs <verb> <noun>`), and output helpers:
 * `--json` prints exactly one JSON value on stdout, tables otherwise.
 *
 * TLS, like etcdctl: `--cacert FILE` (env PFS_CACERT) verifies the server's certificate,
 * `--cert FILE --key FILE` (PFS_CERT, PFS_KEY) is the client certificate a server with
 * --client-cert-auth requires; none of them means plaintext (pkg/pfs/client client-tls.ts).
 */
import { isIP } from "node:net";
import { type ChannelCredentials } from "@grpc/grpc-js";
import { type Command, Option } from "commander";
import { PfsError, limits } from "../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import {
  PfsClient, clientCredentials, clientLimits, formatJson, usesTls,
} from "../pkg/pfs/client/index.js";

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

/** The TLS options every API command takes, named as etcdctl's. */
export function tlsOptions(): Option[] {
  return [
    new Option("--cacert <file>", "verify the server's TLS certificate with this CA bundle")
      .env("PFS_CACERT"),
    new Option("--cert <file>", "TLS client certificate (with --key)").env("PFS_CERT"),
    new Option("--key <file>", "TLS client certificate's private key (with --cert)")
      .env("PFS_KEY"),
  ];
}

/** Adds the options every API command takes: address, deadline and TLS. */
export function addApiOptions(command: Command): Command {
  command.addOption(addressOption()).addOption(deadlineOption());
  for (const option of tlsOptions()) command.addOption(option);
  return command;
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
  /** --cacert, --cert, --key (or PFS_CACERT, PFS_CERT, PFS_KEY). */
  readonly cacert?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** Where and how a command connects, checked: what every client of it is built from. */
export interface ApiConnection {
  readonly address: string;
  readonly callDeadlineMs: number;
  readonly credentials: ChannelCredentials;
}

/**
 * The checked connection settings of `options`: INVALID_ARGUMENT for a bad --deadline-ms, an
 * empty --address or bad TLS files (clientCredentials).
 */
export async function apiConnection(options: ApiOptions): Promise<ApiConnection> {
  const { callDeadlineMsMin, callDeadlineMsMax } = clientLimits;
  const callDeadlineMs = Number(options.deadlineMs);
  if (!Number.isSafeInteger(callDeadlineMs) || callDeadlineMs < callDeadlineMsMin ||
    callDeadlineMs > callDeadlineMsMax) {
    throw new PfsError("INVALID_ARGUMENT", `--deadline-ms must be in ` +
      `[${callDeadlineMsMin}, ${callDeadlineMsMax}], got ${JSON.stringify(options.deadlineMs)}`);
  }
  if (options.address === "") throw new PfsError("INVALID_ARGUMENT", "--address is empty");
  const credentials = await clientCredentials(options);
  if (usesTls(options)) quietIpServerName(options.address);
  return { address: options.address, callDeadlineMs, credentials };
}

/**
 * Node warns (DEP0123) when TLS names an IP address as the server name, which grpc-js does for
 * a host:port target: the certificate is still checked against the IP (its SAN), and the
 * warning is no business of a CLI user, so a CLI dialing an IP over TLS silences it.
 */
export function quietIpServerName(address: string): void {
  const host = address.slice(0, address.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  if (isIP(host) !== 0) process.noDeprecation = true;
}

/** Runs `body` with a client of `options.address`, closing it afterwards. */
export async function withClient<T>(options: ApiOptions,
  body: (client: PfsClient) => Promise<T>): Promise<T> {
  const client = new PfsClient(await apiConnection(options));
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
  const command = addApiOptions(parent.command(name).description(description));
  return json ? command.option("--json", "print one JSON value and nothing else") : command;
}
