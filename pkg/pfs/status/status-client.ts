/**
 * A small client of the two cluster RPCs of pfs.API (ClusterStatus, RemoveNode) for the
 * `pfs cluster` commands: each call has the data-less deadline, and every failure is a
 * `PfsError` with the server's code and message (pkg/pfs/client `clientError`).
 */
import {
  type ChannelCredentials, type Client, type ServiceError, credentials,
} from "@grpc/grpc-js";
import { assert } from "../../common/index.js";
import { clientError } from "../client/index.js";
import {
  type PfsMessages, loadPfsService,
} from "../../proto/index.js";

type ClusterMethod = "ClusterStatus" | "RemoveNode";
type UnaryFunction = (request: unknown, options: { deadline: number },
  callback: (error: ServiceError | null, response?: unknown) => void) => unknown;

/** Where the client connects and how long a call may take. */
export interface ClusterClientOptions {
  /** host:port of a pfsd's pfs API. */
  readonly address: string;
  /** Deadline of each call, in milliseconds (> 0). */
  readonly callDeadlineMs: number;
  /** The channel's credentials (pkg/pfs/client `clientCredentials`); plaintext when absent. */
  readonly credentials?: ChannelCredentials;
}

export class ClusterClient {
  readonly address: string;
  readonly #callDeadlineMs: number;
  readonly #client: Client;
  /** Whether the channel is TLS (for the hints of connection failures). */
  readonly #secure: boolean;

  constructor(options: ClusterClientOptions) {
    assert(options.address !== "", "empty pfs address");
    assert(options.callDeadlineMs > 0, () => `call deadline ${options.callDeadlineMs} ms`);
    this.address = options.address;
    this.#callDeadlineMs = options.callDeadlineMs;
    const { Client: ApiClient } = loadPfsService();
    const channelCredentials = options.credentials ?? credentials.createInsecure();
    this.#secure = channelCredentials._isSecure();
    this.#client = new ApiClient(options.address, channelCredentials);
  }

  /** Closes the channel; calls still running fail. */
  close(): void {
    this.#client.close();
  }

  #call<M extends ClusterMethod>(name: M, request: PfsMessages[M][0]):
    Promise<PfsMessages[M][1]> {
    const method = (this.#client as unknown as Record<string, unknown>)[name];
    assert(typeof method === "function", () => `pfs.API client lacks ${name}`);
    const call = (method as UnaryFunction).bind(this.#client);
    return new Promise((resolve, reject) => {
      call(request, { deadline: Date.now() + this.#callDeadlineMs }, (error, response) => {
        if (error !== null) reject(clientError(error, name, this.address, this.#secure));
        else resolve(response as PfsMessages[M][1]);
      });
    });
  }

  clusterStatus(): Promise<PfsMessages["ClusterStatus"][1]> {
    return this.#call("ClusterStatus", {});
  }

  removeNode(id: string, force: boolean): Promise<PfsMessages["RemoveNode"][1]> {
    return this.#call("RemoveNode", { id, force });
  }
}
