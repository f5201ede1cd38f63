// Masks what legitimately differs between two clusters in etcdctl's output, and nothing else.
// One masker per cluster; every id maps to a placeholder consistently (the same id always
// gives the same placeholder, whatever form it is printed in), so two clusters agree only if
// their ids appear in the same roles in the same order.
//
// Masked, and why:
// - cluster ID, member IDs: hashes of the (random, free) peer URLs, or random for added
//   members. Members map to `<member:NAME>` (the name is the same on both sides), the cluster
//   to `<cluster>`, whether printed in hex (%x or %016x) or in decimal (JSON, fields).
// - lease IDs (and any other 16-digit hex id, such as lock and election keys' suffixes): chosen
//   by the server; mapped to `<id-N>` in order of first appearance.
// - raft terms, raft indexes, database sizes, hashes: Raft log and storage details that differ
//   between any two clusters (etcd's own log holds configuration entries; HashKV hashes our
//   store's own encoding).
// - URLs and ports: free ports differ per run; each member's URLs map to `<client:NAME>` and
//   `<peer:NAME>`.
// - times: `took = …` and a lease's `remaining(…)` seconds (the seconds are checked apart).
// - etcdctl's own client log lines on stderr (zap JSON lines, with timestamps): whether a retry
//   gets logged depends on timing; the final `Error: …` line is kept and compared.
// Kept exact: keys, values, revisions, create/mod revisions, versions, counts, TTLs granted,
// exit codes, error texts, the order of lines.
import type { CtlResult } from "./etcdctl-runner.js";

