// Support for the metrics tests: a strict parser of the Prometheus text exposition format
// (0.0.4) — every sample belongs to a family announced by exactly one HELP and one TYPE line
// before it, sample names fit the family's type (_bucket/_sum/_count for histograms), labels
// and values are well formed, no series appears twice, and histogram buckets are cumulative
// and end with le="+Inf" equal to _count — plus HTTP helpers for /metrics, /livez, /readyz.

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  help: string | undefined;
  type: MetricType | undefined;
  readonly samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/u;
const labelPair = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/u;
const types: readonly string[] = ["counter", "gauge", "histogram", "summary", "untyped"];

/**
 * A sample value as Prometheus reads it: Go's strconv.ParseFloat, which takes NaN and Inf in
 * any case (prom-client writes "Nan" for an event-loop mean with no samples yet).
 */
function parseValue(raw: string, where: string): number {
  const special = raw.toLowerCase();
  if (special === "+inf" || special === "inf") return Infinity;
  if (special === "-inf") return -Infinity;
  if (special === "nan") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/u.test(raw)) {
    throw new Error(`${where}: bad value ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function parseLabels(raw: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = raw;
  while (rest !== "") {
    const match = labelPair.exec(rest);
    if (match === null) throw new Error(`${where}: bad labels {${raw}}`);
    const [whole, key = "", value = ""] = match;
    if (key in labels) throw new Error(`${where}: label ${key} twice`);
    labels[key] = value.replace(/\\n/gu, "\n").replace(/\\"/gu, "\"").replace(/\\\\/gu, "\\");
    rest = rest.slice(whole.length);
  }
  return labels;
}

/** The family a sample named `name` belongs to under `type`'s naming rules, or undefined. */
function familyOf(name: string, families: ReadonlyMap<string, Family>): Family | undefined {
  const exact = families.get(name);
  if (exact !== undefined) return exact;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const family = families.get(name.slice(0, -suffix.length));
    if (family?.type === "histogram") return family;
    if (family?.type === "summary" && suffix !== "_bucket") return family;
  }
  return undefined;
}

function checkHistogram(family: Family): void {
  const series = new Map<string, Sample[]>();
  for (const sample of family.samples) {
    if (!sample.name.endsWith("_bucket")) continue;
    const { le, ...rest } = sample.labels;
    if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), sample]);
  }
  for (const [key, buckets] of series) {
    let previous = -Infinity;
    for (const bucket of buckets) {
      if (bucket.value < previous) throw new Error(`${family.name}${key}: buckets not cumulative`);
      previous = bucket.value;
    }
    const last = buckets.at(-1);
    if (last?.labels["le"] !== "+Inf") throw new Error(`${family.name}${key}: no +Inf bucket`);
    const count = family.samples.find((sample) => sample.name === `${family.name}_count` &&
      JSON.stringify(sample.labels) === key);
    if (count?.value !== last.value) throw new Error(`${family.name}${key}: +Inf is not _count`);
  }
}

/** Parses `text` strictly; throws naming the line of the first violation. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error("the exposition does not end with a newline");
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line)})`;
    if (line === "") return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/u.exec(line);
    if (meta !== null) {
      const [, kind, name = "", rest = ""] = meta;
      if (!metricName.test(name)) throw new Error(`${where}: bad metric name`);
      const family = families.get(name) ?? { name, help: undefined, type: undefined, samples: [] };
      families.set(name, family);
      if (family.samples.length > 0) throw new Error(`${where}: ${kind} after samples`);
      if (kind === "HELP") {
        if (family.help !== undefined) throw new Error(`${where}: second HELP`);
        family.help = rest;
      } else {
        if (family.type !== undefined) throw new Error(`${where}: second TYPE`);
        if (!types.includes(rest)) throw new Error(`${where}: unknown type`);
        family.type = rest as MetricType;
      }
      return;
    }
    if (line.startsWith("#")) return;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/u.exec(line);
    if (sample === null) throw new Error(`${where}: not a sample`);
    const [, name = "", rawLabels = "", rawValue = ""] = sample;
    const family = familyOf(name, families);
    if (family === undefined) throw new Error(`${where}: sample of no announced family`);
    if (family.help === undefined || family.type === undefined) {
      throw new Error(`${where}: family ${family.name} lacks HELP or TYPE`);
    }
    const labels = parseLabels(rawLabels, where);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: series twice`);
    seen.add(key);
    const value = parseValue(rawValue, where);
    if (family.type === "counter" && !(value >= 0)) throw new Error(`${where}: counter < 0`);
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) {
    if (family.help === undefined || family.type === undefined) {
      throw new Error(`family ${family.name} lacks HELP or TYPE`);
    }
    if (family.type === "histogram") checkHistogram(family);
  }
  return families;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
export function sampleSum(families: ReadonlyMap<string, Family>, name: string,
  labels: Readonly<Record<string, string>> = {}): number {
  const family = familyOf(name, families);
  if (family === undefined) return 0;
  return family.samples.filter((sample) => sample.name === name &&
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** The type of family `name`, or undefined when it is absent. */
export function typeOf(families: ReadonlyMap<string, Family>, name: string):
  MetricType | undefined {
  return families.get(name)?.type;
}

/** GET `url`: its status and body; rejects only when nothing answers. */
export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}

/** Scrapes and strictly parses `<base>/metrics`. */
export async function scrape(base: string): Promise<Map<string, Family>> {
  const { status, body } = await httpGet(`${base}/metrics`);
  if (status !== 200) throw new Error(`/metrics answered ${status}: ${body}`);
  return parseExposition(body);
}

/** Polls `check` every 200 ms until it is true; throws with `what` after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>,
  timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
