// Goal: PfsClient against a real grpc-js server of pfs.API (an in-process fake that records
// what it receives): a put streams byte-identical data, header first, in bounded messages,
// and with backpressure (the source is never far ahead of what the server has read); a put
// the server refuses early stops reading its source; a failing source cancels the call; get
// pipes the stream into a Writable with the byte range on the wire; server errors keep their
// code and message; an unreachable server and a silent one fail with one clear message.
// Also the local side: a directory walked, packed as tar and extracted again is identical,
// and symlinks are refused. A get that fails part way (the server's error after some bytes)
// rejects with that error and leaves -o's old file or directory as it was, with no temporary
// behind; an extraction that refuses an entry cancels the get; data calls to a server that
// never speaks gRPC fail within the call deadline. Method: seeded random data (the seed is printed on failure),
// temp dirs removed afterwards.
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { type AddressInfo, type Socket, createServer } from "node:net";
import { tmpdir } from "node:os";
import { type Hash, createHash } from "node:crypto";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type ServerWritableStream, type ServerReadableStream, Server, ServerCredentials, status,
  type sendUnaryData,
} from "@grpc/grpc-js";
import test from "ava";
import tarStream from "tar-stream";
import { PfsError, Prng, systemSeed } from "../../../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import {
  PfsClient, clientLimits, tarOfFiles, walkDirectory, writeDirectoryAtomically,
  writeFileAtomically,
} from "../../../pkg/pfs/client/index.js";
import {
  type GetFileRequest, type GetFileResponse, type PutFileRequest, type PutFileResponse,
  type RepoInfoMessage, loadPfsService,
} from "../../../pkg/proto/index.js";
import { randomBytesFrom as randomBytes } from "./chunk-fixture.js";

const seed = systemSeed();
const mib = 1024 * 1024;

/** What the fake server saw of the PutFile calls and what it does on the others. */
interface Fake {
  received: number;
  /** The parts of each message, in order ("header", "data"). */
  parts: string[];
  header?: PutFileRequest["header"];
  dataBytesMax: number;
  digest: Hash;
  refusePut: boolean;
  getRequest?: GetFileRequest;
  getData: Buffer[];
  /** After getData, GetFile fails with this status (or holds the stream open: "hold"). */
  getEnd?: { code: number; details: string } | "hold";
  getCancelled: Promise<void>;
  cancelGet: () => void;
  putEnded: Promise<void>;
  endPut: () => void;
}

async function serve(fake: Fake): Promise<{ address: string; server: Server }> {
  const { service } = loadPfsService();
  const server = new Server({ "grpc.max_receive_message_length": 8 * mib });
  const unimplemented = (_call: unknown, callback: sendUnaryData<unknown>): void => {
    callback({ code: status.UNIMPLEMENTED, details: "not in the fake" });
  };
  const handlers: Record<string, unknown> = {};
  for (const name of Object.keys(service)) handlers[name] = unimplemented;
  handlers["InspectRepo"] = (): void => { /* never answers: the deadline must end it */ };
  handlers["CreateRepo"] = (_call: unknown, callback: sendUnaryData<unknown>): void => {
    callback({ code: status.ALREADY_EXISTS, details: 'repo "images" already exists' });
  };
  handlers["ListRepo"] = (_call: unknown, callback: sendUnaryData<unknown>): void => {
    const repo: RepoInfoMessage = { name: "images", description: "d", created_ms: "12" };
    callback(null, { repos: [repo] });
  };
  handlers["PutFile"] = (call: ServerReadableStream<PutFileRequest, PutFileResponse>,
    callback: sendUnaryData<PutFileResponse>): void => {
    call.on("cancelled", () => { fake.endPut(); });
    void (async () => {
      try {
        for await (const message of call) {
          const request = message as PutFileRequest;
          fake.parts.push(request.part);
          if (request.part === "header") fake.header = request.header;
          if (request.part === "header" && fake.refusePut) {
            callback({ code: status.FAILED_PRECONDITION, details: "commit is finished" });
            return;
          }
          if (request.part === "data") {
            fake.received += request.data.length;
            fake.digest.update(request.data);
            fake.dataBytesMax = Math.max(fake.dataBytesMax, request.data.length);
            await new Promise((wake) => setTimeout(wake, 2));
          }
        }
        callback(null, { commit: "c", files_written: 1, bytes_written: String(fake.received) });
      } catch {
        // cancelled by the client
      } finally {
        fake.endPut();
      }
    })();
  };
  handlers["GetFile"] = (call: ServerWritableStream<GetFileRequest, GetFileResponse>): void => {
    fake.getRequest = call.request;
    call.on("cancelled", () => { fake.cancelGet(); });
    for (const data of fake.getData) call.write({ data });
    if (fake.getEnd === "hold") return;
    if (fake.getEnd === undefined) call.end();
    else call.emit("error", fake.getEnd);
  };
  server.addService(service, handlers as never);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => {
      if (error === null) resolve(bound);
      else reject(error);
    });
  });
  return { address: `127.0.0.1:${port}`, server };
}

