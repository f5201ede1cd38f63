/**
 * `Result<T, E>`: the return type of pure code for expected failures (grpc-js `StatusOr`).
 * Exceptions are kept for programmer errors and for the I/O layers.
 */
export type Result<T, E> = { readonly ok: true; readonly value: T } | Failure<E>;

/** The failing arm of a `Result`. */
export interface Failure<E> {
  readonly ok: false;
  readonly error: E;
}

/** Wraps a success value. */
export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

/** Wraps an expected failure. */
export function err<E>(error: E): Failure<E> {
  return { ok: false, error };
}