/** Fields whose decimal value is an id (JSON `"f":N` or fields-format `"F" : N`). */
const idFields = [
  "cluster_id", "member_id", "ID", "lease", "leader", "memberID", "ClusterID", "MemberID",
  "Lease",
];
/** Fields whose value is masked to a constant. */
const maskedFields = [
  "raft_term", "RaftTerm", "raftTerm", "raftIndex", "raftAppliedIndex", "dbSize",
  "dbSizeInUse", "hash", "Hash",
];
/** Table columns (header text) masked to a constant. */
const maskedColumns = ["DB SIZE", "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "HASH"];

function hex16(decimal: string): string {
  return BigInt(decimal).toString(16).padStart(16, "0");
}

export class CtlMasker {
  /** Exact substrings (URLs, paths) and their placeholders, longest first when applied. */
  readonly #texts = new Map<string, string>();
  /** Ids as 16 hex digits → placeholder. */
  readonly #ids = new Map<string, string>();
  /** Prefixes (e.g. `mylock/`) followed by an unpadded hex lease id. */
  readonly #idPrefixes: string[] = [];
  #idCount = 0;

  /** Maps an id (decimal string) to a fixed placeholder. */
  registerId(decimal: string, placeholder: string): void {
    const id = hex16(decimal);
    this.#ids.set(id, placeholder);
    this.#texts.set(BigInt(decimal).toString(16), placeholder);
    this.#texts.set(decimal, placeholder);
  }

  /** Maps an exact substring (a URL, a path) to a placeholder. */
  registerText(text: string, placeholder: string): void {
    this.#texts.set(text, placeholder);
  }

  /** After `prefix`, an unpadded hex id (a lock or election key's lease) is masked. */
  registerIdPrefix(prefix: string): void {
    this.#idPrefixes.push(prefix);
  }

  /** The placeholder of a 16-digit hex id, made on first sight. */
  idPlaceholder(id: string): string {
    const known = this.#ids.get(id);
    if (known !== undefined) return known;
    this.#idCount += 1;
    const made = `<id-${this.#idCount}>`;
    this.#ids.set(id, made);
    return made;
  }

  maskText(text: string): string {
    let out = text;
    for (const field of idFields) {
      const pattern = new RegExp(`("${field}"\\s?:\\s?)(\\d+)`, "g");
      out = out.replace(pattern, (_m, head: string, value: string) =>
        value === "0" ? `${head}0` : `${head}"${this.idPlaceholder(hex16(value))}"`);
    }
    for (const field of maskedFields) {
      out = out.replace(new RegExp(`("${field}"\\s?:\\s?)(\\d+)`, "g"), "$1\"<masked>\"");
    }
    for (const prefix of this.#idPrefixes) {
      const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      out = out.replace(new RegExp(`${escaped}([0-9a-f]{1,16})\\b`, "g"),
        (_m, id: string) => `${prefix}${this.idPlaceholder(id.padStart(16, "0"))}`);
    }
    out = out.replace(/\b[0-9a-f]{16}\b/g, (id) => this.idPlaceholder(id));
    const texts = [...this.#texts.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [from, to] of texts) {
      out = out.replace(new RegExp(`(?<![0-9a-zA-Z])${escapeRegExp(from)}(?![0-9a-zA-Z])`, "g"),
        to);
    }
    out = out.replace(/(Member|cluster) +</g, "$1 <");
    out = out.replace(/took = \S+/g, "took = <time>");
    out = out.replace(/"took":"[^"]*"/g, "\"took\":\"<time>\"");
    out = out.replace(/remaining\(-?\d+s\)/g, "remaining(<s>)");
    return maskTable(out);
  }

  /** Masks both streams; etcdctl's own zap log lines are dropped from stderr. */
  mask(result: CtlResult): CtlResult {
    const stderr = result.stderr.split("\n").filter((line) => !line.startsWith("{\"level\":"))
      .join("\n");
    return {
      code: result.code,
      stdout: this.maskText(result.stdout),
      stderr: this.maskText(stderr),
    };
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Tables (-w table): borders dropped, cells trimmed (widths follow the masked values), and the
 * cells of masked columns replaced.
 */
function maskTable(text: string): string {
  const lines = text.split("\n");
  if (!lines.some((line) => line.startsWith("+-"))) return text;
  let masked: boolean[] = [];
  const out: string[] = [];
  for (const line of lines) {
    if (line.startsWith("+-")) continue;
    if (!line.startsWith("|")) {
      out.push(line);
      continue;
    }
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    if (masked.length === 0) masked = cells.map((cell) => maskedColumns.includes(cell));
    out.push(`| ${cells.map((cell, i) => (masked[i] === true ? "<masked>" : cell)).join(" | ")} |`);
  }
  return out.join("\n");
}

/** Step-specific normalizers, applied after masking. */
export const normalize = {
  /** Sorts lines: for output whose order follows ids (member list) or a map (lease list). */
  sortLines: (text: string): string => {
    const lines = text.split("\n");
    const last = lines.at(-1) === "" ? [""] : [];
    return [...lines.filter((line) => line !== "").sort(), ...last].join("\n");
  },
  /**
   * `endpoint status` in simple format: endpoint, id, version, db size, is leader, is learner,
   * raft term, raft index, applied index, errors; the size and the Raft numbers are masked.
   */
  statusLines: (text: string): string => {
    return text.replace(/^([^,\n]+, [^,\n]+, [^,\n]+), [^,\n]+, (true|false), (true|false), \d+,/gm,
      "$1, <size>, $2, $3, <term>,").replace(/<term>, \d+, \d+,/g, "<term>, <index>, <index>,");
  },
  /**
   * `endpoint hashkv` of several members: each distinct hash becomes `<hash-N>` in order of
   * appearance, so members that agree show the same placeholder.
   */
  hashClasses: (text: string): string => {
    const classes = new Map<string, string>();
    return text.replace(/^([^,\n]+), (\d+)$/gm, (_m, endpoint: string, hash: string) => {
      const known = classes.get(hash) ?? `<hash-${classes.size + 1}>`;
      classes.set(hash, known);
      return `${endpoint}, ${known}`;
    });
  },
  /** `endpoint hashkv` in simple format: `endpoint, hash`. */
  hashLines: (text: string): string => {
    return text.replace(/^([^,\n]+), \d+$/gm, "$1, <hash>");
  },
  /** `member list -w json` (ids already masked to strings): members sorted by name. */
  jsonMembers: (text: string): string => {
    try {
      const parsed = JSON.parse(text) as { members?: { name?: string }[] };
      parsed.members?.sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""));
      return `${JSON.stringify(parsed)}\n`;
    } catch {
      return text;
    }
  },
  /** `member add`: ETCD_INITIAL_CLUSTER lists members in id order; sort its entries. */
  initialCluster: (text: string): string => {
    return text.replace(/ETCD_INITIAL_CLUSTER="([^"]*)"/,
      (_m, list: string) => `ETCD_INITIAL_CLUSTER="${list.split(",").sort().join(",")}"`);
  },
};
