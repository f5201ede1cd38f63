/**
 * Configuration schemas (STYLE rule 15): one schema per process, defaults in one place,
 * validated once and frozen. A schema is a record of fields; each field knows its flag, its
 * environment variable, its default and how to parse a string. `resolveConfig` merges flag
 * values over environment values over defaults (etcd's order), then runs the schema's
 * cross-field check, and returns a deeply frozen object or a `ConfigError` naming the flag.
 */
import { ConfigError } from "./errors.js";
import { type Result, err, ok } from "./result.js";

/** One configuration field producing a `T`. */
export interface FieldSpec<T> {
  /** What the flag does, for `--help`. */
  readonly description: string;
  /** The placeholder in `--help` (`DIR`, `URLS`, `N`); empty for a boolean switch. */
  readonly placeholder: string;
  /** The value when neither flag nor environment sets it. */
  readonly defaultValue: T;
  /** Parses a raw string; the error text says what was expected, without the flag name. */
  parse(raw: string): Result<T, string>;
}

/** A record of named fields. Keys are camelCase; the flag is their kebab-case form. */
export type Schema = Readonly<Record<string, FieldSpec<unknown>>>;

/** The resolved configuration type of a schema. */
export type ConfigOf<S extends Schema> = {
  readonly [K in keyof S]: S[K] extends FieldSpec<infer T> ? T : never;
};

/** `dataDir` → `--data-dir`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** `dataDir` with prefix `ETCD_` → `ETCD_DATA_DIR`. */
export function envOf(prefix: string, key: string): string {
  return `${prefix}${key.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()}`;
}

/** Where raw values come from. */
export interface ConfigSources {
  /** Raw flag values by camelCase key (what commander yields); `true` for a bare switch. */
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  /** The process environment. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A cross-field check and filler of derived defaults; returns a ConfigError on conflict. */
export type ConfigCompleter<S extends Schema> = (
  config: ConfigOf<S>,
) => Result<ConfigOf<S>, ConfigError>;

/** Recursively freezes plain objects and arrays. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * Resolves a schema against flags and environment: flag over environment over default.
 * `envPrefixOf(key)` names the environment prefix of each key (e.g. `ETCD_` for etcd's flags).
 */
export function resolveConfig<S extends Schema>(
  schema: S,
  sources: ConfigSources,
  envPrefixOf: (key: string) => string,
  complete: ConfigCompleter<S>,
): Result<ConfigOf<S>, ConfigError> {
  const values: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    const flagValue = sources.flags[key];
    const envValue = sources.env[envOf(envPrefixOf(key), key)];
    const raw = flagValue === true ? "true" : flagValue === false ? "false" : flagValue ?? envValue;
    if (raw === undefined) {
      values[key] = field.defaultValue;
      continue;
    }
    const parsed = field.parse(raw);
    if (!parsed.ok) return err(new ConfigError(flagOf(key), `${JSON.stringify(raw)}: ${parsed.error}`));
    values[key] = parsed.value;
  }
  const completed = complete(values as ConfigOf<S>);
  if (!completed.ok) return completed;
  return ok(deepFreeze(completed.value));
}

// ---- Field constructors ----------------------------------------------------------------------

/** A free string; `nonEmpty` refuses "". */
export function stringField(
  description: string,
  defaultValue: string,
  options: { placeholder?: string; nonEmpty?: boolean } = {},
): FieldSpec<string> {
  return {
    description,
    placeholder: options.placeholder ?? "STRING",
    defaultValue,
    parse: (raw) => (options.nonEmpty === true && raw === "" ? err("must not be empty") : ok(raw)),
  };
}

/** An optional string: absent means undefined. */
export function optionalStringField(
  description: string,
  placeholder: string,
): FieldSpec<string | undefined> {
  return {
    description,
    placeholder,
    defaultValue: undefined,
    parse: (raw) => (raw === "" ? ok(undefined) : ok(raw)),
  };
}

/** A decimal integer in [min, max]. */
export function integerField(
  description: string,
  defaultValue: number,
  min: number,
  max: number,
  placeholder = "N",
): FieldSpec<number> {
  return {
    description,
    placeholder,
    defaultValue,
    parse: (raw) => {
      if (!/^-?\d+$/.test(raw.trim())) return err("expected a whole number");
      const value = Number(raw.trim());
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        return err(`expected a whole number from ${min} to ${max}`);
      }
      return ok(value);
    },
  };
}

/** One of a fixed set of words. */
export function enumField<T extends string>(
  description: string,
  defaultValue: T,
  values: readonly T[],
): FieldSpec<T> {
  return {
    description,
    placeholder: values.join("|"),
    defaultValue,
    parse: (raw) =>
      (values as readonly string[]).includes(raw)
        ? ok(raw as T)
        : err(`expected one of ${values.join(", ")}`),
  };
}

/** A boolean switch: bare flag = true; `=true|false|1|0` also accepted. */
export function booleanField(description: string, defaultValue: boolean): FieldSpec<boolean> {
  return {
    description,
    placeholder: "",
    defaultValue,
    parse: (raw) => {
      if (raw === "true" || raw === "1") return ok(true);
      if (raw === "false" || raw === "0") return ok(false);
      return err("expected true or false");
    },
  };
}

/** Parses one http(s) URL with a host and an explicit or default port. */
export function parseUrl(raw: string): Result<URL, string> {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return err(`${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return err(`URL ${raw} must use http or https`);
  }
  if (url.hostname === "") return err(`URL ${raw} has no host`);
  if (url.pathname !== "/" && url.pathname !== "") return err(`URL ${raw} must not have a path`);
  return ok(url);
}

/** A comma-separated list of http(s) URLs, normalized to `scheme://host:port`. */
export function urlListField(
  description: string,
  defaultValue: readonly string[],
  options: { allowEmpty?: boolean } = {},
): FieldSpec<readonly string[]> {
  return {
    description,
    placeholder: "URLS",
    defaultValue,
    parse: (raw) => {
      const parts = raw.split(",").map((part) => part.trim()).filter((part) => part !== "");
      if (parts.length === 0) return options.allowEmpty === true ? ok([]) : err("expected at least one URL");
      const urls: string[] = [];
      for (const part of parts) {
        const parsed = parseUrl(part);
        if (!parsed.ok) return parsed;
        urls.push(parsed.value.origin);
      }
      return ok(urls);
    },
  };
}

/** A `HOST:PORT` address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `HOST:PORT` (IPv6 hosts in brackets). Port 0 means "pick a free port". */
export function parseHostPort(raw: string): Result<HostPort, string> {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(raw.trim());
  if (match === null) return err("expected HOST:PORT");
  const host = (match[1] ?? "").replace(/^\[|\]$/g, "");
  const port = Number(match[2]);
  if (port > 65_535) return err(`port ${port} is above 65535`);
  return ok({ host, port });
}

/** An optional `HOST:PORT`. */
export function optionalHostPortField(description: string): FieldSpec<HostPort | undefined> {
  return {
    description,
    placeholder: "HOST:PORT",
    defaultValue: undefined,
    parse: (raw) => (raw === "" ? ok(undefined) : parseHostPort(raw)),
  };
}
