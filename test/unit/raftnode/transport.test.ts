// Goal: the peer transports deliver encoded messages in order, batch them into frames, stream
// snapshots in chunks, refuse other clusters, push back on a full receiver, reconnect after
// a peer restarts, and do all of it over mutual TLS too.
// Method: real gRPC transports on 127.0.0.1 port 0 in one process (certificates made by
// openssl in a temp dir), payloads of arbitrary bytes; every wait is event-driven and fails
// only past a generous bound.
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import {
  SystemClock, formatHexId, limits, nodeId, silentLogger, type NodeId,
} from "../../../pkg/common/index.js";
import {
  GrpcTransport, MemoryNetwork, type TransportHandler, type TransportTls,
} from "../../../pkg/raftnode/index.js";

const waitBoundMs = 15_000;

/** Records what a transport's handler is given and lets a test wait for it. */
class Recorder implements TransportHandler {
  readonly received: { from: NodeId; bytes: Uint8Array }[] = [];
  readonly unreachables: NodeId[] = [];
  readonly snapshots: { peer: NodeId; delivered: boolean }[] = [];
  /** Returned by receive when set: the transport must stop reading until it resolves. */
  pushBack: Promise<void> | undefined;
  #waiters: (() => void)[] = [];

  receive(from: NodeId, messages: readonly Uint8Array[]): Promise<void> | undefined {
    for (const bytes of messages) this.received.push({ from, bytes });
    this.#wake();
    return this.pushBack;
  }

  unreachable(peer: NodeId): void {
    this.unreachables.push(peer);
    this.#wake();
  }

  snapshotDone(peer: NodeId, delivered: boolean): void {
    this.snapshots.push({ peer, delivered });
    this.#wake();
  }