function newFake(): Fake {
  let endPut: () => void = () => undefined;
  const putEnded = new Promise<void>((resolve) => { endPut = resolve; });
  let cancelGet: () => void = () => undefined;
  const getCancelled = new Promise<void>((resolve) => { cancelGet = resolve; });
  return {
    received: 0, parts: [], dataBytesMax: 0, digest: createHash("sha256"), refusePut: false,
    getData: [], putEnded, endPut, getCancelled, cancelGet,
  };
}

async function withFake(body: (client: PfsClient, fake: Fake) => Promise<void>,
  callDeadlineMs?: number): Promise<void> {
  const fake = newFake();
  const { address, server } = await serve(fake);
  const client = new PfsClient({ address, ...(callDeadlineMs === undefined ? {} : { callDeadlineMs }) });
  try {
    await body(client, fake);
  } finally {
    client.close();
    server.forceShutdown();
  }
}

const header = {
  commit: { repo: "images", commit: "master" }, path: "/big", append: false, format: "RAW",
} as const;

test(`put streams byte-identical data in bounded messages with backpressure (seed ${seed})`,
  async (t) => {
    await withFake(async (client, fake) => {
      const prng = new Prng(seed);
      const produced = createHash("sha256");
      let producedBytes = 0;
      let aheadMax = 0;
      async function* source(): AsyncGenerator<Buffer> {
        for (let i = 0; i < 96; i++) {
          aheadMax = Math.max(aheadMax, producedBytes - fake.received);
          const piece = randomBytes(prng, 4 * (1 + prng.intBelow(mib / 2)));
          produced.update(piece);
          producedBytes += piece.length;
          yield piece;
          await Promise.resolve();
        }
      }
      const response = await client.putFile(header, source());
      t.is(response.bytes_written, String(producedBytes));
      t.is(fake.parts[0], "header");
      t.true(fake.parts.slice(1).every((part) => part === "data"));
      t.is(fake.header?.path, "/big");
      t.true(fake.dataBytesMax <= clientLimits.putMessageBytes);
      t.is(fake.digest.digest("hex"), produced.digest("hex"), `seed ${seed}`);
      // Without backpressure the whole ~96 MiB would be queued at once; with it, what is
      // ahead is bounded by the HTTP/2 windows and the server's own read buffer (16 messages).
      t.true(aheadMax < 40 * mib, `the source ran ${aheadMax} bytes ahead; seed ${seed}`);
    });
  });

test("a put the server refuses stops reading its source and keeps the server's error",
  async (t) => {
    await withFake(async (client, fake) => {
      fake.refusePut = true;
      let produced = 0;
      async function* endless(): AsyncGenerator<Buffer> {
        for (let i = 0; i < 4096; i++) {
          produced += mib;
          yield Buffer.alloc(mib);
          await Promise.resolve();
        }
      }
      const error = await t.throwsAsync(client.putFile(header, endless()), { instanceOf: PfsError });
      t.is(error.code, "FAILED_PRECONDITION");
      t.is(error.message, "commit is finished");
      t.true(produced < 512 * mib, `read ${produced} bytes of a refused put`);
    });
  });

test("a source that fails cancels the put with the source's error", async (t) => {
  await withFake(async (client, fake) => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from("partial");
      while (fake.received === 0) await new Promise((wake) => setTimeout(wake, 5));
      throw new Error("disk read failed");
    }
    await t.throwsAsync(client.putFile(header, failing()), { message: "disk read failed" });
    await fake.putEnded;
    t.is(fake.received, 7);
  });
});

