/**
 * The JSON values of the metadata keys (keys.ts) and their checked decoding. A value that does
 * not parse or lacks a field is DATA_CORRUPTED, naming the key: metadata written by anything
 * but this layer is never trusted blindly. Encoding writes exactly the fields of the types, so
 * a decoded record re-encodes to the same bytes.
 */
import { PfsError } from "../../common/index.js";
import type { BranchInfo, CommitInfo, CommitState, RepoInfo } from "../model.js";

/** `<root>/config`: settings fixed when the cluster is created. */
export interface ClusterConfig {
  /** Shards S: paths hash to one of S shards, for the cluster's life. */
  readonly shards: number;
  readonly createdMs: number;
}

/**
 * A branch as stored: `head` is its last finished commit ("" before the first one); `open` is
 * its open (or finishing) commit, "" when none. At most one commit is open per branch, and
 * `head` does not move while one is.
 */
export interface BranchRecord extends BranchInfo {
  readonly open: string;
  /**
   * Present (true) only while `open` is an auto-commit: one the API started for a single
   * write into a branch without an open commit. No other write joins it; they wait for the
   * branch instead. Records written before this field existed lack it (no auto-commit).
   */
  readonly openAuto?: true;
}

type Fields = Readonly<Record<string, unknown>>;

function corrupted(key: string, what: string): PfsError {
  return new PfsError("DATA_CORRUPTED", `metadata ${key}: ${what}`, { key });
}

function parseObject(key: string, value: Buffer): Fields {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch {
    throw corrupted(key, "not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw corrupted(key, "not a JSON object");
  }
  return parsed as Fields;
}

function stringField(key: string, fields: Fields, name: string): string {
  const value = fields[name];
  if (typeof value !== "string") throw corrupted(key, `field ${name} is not a string`);
  return value;
}

function countField(key: string, fields: Fields, name: string): number {
  const value = fields[name];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw corrupted(key, `field ${name} is not a non-negative integer`);
  }
  return value;
}

const commitStates: readonly CommitState[] = ["open", "finishing", "finished", "failed"];

function stateField(key: string, fields: Fields): CommitState {
  const value = fields["state"];
  const state = commitStates.find((known) => known === value);
  if (state === undefined) throw corrupted(key, `unknown commit state ${String(value)}`);
  return state;
}

function provenanceField(key: string, fields: Fields): readonly string[] {
  const value = fields["provenance"];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw corrupted(key, "field provenance is not a list of strings");
  }
  return value;
}

/** Encodes any record as the bytes stored in etcd. */
export function encodeRecord(record: ClusterConfig | RepoInfo | BranchRecord | CommitInfo): Buffer {
  return Buffer.from(JSON.stringify(record), "utf8");
}

export function decodeClusterConfig(key: string, value: Buffer): ClusterConfig {
  const fields = parseObject(key, value);
  return { shards: countField(key, fields, "shards"), createdMs: countField(key, fields, "createdMs") };
}

export function decodeRepoInfo(key: string, value: Buffer): RepoInfo {
  const fields = parseObject(key, value);
  return {
    name: stringField(key, fields, "name"),
    description: stringField(key, fields, "description"),
    createdMs: countField(key, fields, "createdMs"),
  };
}

export function decodeBranchRecord(key: string, value: Buffer): BranchRecord {
  const fields = parseObject(key, value);
  return {
    repo: stringField(key, fields, "repo"),
    name: stringField(key, fields, "name"),
    head: stringField(key, fields, "head"),
    open: stringField(key, fields, "open"),
    ...(fields["openAuto"] === true ? { openAuto: true as const } : {}),
  };
}

export function decodeCommitInfo(key: string, value: Buffer): CommitInfo {
  const fields = parseObject(key, value);
  return {
    repo: stringField(key, fields, "repo"),
    id: stringField(key, fields, "id"),
    branch: stringField(key, fields, "branch"),
    parent: stringField(key, fields, "parent"),
    state: stateField(key, fields),
    description: stringField(key, fields, "description"),
    startedMs: countField(key, fields, "startedMs"),
    finishedMs: countField(key, fields, "finishedMs"),
    sizeBytes: countField(key, fields, "sizeBytes"),
    error: stringField(key, fields, "error"),
    provenance: provenanceField(key, fields),
  };
}
