/**
 * The one error hierarchy (STYLE rule 6). Every operating error pfs reports has a stable
 * `code` from `errorTable`, which fixes its gRPC status. etcd errors copy etcd's rpctypes
 * status and message text exactly, because the Go client matches errors by text and the
 * etcd3 client by substring. `toGrpcStatus` is the only place an error becomes a status.
 *
 * Adding a code: add a row here and a row to the README's error table (a test compares them).
 */

/** gRPC status codes (same numbers as `@grpc/grpc-js` `status`; a test checks that). */
export enum GrpcStatus {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** One row of the error table. */
export interface ErrorSpec {
  readonly status: GrpcStatus;
  /**
   * The exact wire message, for errors whose text is part of a protocol (etcd's). When set,
   * every error with this code carries exactly this message.
   */
  readonly wireMessage?: string;
  /** What the condition means, for the README table and for people reading logs. */
  readonly meaning: string;
}

const S = GrpcStatus;

/** Every error code pfs reports. Keys are stable: clients and scripts may match on them. */
export const errorTable = {
  // ---- pfs's own codes -------------------------------------------------------------------
  CONFIG_INVALID: { status: S.INVALID_ARGUMENT, meaning: "a flag or configuration value is invalid" },
  INVALID_ARGUMENT: { status: S.INVALID_ARGUMENT, meaning: "a request field is malformed" },
  LIMIT_EXCEEDED: { status: S.RESOURCE_EXHAUSTED, meaning: "a named limit was reached" },
  NOT_FOUND: { status: S.NOT_FOUND, meaning: "the named object does not exist" },
  ALREADY_EXISTS: { status: S.ALREADY_EXISTS, meaning: "an object with that name exists" },
  FAILED_PRECONDITION: { status: S.FAILED_PRECONDITION, meaning: "the object is not in a state that allows it" },
  UNAVAILABLE: { status: S.UNAVAILABLE, meaning: "a dependency is unreachable; retry" },
  DATA_CORRUPTED: { status: S.DATA_LOSS, meaning: "stored data failed its checksum" },
  INTERNAL: { status: S.INTERNAL, meaning: "a bug: an invariant did not hold" },
  // ---- etcd v3 codes: status and text exactly as etcd 3.4 rpctypes -----------------------
  ETCD_KEY_NOT_PROVIDED: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: key is not provided", meaning: "empty key",
  },
  ETCD_KEY_NOT_FOUND: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: key not found",
    meaning: "ignore_value/ignore_lease on a missing key, or an empty RequestOp",
  },
  ETCD_VALUE_PROVIDED: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: value is provided",
    meaning: "ignore_value with a value",
  },
  ETCD_LEASE_PROVIDED: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: lease is provided",
    meaning: "ignore_lease with a lease",
  },
  ETCD_TOO_MANY_OPS: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: too many operations in txn request",
    meaning: "a txn has more operations than the limit",
  },
  ETCD_DUPLICATE_KEY: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: duplicate key given in txn request",
    meaning: "a txn writes one key twice",
  },
  ETCD_REQUEST_TOO_LARGE: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: request is too large",
    meaning: "a request exceeds max-request-bytes",
  },
  ETCD_COMPACTED: {
    status: S.OUT_OF_RANGE, wireMessage: "etcdserver: mvcc: required revision has been compacted",
    meaning: "the revision is below the compaction revision",
  },
  ETCD_FUTURE_REV: {
    status: S.OUT_OF_RANGE, wireMessage: "etcdserver: mvcc: required revision is a future revision",
    meaning: "the revision is above the current revision",
  },
  ETCD_NO_SPACE: {
    status: S.RESOURCE_EXHAUSTED, wireMessage: "etcdserver: mvcc: database space exceeded",
    meaning: "the store is over its quota",
  },
  ETCD_LEASE_NOT_FOUND: {
    status: S.NOT_FOUND, wireMessage: "etcdserver: requested lease not found",
    meaning: "the lease does not exist",
  },
  ETCD_LEASE_EXIST: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: lease already exists",
    meaning: "a lease with that ID exists",
  },
  ETCD_LEASE_TTL_TOO_LARGE: {
    status: S.OUT_OF_RANGE, wireMessage: "etcdserver: too large lease TTL",
    meaning: "the lease TTL is above the maximum",
  },
  ETCD_NO_LEADER: {
    status: S.UNAVAILABLE, wireMessage: "etcdserver: no leader", meaning: "the member knows no leader",
  },
  ETCD_NOT_LEADER: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: not leader",
    meaning: "the request needs the leader",
  },
  ETCD_LEADER_CHANGED: {
    status: S.UNAVAILABLE, wireMessage: "etcdserver: leader changed",
    meaning: "the leader changed during a linearizable read",
  },
  ETCD_STOPPED: {
    status: S.UNAVAILABLE, wireMessage: "etcdserver: server stopped", meaning: "the member is stopping",
  },
  ETCD_TIMEOUT: {
    status: S.UNAVAILABLE, wireMessage: "etcdserver: request timed out",
    meaning: "a proposal was not committed in time",
  },
  ETCD_TIMEOUT_DUE_TO_LEADER_FAIL: {
    status: S.UNAVAILABLE,
    wireMessage: "etcdserver: request timed out, possibly due to previous leader failure",
    meaning: "a proposal timed out across a leader change",
  },
  ETCD_TIMEOUT_DUE_TO_CONNECTION_LOST: {
    status: S.UNAVAILABLE,
    wireMessage: "etcdserver: request timed out, possibly due to connection lost",
    meaning: "a proposal timed out while the leader was unreachable",
  },
  ETCD_TOO_MANY_REQUESTS: {
    status: S.RESOURCE_EXHAUSTED, wireMessage: "etcdserver: too many requests",
    meaning: "too many proposals are pending",
  },
  ETCD_BAD_LEADER_TRANSFEREE: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: bad leader transferee",
    meaning: "move-leader to a member that cannot lead",
  },
  ETCD_PERMISSION_DENIED: {
    status: S.PERMISSION_DENIED, wireMessage: "etcdserver: permission denied",
    meaning: "the user lacks the permission",
  },
  ETCD_INVALID_AUTH_TOKEN: {
    status: S.UNAUTHENTICATED, wireMessage: "etcdserver: invalid auth token",
    meaning: "the auth token is missing or wrong",
  },
  ETCD_AUTH_NOT_ENABLED: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: authentication is not enabled",
    meaning: "Authenticate while auth is disabled",
  },
  ETCD_AUTH_FAILED: {
    status: S.INVALID_ARGUMENT,
    wireMessage: "etcdserver: authentication failed, invalid user ID or password",
    meaning: "wrong user name or password",
  },
  ETCD_ROOT_USER_NOT_EXIST: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: root user does not exist",
    meaning: "auth enable without a root user",
  },
  ETCD_ROOT_ROLE_NOT_EXIST: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: root user does not have root role",
    meaning: "auth enable while root lacks the root role",
  },
  ETCD_USER_ALREADY_EXIST: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: user name already exists",
    meaning: "the user exists",
  },
  ETCD_USER_NOT_FOUND: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: user name not found",
    meaning: "the user does not exist",
  },
  ETCD_USER_EMPTY: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: user name is empty",
    meaning: "empty user name",
  },
  ETCD_ROLE_ALREADY_EXIST: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: role name already exists",
    meaning: "the role exists",
  },
  ETCD_ROLE_NOT_FOUND: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: role name not found",
    meaning: "the role does not exist",
  },
  ETCD_ROLE_EMPTY: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: role name is empty",
    meaning: "empty role name",
  },
  ETCD_ROLE_NOT_GRANTED: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: role is not granted to the user",
    meaning: "revoking a role the user lacks",
  },
  ETCD_PERMISSION_NOT_GRANTED: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: permission is not granted to the role",
    meaning: "revoking a permission the role lacks",
  },
  ETCD_MEMBER_EXIST: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: member ID already exist",
    meaning: "a member with that ID exists",
  },
  ETCD_PEER_URL_EXIST: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: Peer URLs already exists",
    meaning: "another member uses that peer URL",
  },
  ETCD_MEMBER_NOT_LEARNER: {
    status: S.FAILED_PRECONDITION, wireMessage: "etcdserver: can only promote a learner member",
    meaning: "promote of a voting member",
  },
  ETCD_UNHEALTHY: {
    status: S.FAILED_PRECONDITION,
    wireMessage: "etcdserver: re-configuration failed due to not enough started members",
    meaning: "a membership change would lose quorum",
  },
  ETCD_MEMBER_NOT_FOUND: {
    status: S.NOT_FOUND, wireMessage: "etcdserver: member not found", meaning: "no member with that ID",
  },
  ETCD_WATCH_CANCELED: {
    status: S.CANCELLED, wireMessage: "etcdserver: watch canceled", meaning: "the client cancelled a watch",
  },
  ETCD_LEARNER_NOT_SUPPORTED: {
    status: S.UNAVAILABLE, wireMessage: "etcdserver: rpc not supported for learner",
    meaning: "a learner cannot serve this RPC",
  },
  ETCD_MEMBER_BAD_URLS: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: given member URLs are invalid",
    meaning: "MemberAdd with a peer URL that is not scheme://host:port",
  },
  // ---- etcd's concurrency services (v3election, v3lock): gRPC Unknown with etcd's texts, ---
  // ---- which are not "etcdserver: " texts, so the meaning is the exact message ------------
  CONCURRENCY_FAILED: {
    status: S.UNKNOWN,
    meaning: "a v3lock/v3election step failed; the message is the inner error's text, as etcd",
  },
  ELECTION_NO_LEADER: { status: S.UNKNOWN, meaning: "election: no leader" },
  ELECTION_NOT_LEADER: { status: S.UNKNOWN, meaning: "election: not leader" },
  ELECTION_MISSING_LEADER_KEY: { status: S.UNKNOWN, meaning: '"leader" field must be provided' },
  ETCD_INVALID_AUTH_MGMT: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: invalid auth management",
    meaning: "deleting root, its root role or the role root while auth is enabled",
  },
  ETCD_AUTH_OLD_REVISION: {
    status: S.INVALID_ARGUMENT, wireMessage: "etcdserver: revision of auth store is old",
    meaning: "a request checked against an auth revision older than the store's",
  },
  // etcd 3.4 does not map this auth error, so its clients see Unknown with the raw text.
  AUTH_NO_PASSWORD_USER: {
    status: S.UNKNOWN,
    meaning: "auth: authentication failed, password was given for no password user",
  },
} as const satisfies Record<string, ErrorSpec>;

