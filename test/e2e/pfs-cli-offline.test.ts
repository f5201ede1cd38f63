// Goal: the `pfs` CLI's failure contract against servers that misbehave, which a real cluster
// will not do on demand: (1) an address that accepts TCP but never answers gRPC makes
// `pfs list repo` fail with one clear line within its bounded default deadline, and sooner
// with --deadline-ms or PFS_DEADLINE_MS, and a get (which has no deadline of its own) fails as
// fast; (2) a GetFile that fails part way, after real bytes, exits non-zero with the server's
// message as the one line on stderr, and `-o` (file or directory) keeps what it held, with no
// temporary left beside it: the partial copy is written to a temporary and removed, never
// renamed into place.
// Method: `node dist/cmd/pfs.js` as a child process against a silent `net` server and against
// an in-process grpc-js fake of pfs.API (InspectFile answers, GetFile streams then fails).
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, type Socket, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Server, ServerCredentials, type ServerWritableStream, type sendUnaryData, status,
} from "@grpc/grpc-js";
import test from "ava";
import tar from "tar-stream";
import {
  type FileInfoMessage, type GetFileRequest, type GetFileResponse, loadPfsService,
} from "../../pkg/proto/index.js";
import { oneErrorLine, runPfs } from "./pfs-cli-suite.js";

let workDir = "";
let silentAddress = "";
let fakeAddress = "";
const sockets: Socket[] = [];
const silent = createServer((socket) => { sockets.push(socket); });
const fake = new Server();

/** What the fake serves, by path: its type, and the bytes GetFile sends before it fails. */
const served = new Map<string, { type: FileInfoMessage["type"]; bytes: Buffer }>();

function serveFake(): Promise<number> {
  const { service } = loadPfsService();
  const handlers: Record<string, unknown> = {};
  for (const name of Object.keys(service)) {
    handlers[name] = (_call: unknown, callback: sendUnaryData<unknown>): void => {
      callback({ code: status.UNIMPLEMENTED, details: "not in the fake" });
    };
  }
  handlers["InspectFile"] = (call: { request: { file: { path: string } } },
    callback: sendUnaryData<FileInfoMessage>): void => {
    const file = served.get(call.request.file.path);
    callback(null, { path: call.request.file.path, type: file?.type ?? "FILE",
      size_bytes: String(4 * (file?.bytes.length ?? 0)) } as FileInfoMessage);
  };
  handlers["GetFile"] = (call: ServerWritableStream<GetFileRequest, GetFileResponse>): void => {
    call.write({ data: served.get(call.request.file?.path ?? "")?.bytes ?? Buffer.alloc(0) });
    setTimeout(() => {
      call.emit("error", { code: status.DATA_LOSS, details: "chunk 7 fails its checksum" });
    }, 50);
  };
  fake.addService(service, handlers as never);
  return new Promise((resolve, reject) => {
    fake.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => {
      if (error === null) resolve(port);
      else reject(error);
    });
  });
}

test.before(async () => {
  workDir = await mkdtemp(join(tmpdir(), "pfs-cli-offline-"));
  await new Promise<void>((resolve) => { silent.listen(0, "127.0.0.1", resolve); });
  silentAddress = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
  fakeAddress = `127.0.0.1:${await serveFake()}`;
});

test.after.always(async () => {
  for (const socket of sockets) socket.destroy();
  silent.close();
  fake.forceShutdown();
  await rm(workDir, { recursive: true, force: true });
});

test("a server that never answers: list repo fails within the default deadline", async (t) => {
  const began = Date.now();
  const run = await runPfs(["list", "repo", "--address", silentAddress]);
  const tookMs = Date.now() - began;
  t.is(run.code, 1);
  t.is(run.stdout, "");
  // Which bound ends it first, the call's deadline or gRPC's connect timeout, is grpc-js's
  // choice; either way it is one line that names the call and the address.
  const expected = [`pfs: ListRepo to ${silentAddress} did not answer before its deadline\n`,
    `pfs: cannot reach the pfs API at ${silentAddress} (ListRepo): `];
  t.true(run.stderr === expected[0] || (run.stderr.startsWith(expected[1] ?? "") &&
    oneErrorLine.test(run.stderr)), run.stderr);
  // The default is 30 s; 90 s is the generous bound a loaded machine still meets.
  t.true(tookMs < 90_000, `took ${tookMs} ms`);
});

test("--deadline-ms and PFS_DEADLINE_MS shorten it, for gets too", async (t) => {
  const dir = join(workDir, "never");
  await mkdir(dir);
  const out = join(dir, "out");
  const runs = await Promise.all([
    runPfs(["list", "repo", "--address", silentAddress, "--deadline-ms", "500"]),
    runPfs(["inspect", "repo", "r", "--address", silentAddress],
      { env: { PFS_DEADLINE_MS: "500" } }),
    runPfs(["get", "file", "r@master:/", "-r", "-o", out, "--deadline-ms", "500",
      "--address", silentAddress]),
    runPfs(["put", "file", "r@master:/x", "-f", "-", "--deadline-ms", "500",
      "--address", silentAddress], { input: Buffer.from("x") }),
  ]);
  for (const run of runs) {
    t.is(run.code, 1);
    t.is(run.stdout, "");
    t.regex(run.stderr, oneErrorLine);
  }
  t.regex(runs[2].stderr, /\(GetFile\): no gRPC connection within 500 ms\n$/);
  t.deepEqual(await readdir(dir), [], "the get left nothing behind");
});

test("a get that fails part way: one line, non-zero, -o keeps the old file", async (t) => {
  served.set("/big", { type: "FILE", bytes: Buffer.alloc(256 * 1024, 7) });
  const dir = join(workDir, "file");
  await mkdir(dir);
  const out = join(dir, "out.bin");
  await writeFile(out, "the previous, complete copy");
  const toFile = await runPfs(["get", "file", "r@master:/big", "-o", out,
    "--address", fakeAddress]);
  t.is(toFile.code, 1);
  t.is(toFile.stdout, "");
  t.is(toFile.stderr, "pfs: chunk 7 fails its checksum\n");
  t.is(await readFile(out, "utf8"), "the previous, complete copy");
  t.deepEqual(await readdir(dir), ["out.bin"], "no temporary left");
  // To stdout the bytes already sent cannot be taken back, but the exit says it failed.
  const toStdout = await runPfs(["get", "file", "r@master:/big", "--address", fakeAddress]);
  t.is(toStdout.code, 1);
  t.is(toStdout.stderr, "pfs: chunk 7 fails its checksum\n");
});

test("a directory get that fails part way: -o keeps the old directory", async (t) => {
  const pack = tar.pack();
  pack.entry({ name: "a.txt" }, "a complete entry");
  pack.entry({ name: "b.bin" }, Buffer.alloc(64 * 1024, 1));
  pack.finalize();
  const pieces: Buffer[] = [];
  for await (const piece of pack as AsyncIterable<Buffer>) pieces.push(piece);
  served.set("/dir", { type: "DIR", bytes: Buffer.concat(pieces).subarray(0, 2048) });
  const dir = join(workDir, "tree");
  const out = join(dir, "out");
  await mkdir(join(out, "kept"), { recursive: true });
  const run = await runPfs(["get", "file", "r@master:/dir", "-r", "-o", out,
    "--address", fakeAddress]);
  t.is(run.code, 1);
  t.is(run.stdout, "");
  t.is(run.stderr, "pfs: chunk 7 fails its checksum\n");
  t.deepEqual(await readdir(out), ["kept"]);
  t.deepEqual(await readdir(dir), ["out"], "no temporary left");
});
