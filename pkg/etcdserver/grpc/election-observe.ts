/**
 * Election.Observe's loop (the Go client's Election.observe): read the leader (the lowest
 * create revision under `<name>/`); if there is none, wait for the first PUT under the
 * prefix; report it; then report every new value of that key until it is deleted, and start
 * over. Ends when `signal` aborts or a step fails.
 */
import { revision } from "../../common/index.js";
import type { CallContext, EtcdBackend } from "../backend.js";
import type { KeyValue, ResponseHeader } from "../mvcc/index.js";
import { watchCreateRequest } from "../watch/index.js";
import { concatBytes, ownerRange, prefixRangeEnd } from "./concurrency-recipes.js";
import { KeyWatch } from "./key-watch.js";

export interface ObserveOptions {
  readonly backend: EtcdBackend;
  readonly context: CallContext;
  readonly name: Uint8Array;
  readonly signal: AbortSignal;
  /** Sends one LeaderResponse; resolves when the client can take more. */
  readonly send: (header: ResponseHeader, kv: KeyValue) => Promise<void>;
}

interface LeaderSeen {
  readonly header: ResponseHeader;
  readonly kv: KeyValue;
}

async function firstPut(options: ObserveOptions, prefix: Uint8Array, from: number):
  Promise<LeaderSeen> {
  const request = watchCreateRequest({
    key: prefix, rangeEnd: prefixRangeEnd(prefix), startRevision: from,
  });
  const watch = new KeyWatch(options.backend, options.context, request);
  try {
    for (;;) {
      const response = await watch.next(options.signal);
      const put = response.events.find((event) => event.type === "PUT");
      if (put !== undefined) return { header: { revision: put.kv.modRevision }, kv: put.kv };
    }
  } finally {
    watch.close();
  }
}

async function followLeader(options: ObserveOptions, key: Uint8Array, from: number):
  Promise<void> {
  const watch = new KeyWatch(options.backend, options.context,
    watchCreateRequest({ key, startRevision: from }));
  try {
    for (;;) {
      const response = await watch.next(options.signal);
      for (const event of response.events) {
        if (event.type === "DELETE") return;
        await options.send({ revision: revision(response.headerRevision) }, event.kv);
      }
    }
  } finally {
    watch.close();
  }
}

/** Runs until `options.signal` aborts (then resolves) or a step fails (then rejects). */
export async function observeLeader(options: ObserveOptions): Promise<void> {
  const prefix = concatBytes(options.name, "/");
  while (!options.signal.aborted) {
    const range = await options.backend.range(options.context, ownerRange(prefix, "ASCEND"));
    const owner = range.kvs[0];
    const seen = owner === undefined
      ? await firstPut(options, prefix, range.header.revision)
      : { header: range.header, kv: owner };
    await options.send(seen.header, seen.kv);
    await followLeader(options, seen.kv.key, seen.header.revision + 1);
  }
}
