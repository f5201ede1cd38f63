// Goal: PfsClient against a real grpc-js server of pfs.API (an in-process fake that records
// what it receives): a put streams byte-identical data, header first, in bounded messages,
// and with backpressure (the source is never far ahead of what the server has read); a put
// the server refuses early stops reading its source; a failing source cancels the call; get
// pipes the stream into a Writable with the byte range on the wire; server errors keep their
// code and message; an unreachable server and a silent one fail with one clear message.
// Also the local side: a directory walked, packed as tar and extracted again is identical,
// and symlinks are refused. Method: seeded random data (the seed is printed on failure),
// temp dirs removed afterwards.
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
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
    for (const data of fake.getData) call.write({ data });
    call.end();
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
  return {
    received: 0, parts: [], dataBytesMax: 0, digest: createHash("sha256"), refusePut: false,
    getData: [], putEnded, endPut,
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
    }, 1_500);
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
