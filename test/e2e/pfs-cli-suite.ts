// Runs the `pfs` CLI (`node dist/cmd/pfs.js`) as a child process and collects its output, for
// the CLI tests: the offline ones (pfs-cli-offline.test.ts) and the end-to-end suite that
// scripts/launch_test runs against a launched cluster (test/launch/cli-suite.test.ts). The
// child inherits this process's environment (PFS_ADDRESS, TLS settings) unless told otherwise.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const pfsScript = fileURLToPath(new URL("../../cmd/pfs.js", import.meta.url));

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
}

/** How to run one `pfs` command. */
export interface RunOptions {
  /** Fed to stdin (nothing when absent). */
  readonly input?: Buffer;
  /** Extra environment (PFS_ADDRESS among it overrides the node's). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Runs `pfs args…` with `env`, collecting its output. */
export function runPfs(args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [pfsScript, ...args], {
      env: { ...process.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.once("error", reject);
    child.once("close", (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code: code ?? 1, stdout: stdoutBytes.toString("utf8"), stdoutBytes,
        stderr: Buffer.concat(err).toString("utf8") });
    });
    child.stdin.end(options.input ?? Buffer.alloc(0));
  });
}

/** The shape every failed command has: non-zero, one `pfs: …` line on stderr, no stdout. */
export const oneErrorLine = /^pfs: [^\n]+\n$/;