  /** Resolves when `condition` holds; rejects past the bound. */
  async until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + waitBoundMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

const clusterId = 0xc105n;
const idA = nodeId(1n);
const idB = nodeId(2n);

function transport(
  localId: NodeId,
  peers: Map<NodeId, string>,
  extra: { clusterId?: bigint; tls?: TransportTls; port?: number } = {},
): GrpcTransport {
  return new GrpcTransport({
    localId,
    clusterId: extra.clusterId ?? clusterId,
    listenAddress: `127.0.0.1:${extra.port ?? 0}`,
    peers,
    ...(extra.tls === undefined ? {} : { tls: extra.tls }),
    clock: new SystemClock(),
    logger: silentLogger,
  });
}

/** Starts B, then A pointing at B (and B at A). */
async function pair(options: { tls?: TransportTls; tlsA?: TransportTls } = {}) {
  const recorderB = new Recorder();
  const b = transport(idB, new Map(), options.tls === undefined ? {} : { tls: options.tls });
  await b.start(recorderB);
  const recorderA = new Recorder();
  const tlsA = options.tlsA ?? options.tls;
  const a = transport(idA, new Map([[idB, `127.0.0.1:${b.port}`]]),
    tlsA === undefined ? {} : { tls: tlsA });
  await a.start(recorderA);
  b.setPeer(idA, `127.0.0.1:${a.port}`);
  return { a, b, recorderA, recorderB };
}

function payload(index: number): Uint8Array {
  return new TextEncoder().encode(`message-${index}`);
}

function texts(recorder: Recorder): string[] {
  return recorder.received.map((m) => new TextDecoder().decode(m.bytes));
}

test("messages arrive in order, both ways, with the sender's id", async (t) => {
  const { a, b, recorderA, recorderB } = await pair();
  t.teardown(async () => { await a.close(); await b.close(); });
  for (let i = 0; i < 200; i += 1) a.send([{ to: idB, bytes: payload(i), snapshot: false }]);
  a.send(Array.from({ length: 300 }, (_, i) => ({ to: idB, bytes: payload(200 + i), snapshot: false })));
  b.send([{ to: idA, bytes: payload(-1), snapshot: false }]);
  await recorderB.until(() => recorderB.received.length >= 500, "500 messages at B");
  await recorderA.until(() => recorderA.received.length >= 1, "1 message at A");
  t.deepEqual(texts(recorderB), Array.from({ length: 500 }, (_, i) => `message-${i}`));
  t.true(recorderB.received.every((m) => m.from === idA));
  t.deepEqual(texts(recorderA), ["message--1"]);
  t.is(recorderA.received[0]?.from, idB);
  t.deepEqual(recorderA.unreachables, []);
});

test("a snapshot is streamed in chunks and delivered whole", async (t) => {
  const { a, b, recorderA, recorderB } = await pair();
  t.teardown(async () => { await a.close(); await b.close(); });
  const big = randomBytes(Math.floor(2.5 * limits.raftSnapshotChunkBytes) + 17);
  a.send([
    { to: idB, bytes: payload(1), snapshot: false },
    { to: idB, bytes: big, snapshot: true },
  ]);
  await recorderA.until(() => recorderA.snapshots.length === 1, "snapshot report");
  await recorderB.until(() => recorderB.received.length === 2, "two messages at B");
  t.deepEqual(recorderA.snapshots, [{ peer: idB, delivered: true }]);
  const snapshot = recorderB.received.find((m) => m.bytes.length === big.length);
  t.truthy(snapshot);
  t.true(Buffer.from(snapshot?.bytes ?? []).equals(big));
});

test("a second snapshot to the same peer while one streams is refused", async (t) => {
  const { a, b, recorderA } = await pair();
  t.teardown(async () => { await a.close(); await b.close(); });
  const big = randomBytes(4 * limits.raftSnapshotChunkBytes);
  a.send([{ to: idB, bytes: big, snapshot: true }, { to: idB, bytes: big, snapshot: true }]);
  await recorderA.until(() => recorderA.snapshots.length === 2, "two snapshot reports");
  t.deepEqual(recorderA.snapshots, [
    { peer: idB, delivered: false },
    { peer: idB, delivered: true },
  ]);
});

test("a member of another cluster is refused and reported unreachable", async (t) => {
  const recorderB = new Recorder();
  const b = transport(idB, new Map(), { clusterId: 0xbadn });
  await b.start(recorderB);
  const recorderA = new Recorder();
  const a = transport(idA, new Map([[idB, `127.0.0.1:${b.port}`]]));
  await a.start(recorderA);
  t.teardown(async () => { await a.close(); await b.close(); });
  a.send([{ to: idB, bytes: payload(1), snapshot: false }]);
  a.send([{ to: idB, bytes: randomBytes(100), snapshot: true }]);
  await recorderA.until(() => recorderA.unreachables.length >= 2 &&
    recorderA.snapshots.length === 1, "refusals");
  t.deepEqual(recorderA.snapshots, [{ peer: idB, delivered: false }]);
  t.true(recorderA.unreachables.every((id) => id === idB));
  t.deepEqual(recorderB.received, []);
});

test("past the per-peer queue bound, messages are dropped and reported", async (t) => {
  const { a, b, recorderA, recorderB } = await pair();
  t.teardown(async () => { await a.close(); await b.close(); });
  const total = limits.raftPeerQueueMessagesMax + 100;
  a.send(Array.from({ length: total }, (_, i) => ({ to: idB, bytes: payload(i), snapshot: false })));
  t.is(recorderA.unreachables.length, 100);
  await recorderB.until(() => recorderB.received.length === limits.raftPeerQueueMessagesMax,
    "the queued messages");
  t.deepEqual(texts(recorderB),
    Array.from({ length: limits.raftPeerQueueMessagesMax }, (_, i) => `message-${i}`));
});

test("messages to an unknown peer are dropped and reported", async (t) => {
  const { a, b, recorderA } = await pair();
  t.teardown(async () => { await a.close(); await b.close(); });
  a.send([{ to: nodeId(9n), bytes: payload(1), snapshot: false }]);
  t.deepEqual(recorderA.unreachables, [nodeId(9n)]);
});

test("a full receiver stops the stream until it has room", async (t) => {
  const { a, b, recorderA, recorderB } = await pair();
  t.teardown(async () => { await a.close(); await b.close(); });
  let release = (): void => undefined;
  recorderB.pushBack = new Promise<void>((resolve) => { release = resolve; });
  let released = false;
  const receivedWhileFull: number[] = [];
  const inner = recorderB.receive.bind(recorderB);
  recorderB.receive = (from, messages) => {
    if (!released && recorderB.received.length > 0) receivedWhileFull.push(messages.length);
    return inner(from, messages);
  };
  a.send([{ to: idB, bytes: payload(0), snapshot: false }]);
  await recorderB.until(() => recorderB.received.length === 1, "first frame");
  for (let i = 1; i < 100; i += 1) a.send([{ to: idB, bytes: payload(i), snapshot: false }]);
  // A round trip on the other link gives the paused frames time to arrive at B's socket.
  for (let i = 0; i < 5; i += 1) {
    b.send([{ to: idA, bytes: payload(i), snapshot: false }]);
    await recorderA.until(() => recorderA.received.length === i + 1, "ping");
  }
  t.deepEqual(receivedWhileFull, []);
  recorderB.pushBack = undefined;
  released = true;
  release();
  await recorderB.until(() => recorderB.received.length === 100, "all frames after release");
  t.deepEqual(texts(recorderB), Array.from({ length: 100 }, (_, i) => `message-${i}`));
});

test("a link reconnects with backoff after the peer restarts", async (t) => {
  const recorderB = new Recorder();
  let b = transport(idB, new Map());
  await b.start(recorderB);
  const port = b.port;
  const recorderA = new Recorder();
  const a = transport(idA, new Map([[idB, `127.0.0.1:${port}`]]));
  await a.start(recorderA);
  t.teardown(async () => { await a.close(); await b.close(); });
  a.send([{ to: idB, bytes: payload(0), snapshot: false }]);
  await recorderB.until(() => recorderB.received.length === 1, "first message");
  await b.close();
  // Raft keeps sending (heartbeats); every send is dropped and reported until the peer is back.
  await recorderA.until(() => {
    a.send([{ to: idB, bytes: payload(1), snapshot: false }]);
    return recorderA.unreachables.length >= 2;
  }, "unreachable reports while the peer is down");
  const recorderB2 = new Recorder();
  b = transport(idB, new Map(), { port });
  await b.start(recorderB2);
  await recorderB2.until(() => {
    a.send([{ to: idB, bytes: payload(2), snapshot: false }]);
    return recorderB2.received.length > 0;
  }, "delivery after the restart");
  t.true(texts(recorderB2).every((text) => text === "message-2"));
});

test("close is idempotent and stops delivery", async (t) => {
  const { a, b, recorderB } = await pair();
  await b.close();
  await b.close();
  a.send([{ to: idB, bytes: payload(1), snapshot: false }]);
  await a.close();
  a.send([{ to: idB, bytes: payload(2), snapshot: false }]);
  t.deepEqual(recorderB.received, []);
});

/** Makes a CA and a certificate for 127.0.0.1 signed by it, with openssl. */
async function makeTls(directory: string, name: string): Promise<TransportTls> {
  const at = (file: string): string => join(directory, `${name}-${file}`);
  const run = (args: string[]): void => { execFileSync("openssl", args, { stdio: "ignore" }); };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run(["req", "-x509", ...ec, "-keyout", at("ca.key"), "-out", at("ca.pem"), "-days", "1",
    "-subj", `/CN=${name}-ca`]);
  run(["req", ...ec, "-keyout", at("node.key"), "-out", at("node.csr"), "-subj", `/CN=${name}`]);
  await writeFile(at("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n" +
    "extendedKeyUsage=serverAuth,clientAuth\n");
  run(["x509", "-req", "-in", at("node.csr"), "-CA", at("ca.pem"), "-CAkey", at("ca.key"),
    "-CAcreateserial", "-out", at("node.pem"), "-days", "1", "-extfile", at("ext.cnf")]);
  return {
    caPem: await readFile(at("ca.pem")),
    certPem: await readFile(at("node.pem")),
    keyPem: await readFile(at("node.key")),
  };
}

test("mutual TLS: same CA talks, a stranger's certificate is refused", async (t) => {
  const directory = await mkdtemp(join(tmpdir(), "pfs-transport-tls-"));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const tls = await makeTls(directory, "cluster");
  const stranger = await makeTls(directory, "stranger");
  const { a, b, recorderA, recorderB } = await pair({ tls });
  t.teardown(async () => { await a.close(); await b.close(); });
  a.send([{ to: idB, bytes: payload(7), snapshot: false }]);
  a.send([{ to: idB, bytes: randomBytes(100_000), snapshot: true }]);
  await recorderB.until(() => recorderB.received.length === 2, "TLS delivery");
  await recorderA.until(() => recorderA.snapshots.length === 1, "TLS snapshot");
  t.deepEqual(recorderA.snapshots, [{ peer: idB, delivered: true }]);

  const recorderC = new Recorder();
  const c = transport(nodeId(3n), new Map([[idB, `127.0.0.1:${b.port}`]]), { tls: stranger });
  await c.start(recorderC);
  const plain = transport(nodeId(4n), new Map([[idB, `127.0.0.1:${b.port}`]]));
  const recorderPlain = new Recorder();
  await plain.start(recorderPlain);
  t.teardown(async () => { await c.close(); await plain.close(); });
  c.send([{ to: idB, bytes: payload(8), snapshot: false }]);
  plain.send([{ to: idB, bytes: payload(9), snapshot: false }]);
  await recorderC.until(() => recorderC.unreachables.length > 0, "stranger refused");
  await recorderPlain.until(() => recorderPlain.unreachables.length > 0, "plaintext refused");
  t.is(recorderB.received.length, 2);
  t.true(recorderB.received.every((m) => m.from === idA), formatHexId(idA));
});

test("memory transport: in order, partitions drop and report", async (t) => {
  const network = new MemoryNetwork();
  const a = network.transport(idA);
  const b = network.transport(idB);
  const recorderA = new Recorder();
  const recorderB = new Recorder();
  await a.start(recorderA);
  await b.start(recorderB);
  a.send([0, 1, 2].map((i) => ({ to: idB, bytes: payload(i), snapshot: i === 2 })));
  await recorderB.until(() => recorderB.received.length === 3, "memory delivery");
  t.deepEqual(texts(recorderB), ["message-0", "message-1", "message-2"]);
  t.deepEqual(recorderA.snapshots, [{ peer: idB, delivered: true }]);
  network.partition(idA, idB);
  a.send([{ to: idB, bytes: payload(3), snapshot: false }]);
  await recorderA.until(() => recorderA.unreachables.length === 1, "partition report");
  network.heal();
  await b.close();
  a.send([{ to: idB, bytes: payload(4), snapshot: false }]);
  await recorderA.until(() => recorderA.unreachables.length === 2, "closed peer report");
  t.is(recorderB.received.length, 3);
  await a.close();
});

test("a peer that goes silent without a reset is found by keepalive", async (t) => {
  // A stopped process keeps its sockets open and the kernel keeps acknowledging TCP, so only
  // the HTTP/2 keepalive ping can tell the link is dead.
  t.timeout(60_000);
  const directory = await mkdtemp(join(tmpdir(), "pfs-transport-silent-"));
  const script = fileURLToPath(new URL("../../support/raft-test-node.js", import.meta.url));
  const child = spawn(process.execPath, [script, "--id", "9", "--members", "9",
    "--data", directory], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = once(child, "exit");
  t.teardown(async () => {
    child.kill("SIGKILL");
    await exited;
    await rm(directory, { recursive: true, force: true });
  });
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as string[];
  const { peerPort } = JSON.parse(line ?? "{}") as { peerPort: number };
  const recorder = new Recorder();
  const a = transport(idA, new Map([[nodeId(9n), `127.0.0.1:${peerPort}`]]),
    { clusterId: 0x7e57n });
  await a.start(recorder);
  t.teardown(() => a.close());
  const ping = (): void => { a.send([{ to: nodeId(9n), bytes: payload(0), snapshot: false }]); };
  ping();
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.deepEqual(recorder.unreachables, [], "the live peer took the stream");
  child.kill("SIGSTOP");
  const stoppedAt = Date.now();
  await recorder.until(() => {
    ping();
    return recorder.unreachables.length > 0;
  }, "keepalive to break the link");
  const detectedMs = Date.now() - stoppedAt;
  t.log(`silent peer detected after ${detectedMs} ms`);
  t.true(detectedMs < waitBoundMs);
  child.kill("SIGCONT");
});
