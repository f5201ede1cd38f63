// Goal: pfsd refuses pfs API TLS files it cannot use before it starts anything: a missing
// --cert-file or a --trusted-ca-file without PEM exits 2 with the flag in the message.
// Method: real pfsd processes with --pfs-address in temp data dirs (removed afterwards); the
// member never starts, so no port is taken.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { makeTlsCerts } from "../support/tls-certs.js";

const pfsdScript = join(import.meta.dirname, "../../cmd/pfsd.js");

function pfsd(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [pfsdScript, ...args], { timeout: 60_000 },
      (error, _stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1,
          stderr });
      });
  });
}

test("pfsd exits 2 naming the flag for an unreadable or non-PEM pfs API TLS file",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "pfs-tls-pfsd-"));
    const certs = await makeTlsCerts(dir);
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const common = ["--pfs-address", "127.0.0.1:0", "--listen-client-urls",
      "https://127.0.0.1:0", "--log-level", "error"];
    const missing = await pfsd([...common, "--data-dir", join(dir, "a"), "--cert-file",
      join(dir, "absent.pem"), "--key-file", certs.keyFile]);
    t.is(missing.code, 2, missing.stderr);
    t.regex(missing.stderr, /--cert-file: cannot read .*absent\.pem/);
    const notPem = join(dir, "ca.txt");
    await writeFile(notPem, "not a certificate\n");
    const garbage = await pfsd([...common, "--data-dir", join(dir, "b"), "--cert-file",
      certs.certFile, "--key-file", certs.keyFile, "--trusted-ca-file", notPem,
      "--client-cert-auth=true"]);
    t.is(garbage.code, 2, garbage.stderr);
    t.regex(garbage.stderr, /--trusted-ca-file: .*no PEM/);
  });
