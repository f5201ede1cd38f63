// Small building blocks of the etcdctl differential scenarios: per-target variables (lease
// IDs, revisions), reading a target's current revision, polling until a condition holds, and
// joining the outputs of several etcdctl processes of one scenario into one result.
import { type CtlTarget, connect } from "./etcdctl-differ.js";
import { type CtlResult, runCtl } from "./etcdctl-runner.js";

/** How long a poll (for a key to appear, a lease to expire) may take. */
const pollMsMax = 15_000;
/** Each poll spawns an etcdctl: not too often, on a 2-core machine. */
const pollIntervalMs = 250;

const variables = new WeakMap<CtlTarget, Map<string, string>>();

/** Sets a per-target variable (a lease ID, a revision) learned from that target's output. */
export function setVar(target: CtlTarget, name: string, value: string): void {
  const map = variables.get(target) ?? new Map<string, string>();
  map.set(name, value);
  variables.set(target, map);
}

/** A per-target variable; throws if it was never set (an earlier step failed). */
export function getVar(target: CtlTarget, name: string): string {
  const value = variables.get(target)?.get(name);
  if (value === undefined) throw new Error(`${target.label}: no variable ${name}`);
  return value;
}

/** A per-target variable, or `fallback` if an earlier step did not set it. */
export function varOr(target: CtlTarget, name: string, fallback: string): string {
  return variables.get(target)?.get(name) ?? fallback;
}

/** The target's current store revision (a linearizable get's header revision). */
export async function currentRevision(target: CtlTarget): Promise<number> {
  const result = await runCtl(connect(target), ["get", "rev-probe", "-w", "json"]);
  const match = /"revision":(\d+)/.exec(result.stdout);
  if (match?.[1] === undefined) throw new Error(`${target.label}: ${JSON.stringify(result)}`);
  return Number(match[1]);
}

/** Polls `probe` until it returns true; throws after pollMsMax. */
export async function pollUntil(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + pollMsMax;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

/** Resolves once `get <prefix> --prefix` counts exactly `count` keys. */
export function waitKeyCount(target: CtlTarget, prefix: string, count: number): Promise<void> {
  return pollUntil(`${count} keys under ${prefix} on ${target.label}`, async () => {
    const result = await runCtl(connect(target), ["get", prefix, "--prefix", "--keys-only",
      "-w", "fields"]);
    return result.stdout.includes(`"Count" : ${count}\n`);
  });
}

/** Joins the outputs of the processes of one scenario, each under its name. */
export function joinResults(parts: readonly (readonly [string, CtlResult])[]): CtlResult {
  const codes = parts.map(([name, result]) => `${name}=${String(result.code)}`).join(" ");
  return {
    code: parts.every(([, result]) => result.code === 0) ? 0 : 1,
    stdout: parts.map(([name, result]) => `[${name}]\n${result.stdout}`).join("\n") +
      `\n[exit codes] ${codes}`,
    stderr: parts.map(([name, result]) => `[${name}]\n${result.stderr}`).join("\n"),
  };
}

/** The lease ID (hex) in `lease 694d… granted with TTL(…)`. */
export function grantedLease(result: CtlResult): string {
  const match = /lease ([0-9a-f]+) granted/.exec(result.stdout);
  if (match?.[1] === undefined) throw new Error(`no lease granted: ${JSON.stringify(result)}`);
  return match[1];
}

/**
 * Not compared: if an earlier group left the two stores at different revisions (a difference
 * already reported), pads the one behind with puts of `sync/pad` (a key no compared command
 * reads) so that the next group's revisions are comparable on their own.
 * Returns how many revisions were added (0 when the stores agreed).
 */
export async function alignRevisions(a: CtlTarget, b: CtlTarget): Promise<number> {
  const [revisionA, revisionB] = await Promise.all([currentRevision(a), currentRevision(b)]);
  const behind = revisionA < revisionB ? a : b;
  const gap = Math.abs(revisionA - revisionB);
  for (let i = 0; i < gap; i++) {
    await runCtl(connect(behind), ["put", "sync/pad", "x"]);
  }
  return gap;
}
