// One request on a fresh LeaseKeepAlive stream, as `etcdctl lease keep-alive --once` sends it.
import type { Client, ClientDuplexStream } from "@grpc/grpc-js";
import { maskHeader } from "./store-wire.js";

/** How long the first keepalive response may take. */
const keepAliveMsMax = 10_000;

/** What one keepalive got: the masked response, the stream's status, or a timeout. */
export type KeepAliveOutcome =
  | { readonly response: unknown }
  | { readonly code: unknown; readonly message: unknown }
  | { readonly timeout: true };

/** Sends `{ID: id}` on a new stream; resolves with the first response or the stream's error. */
export function keepAliveOnce(client: Client, id: string): Promise<KeepAliveOutcome> {
  type Open = () => ClientDuplexStream<object, unknown>;
  const open = (client as unknown as Record<string, Open | undefined>)["LeaseKeepAlive"];
  if (open === undefined) return Promise.reject(new Error("no LeaseKeepAlive"));
  const call = open.call(client);
  return new Promise((resolve) => {
    const finish = (result: KeepAliveOutcome): void => {
      clearTimeout(timer);
      call.removeAllListeners();
      call.on("error", () => undefined);
      call.cancel();
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish({ timeout: true });
    }, keepAliveMsMax);
    call.on("data", (response: unknown) => {
      finish({ response: maskHeader(response) });
    });
    call.on("error", (error: Error) => {
      const status = error as { code?: unknown; details?: unknown };
      finish({ code: status.code, message: status.details });
    });
    call.write({ ID: id });
  });
}
