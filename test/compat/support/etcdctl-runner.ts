// Runs the real etcdctl 3.4.23 (/usr/bin/etcdctl, API v3) as a child process: one-shot commands
// (optionally fed from stdin) and long-running ones (watch, lock, elect) that are fed lines,
// read until an expected number of output lines, then stopped with a signal. Only processes
// started here are ever signalled.
import { type ChildProcess, spawn } from "node:child_process";

/** The etcdctl binary whose output the tests compare. */
export const etcdctlBinary = "/usr/bin/etcdctl";

/**
 * etcdctl's --command-timeout here: its default 5 s fails healthy members of both kinds when
 * the 2-core machine is overloaded by parallel tests; outputs do not depend on it.
 */
const commandTimeout = "--command-timeout=20s";
/** A one-shot command is killed after this long (beyond etcdctl's command timeout). */
const commandMsMax = 40_000;
/** After a long-running command printed what was expected, extra output is collected this long. */
const extraOutputMs = 300;

/** What one etcdctl run printed, and how it ended (code null: ended by a signal). */
export interface CtlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where and how etcdctl connects: the global flags before the command. */
export interface CtlConnection {
  /** Comma-separated endpoints. */
  readonly endpoints: string;
  /** TLS flags (--cacert, --cert, --key), empty for plain text. */
  readonly tlsArgs: readonly string[];
}

function ctlArgs(connection: CtlConnection, args: readonly string[]): string[] {
  return [`--endpoints=${connection.endpoints}`, commandTimeout, ...connection.tlsArgs, ...args];
}

function spawnCtl(connection: CtlConnection, args: readonly string[]): ChildProcess {
  const child = spawn(etcdctlBinary, ctlArgs(connection, args), {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ETCDCTL_API: "3" },
  });
  // A child that exits without reading its stdin makes writes fail with EPIPE: not an error
  // of the test (what it printed is compared).
  child.stdin.on("error", () => undefined);
  return child;
}

/** Runs one etcdctl command to its end; `stdin` (if any) is written and closed. */
export function runCtl(connection: CtlConnection, args: readonly string[],
  stdin = ""): Promise<CtlResult> {
  const child = spawnCtl(connection, args);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => { stdout += chunk.toString("utf8"); });
  child.stderr?.on("data", (chunk: Buffer) => { stderr += chunk.toString("utf8"); });
  child.stdin?.end(stdin);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), commandMsMax);
    child.once("error", reject);
    child.once("close", (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A long-running etcdctl (watch, lock, elect, lease keep-alive): lines can be written to its
 * stdin, and its stdout awaited until it holds a number of lines.
 */
/** Every long-running child not yet ended, so a failed test can still end them all. */
const liveChildren = new Set<CtlChild>();

/** Ends every long-running etcdctl started here and still running (for test.after.always). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...liveChildren].map((child) => child.stop("SIGKILL")));
}

export class CtlChild {
  readonly #child: ChildProcess;
  readonly #closed: Promise<number | null>;
  #stdout = "";
  #stderr = "";
  #waiters: (() => void)[] = [];

  constructor(connection: CtlConnection, args: readonly string[]) {
    this.#child = spawnCtl(connection, args);
    const wake = (): void => {
      for (const waiter of this.#waiters) waiter();
    };
    this.#child.stdout?.on("data", (chunk: Buffer) => {
      this.#stdout += chunk.toString("utf8");
      wake();
    });
    this.#child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr += chunk.toString("utf8");
      wake();
    });
    liveChildren.add(this);
    this.#closed = new Promise((resolve) => {
      this.#child.once("close", (code: number | null) => {
        liveChildren.delete(this);
        resolve(code);
        wake();
      });
    });
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Writes one line (a newline is added) to the child's stdin. */
  writeLine(line: string): void {
    this.#child.stdin?.write(`${line}\n`);
  }

  /** Lines printed so far on stdout and stderr together (empty lines kept). */
  lineCount(): number {
    const text = this.#stdout + this.#stderr;
    return text === "" ? 0 : text.split("\n").length - 1;
  }

  /**
   * Resolves once stdout and stderr together hold at least `lines` complete lines, the child
   * has ended, or `timeoutMs` passed; then waits a little longer to catch extra output.
   */
  async waitLines(lines: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.lineCount() < lines && this.running && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(1, deadline - Date.now()));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.push(done);
      });
      this.#waiters = [];
    }
    await new Promise((resolve) => setTimeout(resolve, extraOutputMs));
  }

  /** Output so far, without stopping the child. */
  snapshot(): CtlResult {
    return { code: null, stdout: this.#stdout, stderr: this.#stderr };
  }

  /** Sends `signal` (SIGKILL after 10 s), waits for the exit and returns all output. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<CtlResult> {
    if (this.running) this.#child.kill(signal);
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    const code = await this.#closed;
    clearTimeout(timer);
    return { code, stdout: this.#stdout, stderr: this.#stderr };
  }

  /** Waits for the child to end by itself (SIGKILL after `timeoutMs`). */
  async finish(timeoutMs = 10_000): Promise<CtlResult> {
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), timeoutMs);
    this.#child.stdin?.end();
    const code = await this.#closed;
    clearTimeout(timer);
    return { code, stdout: this.#stdout, stderr: this.#stderr };
  }
}
