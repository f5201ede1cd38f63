// A runnable Raft member for end-to-end tests and the benchmark: a RaftNode over the gRPC
// transport, the disk WAL and snapshot files, and the checksum-list state machine, with a
// tiny HTTP API for clients.
//
// Usage: node dist/test/support/raft-test-node.js --id 1 --members 1,2,3 --data DIR
//          [--tick-ms 100] [--snapshot-entries N] [--seed N]
// Both ports are chosen by the OS (127.0.0.1:0). When ready, one JSON line goes to stdout:
//   {"ready":true,"id":"1","peerPort":P,"clientPort":C}
// Peer addresses arrive on stdin, one per line: "peer <id> <host:port>" (sent again when a
// peer restarts on a new port). HTTP API (JSON answers):
//   POST /propose (body: payload bytes) → 200 {length, checksum} | 503 {code, message}
//   GET /read → ReadIndex barrier, then 200 {length, checksum} | 503 {code, message}
//   GET /status → 200 {id, leader, role, term, commit, applied, snapshotIndex, length,
//                 checksum, syncCount, persistedEntryCount}
//   GET /items → 200 [payload as UTF-8, ...] in apply order
// A fatal driver error exits 1; SIGTERM closes cleanly and exits 0.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import {
  PfsError, SystemClock, createLogger, nodeId, silentLogger, type NodeId,
} from "../../pkg/common/index.js";
import {
  ChecksumListStateMachine, DiskNodeStorage, GrpcTransport, NodeFileIo, RaftNode,
} from "../../pkg/raftnode/index.js";

const clusterId = 0x7e57n;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      id: { type: "string" },
      members: { type: "string" },
      data: { type: "string" },
      "tick-ms": { type: "string", default: "100" },
      "snapshot-entries": { type: "string", default: "10000" },
      seed: { type: "string", default: "1" },
    },
  });
  if (values.id === undefined || values.members === undefined || values.data === undefined) {
    throw new Error("usage: --id N --members 1,2,3 --data DIR");
  }
  return {
    id: nodeId(BigInt(values.id)),
    members: values.members.split(",").map((m) => nodeId(BigInt(m))),
    data: values.data,
    tickMs: Number(values["tick-ms"]),
    snapshotEntries: Number(values["snapshot-entries"]),
    seed: Number(values.seed),
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body, (_key, value: unknown) =>
    typeof value === "bigint" ? value.toString() : value));
}

function failure(response: ServerResponse, error: unknown): void {
  if (error instanceof PfsError) reply(response, 503, { code: error.code, message: error.message });
  else reply(response, 500, { code: "UNKNOWN", message: String(error) });
}

async function main(): Promise<void> {
  const options = parseOptions();
  const logger = process.env["PFS_TEST_NODE_LOG"] === "1"
    ? createLogger({ nodeId: String(options.id), component: "raft", level: "info", format: "json" })
    : silentLogger;
  const clock = new SystemClock();
  const transport = new GrpcTransport({
    localId: options.id, clusterId, listenAddress: "127.0.0.1:0", peers: new Map(),
    clock, logger,
  });
  const storage = await DiskNodeStorage.open({
    walDir: join(options.data, "wal"), snapshotDir: join(options.data, "snap"),
    io: new NodeFileIo(), logger, initialVoters: options.members,
  });
  const machine = new ChecksumListStateMachine();
  const node = new RaftNode({
    id: options.id, storage, transport, stateMachine: machine, clock, logger,
    seed: options.seed, tickMs: options.tickMs, snapshotEntries: options.snapshotEntries,
    snapshotCatchUpEntries: Math.max(1, Math.floor(options.snapshotEntries / 2)),
    onFatal: (error) => {
      process.stderr.write(`raft-test-node ${options.id}: fatal: ${String(error)}\n`);
      process.exit(1);
    },
  });
  await node.start();
  const server = createServer((request, response) => {
    void handle(node, machine, request, response).catch((error: unknown) => {
      failure(response, error);
    });
  });
  await new Promise<void>((resolve) => { server.listen(0, "127.0.0.1", resolve); });
  const address = server.address();
  const clientPort = typeof address === "object" && address !== null ? address.port : 0;
  listenForPeers(options.id, transport);
  process.stdout.write(`${JSON.stringify({
    ready: true, id: String(options.id), peerPort: transport.port, clientPort,
  })}\n`);
  process.once("SIGTERM", () => {
    server.close();
    void node.close().then(() => process.exit(0));
  });
}

function listenForPeers(self: NodeId, transport: GrpcTransport): void {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const [word, id, address] = line.trim().split(/\s+/);
    if (word !== "peer" || id === undefined || address === undefined) return;
    const peer = nodeId(BigInt(id));
    if (peer !== self) transport.setPeer(peer, address);
  });
}

async function handle(node: RaftNode<{ length: number; checksum: string }>,
  machine: ChecksumListStateMachine, request: IncomingMessage, response: ServerResponse) {
  const url = request.url ?? "/";
  if (request.method === "POST" && url === "/propose") {
    const body = await readBody(request);
    try {
      reply(response, 200, await node.propose(body));
    } catch (error) {
      failure(response, error);
    }
  } else if (url === "/read") {
    try {
      await node.readIndex();
      reply(response, 200, { length: machine.length, checksum: machine.checksum });
    } catch (error) {
      failure(response, error);
    }
  } else if (url === "/status") {
    reply(response, 200, { ...node.status(), length: machine.length, checksum: machine.checksum });
  } else if (url === "/items") {
    reply(response, 200, machine.items.map((item) => Buffer.from(item).toString("utf8")));
  } else {
    reply(response, 404, { code: "NOT_FOUND" });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`raft-test-node: ${error instanceof Error ? error.stack ?? "" : String(error)}\n`);
  process.exit(1);
});
