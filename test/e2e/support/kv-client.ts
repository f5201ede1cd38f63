/**
 * A raw gRPC etcd KV client for the fault runs: one channel of its own (a local subchannel
 * pool, so one TCP connection per client), a deadline on every call, and answers decoded into
 * the history's types. Requests are plain objects for the etcd protos as pkg/proto loads them
 * (keepCase, int64 as decimal strings, enums by name).
 */
import { type ChannelCredentials, type Client, type ChannelOptions } from "@grpc/grpc-js";
import { etcdService } from "../../compat/support/etcd-process.js";
import type { CasCompare, KvCall, KvResult, KvSnapshot } from "./kv-history.js";

/** Channel options: a local pool (own connection) and quick reconnects after a kill. */
export const channelOptions: ChannelOptions = {
  "grpc.use_local_subchannel_pool": 1,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
};

interface WireKv {
  readonly key?: Buffer;
  readonly value?: Buffer;
  readonly version?: string;
  readonly mod_revision?: string;
  readonly create_revision?: string;
}

interface WireHeader {
  readonly header?: { readonly revision?: string; readonly member_id?: string } | null;
}

interface WireTxnResponse extends WireHeader {
  readonly succeeded?: boolean;
  readonly responses?: readonly {
    readonly response_put?: { readonly prev_kv?: WireKv | null } | null;
    readonly response_range?: { readonly kvs?: readonly WireKv[] } | null;
  }[];
}

/** A decoded KeyValue, or null for a missing one. */
export function snapshotOf(kv: WireKv | null | undefined): KvSnapshot | null {
  if (kv === null || kv === undefined || kv.key === undefined || kv.key.length === 0) return null;
  return {
    value: (kv.value ?? Buffer.alloc(0)).toString("utf8"),
    version: Number(kv.version ?? 0),
    modRevision: Number(kv.mod_revision ?? 0),
    createRevision: Number(kv.create_revision ?? 0),
  };
}

function headerRevision(response: WireHeader): number {
  const revision = Number(response.header?.revision ?? NaN);
  if (!Number.isSafeInteger(revision) || revision < 1) {
    throw new Error(`bad header revision in ${JSON.stringify(response.header)}`);
  }
  return revision;
}

/** Calls a unary method with a deadline. */
export function unaryWithDeadline<T>(
  client: Client, method: string, request: object, deadlineMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const call = (client as unknown as Record<string, unknown>)[method];
    if (typeof call !== "function") {
      reject(new Error(`no method ${method}`));
      return;
    }
    type Callback = (error: Error | null, value: T) => void;
    (call as (r: object, o: object, cb: Callback) => void).call(
      client, request, { deadline: Date.now() + deadlineMs },
      (error, value) => {
        if (error !== null) reject(error);
        else resolve(value);
      },
    );
  });
}

function compareOf(key: Buffer, compare: CasCompare): object {
  if (compare.by === "modRevision") {
    return { key, target: "MOD", result: "EQUAL", mod_revision: String(compare.revision) };
  }
  if (compare.value === null) {
    return { key, target: "CREATE", result: "EQUAL", create_revision: "0" };
  }
  return { key, target: "VALUE", result: "EQUAL", value: Buffer.from(compare.value) };
}

/** The Txn request of a CAS or a multiPut. */
function txnRequest(call: KvCall & { kind: "cas" | "multiPut" }): object {
  if (call.kind === "multiPut") {
    const success = call.puts.map((put) => ({
      request_put: { key: Buffer.from(put.key), value: Buffer.from(put.value), prev_kv: true },
    }));
    return { compare: [], success, failure: [] };
  }
  const key = Buffer.from(call.key);
  return {
    compare: [compareOf(key, call.compare)],
    success: [{ request_put: { key, value: Buffer.from(call.value), prev_kv: true } }],
    failure: [{ request_range: { key } }],
  };
}

function txnResult(call: KvCall & { kind: "cas" | "multiPut" }, response: WireTxnResponse): KvResult {
  const revision = headerRevision(response);
  const responses = response.responses ?? [];
  if (call.kind === "multiPut") {
    return { revision, before: responses.map((r) => snapshotOf(r.response_put?.prev_kv)) };
  }
  const succeeded = response.succeeded === true;
  const first = responses[0];
  const before = succeeded
    ? snapshotOf(first?.response_put?.prev_kv)
    : snapshotOf(first?.response_range?.kvs?.[0]);
  return { revision, before: [before], succeeded };
}

/** A KV client bound to one member address. */
export class KvClient {
  readonly #client: Client;

  constructor(readonly address: string, credentials: ChannelCredentials) {
    const Kv = etcdService("etcdserverpb.KV");
    this.#client = new Kv(address, credentials, channelOptions);
  }

  /** Runs one call; rejects on any gRPC error or deadline. */
  async run(call: KvCall, deadlineMs: number): Promise<KvResult> {
    switch (call.kind) {
      case "get": {
        const response = await unaryWithDeadline<WireHeader & { kvs?: readonly WireKv[] }>(
          this.#client, "Range", { key: Buffer.from(call.key) }, deadlineMs);
        return { revision: headerRevision(response), before: [snapshotOf(response.kvs?.[0])] };
      }
      case "put": {
        const response = await unaryWithDeadline<WireHeader & { prev_kv?: WireKv | null }>(
          this.#client, "Put",
          { key: Buffer.from(call.key), value: Buffer.from(call.value), prev_kv: true }, deadlineMs);
        return { revision: headerRevision(response), before: [snapshotOf(response.prev_kv)] };
      }
      case "delete": {
        const response = await unaryWithDeadline<WireHeader & { prev_kvs?: readonly WireKv[] }>(
          this.#client, "DeleteRange", { key: Buffer.from(call.key), prev_kv: true }, deadlineMs);
        return { revision: headerRevision(response), before: [snapshotOf(response.prev_kvs?.[0])] };
      }
      case "cas": case "multiPut": {
        const response = await unaryWithDeadline<WireTxnResponse>(
          this.#client, "Txn", txnRequest(call), deadlineMs);
        return txnResult(call, response);
      }
    }
  }

  /** Every key under `prefix` (linearizable), with the header revision. */
  async rangePrefix(prefix: string, deadlineMs: number): Promise<{
    revision: number; kvs: Map<string, KvSnapshot>;
  }> {
    const end = Buffer.from(prefix);
    end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
    const response = await unaryWithDeadline<WireHeader & { kvs?: readonly WireKv[] }>(
      this.#client, "Range", { key: Buffer.from(prefix), range_end: end }, deadlineMs);
    const kvs = new Map<string, KvSnapshot>();
    for (const kv of response.kvs ?? []) {
      const snapshot = snapshotOf(kv);
      if (snapshot !== null) kvs.set((kv.key ?? Buffer.alloc(0)).toString("utf8"), snapshot);
    }
    return { revision: headerRevision(response), kvs };
  }

  close(): void {
    this.#client.close();
  }
}
