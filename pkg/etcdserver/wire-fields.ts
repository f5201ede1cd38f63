/**
 * Readers of the loosely typed objects @grpc/proto-loader produces (keepCase, longs: String,
 * enums: String, defaults, oneofs): each narrows one field of an `unknown` message, treating a
 * missing field as the proto3 default. A field of the wrong shape throws WireFieldError, which
 * the codec turns into an INVALID_ARGUMENT result. This is the one place int64 wire values
 * become numbers or bigints (STYLE rule 10).
 */

/** A malformed field in a request message. */
export class WireFieldError extends Error {
  override readonly name = "WireFieldError";
}

/** A message as proto-loader gives it. */
export type WireMessage = Readonly<Record<string, unknown>>;

const int64Min = -(1n << 63n);
const int64Max = (1n << 63n) - 1n;
const uint64Max = (1n << 64n) - 1n;
const safeMax = BigInt(Number.MAX_SAFE_INTEGER);

function isMessage(value: unknown): value is WireMessage {
  return typeof value === "object" && value !== null && !(value instanceof Uint8Array);
}

/** `value` as a message; null or undefined is an empty message. */
export function messageOf(value: unknown, what: string): WireMessage {
  if (value === undefined || value === null) return {};
  if (!isMessage(value)) throw new WireFieldError(`${what} is not a message`);
  return value;
}

/** A nested message field, or null when unset. */
export function optionalMessage(message: WireMessage, field: string): WireMessage | null {
  const value = message[field];
  if (value === undefined || value === null) return null;
  return messageOf(value, field);
}

/** A repeated message field. */
export function messages(message: WireMessage, field: string): WireMessage[] {
  const value = message[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new WireFieldError(`${field} is not a list`);
  return value.map((item: unknown) => messageOf(item, field));
}

/** A bytes field, as a Uint8Array view (no copy). */
export function bytesField(message: WireMessage, field: string): Uint8Array {
  const value = message[field];
  if (value === undefined || value === null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return Buffer.from(value, "utf8");
  throw new WireFieldError(`${field} is not bytes`);
}

/** A bool field. */
export function boolField(message: WireMessage, field: string): boolean {
  const value = message[field];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw new WireFieldError(`${field} is not a bool`);
  return value;
}

/** An int64 field (decimal string, number or bigint) as a bigint in the int64 range. */
export function int64Field(message: WireMessage, field: string): bigint {
  const value = message[field];
  let parsed: bigint;
  if (value === undefined || value === null) return 0n;
  if (typeof value === "bigint") parsed = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) parsed = BigInt(value);
  else if (typeof value === "string" && /^-?\d+$/.test(value)) parsed = BigInt(value);
  else throw new WireFieldError(`${field} is not an int64`);
  if (parsed < int64Min || parsed > int64Max) throw new WireFieldError(`${field} exceeds int64`);
  return parsed;
}

/**
 * An int64 field clamped into the safe-integer range. Exact for every value a real revision,
 * version or count can take; a larger value keeps its order against all of them.
 */
export function clampedInt64Field(message: WireMessage, field: string): number {
  const value = int64Field(message, field);
  if (value > safeMax) return Number.MAX_SAFE_INTEGER;
  if (value < -safeMax) return -Number.MAX_SAFE_INTEGER;
  return Number(value);
}

/** An enum field given as a name (any case, with or without underscores) or a number. */
export function enumField<Name extends string>(
  message: WireMessage,
  field: string,
  names: readonly Name[],
): Name {
  const value = message[field] ?? 0;
  const byNumber = typeof value === "number" ? names[value] : undefined;
  if (byNumber !== undefined) return byNumber;
  if (typeof value === "string") {
    const wanted = value.replaceAll("_", "").toUpperCase();
    const byName = names.find((name) => name.replaceAll("_", "") === wanted);
    if (byName !== undefined) return byName;
  }
  const shown = typeof value === "number" || typeof value === "string" ? value : typeof value;
  throw new WireFieldError(`${field} has an unknown value ${shown}`);
}

/** An int64 or uint64 for the wire: a decimal string. */
export function int64Wire(value: number | bigint): string {
  const big = BigInt(value);
  if (big < int64Min || big > uint64Max) throw new RangeError(`${big} exceeds 64 bits`);
  return big.toString();
}
