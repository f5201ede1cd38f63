/**
 * Runs one attempt of one datum as a local child process (DESIGN.md §5), the worker's inner
 * step. Real processes and files; no pfs or etcd.
 *
 * The attempt's directory `workDir` gets `in/<input name>/<path>` for each of the datum's
 * files (written by the caller's `fetch`), an empty `out/` and a `tmp/`. The command
 * (`transform.cmd`, looked up on PATH) runs in its own process group with `PFS_IN`, `PFS_OUT`,
 * `PFS_DATUM_ID`, `PFS_JOB_ID`, `TMPDIR`, the spec's `env`, and PATH, HOME and LANG of the
 * daemon; its stdin is the spec's `stdin` lines, each ended by "\n". stdout and stderr are
 * kept, interleaved as they arrive, up to `ppsDatumLogBytesMax`.
 *
 * Outcome: success when the command exits 0 and every entry under `out/` is a regular file or
 * a directory (a symlink, socket or device fails the attempt: its target could lie outside
 * the datum). A file at `out/p` is the output `/p`. A timeout (`datum_timeout`) or an abort
 * sends SIGTERM to the whole group, then SIGKILL after `ppsDatumKillGraceMs`. The caller
 * removes `workDir` when it has taken the outputs.
 */
import { spawn } from "node:child_process";
import { mkdir, readdir, lstat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { normalizePath } from "../pfs/index.js";
import type { Datum, DatumFile } from "./datum.js";
import {
  ppsDatumKillGraceMs, ppsDatumLogBytesMax, ppsDatumOutputFilesMax,
} from "./limits.js";
import type { PipelineSpec } from "./spec.js";

/** One attempt's inputs. */
export interface DatumAttempt {
  readonly spec: PipelineSpec;
  readonly datum: Datum;
  readonly jobId: string;
  /** An empty directory of this attempt's own. */
  readonly workDir: string;
  /** Writes `file`'s content to `destination` (its directory exists). */
  readonly fetch: (file: DatumFile, destination: string) => Promise<void>;
  /** Aborting kills the attempt (its job was killed, or the worker is stopping). */
  readonly signal?: AbortSignal;
}

/** A file the attempt wrote: its pfs path and where it lies on disk. */
export interface DatumOutput {
  readonly path: string;
  readonly file: string;
  readonly size: number;
}

/** How an attempt ended. `error` is "" on success, else one line saying why it failed. */
export interface DatumAttemptResult {
  readonly ok: boolean;
  readonly error: string;
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  readonly outputs: readonly DatumOutput[];
  readonly log: Buffer;
  readonly durationMs: number;
}

const inheritedEnv = ["PATH", "HOME", "LANG"] as const;

/** The environment of the datum's process. */
function datumEnv(attempt: DatumAttempt, inDir: string, outDir: string, tmpDir: string):
  NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of inheritedEnv) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return {
    ...env, ...attempt.spec.transform.env, PFS_IN: inDir, PFS_OUT: outDir, TMPDIR: tmpDir,
    PFS_DATUM_ID: attempt.datum.id, PFS_JOB_ID: attempt.jobId,
  };
}

/** Writes the datum's files under `inDir/<input name>`. */
async function stageInputs(attempt: DatumAttempt, inDir: string): Promise<void> {
  const base = join(inDir, attempt.spec.input.name);
  await mkdir(base, { recursive: true });
  for (const file of attempt.datum.files) {
    const destination = join(base, ...file.path.split("/").filter((part) => part !== ""));
    await mkdir(dirname(destination), { recursive: true });
    await attempt.fetch(file, destination);
  }
}

/** A bounded log: interleaved chunks up to the limit, then a note of what was cut. */
class AttemptLog {
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  #cut = 0;

  add(chunk: Buffer): void {
    const room = ppsDatumLogBytesMax - this.#bytes;
    if (room <= 0) {
      this.#cut += chunk.length;
      return;
    }
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.#chunks.push(kept);
    this.#bytes += kept.length;
    this.#cut += chunk.length - kept.length;
  }

  buffer(): Buffer {
    const note = this.#cut === 0 ? [] : [Buffer.from(
      `\n[pfs: ${this.#cut} more bytes of output cut at ppsDatumLogBytesMax]\n`)];
    return Buffer.concat([...this.#chunks, ...note]);
  }
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly spawnError: Error | null;
  readonly timedOut: boolean;
  readonly aborted: boolean;
}

