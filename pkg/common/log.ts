/**
 * Structured logging. Every line goes to **stderr** (stdout is for command output) and
 * carries the node id and the component. JSON lines by default; a readable line format
 * when stderr is a terminal. Code depends on the small `Logger` interface, not on winston, so
 * tests can capture records with `MemoryLogger`.
 */
import winston from "winston";

/** Levels, most severe first. */
export const logLevels = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof logLevels)[number];

/** `json`: one JSON object a line; `text`: for people; `auto`: text on a TTY, else JSON. */
export const logFormats = ["json", "text", "auto"] as const;
export type LogFormat = (typeof logFormats)[number];

/** Structured fields of a log line. Values are made JSON-safe (bigint → string). */
export type LogFields = Readonly<Record<string, unknown>>;

/** The logging interface every component receives. */
export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** A logger whose lines also carry `fields` (e.g. `{ component: "raft" }`). */
  child(fields: LogFields): Logger;
}

/** Options of `createLogger`. */
export interface LoggerOptions {
  readonly nodeId: string;
  readonly component: string;
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where lines go; stderr when absent. Must not be stdout. */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Converts values JSON cannot hold (bigint, Error, Uint8Array) into ones it can. */
function jsonSafe(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) {
    const code: unknown = (value as Error & { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return value;
}

function safeFields(fields: LogFields | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  if (fields === undefined) return result;
  for (const [key, value] of Object.entries(fields)) result[key] = jsonSafe(value);
  return result;
}

const reservedKeys = new Set(["level", "message", "timestamp", "node", "component"]);

/** The text format: `time LEVEL [node/component] message key=value …`. */
const textFormat = winston.format.printf((info) => {
  const extras = Object.entries(info)
    .filter(([key]) => !reservedKeys.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  const level = info.level.toUpperCase().padEnd(5);
  const where = `${String(info["node"])}/${String(info["component"])}`;
  const text = typeof info.message === "string" ? info.message : JSON.stringify(info.message);
  return `${String(info["timestamp"])} ${level} [${where}] ${text}${extras ? ` ${extras}` : ""}`;
});

/**
 * Wraps a winston logger. Context fields (node, component, …) are merged here rather than with
 * winston's defaultMeta, which would override a child's own `component`.
 */
class WinstonLogger implements Logger {
  readonly #inner: winston.Logger;
  readonly #context: Readonly<Record<string, unknown>>;

  constructor(inner: winston.Logger, context: Readonly<Record<string, unknown>>) {
    this.#inner = inner;
    this.#context = context;
  }

  #fields(fields: LogFields | undefined): Record<string, unknown> {
    return { ...safeFields(fields), ...this.#context };
  }

  error(message: string, fields?: LogFields): void {
    this.#inner.error(message, this.#fields(fields));
  }

  warn(message: string, fields?: LogFields): void {
    this.#inner.warn(message, this.#fields(fields));
  }

  info(message: string, fields?: LogFields): void {
    this.#inner.info(message, this.#fields(fields));
  }

  debug(message: string, fields?: LogFields): void {
    this.#inner.debug(message, this.#fields(fields));
  }

  child(fields: LogFields): Logger {
    return new WinstonLogger(this.#inner, { ...this.#context, ...safeFields(fields) });
  }
}

/** Creates the root logger of a process. */
export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stderr;
  const useText = options.format === "text" ||
    (options.format === "auto" && (stream as { isTTY?: boolean }).isTTY === true);
  const inner = winston.createLogger({
    level: options.level,
    levels: { error: 0, warn: 1, info: 2, debug: 3 },
    format: winston.format.combine(
      winston.format.timestamp(),
      useText ? textFormat : winston.format.json(),
    ),
    // winston's typings declare its own Stream transport apart from TransportStream.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    transports: [new winston.transports.Stream({ stream })],
  });
  return new WinstonLogger(inner, { node: options.nodeId, component: options.component });
}

/** One captured log record. */
export interface LogRecord {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A logger that keeps records in memory, for tests and the simulator. */
export class MemoryLogger implements Logger {
  readonly records: LogRecord[];
  readonly #fields: Record<string, unknown>;

  constructor(fields: LogFields = {}, records: LogRecord[] = []) {
    this.records = records;
    this.#fields = safeFields(fields);
  }

  #add(level: LogLevel, message: string, fields: LogFields | undefined): void {
    this.records.push({ level, message, fields: { ...this.#fields, ...safeFields(fields) } });
  }

  error(message: string, fields?: LogFields): void {
    this.#add("error", message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.#add("warn", message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.#add("info", message, fields);
  }

  debug(message: string, fields?: LogFields): void {
    this.#add("debug", message, fields);
  }

  child(fields: LogFields): Logger {
    return new MemoryLogger({ ...this.#fields, ...fields }, this.records);
  }
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
};