/** A stable error code: a key of `errorTable`. */
export type ErrorCode = keyof typeof errorTable;

/** Detail values attached to an error: small, serializable, safe to log. */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | bigint>>;

/** Returns the table row of `code`. */
export function errorSpec(code: ErrorCode): ErrorSpec {
  return errorTable[code];
}

/**
 * The base of every operating error. `message` is what a person or client sees; for codes with
 * a `wireMessage` it is exactly that text.
 */
export class PfsError extends Error {
  override readonly name: string = "PfsError";
  readonly code: ErrorCode;
  readonly status: GrpcStatus;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message?: string, details: ErrorDetails = {}) {
    const spec: ErrorSpec = errorTable[code];
    super(spec.wireMessage ?? message ?? spec.meaning);
    this.code = code;
    this.status = spec.status;
    this.details = details;
  }
}

/** An etcd v3 API error: its message is always etcd's exact text. */
export class EtcdError extends PfsError {
  override readonly name: string = "EtcdError";

  constructor(code: EtcdErrorCode, details: ErrorDetails = {}) {
    super(code, undefined, details);
  }
}

/** The codes whose spec carries an exact wire message (the etcd ones). */
export type EtcdErrorCode = {
  [K in ErrorCode]: (typeof errorTable)[K] extends { wireMessage: string } ? K : never;
}[ErrorCode];

