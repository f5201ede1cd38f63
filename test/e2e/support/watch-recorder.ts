/**
 * Watchers for a fault run: raw gRPC Watch streams with prev_kv on a key range, each response
 * recorded as it arrived. When a stream fails (its member was killed, the stream was canceled)
 * the watcher resumes on a random member from the revision after the last event it got, as a
 * client must; each stream is one session of the log. The checker (watch-checker.ts) judges
 * the log against the store's full history.
 */
import { performance } from "node:perf_hooks";
import type { ChannelCredentials, Client, ClientDuplexStream } from "@grpc/grpc-js";
import type { Prng } from "../../../pkg/common/index.js";
import { etcdService } from "../../compat/support/etcd-process.js";
import { channelOptions, snapshotOf } from "./kv-client.js";
import type { KvSnapshot } from "./kv-history.js";

/** A decoded watch event; a DELETE's kv carries only key and mod_revision. */
export interface WatchEvent {
  readonly type: "PUT" | "DELETE";
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
  readonly createRevision: number;
  readonly version: number;
  readonly prev: KvSnapshot | null;
}

export interface WatchResponseRecord {
  readonly atMs: number;
  readonly headerRevision: number;
  readonly created: boolean;
  readonly canceled: boolean;
  readonly compactRevision: number;
  readonly cancelReason: string;
  readonly events: readonly WatchEvent[];
}

/** One stream: where it went, from which revision, what it got, and how it ended. */
export interface WatchSession {
  readonly address: string;
  readonly startRevision: number;
  readonly responses: WatchResponseRecord[];
  /** Why the stream ended (null while open or when closed by the run). */
  end: string | null;
}

/** A watched range [key, rangeEnd) (rangeEnd "" = the key alone). */
export interface WatchSpec {
  readonly name: string;
  readonly key: string;
  readonly rangeEnd: string;
  readonly startRevision: number;
}

export interface WatchLog extends WatchSpec {
  readonly sessions: WatchSession[];
}

interface WireEvent {
  readonly type?: string;
  readonly kv?: {
    readonly key?: Buffer; readonly value?: Buffer; readonly mod_revision?: string;
    readonly create_revision?: string; readonly version?: string;
  } | null;
  readonly prev_kv?: Parameters<typeof snapshotOf>[0];
}

interface WireWatchResponse {
  readonly header?: { readonly revision?: string } | null;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly compact_revision?: string;
  readonly cancel_reason?: string;
  readonly events?: readonly WireEvent[];
}

function decodeEvent(event: WireEvent): WatchEvent {
  const kv = event.kv;
  return {
    type: event.type === "DELETE" ? "DELETE" : "PUT",
    key: (kv?.key ?? Buffer.alloc(0)).toString("utf8"),
    value: (kv?.value ?? Buffer.alloc(0)).toString("utf8"),
    modRevision: Number(kv?.mod_revision ?? 0),
    createRevision: Number(kv?.create_revision ?? 0),
    version: Number(kv?.version ?? 0),
    prev: snapshotOf(event.prev_kv),
  };
}

export function decodeWatchResponse(response: WireWatchResponse): WatchResponseRecord {
  return {
    atMs: performance.now(),
    headerRevision: Number(response.header?.revision ?? 0),
    created: response.created === true,
    canceled: response.canceled === true,
    compactRevision: Number(response.compact_revision ?? 0),
    cancelReason: response.cancel_reason ?? "",
    events: (response.events ?? []).map(decodeEvent),
  };
}

const resumeDelayMs = 200;

type WatchCall = ClientDuplexStream<object, WireWatchResponse>;

/** One watcher; resumes on failure until closed. */
export class Watcher {
  readonly log: WatchLog;
  #lastRevision: number;
  #closed = false;
  #client: Client | undefined;
  #call: WatchCall | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Streams ended by the watcher itself (stalled), not by the server. */
  restarts = 0;

  constructor(
    spec: WatchSpec,
    private readonly addresses: readonly string[],
    private readonly credentials: ChannelCredentials,
    private readonly prng: Prng,
    firstAddress?: string,
  ) {
    this.log = { ...spec, sessions: [] };
    this.#lastRevision = spec.startRevision - 1;
    this.#open(firstAddress);
  }

  /** The revision of the last event received (startRevision - 1 before any). */
  get lastRevision(): number {
    return this.#lastRevision;
  }

  #open(firstAddress?: string): void {
    const address = firstAddress ?? this.prng.pick(this.addresses);
    const session: WatchSession = {
      address, startRevision: this.#lastRevision + 1, responses: [], end: null,
    };
    this.log.sessions.push(session);
    const Watch = etcdService("etcdserverpb.Watch");
    const client = new Watch(address, this.credentials, channelOptions);
    const open = (client as unknown as Record<string, (() => WatchCall) | undefined>)["Watch"];
    if (open === undefined) throw new Error("no Watch method");
    const call = open.call(client);
    this.#client = client;
    this.#call = call;
    call.on("data", (wire: WireWatchResponse) => {
      const response = decodeWatchResponse(wire);
      session.responses.push(response);
      const last = response.events.at(-1);
      if (last !== undefined) this.#lastRevision = Math.max(this.#lastRevision, last.modRevision);
      if (response.canceled) this.#ended(call, `canceled: ${response.cancelReason}`);
    });
    call.on("error", (error: Error) => {
      this.#ended(call, error.message.slice(0, 120));
    });
    call.on("end", () => {
      this.#ended(call, "stream ended");
    });
    const request: Record<string, unknown> = {
      key: Buffer.from(this.log.key), start_revision: String(session.startRevision), prev_kv: true,
    };
    if (this.log.rangeEnd !== "") request["range_end"] = Buffer.from(this.log.rangeEnd);
    call.write({ create_request: request });
  }

  #ended(call: WatchCall, reason: string): void {
    if (call !== this.#call) return;
    const session = this.log.sessions.at(-1);
    if (session !== undefined && session.end === null) session.end = reason;
    this.#drop();
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) this.#open();
    }, resumeDelayMs);
  }

  #drop(): void {
    const call = this.#call;
    this.#call = undefined;
    if (call !== undefined) {
      call.removeAllListeners("data");
      call.on("error", () => undefined);
      call.cancel();
    }
    this.#client?.close();
    this.#client = undefined;
  }

  /** Ends the current stream as a client would on a stall, and resumes on a random member. */
  restart(): void {
    const call = this.#call;
    if (call === undefined) return;
    this.restarts += 1;
    this.#ended(call, "restarted by the watcher (stalled)");
  }

  /** Waits until an event at `revision` or later arrived; false on timeout. */
  async waitFor(revision: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.#lastRevision < revision) {
      if (performance.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return true;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#drop();
  }
}
