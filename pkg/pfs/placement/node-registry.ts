/**
 * Node registration (DESIGN.md §4): each pfs node keeps `<root>/nodes/<name>` = its record
 * (`{"name", "address"}`, address = its pfs API host:port) on a lease the etcd3 client keeps
 * alive. A node whose lease lapses (crash, partition) disappears from the prefix; when this
 * process loses its own lease it registers again on a new one.
 *
 * Invariant: a node name is a valid key segment (checked), and only the node itself writes
 * its key. `close()` revokes the lease so a drained node leaves at once.
 */
import type { Etcd3, Lease } from "etcd3";
import { type Logger, PfsError, assert } from "../../common/index.js";
import { nodeLeaseTtlSeconds, nodeNameCharsMax } from "./limits.js";

/** What a node publishes about itself. */
export interface NodeRecord {
  readonly name: string;
  readonly address: string;
}

const nodeNamePattern = /^[A-Za-z0-9_.-]+$/;

/** Throws INVALID_ARGUMENT unless `name` can name a node (it becomes part of a key). */
export function checkNodeName(name: string): void {
  if (name.length === 0 || name.length > nodeNameCharsMax || !nodeNamePattern.test(name) ||
    name === "." || name === "..") {
    throw new PfsError("INVALID_ARGUMENT", `node name ${JSON.stringify(name)} must be 1 to ` +
      `${nodeNameCharsMax} of A-Z a-z 0-9 _ - . (it is pfsd's --name)`);
  }
}

/** Parses a node record; undefined when the value is not one (logged by the caller). */
export function parseNodeRecord(value: string): NodeRecord | undefined {
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { name, address } = parsed as Record<string, unknown>;
    if (typeof name !== "string" || typeof address !== "string") return undefined;
    return { name, address };
  } catch {
    return undefined;
  }
}

export class NodeRegistration {
  readonly #client: Etcd3;
  readonly #key: string;
  readonly #value: string;
  readonly #logger: Logger;
  #lease: Lease | undefined;
  #closed = false;

  private constructor(client: Etcd3, key: string, value: string, logger: Logger) {
    this.#client = client;
    this.#key = key;
    this.#value = value;
    this.#logger = logger;
  }

  /** Registers `record` under `<root>/nodes/`; resolves once the key is written. */
  static async register(client: Etcd3, root: string, record: NodeRecord, logger: Logger):
    Promise<NodeRegistration> {
    checkNodeName(record.name);
    assert(record.address !== "", "a node registers with an address");
    const registration = new NodeRegistration(client, `${root}/nodes/${record.name}`,
      JSON.stringify(record), logger);
    await registration.#grant();
    return registration;
  }

  async #grant(): Promise<void> {
    const lease = this.#client.lease(nodeLeaseTtlSeconds);
    this.#lease = lease;
    lease.on("lost", (error: unknown) => {
      if (this.#closed || this.#lease !== lease) return;
      this.#logger.warn("node lease lost; registering again", { key: this.#key, error });
      this.#grant().catch((again: unknown) => {
        this.#logger.error("cannot register the node again", { key: this.#key, error: again });
      });
    });
    await lease.put(this.#key).value(this.#value).exec();
  }

  /** Revokes the lease (the key goes with it). */
  async close(): Promise<void> {
    this.#closed = true;
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease !== undefined) {
      await lease.revoke().catch((error: unknown) => {
        this.#logger.warn("cannot revoke the node lease; it will expire", { error });
      });
    }
  }
}
