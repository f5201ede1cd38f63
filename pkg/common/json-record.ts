/**
 * Checked reading of JSON records that pfs keeps in the coordination store: a value that does
 * not parse, is not an object or lacks a field is DATA_CORRUPTED, naming the record (a store
 * shared with other clients is never trusted blindly).
 */
import { PfsError } from "./errors.js";

/** The fields of one record, read with checks. */
export class JsonRecord {
  /** What the record is, for error messages: `pipeline record /pps/pipelines/wc`. */
  readonly what: string;
  readonly #fields: Readonly<Record<string, unknown>>;

  private constructor(what: string, fields: Readonly<Record<string, unknown>>) {
    this.what = what;
    this.#fields = fields;
  }

  /** Parses `bytes` (UTF-8 JSON of an object). */
  static parse(what: string, bytes: Uint8Array): JsonRecord {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
    } catch {
      throw new PfsError("DATA_CORRUPTED", `${what}: not JSON`, { record: what });
    }
    return JsonRecord.of(what, parsed);
  }

  /** Wraps an already parsed value, which must be an object. */
  static of(what: string, value: unknown): JsonRecord {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new PfsError("DATA_CORRUPTED", `${what}: not a JSON object`, { record: what });
    }
    return new JsonRecord(what, value as Readonly<Record<string, unknown>>);
  }

  /** The error for field `name`, which is not `expected`. */
  corrupted(name: string, expected: string): PfsError {
    return new PfsError("DATA_CORRUPTED", `${this.what}: field ${name} is not ${expected}`,
      { record: this.what });
  }

  /** The raw value of `name` (undefined when absent). */
  raw(name: string): unknown {
    return this.#fields[name];
  }

  string(name: string): string {
    const value = this.#fields[name];
    if (typeof value !== "string") throw this.corrupted(name, "a string");
    return value;
  }

  /** A non-negative safe integer. */
  count(name: string): number {
    const value = this.#fields[name];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw this.corrupted(name, "a non-negative integer");
    }
    return value;
  }

  /** One of `values`. */
  oneOf<T extends string>(name: string, values: readonly T[]): T {
    const value = this.#fields[name];
    const known = values.find((candidate) => candidate === value);
    if (known === undefined) throw this.corrupted(name, `one of ${values.join(", ")}`);
    return known;
  }
}
