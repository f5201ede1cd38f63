// Replays history through a Watch, on etcd (a raw bidi gRPC stream) and on our store (its event
// log through the event codec and the WatchResponse proto), so that the two compare as the
// events a client decodes: type, kv, prev_kv, in order.
import type { Client, ClientDuplexStream, MethodDefinition } from "@grpc/grpc-js";
import { type MvccStore, encodeEvent } from "../../../pkg/etcdserver/index.js";
import { etcdService } from "./etcd-process.js";

/** How long a replay may take before the test gives up. */
const replayMsMax = 10_000;

interface WireEvent {
  readonly kv?: { readonly mod_revision?: string };
}

interface WireWatchResponse {
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly compact_revision?: string;
  readonly events?: readonly WireEvent[];
}

/**
 * All events of revisions [from, until] on etcd, with prev_kv, as decoded WatchResponse events;
 * or "compacted" when etcd cancels the watch for compaction.
 */
export function etcdReplay(client: Client, from: number, until: number): Promise<unknown[] | "compacted"> {
  return new Promise((resolve, reject) => {
    const open = (client as unknown as Record<string, () => ClientDuplexStream<object, WireWatchResponse>>)["Watch"];
    if (open === undefined) {
      reject(new Error("no Watch method"));
      return;
    }
    const call = open.call(client);
    const events: unknown[] = [];
    const timer = setTimeout(() => {
      call.cancel();
      reject(new Error(`watch replay from ${from} to ${until} timed out with ${events.length} events`));
    }, replayMsMax);
    const finish = (result: unknown[] | "compacted"): void => {
      clearTimeout(timer);
      call.removeAllListeners("error");
      call.on("error", () => undefined);
      call.cancel();
      resolve(result);
    };
    call.on("data", (response: WireWatchResponse) => {
      if (response.canceled === true) {
        finish("compacted");
        return;
      }
      events.push(...(response.events ?? []));
      const last = Number((events.at(-1) as WireEvent | undefined)?.kv?.mod_revision ?? 0);
      if (response.created === true && from > until) finish(events);
      else if (last >= until) finish(events);
    });
    call.on("error", (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
    call.write({
      create_request: {
        key: Buffer.from([0]), range_end: Buffer.from([0]), start_revision: String(from), prev_kv: true,
      },
    });
  });
}

/** The same replay from our store, through the event codec and WatchResponse serialization. */
export function storeReplay(store: MvccStore, from: number): unknown[] | "compacted" {
  const groups = store.events(from, Number.MAX_SAFE_INTEGER, true);
  if (!groups.ok) return "compacted";
  const watch = etcdService("etcdserverpb.Watch").service["Watch"] as MethodDefinition<object, { events: unknown[] }>;
  const events = groups.value.flatMap((group) => group.events.map(encodeEvent));
  return watch.responseDeserialize(watch.responseSerialize({ events })).events;
}