test("get pipes the stream into a Writable, with the byte range on the wire", async (t) => {
  await withFake(async (client, fake) => {
    const prng = new Prng(seed);
    fake.getData = [randomBytes(prng, 1024), randomBytes(prng, 3 * mib), Buffer.from("end")];
    const sink = new PassThrough();
    const collected: Buffer[] = [];
    sink.on("data", (chunk: Buffer) => collected.push(chunk));
    let counted = 0;
    const bytes = await client.getFile(
      { commit: { repo: "images", commit: "master" }, path: "/x" }, sink,
      { offset: 5n, length: 9_007_199_254_740_993n }, (n) => { counted += n; });
    const expected = Buffer.concat(fake.getData);
    t.is(bytes, BigInt(expected.length));
    t.is(counted, expected.length);
    t.true(Buffer.concat(collected).equals(expected), `seed ${seed}`);
    t.is(fake.getRequest?.offset, "5");
    t.is(fake.getRequest?.length, "9007199254740993");
  });
});

test("server errors keep code and message; silent and unreachable servers fail clearly",
  async (t) => {
    await withFake(async (client) => {
      t.deepEqual((await client.listRepo()).map((repo) => repo.name), ["images"]);
      const exists = await t.throwsAsync(client.createRepo("images"), { instanceOf: PfsError });
      t.is(exists.code, "ALREADY_EXISTS");
      t.is(exists.message, 'repo "images" already exists');
      const silent = await t.throwsAsync(client.inspectRepo("images"), { instanceOf: PfsError });
      t.is(silent.code, "UNAVAILABLE");
      t.regex(silent.message, /^InspectRepo to 127\.0\.0\.1:\d+ did not answer before its deadline$/);
      const missing = await t.throwsAsync(client.listBranch("x"), { instanceOf: PfsError });
      t.regex(missing.message, /does not serve ListBranch/);
    }, 4_000);
    const nowhere = new PfsClient({ address: "127.0.0.1:1" });
    try {
      const error = await t.throwsAsync(nowhere.listRepo(), { instanceOf: PfsError });
      t.is(error.code, "UNAVAILABLE");
      t.regex(error.message, /^cannot reach the pfs API at 127\.0\.0\.1:1 \(ListRepo\): .*ECONNREFUSED/);
    } finally {
      nowhere.close();
    }
  });

test(`a directory walked, packed as tar and extracted again is identical (seed ${seed})`,
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "pfs-cli-client-"));
    try {
      const prng = new Prng(seed);
      const source = join(dir, "source");
      const names = ["a.csv", "sub/b.bin", "sub/deeper/c", "empty", "z/y/x.txt"];
      const contents = new Map<string, Buffer>();
      for (const name of names) {
        const bytes = name === "empty" ? Buffer.alloc(0) : randomBytes(prng, 4 * prng.intBelow(50_000));
        contents.set(name, bytes);
        await mkdir(join(source, name, ".."), { recursive: true });
        await writeFile(join(source, name), bytes);
      }
      const files = await walkDirectory(source);
      t.deepEqual(files.map((file) => file.relativePath), [...names].sort());
      const out = join(dir, "out");
      await mkdir(join(out, "stale"), { recursive: true });
      const written = await writeDirectoryAtomically(out,
        (sink) => pipeline(Readable.from(tarOfFiles(files)), sink));
      t.is(written, names.length);
      t.false((await readdir(out)).includes("stale"));
      for (const [name, bytes] of contents) {
        t.true((await readFile(join(out, name))).equals(bytes), `${name}; seed ${seed}`);
      }
      t.deepEqual((await readdir(dir)).sort(), ["out", "source"]);
      await writeFileAtomically(join(dir, "one"), (sink) =>
        pipeline(Readable.from([Buffer.from("hello")]), sink));
      t.is(await readFile(join(dir, "one"), "utf8"), "hello");
      await symlink("/etc/passwd", join(source, "sub", "link"));
      const refused = await t.throwsAsync(walkDirectory(source), { instanceOf: PfsError });
      t.is(refused.code, "INVALID_ARGUMENT");
      t.regex(refused.message, /link is a symbolic link; pfs puts only regular files/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

/** A tar stream of `entries` (name → content), cut to its first `keepBytes` when given. */
async function tarBytes(entries: readonly { name: string; data?: string; symlink?: string }[],
  keepBytes?: number): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const entry of entries) {
    if (entry.symlink === undefined) pack.entry({ name: entry.name }, entry.data ?? "");
    else pack.entry({ name: entry.name, type: "symlink", linkname: entry.symlink });
  }
  pack.finalize();
  const pieces: Buffer[] = [];
  for await (const piece of pack as AsyncIterable<Buffer>) pieces.push(piece);
  const whole = Buffer.concat(pieces);
  return keepBytes === undefined ? whole : whole.subarray(0, keepBytes);
}

