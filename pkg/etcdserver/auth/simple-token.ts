/**
 * etcd's simple tokens (auth/simple_token.go): 16 random letters, ".", and the Raft index of
 * the authenticate entry, e.g. "XqBzsyRkKTfmPawa.42". A token is valid on the member that
 * applied its entry, for `etcdAuthSimpleTokenTtlMs` after its last use; tokens are member-local
 * and are not in the snapshot, so a restarted member forgets them (clients authenticate again).
 */
import { type Prng, assert, assertSafeInteger, limits } from "../../common/index.js";

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * The random part of a simple token: 16 letters. etcd's proposer picks it and puts it in the
 * authenticate entry; the token is completed with the entry's own Raft index when it is
 * applied (`simpleToken`), so a member that has not yet applied the entry knows to wait.
 */
export function newSimpleTokenPrefix(prng: Prng): string {
  let prefix = "";
  for (let i = 0; i < limits.etcdAuthSimpleTokenLetters; i += 1) {
    prefix += letters[prng.intBelow(letters.length)] ?? "";
  }
  assert(prefix.length === limits.etcdAuthSimpleTokenLetters, () => `token prefix ${prefix}`);
  return prefix;
}

/** The simple token of `prefix` applied at Raft `index`: "prefix.index". */
export function simpleToken(prefix: string, index: number): string {
  assertSafeInteger(index, "simple token index", 0);
  return `${prefix}.${index}`;
}

/** A new simple token for the authenticate entry at Raft `index`. */
export function newSimpleToken(prng: Prng, index: number): string {
  return simpleToken(newSimpleTokenPrefix(prng), index);
}

/**
 * The Raft index in a simple token, or undefined when the token does not have etcd's shape
 * (two parts around one "."; a decimal index). The member waits until it has applied that
 * index before it looks the token up, as etcd does.
 */
export function simpleTokenIndex(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 2) return undefined;
  const index = parts[1] ?? "";
  if (!/^[0-9]{1,15}$/.test(index)) return undefined;
  return Number(index);
}

interface TokenEntry {
  readonly user: string;
  expiresAtMs: number;
}

/** The live simple tokens of one member: token → user, each with its expiry. */
export class SimpleTokenTable {
  readonly #tokens = new Map<string, TokenEntry>();

  get size(): number {
    return this.#tokens.size;
  }

  /** Assigns `token` to `user`; a token is never assigned twice (its index is unique). */
  assign(token: string, user: string, nowMs: number): void {
    assert(!this.#tokens.has(token), () => `simple token ${token} assigned twice`);
    this.#tokens.set(token, { user, expiresAtMs: nowMs + limits.etcdAuthSimpleTokenTtlMs });
  }

  /** The user of a live token, refreshing its expiry; undefined when unknown or expired. */
  use(token: string, nowMs: number): string | undefined {
    const entry = this.#tokens.get(token);
    if (entry === undefined) return undefined;
    if (nowMs > entry.expiresAtMs) {
      this.#tokens.delete(token);
      return undefined;
    }
    entry.expiresAtMs = nowMs + limits.etcdAuthSimpleTokenTtlMs;
    return entry.user;
  }

  /** Forgets every token of `user` (deleted, or its password changed). */
  dropUser(user: string): void {
    for (const [token, entry] of this.#tokens) {
      if (entry.user === user) this.#tokens.delete(token);
    }
  }

  /** Forgets every token (auth disabled). */
  clear(): void {
    this.#tokens.clear();
  }

  /** Forgets expired tokens; returns how many. */
  expire(nowMs: number): number {
    let expired = 0;
    for (const [token, entry] of this.#tokens) {
      if (nowMs > entry.expiresAtMs) {
        this.#tokens.delete(token);
        expired += 1;
      }
    }
    return expired;
  }
}
