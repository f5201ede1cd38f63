// Goal: a pfs command whose reader goes away (`pfs get file … | head`) ends as a Unix tool
// killed by SIGPIPE does: at once, exit status 141, nothing on stderr — not "write EPIPE" with
// a failure status, and not a stack trace (Node ignores SIGPIPE, so the write fails instead).
// Method: one real pfsd (embedded etcd, --shards 2); a 4 MiB file; the real CLI's stdout read
// once and then closed, as `head -c` does.
import { spawn } from "node:child_process";
import { join } from "node:path";
import test from "ava";
import { type MemberCluster, startCluster } from "../support/member-cluster.js";
import { PfsClient, pfsAddresses } from "./pfs-api-support.js";

const pfsScript = join(import.meta.dirname, "../../cmd/pfs.js");

let cluster: MemberCluster;
let address: string;

test.before(async () => {
  cluster = await startCluster({ kind: "pfsd", size: 1,
    extraArgs: ["--pfs-address", "127.0.0.1:0", "--shards", "2"] });
  const [first] = await pfsAddresses([cluster.endpoints], 1);
  if (first === undefined) throw new Error("no pfs address");
  address = first;
  const client = new PfsClient(address);
  try {
    await client.call("CreateRepo", { name: "pipe" });
    await client.putFile({ repo: "pipe", commit: "master", path: "/big" },
      [Buffer.alloc(4 * 1024 * 1024, 7)]);
  } finally {
    client.close();
  }
});

test.after.always(async () => {
  await cluster.stop();
});

/** Runs `pfs args…`, closes its stdout after the first chunk; its exit status and stderr. */
function runUntilFirstChunk(args: readonly string[]):
  Promise<{ status: number; stderr: string; read: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [pfsScript, ...args, "--address", address],
      { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let read = 0;
    child.stderr.on("data", (piece: Buffer) => { stderr += piece.toString(); });
    child.stdout.once("data", (piece: Buffer) => {
      read = piece.length;
      child.stdout.destroy();
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      resolve({ status: code ?? (signal === null ? -1 : 128), stderr, read });
    });
  });
}

test("pfs get file into a closed pipe: exit 141, nothing on stderr", async (t) => {
  const result = await runUntilFirstChunk(["get", "file", "pipe@master:/big"]);
  t.true(result.read > 0);
  t.is(result.stderr, "");
  t.is(result.status, 141);
});
