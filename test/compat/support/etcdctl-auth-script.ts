// The etcdctl auth script run against a fresh etcd and a fresh pfsd, and the masking that makes
// two runs comparable. Each step is one etcdctl command line (and its stdin); a step's outcome
// is its exit code, stdout and the stderr lines etcdctl prints for the user ("Error: …"), with
// the client's JSON retry warnings dropped (their count depends on timing), endpoints, ids,
// terms and durations masked.
import { execFile } from "node:child_process";

const etcdctlBinary = "/usr/bin/etcdctl";
/** One etcdctl call may take this long (a wrong password is retried a few times by design). */
const commandTimeoutMs = 30_000;

/** One etcdctl invocation: its arguments after --endpoints, and its stdin. */
export interface ScriptStep {
  readonly args: readonly string[];
  readonly stdin?: string;
}

const root = ["--user", "root:rootpw"];
const alice = ["--user", "alice:alicepw"];
const bob = ["--user", "bob:bobpw"];
const bobAfter = ["--user", "bob:bobpw2"];
const noPrompt = ["--interactive=false"];

const step = (...args: string[]): ScriptStep => ({ args });

/**
 * The script: users, roles and permissions while auth is off (with the error cases), enable
 * (first without root, then etcdctl's automatic root-role retry), allowed and denied reads and
 * writes per user, wrong passwords, the protected root, revocations, deletions, disable.
 */
export const authScript: readonly ScriptStep[] = [
  step("auth", "enable"),
  step("user", "add", "root", ...noPrompt, "--new-user-password=rootpw"),
  step("user", "add", "alice", ...noPrompt, "--new-user-password=alicepw"),
  step("user", "add", "bob", ...noPrompt, "--new-user-password=bobpw"),
  step("user", "add", "alice", ...noPrompt, "--new-user-password=other"),
  step("user", "add", "tls", "--no-password"),
  step("role", "add", "reader"),
  step("role", "add", "writer"),
  step("role", "add", "reader"),
  step("role", "grant-permission", "reader", "read", "foo"),
  step("role", "grant-permission", "reader", "read", "dir/", "--prefix"),
  step("role", "grant-permission", "reader", "write", "foo"),
  step("role", "grant-permission", "reader", "read", "foo"),
  step("role", "grant-permission", "writer", "write", "w1", "w5"),
  step("role", "grant-permission", "writer", "readwrite", "dir/", "--prefix"),
  step("role", "grant-permission", "writer", "write", "z", "--from-key"),
  step("role", "grant-permission", "nosuch", "read", "x"),
  step("role", "get", "reader"),
  step("role", "get", "writer"),
  step("role", "get", "nosuch"),
  step("role", "list"),
  step("user", "grant-role", "alice", "reader"),
  step("user", "grant-role", "bob", "writer"),
  step("user", "grant-role", "bob", "reader"),
  step("user", "grant-role", "alice", "nosuch"),
  step("user", "grant-role", "nobody", "reader"),
  step("user", "get", "alice"),
  step("user", "get", "bob", "--detail"),
  step("user", "get", "nobody"),
  step("user", "list"),
  step("auth", "enable"),
  step("auth", "enable", ...root),
  step("role", "list", ...root),
  step("user", "get", "root", ...root),
  step("put", "foo", "bar", ...root),
  step("put", "dir/a", "1", ...root),
  step("get", "foo", ...alice),
  step("get", "dir/", "--prefix", ...alice),
  step("get", "d", "--prefix", ...alice),
  step("put", "foo", "x", ...alice),
  step("get", "foo", ...bob),
  step("put", "dir/b", "2", ...bob),
  step("get", "dir/", "--prefix", ...bob),
  step("put", "w3", "v", ...bob),
  step("put", "w7", "v", ...bob),
  step("put", "zz", "v", ...bob),
  step("del", "w1", "w5", ...bob),
  { args: ["txn", ...bob], stdin: 'value("foo") = "bar"\n\nput w2 v\n\nput foo x\n\n' },
  { args: ["txn", ...bob], stdin: 'value("foo") = "bar"\n\nput w2 v\n\nget dir/a\n\n' },
  { args: ["user", "passwd", "bob", ...noPrompt, ...root], stdin: "bobpw2\n" },
  step("get", "w2", ...bob),
  step("get", "w2", "--user", "bob:bobpw2"),
  step("get", "foo", "--user", "alice:wrong"),
  step("get", "foo", "--user", "nobody:pw"),
  step("get", "foo", "--user", "tls:pw"),
  step("get", "foo"),
  step("role", "list", ...alice),
  step("user", "list", ...alice),
  step("user", "get", "alice", ...alice),
  step("user", "get", "bob", ...alice),
  step("role", "get", "reader", ...alice),
  step("role", "get", "writer", ...alice),
  step("user", "add", "mallory", ...noPrompt, "--new-user-password=m", ...alice),
  step("endpoint", "health", ...root),
  step("user", "delete", "root", ...root),
  step("user", "revoke-role", "root", "root", ...root),
  step("role", "delete", "root", ...root),
  step("role", "revoke-permission", "reader", "foo", ...root),
  step("role", "revoke-permission", "reader", "foo", ...root),
  step("role", "revoke-permission", "writer", "w1", "w5", ...root),
  step("get", "foo", ...alice),
  step("user", "revoke-role", "bob", "writer", ...root),
  step("user", "revoke-role", "bob", "writer", ...root),
  step("put", "dir/c", "3", ...bobAfter),
  step("user", "delete", "alice", ...root),
  step("user", "delete", "alice", ...root),
  step("get", "foo", ...alice),
  step("role", "delete", "reader", ...root),
  step("role", "delete", "reader", ...root),
  step("user", "get", "bob", ...root),
  step("user", "list", ...root),
  step("role", "list", ...root),
  step("auth", "disable", ...root),
  step("auth", "disable"),
  step("get", "", "--prefix"),
  step("user", "delete", "root"),
  step("role", "delete", "root"),
  step("user", "list"),
  step("role", "list"),
];

