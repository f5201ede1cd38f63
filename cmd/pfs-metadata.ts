/**
 * The `pfs` commands on repos, commits and branches, in pachctl's grammar:
 * `pfs create|list|inspect|delete repo`, `pfs start|finish|list|inspect|subscribe|wait|delete
 * commit`, `pfs create|list|inspect|delete branch`. Each parses its arguments
 * (pkg/pfs/client cli-args), makes one API call (subscribe streams) and prints the result.
 */
import type { Command } from "commander";
import { PfsError } from "../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import {
  type CommitInfoMessage, formatBranches, formatBytes, formatCommit, formatCommits, formatJson,
  formatRepo, formatRepos, parseBranchArg, parseCommitArg, parseRepoArg,
} from "../pkg/pfs/client/index.js";
import { type ApiOptions, noun, print, verb, withClient } from "./pfs-context.js";
import { withJobProgress } from "./pfs-pps.js";

/** Adds the repo, commit and branch commands to `program`. */
export function addMetadataCommands(program: Command): void {
  addRepoCommands(program);
  addCommitCommands(program);
  addCommitWatchCommands(program);
  addBranchCommands(program);
}

/** The verbs several nouns share. */
type SharedVerbs = Readonly<Record<"create" | "list" | "inspect" | "delete", Command>>;

function verbs(program: Command): SharedVerbs {
  return {
    create: verb(program, "create", "create a repo or a branch"),
    list: verb(program, "list", "list repos, commits, branches or files"),
    inspect: verb(program, "inspect", "show one repo, commit, branch or file"),
    delete: verb(program, "delete", "delete a repo, commit, branch or file"),
  };
}

function addRepoCommands(program: Command): void {
  const { create, list, inspect, delete: remove } = verbs(program);
  noun(create, "repo", "create a repo", false)
    .argument("<repo>").option("-d, --description <text>", "what the repo holds", "")
    .action(async (raw: string, options: ApiOptions & { description: string }) => {
      const name = parseRepoArg(raw);
      await withClient(options, (client) => client.createRepo(name, options.description));
    });
  noun(list, "repo", "list the repos", true)
    .action(async (options: ApiOptions) => {
      const repos = await withClient(options, (client) => client.listRepo());
      print(options, repos, formatRepos);
    });
  noun(inspect, "repo", "show a repo", true).argument("<repo>")
    .action(async (raw: string, options: ApiOptions) => {
      const name = parseRepoArg(raw);
      print(options, await withClient(options, (client) => client.inspectRepo(name)), formatRepo);
    });
  noun(remove, "repo", "delete a repo with its branches, commits and files", false)
    .argument("<repo>")
    .action(async (raw: string, options: ApiOptions) => {
      const name = parseRepoArg(raw);
      await withClient(options, (client) => client.deleteRepo(name));
    });
}

interface StartOptions extends ApiOptions {
  readonly parent?: string;
  readonly message: string;
  readonly provenance: readonly string[];
}

/** Collects a repeatable option's values in the order given. */
function collect(value: string, previous: readonly string[]): readonly string[] {
  return [...previous, value];
}

function addCommitCommands(program: Command): void {
  const { list, inspect, delete: remove } = verbs(program);
  const start = verb(program, "start", "start a commit");
  const finish = verb(program, "finish", "finish a commit");
  noun(start, "commit", "start a commit on a branch; prints its id", true)
    .argument("<repo@branch>")
    .option("-p, --parent <commit-id>", "the finished commit to start from (default: the head)")
    .option("-m, --message <text>", "a description of the commit", "")
    .option("--provenance <repo@commit-id>",
      "a finished commit this one is computed from (repeatable)", collect, [])
    .action(async (raw: string, options: StartOptions) => {
      const { repo, branch } = parseBranchArg(raw);
      const commit = await withClient(options, (client) => client.startCommit(repo, branch,
        options.parent ?? "", options.message, options.provenance));
      print(options, commit, (info) => `${info.id}\n`);
    });
  noun(finish, "commit", "finish a commit (or fail it with --error)", true)
    .argument("<repo@branch-or-id>")
    .option("--error <reason>", "fail the commit with this reason instead", "")
    .action(async (raw: string, options: ApiOptions & { error: string }) => {
      const ref = parseCommitArg(raw);
      const commit = await withClient(options, (client) => client.finishCommit(ref, options.error));
      if (options.json === true) print(options, commit, formatCommit);
    });
  noun(list, "commit", "list commits, newest first", true)
    .argument("<repo[@branch]>").option("-n, --limit <n>", "at most this many", "0")
    .action(async (raw: string, options: ApiOptions & { limit: string }) => {
      const ref = parseCommitArg(raw, true);
      const limit = Number(options.limit);
      if (!Number.isSafeInteger(limit) || limit < 0 || limit > 0xffff_ffff) {
        throw new PfsError("INVALID_ARGUMENT", `--limit must be a count, got ${options.limit}`);
      }
      const commits = await withClient(options, (client) =>
        client.listCommit(ref.repo, ref.commit, limit));
      print(options, commits, formatCommits);
    });
  noun(inspect, "commit", "show a commit", true).argument("<repo@commit>")
    .action(async (raw: string, options: ApiOptions) => {
      const ref = parseCommitArg(raw);
      print(options, await withClient(options, (client) => client.inspectCommit(ref)),
        formatCommit);
    });
  noun(remove, "commit", "delete an open commit and what it staged", false)
    .argument("<repo@commit>")
    .action(async (raw: string, options: ApiOptions) => {
      const ref = parseCommitArg(raw);
      await withClient(options, (client) => client.deleteCommit(ref));
    });
}

