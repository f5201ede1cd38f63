/** pkg/common: assertions, limits, randomness, time, errors, logging, configuration, ids. */
export { AssertionError, assert, assertNever, assertSafeInteger } from "./assert.js";
export { type Result, type Failure, ok, err } from "./result.js";
export { Prng, prngSeedMax, systemSeed } from "./prng.js";
export { type Clock, type Timer, SystemClock, SimulatedClock } from "./clock.js";
export {
  GrpcStatus,
  type ErrorSpec,
  errorTable,
  type ErrorCode,
  type EtcdErrorCode,
  type ErrorDetails,
  errorSpec,
  PfsError,
  EtcdError,
  ConfigError,
  LimitError,
  type WireStatus,
  toGrpcStatus,
} from "./errors.js";
export * as limits from "./limits.js";
export { LoopMonitor } from "./loop-monitor.js";
export {
  type Logger,
  type LogLevel,
  type LogFormat,
  type LogFields,
  type LogRecord,
  type LoggerOptions,
  logLevels,
  logFormats,
  createLogger,
  MemoryLogger,
  silentLogger,
} from "./log.js";
export {
  type FieldSpec,
  type Schema,
  type ConfigOf,
  type ConfigSources,
  type HostPort,
  flagOf,
  envOf,
  resolveConfig,
  deepFreeze,
  parseUrl,
  parseHostPort,
} from "./config.js";
export {
  type PfsdConfig,
  type InitialMember,
  pfsdSchema,
  pfsdEnvPrefix,
  pfsGcIntervalSecondsDefault,
  resolvePfsdConfig,
  effectiveWriteQuorum,
} from "./pfsd-config.js";
export {
  type Brand,
  type NodeId,
  type Term,
  type LogIndex,
  type Revision,
  type LeaseId,
  type ShardId,
  nodeId,
  term,
  logIndex,
  revision,
  leaseId,
  shardId,
  formatHexId,
} from "./ids.js";
export { pfsVersion, etcdApiVersion } from "./version.js";
export { ByteReader, ByteWriter, MalformedPayloadError } from "./byte-codec.js";
export { crc32InSlices, crc32Steps, openCrc32, sealCrc32 } from "./checksummed.js";
export { nextTurn, runAtOnce, runInSlices } from "./turns.js";
export { JsonRecord } from "./json-record.js";