/** What one step printed, masked. */
export interface StepOutcome {
  readonly command: string;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Masks what legitimately differs between two servers and two runs: endpoints (ports), hex
 * member/cluster ids, raft terms, revisions in headers are kept (both servers start fresh),
 * and durations.
 */
export function maskOutput(text: string): string {
  return text
    .replace(/(https?:\/\/)?127\.0\.0\.1:\d+/g, "<endpoint>")
    .replace(/took = [0-9.]+[µnm]?s/g, "took = <duration>")
    .replace(/\b[0-9a-f]{16}\b/g, "<id>")
    .replace(/"raft_term":\d+/g, "\"raft_term\":<term>");
}

/** Drops the client's JSON log lines (retry warnings) from stderr. */
function userFacingStderr(stderr: string): string {
  return stderr.split("\n").filter((line) => !line.startsWith("{\"level\"")).join("\n");
}

/** Runs one step against `endpoints`. */
export function runStep(endpoints: string, scriptStep: ScriptStep): Promise<StepOutcome> {
  const args = ["--endpoints", endpoints, "--dial-timeout", "5s", "--command-timeout", "20s",
    ...scriptStep.args];
  return new Promise((resolve) => {
    const child = execFile(etcdctlBinary, args, { timeout: commandTimeoutMs, encoding: "utf8",
      env: { ...process.env, ETCDCTL_API: "3" } }, (error, stdout, stderr) => {
      const exitCode = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({
        command: scriptStep.args.join(" "),
        exitCode,
        stdout: maskOutput(stdout),
        stderr: maskOutput(userFacingStderr(stderr)),
      });
    });
    // etcdctl may exit before it reads stdin: a broken pipe is not a failure of the step.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(scriptStep.stdin ?? "");
  });
}

/** Runs the whole script in order. */
export async function runScript(
  endpoints: string,
  script: readonly ScriptStep[],
): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const scriptStep of script) outcomes.push(await runStep(endpoints, scriptStep));
  return outcomes;
}
