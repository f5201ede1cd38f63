/**
 * The datum results of one running job (`keys.resultsOf(job)`), watched (a PrefixCache) and
 * decoded once per written value: a job of thousands of datums is counted each round without
 * decoding every record again. A record that does not decode is left out and reported once
 * (its datum then counts as not yet done, and the job waits: a corrupt result is a bug to
 * see, not a datum to guess).
 */
import type { Etcd3 } from "etcd3";
import type { Logger } from "../../common/index.js";
import { PrefixCache } from "../../pfs/index.js";
import { type DatumResultRecord, decodeDatumResult } from "../task-records.js";

export class ResultsView {
  readonly #cache: PrefixCache;
  readonly #prefix: string;
  readonly #logger: Logger;
  /** Datum id → the value it was decoded from, and the record (undefined: corrupt). */
  readonly #decoded = new Map<string, { text: string; record: DatumResultRecord | undefined }>();

  constructor(client: Etcd3, prefix: string, logger: Logger) {
    this.#cache = new PrefixCache(client, prefix, logger);
    this.#prefix = prefix;
    this.#logger = logger;
  }

  /** Reads the results and starts watching; `onChange` runs after each change. */
  async start(onChange: () => void): Promise<void> {
    await this.#cache.start();
    this.#cache.onChange(onChange);
  }

  /** The decoded results so far, by datum id. */
  results(): Map<string, DatumResultRecord> {
    const entries = this.#cache.entries;
    const results = new Map<string, DatumResultRecord>();
    for (const datumId of this.#decoded.keys()) {
      if (!entries.has(datumId)) this.#decoded.delete(datumId);
    }
    for (const [datumId, text] of entries) {
      let known = this.#decoded.get(datumId);
      if (known?.text !== text) {
        known = { text, record: this.#decode(datumId, text) };
        this.#decoded.set(datumId, known);
      }
      if (known.record !== undefined) results.set(datumId, known.record);
    }
    return results;
  }

  #decode(datumId: string, text: string): DatumResultRecord | undefined {
    const key = this.#prefix + datumId;
    try {
      return decodeDatumResult(key, Buffer.from(text, "utf8"));
    } catch (error: unknown) {
      this.#logger.error("a datum result does not decode; the job waits", { key, error });
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.#cache.close();
  }
}
