/**
 * How the CLI prints API messages for people (pachctl's `pretty` package): aligned tables with
 * an upper-case header, sizes in binary units, times in UTC, and JSON for scripts. Pure.
 *
 * JSON output is the messages as the API decodes them: snake_case fields, int64 fields as
 * exact decimal strings (as protobuf's JSON mapping writes them), enums as names.
 */
import { assert } from "../../common/index.js";
import type {
  BranchInfoMessage, CommitInfoMessage, FileDiffMessage, FileInfoMessage, RepoInfoMessage,
} from "./proto.js";

const sizeUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** A byte count for people: "0 B", "999 B", "1.5 KiB", "12 MiB" (3 significant digits). */
export function formatBytes(bytes: number | bigint | string): string {
  const value = Number(bytes);
  assert(Number.isFinite(value) && value >= 0, () => `byte count ${String(bytes)}`);
  let scaled = value;
  let unit = 0;
  while (scaled >= 1024 && unit < sizeUnits.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  const text = unit === 0 ? String(scaled) : scaled >= 100 ? scaled.toFixed(0)
    : scaled >= 10 ? scaled.toFixed(1) : scaled.toFixed(2);
  const trimmed = text.includes(".") ? text.replace(/\.?0+$/, "") : text;
  return `${trimmed} ${sizeUnits[unit] ?? "B"}`;
}

/** A time in milliseconds since the epoch (a wire int64) as "2026-11-30 01:02:03"; 0 → "-". */
export function formatTime(ms: number | string): string {
  const value = Number(ms);
  if (value === 0 || !Number.isFinite(value)) return "-";
  return new Date(value).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "");
}

/** A duration in seconds for people: "45s", "3m05s", "2h01m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${String(whole % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

/**
 * Rows as an aligned table: each column as wide as its widest cell plus two spaces, the last
 * column unpadded, one line per row, ending with a newline.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]):
  string {
  assert(header.length > 0, "a table has columns");
  assert(rows.every((row) => row.length === header.length),
    () => `rows must have ${header.length} cells`);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]): string => cells
    .map((cell, column) =>
      column === cells.length - 1 ? cell : cell.padEnd((widths[column] ?? 0) + 2))
    .join("")
    .trimEnd();
  return [header, ...rows].map(line).join("\n") + "\n";
}

/** One JSON value on one line, as `--json` prints it. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/** A commit state as pachctl writes it, lower case. */
function stateName(commit: CommitInfoMessage): string {
  return commit.state.toLowerCase();
}

export function formatRepos(repos: readonly RepoInfoMessage[]): string {
  return formatTable(["NAME", "CREATED", "DESCRIPTION"],
    repos.map((repo) => [repo.name, formatTime(repo.created_ms), repo.description]));
}

export function formatCommits(commits: readonly CommitInfoMessage[]): string {
  return formatTable(["REPO", "BRANCH", "COMMIT", "PARENT", "STATE", "STARTED", "SIZE"],
    commits.map((commit) => [
      commit.repo, commit.branch, commit.id, commit.parent === "" ? "-" : commit.parent,
      stateName(commit), formatTime(commit.started_ms), formatBytes(commit.size_bytes),
    ]));
}

export function formatBranches(branches: readonly BranchInfoMessage[]): string {
  return formatTable(["BRANCH", "HEAD", "OPEN"], branches.map((branch) => [
    branch.name, branch.head === "" ? "-" : branch.head, branch.open === "" ? "-" : branch.open,
  ]));
}

export function formatFiles(files: readonly FileInfoMessage[]): string {
  return formatTable(["NAME", "TYPE", "SIZE"], files.map((file) => [
    file.path, file.type === "DIR" ? "dir" : "file", formatBytes(file.size_bytes),
  ]));
}

/** Key/value lines for an inspected object. */
function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([key]) => key.length)) + 2;
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width)}${value}`).join("\n") + "\n";
}

export function formatRepo(repo: RepoInfoMessage): string {
  return formatFields([["Name", repo.name], ["Description", repo.description],
    ["Created", formatTime(repo.created_ms)]]);
}

export function formatCommit(commit: CommitInfoMessage): string {
  const fields: [string, string][] = [
    ["Commit", `${commit.repo}@${commit.id}`], ["Branch", commit.branch],
    ["Parent", commit.parent === "" ? "-" : commit.parent], ["State", stateName(commit)],
    ["Started", formatTime(commit.started_ms)], ["Finished", formatTime(commit.finished_ms)],
    ["Size", formatBytes(commit.size_bytes)],
  ];
  if (commit.description !== "") fields.push(["Description", commit.description]);
  if (commit.error !== "") fields.push(["Error", commit.error]);
  if (commit.provenance.length > 0) fields.push(["Provenance", commit.provenance.join(", ")]);
  return formatFields(fields);
}

export function formatFile(file: FileInfoMessage): string {
  const fields: [string, string][] = [
    ["Path", file.path], ["Type", file.type === "DIR" ? "dir" : "file"],
    ["Size", `${formatBytes(file.size_bytes)} (${file.size_bytes} bytes)`],
  ];
  if (file.hash !== "") fields.push(["Hash", file.hash]);
  if (file.commit !== "") fields.push(["Commit", file.commit]);
  if (file.chunks.length > 0) fields.push(["Chunks", String(file.chunks.length)]);
  return formatFields(fields);
}

/** A diff as lines "+ path" (added), "- path" (deleted), "~ path" (changed), with sizes. */
export function formatDiff(diffs: readonly FileDiffMessage[]): string {
  return formatTable(["OP", "PATH", "SIZE"], diffs.map((diff) => {
    const { new_file: added, old_file: removed } = diff;
    if (added !== null && removed !== null) {
      return ["~", added.path, `${formatBytes(removed.size_bytes)} -> ${formatBytes(added.size_bytes)}`];
    }
    const file = added ?? removed;
    assert(file !== null, "a diff entry has a new or an old file");
    return [added === null ? "-" : "+", file.path, formatBytes(file.size_bytes)];
  }));
}