/** One line per streamed commit: "repo@id  branch  size". */
function commitLine(commit: CommitInfoMessage): string {
  return `${commit.repo}@${commit.id}  ${commit.branch}  ${commit.state.toLowerCase()}  ` +
    `${formatBytes(commit.size_bytes)}\n`;
}

function addCommitWatchCommands(program: Command): void {
  const subscribe = verb(program, "subscribe", "follow commits as they finish");
  const wait = verb(program, "wait", "wait for a commit to finish");
  noun(subscribe, "commit",
    "print a branch's finished commits, then each new one (--json: one object per line)", true)
    .argument("<repo@branch>").option("--new", "only commits that finish from now on")
    .action(async (raw: string, options: ApiOptions & { new?: boolean }) => {
      const { repo, branch } = parseBranchArg(raw);
      await withClient(options, async (client) => {
        const subscription = client.subscribeCommit(repo, branch, options.new === true);
        const stop = (): void => { subscription.cancel(); };
        process.once("SIGINT", stop);
        try {
          for await (const commit of subscription.commits) {
            process.stdout.write(options.json === true ? formatJson(commit) : commitLine(commit));
          }
        } finally {
          process.removeListener("SIGINT", stop);
        }
      });
    });
  noun(wait, "commit", "block until a commit is finished; fails if it failed", true)
    .argument("<repo@commit>")
    .action(async (raw: string, options: ApiOptions) => {
      const ref = parseCommitArg(raw);
      const commit = await withClient(options, (client) =>
        withJobProgress(options, client, ref, () => client.waitCommit(ref)));
      print(options, commit, formatCommit);
      if (commit.state === "FAILED") {
        throw new PfsError("FAILED_PRECONDITION",
          `commit ${commit.repo}@${commit.id} failed: ${commit.error}`);
      }
    });
}

function addBranchCommands(program: Command): void {
  const { create, list, inspect, delete: remove } = verbs(program);
  noun(create, "branch", "create a branch, or point it at another commit", true)
    .argument("<repo@branch>").option("--head <repo@commit>", "the commit it points to")
    .action(async (raw: string, options: ApiOptions & { head?: string }) => {
      const { repo, branch } = parseBranchArg(raw);
      const head = options.head === undefined ? null : parseCommitArg(options.head);
      if (head !== null && head.repo !== repo) {
        throw new PfsError("INVALID_ARGUMENT",
          `--head ${options.head ?? ""} is in repo ${head.repo}, not ${repo}`);
      }
      const info = await withClient(options, (client) => client.createBranch(repo, branch, head));
      if (options.json === true) print(options, info, () => "");
    });
  noun(list, "branch", "list a repo's branches", true).argument("<repo>")
    .action(async (raw: string, options: ApiOptions) => {
      const repo = parseRepoArg(raw);
      print(options, await withClient(options, (client) => client.listBranch(repo)),
        formatBranches);
    });
  noun(inspect, "branch", "show a branch", true).argument("<repo@branch>")
    .action(async (raw: string, options: ApiOptions) => {
      const { repo, branch } = parseBranchArg(raw);
      print(options, await withClient(options, (client) => client.inspectBranch(repo, branch)),
        (info) => formatBranches([info]));
    });
  noun(remove, "branch", "delete a branch (its commits stay)", false)
    .argument("<repo@branch>")
    .action(async (raw: string, options: ApiOptions) => {
      const { repo, branch } = parseBranchArg(raw);
      await withClient(options, (client) => client.deleteBranch(repo, branch));
    });
}