const fileAt = { commit: { repo: "images", commit: "master" }, path: "/x" };

test(`a get that fails part way leaves -o as it was, file or directory (seed ${seed})`,
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "pfs-cli-partial-"));
    try {
      await withFake(async (client, fake) => {
        fake.getData = [randomBytes(new Prng(seed), 3 * mib)];
        fake.getEnd = { code: status.DATA_LOSS, details: "chunk 3 fails its checksum" };
        const out = join(dir, "file.out");
        await writeFile(out, "the old copy");
        const error = await t.throwsAsync(
          writeFileAtomically(out, (sink) => client.getFile(fileAt, sink)),
          { instanceOf: PfsError });
        t.is(error.code, "DATA_CORRUPTED");
        t.is(error.message, "chunk 3 fails its checksum");
        t.is(await readFile(out, "utf8"), "the old copy");
        const tree = join(dir, "tree");
        await mkdir(join(tree, "kept"), { recursive: true });
        fake.getData = [await tarBytes([{ name: "a", data: "aaaa" }, { name: "b", data: "bb" }],
          1024 + 512)];
        const partial = await t.throwsAsync(
          writeDirectoryAtomically(tree, (sink) => client.getFile(fileAt, sink)),
          { instanceOf: PfsError });
        t.is(partial.message, "chunk 3 fails its checksum");
        t.deepEqual(await readdir(tree), ["kept"]);
        t.deepEqual((await readdir(dir)).sort(), ["file.out", "tree"], "no temporary left");
        // An output whose directory is missing fails before any byte is asked for.
        let asked = false;
        const nowhere = join(dir, "missing", "out");
        const refused = await t.throwsAsync(writeFileAtomically(nowhere, async () => {
          asked = true;
          await Promise.resolve();
        }), { instanceOf: PfsError });
        t.is(refused.message, `cannot write ${nowhere} (ENOENT)`);
        t.false(asked);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

test("an extraction that refuses an entry cancels the get and keeps the refusal", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pfs-cli-refuse-"));
  try {
    await withFake(async (client, fake) => {
      fake.getData = [await tarBytes([{ name: "ok", data: "fine" },
        { name: "evil", symlink: "/etc/passwd" }])];
      fake.getEnd = "hold";
      const error = await t.throwsAsync(
        writeDirectoryAtomically(join(dir, "tree"), (sink) => client.getFile(fileAt, sink)),
        { instanceOf: PfsError });
      t.regex(error.message, /^invalid tar entry "evil": it is a symlink/);
      await fake.getCancelled;
      t.deepEqual(await readdir(dir), [], "no temporary left");
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("data calls to a server that never speaks gRPC fail within the call deadline",
  async (t) => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => { sockets.push(socket); });
    await new Promise<void>((resolve) => { silent.listen(0, "127.0.0.1", resolve); });
    const { port } = silent.address() as AddressInfo;
    const client = new PfsClient({ address: `127.0.0.1:${port}`, callDeadlineMs: 500 });
    try {
      const get = await t.throwsAsync(client.getFile(fileAt, new PassThrough()),
        { instanceOf: PfsError });
      t.is(get.code, "UNAVAILABLE");
      t.regex(get.message, /\(GetFile\): no gRPC connection within 500 ms$/);
      const put = await t.throwsAsync(client.putFile(header, Readable.from([Buffer.from("x")])),
        { instanceOf: PfsError });
      t.regex(put.message, /\(PutFile\): no gRPC connection within 500 ms$/);
      await t.throwsAsync(client.waitCommit({ repo: "images", commit: "master" }),
        { message: /\(WaitCommit\): no gRPC connection/ });
      const subscription = client.subscribeCommit("images", "master");
      await t.throwsAsync(async () => {
        for await (const commit of subscription.commits) t.fail(commit.id);
      }, { message: /\(SubscribeCommit\): no gRPC connection/ });
    } finally {
      client.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
