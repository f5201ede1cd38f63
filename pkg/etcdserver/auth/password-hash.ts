/**
 * Password hashes for the auth store: scrypt (node:crypto) with a fresh random salt per hash.
 * The member hashes before it proposes a userAdd or userChangePassword, so that Raft entries
 * never carry a plain password and applying stays deterministic (etcd hashes with bcrypt inside
 * apply). A hash is one self-describing string, "scrypt$N$r$p$salt$key" (salt and key in
 * base64), so the cost can rise later without breaking stored hashes.
 */
import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import { assert, limits } from "../../common/index.js";

const scheme = "scrypt";
const blockSize = 8;
const parallelization = 1;
/** scrypt needs 128 · N · r bytes; allow twice that. */
const memoryBytesMax = 2 * 128 * limits.etcdAuthScryptCost * blockSize;

/** Hashes `password` with a random salt. About 40 ms of CPU; synchronous. */
export function hashPassword(password: string): string {
  const salt = randomBytes(limits.etcdAuthPasswordSaltBytes);
  const key = scryptSync(password, salt, limits.etcdAuthPasswordHashBytes, {
    N: limits.etcdAuthScryptCost, r: blockSize, p: parallelization, maxmem: memoryBytesMax,
  });
  assert(key.length === limits.etcdAuthPasswordHashBytes, () => `scrypt gave ${key.length} B`);
  const fields = [scheme, limits.etcdAuthScryptCost, blockSize, parallelization];
  return `${fields.join("$")}$${salt.toString("base64")}$${key.toString("base64")}`;
}

interface ParsedHash {
  readonly cost: number;
  readonly blockSize: number;
  readonly parallelization: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function parseSmallInteger(text: string, max: number): number | undefined {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= max ? value : undefined;
}

function parseHash(hash: string): ParsedHash | undefined {
  const parts = hash.split("$");
  if (parts.length !== 6 || parts[0] !== scheme) return undefined;
  const cost = parseSmallInteger(parts[1] ?? "", limits.etcdAuthScryptCost);
  const block = parseSmallInteger(parts[2] ?? "", blockSize);
  const parallel = parseSmallInteger(parts[3] ?? "", parallelization);
  if (cost === undefined || block === undefined || parallel === undefined) return undefined;
  if ((cost & (cost - 1)) !== 0 || cost < 2) return undefined; // N is a power of two.
  const salt = Buffer.from(parts[4] ?? "", "base64");
  const key = Buffer.from(parts[5] ?? "", "base64");
  if (salt.length === 0 || key.length !== limits.etcdAuthPasswordHashBytes) return undefined;
  return { cost, blockSize: block, parallelization: parallel, salt, key };
}

/**
 * True when `password` matches `hash` (made by `hashPassword`). A malformed hash, or one whose
 * cost is above what this version makes, never matches. Compares in constant time.
 */
export function verifyPassword(password: string, hash: string): boolean {
  const parsed = parseHash(hash);
  if (parsed === undefined) return false;
  const key = scryptSync(password, parsed.salt, parsed.key.length, {
    N: parsed.cost, r: parsed.blockSize, p: parsed.parallelization, maxmem: memoryBytesMax,
  });
  return timingSafeEqual(key, parsed.key);
}