/** A flag or configuration value is invalid; the message names the flag. */
export class ConfigError extends PfsError {
  override readonly name: string = "ConfigError";
  readonly flag: string;

  constructor(flag: string, reason: string) {
    super("CONFIG_INVALID", `invalid value for ${flag}: ${reason}`, { flag });
    this.flag = flag;
  }
}

/** A named limit from `limits.ts` was reached; the message names the limit and its value. */
export class LimitError extends PfsError {
  override readonly name: string = "LimitError";

  constructor(limitName: string, limit: number | bigint, actual: number | bigint) {
    super("LIMIT_EXCEEDED", `${limitName} is ${limit}; got ${actual}`, { limitName });
  }
}

/** What a gRPC handler sends for an error: a status and its message. */
export interface WireStatus {
  readonly code: GrpcStatus;
  readonly message: string;
  /** False when the error was not a `PfsError`: a bug the interceptor must log. */
  readonly known: boolean;
}

/**
 * Maps any thrown value to the status a client sees. `PfsError`s keep their code and message;
 * anything else becomes UNKNOWN, as etcd maps errors it does not recognise, and is flagged so the
 * interceptor logs it (it is a bug: deterministic user errors always have a code).
 */
export function toGrpcStatus(error: unknown): WireStatus {
  if (error instanceof PfsError) {
    return { code: error.status, message: error.message, known: true };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: GrpcStatus.UNKNOWN, message, known: false };
}
