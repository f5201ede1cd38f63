/**
 * The only place the metadata layer talks to the coordination store: consistent multi-key
 * reads, paged prefix reads at one revision, and compare-and-swap transactions, over the etcd3
 * client's raw KV service (so it runs unchanged on pfsd and on a real etcd 3.4).
 *
 * Invariants: every write is a Txn whose compares cover every key the caller read to decide it
 * ("unchanged since I read it": mod revision equal, or create revision 0 for a key that was
 * absent); revisions arrive as decimal strings and become `Revision`s here and only here
 * (STYLE rule 10); a failure of the store itself becomes UNAVAILABLE naming the operation.
 */
import type { Etcd3, ICompare, IKeyValue, IRequestOp, IResponseOp, ITxnResponse } from "etcd3";
import { PfsError, type Revision, assert, revision } from "../../common/index.js";
import { metaRangePageKeys } from "./limits.js";

/** One key as a read saw it; `value` is undefined when the key did not exist. */
export interface KeyState {
  readonly key: string;
  readonly value: Buffer | undefined;
  /** 0 when the key did not exist. */
  readonly createRevision: Revision;
  /** 0 when the key did not exist. */
  readonly modRevision: Revision;
}

/** Keys read together at one store revision. */
export interface KeySnapshot {
  readonly revision: Revision;
  /** The state of a key that was part of the read. */
  get(key: string): KeyState;
}

/** What a transaction did: whether its compares held, and the store revision after it. */
export interface TxnOutcome {
  readonly succeeded: boolean;
  readonly revision: Revision;
  readonly responses: readonly IResponseOp[];
}

/** A key-value pair from a prefix read. */
export interface PrefixEntry {
  readonly key: string;
  readonly value: Buffer;
}

/** Converts a decimal revision string from the wire. */
export function wireRevision(text: string): Revision {
  assert(/^[0-9]+$/.test(text), () => `revision ${JSON.stringify(text)} is not decimal`);
  return revision(Number(text));
}

/** The key just past every key starting with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix, "utf8");
  assert(end.length > 0, "empty prefix");
  for (let i = end.length - 1; i >= 0; i -= 1) {
    const byte = end[i] ?? 0;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** The state of a key that does not exist. */
export function absentKey(key: string): KeyState {
  return { key, value: undefined, createRevision: revision(0), modRevision: revision(0) };
}

function stateOf(key: string, kv: IKeyValue | undefined): KeyState {
  if (kv === undefined) return absentKey(key);
  return {
    key, value: kv.value,
    createRevision: wireRevision(kv.create_revision), modRevision: wireRevision(kv.mod_revision),
  };
}

/** The compare that holds while `state` is still what the store has. */
export function unchanged(state: KeyState): ICompare {
  if (state.value === undefined) {
    return { key: Buffer.from(state.key), target: "Create", result: "Equal", create_revision: 0 };
  }
  return {
    key: Buffer.from(state.key), target: "Mod", result: "Equal", mod_revision: state.modRevision,
  };
}

/** A put of `value` at `key`. */
export function putOp(key: string, value: Buffer): IRequestOp {
  return { request_put: { key: Buffer.from(key), value } };
}

/** A delete of `key`. */
export function deleteOp(key: string): IRequestOp {
  return { request_delete_range: { key: Buffer.from(key) } };
}

/** A delete of every key under `prefix` that returns what it deleted. */
export function deletePrefixOp(prefix: string): IRequestOp {
  return {
    request_delete_range: { key: Buffer.from(prefix), range_end: prefixEnd(prefix), prev_kv: true },
  };
}

/** Runs a store call, turning a failure that is not ours into UNAVAILABLE. */
async function storeCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error: unknown) {
    if (error instanceof PfsError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new PfsError("UNAVAILABLE", `metadata store: ${what}: ${message}`);
  }
}

/** The metadata layer's view of the store. */
export class MetaKv {
  readonly #client: Etcd3;

  constructor(client: Etcd3) {
    this.#client = client;
  }

  /** The client, for watches. */
  get client(): Etcd3 {
    return this.#client;
  }

  /**
   * Reads `keys` at one revision: the latest (one Txn of Ranges, so the reads are atomic) or,
   * with `atRevision`, that past revision.
   */
  async read(keys: readonly string[], atRevision?: Revision): Promise<KeySnapshot> {
    assert(keys.length > 0, "read of no keys");
    const states = new Map<string, KeyState>();
    let storeRevision: Revision;
    if (atRevision === undefined) {
      const response = await storeCall("read", () => this.#client.kv.txn({
        compare: [],
        success: keys.map((key) => ({ request_range: { key: Buffer.from(key) } })),
      }));
      storeRevision = wireRevision(response.header.revision);
      keys.forEach((key, i) => {
        states.set(key, stateOf(key, response.responses[i]?.response_range.kvs[0]));
      });
    } else {
      const responses = await storeCall("read", () => Promise.all(keys.map((key) =>
        this.#client.kv.range({ key: Buffer.from(key), revision: atRevision }))));
      storeRevision = atRevision;
      keys.forEach((key, i) => states.set(key, stateOf(key, responses[i]?.kvs[0])));
    }
    return {
      revision: storeRevision,
      get: (key: string): KeyState => {
        const state = states.get(key);
        assert(state !== undefined, () => `key ${key} was not part of the read`);
        return state;
      },
    };
  }

  /**
   * Every key under `prefix` in key order, read in pages of metaRangePageKeys at one revision
   * (the latest unless `atRevision`). Returns the entries and that revision.
   */
  async readPrefix(prefix: string, atRevision?: Revision): Promise<{
    readonly entries: readonly PrefixEntry[]; readonly revision: Revision;
  }> {
    const entries: PrefixEntry[] = [];
    const end = prefixEnd(prefix);
    let from = Buffer.from(prefix);
    let at: Revision | undefined = atRevision;
    for (;;) {
      const pinned = at;
      const response = await storeCall("read prefix", () => this.#client.kv.range({
        key: from, range_end: end, limit: metaRangePageKeys,
        ...(pinned === undefined ? {} : { revision: pinned }),
      }));
      at ??= wireRevision(response.header.revision);
      for (const kv of response.kvs) entries.push({ key: kv.key.toString("utf8"), value: kv.value });
      const last = response.kvs[response.kvs.length - 1];
      if (!response.more || last === undefined) return { entries, revision: at };
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  /** Runs `success` if every compare holds, else nothing. */
  async txn(compare: readonly ICompare[], success: readonly IRequestOp[]): Promise<TxnOutcome> {
    const response: ITxnResponse = await storeCall("txn", () => this.#client.kv.txn({
      compare: [...compare], success: [...success], failure: [],
    }));
    return {
      succeeded: response.succeeded,
      revision: wireRevision(response.header.revision),
      responses: response.responses,
    };
  }
}
