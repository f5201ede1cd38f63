/**
 * The recorded history of a fault run: every KV operation the clients issued, with the time it
 * was invoked and the time its result came back (ms, monotonic, from one clock), and what the
 * server answered. A write that failed or timed out is indeterminate: it may or may not have
 * happened, so it keeps `returnMs = Infinity` and no output. A read that failed is dropped
 * before it reaches the history (it changed nothing and saw nothing).
 *
 * Values are unique per write (`c<client>-<n>`), so a value names the one write that made it.
 */

/** A key as a read or a `prev_kv` shows it; `null` stands for an absent key. */
export interface KvSnapshot {
  readonly value: string;
  readonly version: number;
  readonly modRevision: number;
  readonly createRevision: number;
}

/** What a compare-and-swap compares: the key's value (null = absent) or its mod_revision. */
export type CasCompare =
  | { readonly by: "value"; readonly value: string | null }
  | { readonly by: "modRevision"; readonly revision: number };

/** One client call. `multiPut` is one Txn with no compare putting several distinct keys. */
export type KvCall =
  | { readonly kind: "get"; readonly key: string }
  | { readonly kind: "put"; readonly key: string; readonly value: string }
  | { readonly kind: "delete"; readonly key: string }
  | {
    readonly kind: "cas"; readonly key: string; readonly compare: CasCompare;
    readonly value: string;
  }
  | { readonly kind: "multiPut"; readonly puts: readonly KvWrite[] };

export interface KvWrite {
  readonly key: string;
  readonly value: string;
}

/**
 * The server's answer. `revision` is header.revision. `before` is each key's state just before
 * the call took effect, as the server reported it: the Range result for a get, `prev_kv` for a
 * put or delete, `prev_kv` of the put for a CAS that succeeded and the failure branch's Range
 * for one that did not. For a multiPut it lists one entry per put, in order.
 */
export interface KvResult {
  readonly revision: number;
  readonly before: readonly (KvSnapshot | null)[];
  /** For a CAS: whether the compare held. */
  readonly succeeded?: boolean;
}

/** One recorded operation. */
export interface KvRecord {
  readonly client: number;
  readonly call: KvCall;
  /** undefined iff indeterminate. */
  readonly result: KvResult | undefined;
  readonly invokeMs: number;
  /** Infinity iff indeterminate. */
  readonly returnMs: number;
  /** The error of an indeterminate write, for reports. */
  readonly error?: string;
}

/** The keys a call touches, in call order. */
export function callKeys(call: KvCall): readonly string[] {
  return call.kind === "multiPut" ? call.puts.map((put) => put.key) : [call.key];
}

/** The writes a call makes if it takes effect (a CAS only when its compare holds). */
export function callWrites(call: KvCall): readonly KvWrite[] {
  switch (call.kind) {
    case "put": case "cas": return [{ key: call.key, value: call.value }];
    case "multiPut": return call.puts;
    case "get": case "delete": return [];
  }
}

/**
 * True when the call certainly changed the store (so it got a revision of its own): a put, a
 * multiPut, a CAS that succeeded, a delete that found its key.
 */
export function changedStore(record: KvRecord): boolean {
  const result = record.result;
  if (result === undefined) return false;
  switch (record.call.kind) {
    case "get": return false;
    case "put": case "multiPut": return true;
    case "cas": return result.succeeded === true;
    case "delete": return result.before[0] !== null && result.before[0] !== undefined;
  }
}

/** JSON cannot carry Infinity: indeterminate return times travel as null. */
export function historyToJson(history: readonly KvRecord[]): unknown[] {
  return history.map((record) => ({
    ...record, returnMs: record.returnMs === Infinity ? null : record.returnMs,
  }));
}

/** The inverse of historyToJson (trusted input: files this module wrote). */
export function historyFromJson(json: readonly unknown[]): KvRecord[] {
  return json.map((item) => {
    const record = item as Omit<KvRecord, "returnMs"> & { returnMs: number | null };
    return { ...record, returnMs: record.returnMs ?? Infinity };
  });
}

export function describeSnapshot(snapshot: KvSnapshot | null | undefined): string {
  if (snapshot === null || snapshot === undefined) return "absent";
  return `${snapshot.value}@m${snapshot.modRevision}/c${snapshot.createRevision}` +
    `/v${snapshot.version}`;
}

/** One line per record, for failure reports. */
export function describeRecord(record: KvRecord): string {
  const call = record.call;
  let text: string;
  switch (call.kind) {
    case "get": case "delete": text = `${call.kind}(${call.key})`; break;
    case "put": text = `put(${call.key}, ${call.value})`; break;
    case "cas": text = `cas(${call.key}, ${JSON.stringify(call.compare)}, ${call.value})`; break;
    case "multiPut":
      text = `multiPut(${call.puts.map((put) => `${put.key}=${put.value}`).join(", ")})`;
      break;
  }
  const result = record.result;
  const outcome = result === undefined
    ? `? (${record.error ?? "indeterminate"})`
    : `rev ${result.revision}${result.succeeded === undefined ? "" : ` ok=${result.succeeded}`}` +
      ` before [${result.before.map(describeSnapshot).join(", ")}]`;
  const end = record.returnMs === Infinity ? "∞" : record.returnMs.toFixed(1);
  return `c${record.client} [${record.invokeMs.toFixed(1)}, ${end}] ${text} -> ${outcome}`;
}
