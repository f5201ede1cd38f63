/**
 * The named checks behind /livez and /readyz, with the meaning Kubernetes gives them:
 * - live: the process is alive and not wedged. Its only checks are `ping` (the HTTP handler
 *   runs, so the event loop turns) and `event-loop` (no turn of the loop since the previous
 *   probe was late by livezLoopDelayMsMax or more). It never depends on Raft: a member cut
 *   off from its quorum is alive, and restarting it would not bring the quorum back.
 * - ready: the process can serve requests. Components add checks as they start (the
 *   embedded member: a leader is known and no alarm is raised; pfs: the node serves); until
 *   the composition root calls `started()`, the `started` check fails.
 * A check answers undefined when it passes, else why it fails; one that throws or takes
 * longer than healthCheckTimeoutMs fails. Checks are run at each request, in order.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import { EtcdError } from "../../common/index.js";
import type { EtcdBackend } from "../backend.js";
import { healthCheckTimeoutMs, livezLoopDelayMsMax } from "./limits.js";

/** One named check: undefined when it passes, else the reason it fails. */
export interface HealthCheck {
  readonly name: string;
  run(): Promise<string | undefined> | string | undefined;
}

/** The outcome of one check. */
export interface CheckOutcome {
  readonly name: string;
  readonly failure: string | undefined;
}

/** Runs `check`, turning a throw or a timeout into a failure. */
async function runCheck(check: HealthCheck): Promise<CheckOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => { resolve(`no answer within ${healthCheckTimeoutMs} ms`); },
      healthCheckTimeoutMs);
    timer.unref();
  });
  try {
    const answer = Promise.resolve().then(() => check.run());
    return { name: check.name, failure: await Promise.race([answer, timeout]) };
  } catch (error: unknown) {
    return { name: check.name, failure: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The readiness checks of an embedded etcd member: a known leader, and no alarm (Status's
 * errors other than "no leader", which the first check names).
 */
export function memberReadyChecks(member: EtcdBackend): HealthCheck[] {
  return [
    { name: "etcd-leader", run: () => (member.hasLeader() ? undefined : "no leader") },
    {
      name: "etcd-alarm",
      run: async () => {
        const noLeader = new EtcdError("ETCD_NO_LEADER").message;
        const alarms = (await member.status()).errors.filter((error) => error !== noLeader);
        return alarms.length === 0 ? undefined : alarms.join("; ");
      },
    },
  ];
}

export class HealthChecks {
  readonly #ready: HealthCheck[] = [];
  readonly #loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  #started = false;

  constructor() {
    this.#loopDelay.enable();
  }

  /** Marks start-up done: the `started` readiness check passes from now on. */
  started(): void {
    this.#started = true;
  }

  /** Adds readiness checks, run after those added before. */
  addReady(...checks: HealthCheck[]): void {
    this.#ready.push(...checks);
  }

  /** The liveness checks' outcomes. */
  live(): Promise<CheckOutcome[]> {
    const maxDelayMs = this.#loopDelay.max / 1e6;
    this.#loopDelay.reset();
    const loop = maxDelayMs < livezLoopDelayMsMax ? undefined
      : `the event loop stalled for ${Math.round(maxDelayMs)} ms`;
    return Promise.resolve([{ name: "ping", failure: undefined },
      { name: "event-loop", failure: loop }]);
  }

  /** The readiness checks' outcomes, `started` first. */
  async ready(): Promise<CheckOutcome[]> {
    const started = { name: "started", failure: this.#started ? undefined : "starting" };
    return [started, ...await Promise.all(this.#ready.map(runCheck))];
  }

  /** Stops measuring the event loop. */
  close(): void {
    this.#loopDelay.disable();
  }
}
