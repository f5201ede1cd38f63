/**
 * Assertions for programmer errors (TIGER_STYLE "Safety"). An assertion failure means the
 * program is wrong, not that the input was bad: operating errors are `PfsError`s instead.
 * Only the top level of a process catches an `AssertionError`, and it exits so that a
 * supervisor (Kubernetes, `pfs deploy local`) restarts it with clean state.
 */

/** Thrown by `assert` and `assertNever`; never caught below the process's top level. */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

/**
 * Throws an `AssertionError` unless `condition` holds. Pass the operand values in the
 * message ("applied 7 > committed 5"), as a thunk when building it is not free.
 */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === "string" ? message : message());
  }
}

/** Closes an exhaustive switch: the compiler proves the call unreachable. */
export function assertNever(value: never, what = "value"): never {
  throw new AssertionError(`unexpected ${what}: ${String(value)}`);
}

/** Asserts that `value` is an integer in [min, max] that a `number` holds exactly. */
export function assertSafeInteger(
  value: number,
  what: string,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): void {
  assert(Number.isSafeInteger(value), () => `${what} ${value} is not a safe integer`);
  assert(value >= min && value <= max, () => `${what} ${value} is outside [${min}, ${max}]`);
}