/** Runs the command; resolves when it and its stdio are done. */
function runCommand(attempt: DatumAttempt, env: NodeJS.ProcessEnv, cwd: string,
  log: AttemptLog): Promise<Exit> {
  const [command = "", ...args] = attempt.spec.transform.cmd;
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, detached: true,
      stdio: ["pipe", "pipe", "pipe"] });
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is gone already.
      }
    };
    const stop = (): void => {
      killGroup("SIGTERM");
      killTimer ??= setTimeout(() => { killGroup("SIGKILL"); }, ppsDatumKillGraceMs);
    };
    const timeoutSeconds = attempt.spec.datumTimeoutSeconds;
    const timer = timeoutSeconds === null ? undefined
      : setTimeout(() => { timedOut = true; stop(); }, timeoutSeconds * 1_000);
    const onAbort = (): void => { aborted = true; stop(); };
    attempt.signal?.addEventListener("abort", onAbort, { once: true });
    if (attempt.signal?.aborted === true) onAbort();
    child.stdout.on("data", (chunk: Buffer) => { log.add(chunk); });
    child.stderr.on("data", (chunk: Buffer) => { log.add(chunk); });
    child.stdin.on("error", () => undefined); // a command that ignores its stdin may close it
    const stdin = attempt.spec.transform.stdin;
    child.stdin.end(stdin.length === 0 ? "" : `${stdin.join("\n")}\n`);
    let spawnError: Error | null = null;
    child.once("error", (error) => { spawnError = error; });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      attempt.signal?.removeEventListener("abort", onAbort);
      // Whatever the command left running in its group goes with it.
      killGroup("SIGKILL");
      resolve({ code, signal, spawnError, timedOut, aborted });
    });
  });
}

/** The regular files under `outDir` as outputs, or why the output is refused. */
async function collectOutputs(outDir: string): Promise<DatumOutput[] | string> {
  const outputs: DatumOutput[] = [];
  const pending: string[] = ["/"];
  while (pending.length > 0) {
    const dir = pending.pop() ?? "/";
    const entries = await readdir(join(outDir, dir));
    for (const name of entries.sort()) {
      const path = dir === "/" ? `/${name}` : `${dir}/${name}`;
      const file = join(outDir, path);
      const stat = await lstat(file);
      if (stat.isDirectory()) {
        pending.push(path);
      } else if (stat.isFile()) {
        const normalized = normalizePath(path);
        if (!normalized.ok) return `output ${normalized.error.message}`;
        if (outputs.length === ppsDatumOutputFilesMax) {
          return `more than ppsDatumOutputFilesMax (${ppsDatumOutputFilesMax}) output files`;
        }
        outputs.push({ path: normalized.value, file, size: stat.size });
      } else {
        return `output ${JSON.stringify(path)} is not a regular file or directory`;
      }
    }
  }
  return outputs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function exitError(exit: Exit, spec: PipelineSpec): string {
  if (exit.aborted) return "killed";
  if (exit.timedOut) return `timed out after datum_timeout (${spec.datumTimeoutSeconds} s)`;
  if (exit.spawnError !== null) {
    return `cannot run ${JSON.stringify(spec.transform.cmd[0])}: ${exit.spawnError.message}`;
  }
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return exit.code === 0 ? "" : `exited with code ${exit.code}`;
}

/** Runs one attempt of `attempt.datum`; never throws for a failing command. */
export async function runDatumAttempt(attempt: DatumAttempt): Promise<DatumAttemptResult> {
  const started = Date.now();
  const inDir = join(attempt.workDir, "in");
  const outDir = join(attempt.workDir, "out");
  const tmpDir = join(attempt.workDir, "tmp");
  await Promise.all([inDir, outDir, tmpDir].map((dir) => mkdir(dir, { recursive: true })));
  await stageInputs(attempt, inDir);
  const log = new AttemptLog();
  const exit = await runCommand(attempt, datumEnv(attempt, inDir, outDir, tmpDir),
    attempt.workDir, log);
  let error = exitError(exit, attempt.spec);
  let outputs: DatumOutput[] = [];
  if (error === "") {
    const collected = await collectOutputs(outDir);
    if (typeof collected === "string") error = collected;
    else outputs = collected;
  }
  if (error !== "") log.add(Buffer.from(`[pfs: datum ${attempt.datum.root} failed: ${error}]\n`));
  return {
    ok: error === "", error, exitCode: exit.code, timedOut: exit.timedOut,
    aborted: exit.aborted, outputs, log: log.buffer(), durationMs: Date.now() - started,
  };
}
