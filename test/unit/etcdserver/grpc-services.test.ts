// Goal: the etcd gRPC services speak etcd's wire protocol over any EtcdBackend, independent of
// the replicated member. Method: an in-memory backend (one MvccStore, one WatchHub, a map of
// leases; always leader) behind a real EtcdGrpcServer on a free loopback port, driven by raw
// grpc-js calls and by the real etcdctl 3.4 — headers, errors, watch ordering, keepalive,
// snapshot and the Lock/Election services.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Client, credentials, Metadata } from "@grpc/grpc-js";
import test from "ava";
import {
  EtcdError,
  type LeaseId,
  type Result,
  leaseId,
  nodeId,
  silentLogger,
} from "../../../pkg/common/index.js";
import {
  type AlarmMember,
  type CallContext,
  type EtcdBackend,
  EtcdGrpcServer,
  type Member,
  type MemberStatus,
  type MvccEvent,
  MvccStore,
  WatchHub,
  type WatchStream,
} from "../../../pkg/etcdserver/index.js";
import { etcdService, freePort, unary } from "../../compat/support/etcd-process.js";

const run = promisify(execFile);

/** A grpc-js call error. */
type GrpcError = Error & { code: number; details: string };

function unwrap<T>(result: Result<T, unknown>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

// The fake answers synchronously behind the backend's async contract.
/* eslint-disable @typescript-eslint/require-await */

/** One member that is always the leader, with no Raft: the store applies at once. */
class MemoryBackend implements EtcdBackend {
  readonly clusterId = 0xcdf818194e3a8c32n;
  readonly memberId = nodeId(0x8e9e05c52164694dn);
  readonly leases = new Map<bigint, number>();
  readonly store = new MvccStore({ leaseExists: (id) => this.leases.has(id) });
  readonly hub = new WatchHub(this.store);
  readonly #ready = new Map<WatchStream, () => void>();
  #nextLease = 0x694d77aa9e38260fn;
  leader = true;

  raftTerm(): number { return 2; }
  revision(): number { return this.store.revision; }
  hasLeader(): boolean { return this.leader; }
  isLearner(): boolean { return false; }

  #published<R>(applied: { response: R; events: readonly MvccEvent[] }): R {
    this.hub.publish(applied.events);
    for (const onReady of this.#ready.values()) onReady();
    return applied.response;
  }

  range = async (_: unknown, request: Parameters<MvccStore["range"]>[0]) => unwrap(this.store.range(request));
  put = async (_: unknown, request: Parameters<MvccStore["put"]>[0]) => this.#published(unwrap(this.store.put(request)));
  deleteRange = async (_: unknown, request: Parameters<MvccStore["deleteRange"]>[0]) => this.#published(unwrap(this.store.deleteRange(request)));
  txn = async (_: unknown, request: Parameters<MvccStore["txn"]>[0]) => this.#published(unwrap(this.store.txn(request)));
  compact = async (_: unknown, request: Parameters<MvccStore["compact"]>[0]) => unwrap(this.store.compact(request));

  async leaseGrant(_: unknown, id: LeaseId, ttl: bigint) {
    const chosen = id === 0n ? leaseId(this.#nextLease++) : id;
    if (this.leases.has(chosen)) throw new EtcdError("ETCD_LEASE_EXIST");
    const ttlSeconds = Math.max(2, Number(ttl));
    this.leases.set(chosen, ttlSeconds);
    return { id: chosen, ttlSeconds };
  }
  async leaseRevoke(_: unknown, id: LeaseId) {
    if (!this.leases.delete(id)) throw new EtcdError("ETCD_LEASE_NOT_FOUND");
    const keys = this.store.keysAttachedTo(id);
    if (keys.length > 0) this.#published({ response: null, events: this.store.deleteKeys(keys).events });
  }
  async leaseKeepAlive(id: LeaseId) { return this.leases.get(id) ?? 0; }
  async leaseTimeToLive(id: LeaseId, keys: boolean) {
    const ttl = this.leases.get(id);
    if (ttl === undefined) return { id, ttlSeconds: -1, grantedTtlSeconds: 0, keys: [] };
    return { id, ttlSeconds: ttl - 1, grantedTtlSeconds: ttl, keys: keys ? this.store.keysAttachedTo(id) : [] };
  }
  async leaseLeases() { return [...this.leases.keys()].map((id) => leaseId(id)); }

  watchOpen(onReady: () => void): WatchStream {
    const stream = this.hub.openStream();
    this.#ready.set(stream, onReady);
    return stream;
  }
  watchCreate(_: unknown, stream: WatchStream, request: Parameters<WatchStream["create"]>[0]) {
    stream.create(request);
    this.#ready.get(stream)?.();
    return undefined;
  }
  watchClose(stream: WatchStream): void {
    this.#ready.delete(stream);
    this.hub.closeStream(stream);
  }
  onLeaderLost(): () => void { return () => undefined; }

  async memberList(): Promise<Member[]> {
    return [{ id: this.memberId, name: "m1", peerUrls: ["http://127.0.0.1:2380"], clientUrls: [this.clientUrl], isLearner: false }];
  }
  clientUrl = "";
  memberAdd(): Promise<Member> { throw new EtcdError("ETCD_UNHEALTHY"); }
  memberRemove(): Promise<void> { throw new EtcdError("ETCD_MEMBER_NOT_FOUND"); }
  memberUpdate(): Promise<void> { throw new EtcdError("ETCD_MEMBER_NOT_FOUND"); }
  memberPromote(): Promise<void> { throw new EtcdError("ETCD_MEMBER_NOT_LEARNER"); }
  async status(): Promise<MemberStatus> {
    return {
      version: "3.4.23", dbSize: 4096, dbSizeInUse: 4096, leader: this.memberId, raftIndex: 5,
      raftTerm: 2, raftAppliedIndex: 5, isLearner: false, errors: [], revision: this.store.revision,
    };
  }
  async hashKv(_context: CallContext, revision: number) {
    return { hash: 1, compactRevision: Math.max(0, this.store.compactRevision), revision: revision || this.store.revision };
  }
  async hash() { return 1; }
  async snapshot() { return this.store.snapshot(); }
  async alarm(): Promise<AlarmMember[]> { return []; }
  async defragment() { return undefined; }
  async moveLeader(): Promise<void> { throw new EtcdError("ETCD_BAD_LEADER_TRANSFEREE"); }
  authEnable(): Promise<void> { throw new EtcdError("ETCD_ROOT_USER_NOT_EXIST"); }
  authDisable = async () => undefined;
  authenticate(): Promise<string> { throw new EtcdError("ETCD_AUTH_NOT_ENABLED"); }
  userAdd = async () => undefined;
  userGet = async () => ["root"];
  userList = async () => ["root"];
  userDelete = async () => undefined;
  userChangePassword = async () => undefined;
  userGrantRole = async () => undefined;
  userRevokeRole = async () => undefined;
  roleAdd = async () => undefined;
  roleGet = async () => [];
  roleList = async () => ["root"];
  roleDelete = async () => undefined;
  roleGrantPermission = async () => undefined;
  roleRevokePermission = async () => undefined;
}

/* eslint-enable @typescript-eslint/require-await */

interface Fixture {
  readonly backend: MemoryBackend;
  readonly server: EtcdGrpcServer;
  readonly address: string;
  client(service: string): Client;
  close(): Promise<void>;
}

async function start(): Promise<Fixture> {
  const backend = new MemoryBackend();
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  backend.clientUrl = `http://${address}`;
  const server = await EtcdGrpcServer.start({
    backend, logger: silentLogger, requestBytesMax: 1_572_864,
    listeners: [{ url: backend.clientUrl, address, tls: undefined }],
  });
  const clients: Client[] = [];
  return {
    backend, server, address,
    client(service) {
      const Ctor = etcdService(service);
      const client = new Ctor(address, credentials.createInsecure());
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.close();
      await server.close(100);
    },
  };
}

async function etcdctl(address: string, ...args: string[]): Promise<string> {
  const { stdout } = await run("/usr/bin/etcdctl", ["--endpoints", address, ...args], {
    env: { ...process.env, ETCDCTL_API: "3" }, timeout: 20_000,
  });
  return stdout;
}

test("KV: a fresh store is at revision 1; writes, errors and headers as etcd", async (t) => {
  const f = await start();
  try {
    const kv = f.client("etcdserverpb.KV");
    const fresh = await unary(kv, "Range", { key: Buffer.from("a") }) as { header: Record<string, string>; count: string };
    t.like(fresh.header, { revision: "1", raft_term: "2", member_id: "10276657743932975437", cluster_id: "14841639068965178418" });
    t.is(fresh.count, "0");
    const put = await unary(kv, "Put", { key: Buffer.from("a"), value: Buffer.from("1") }) as { header: Record<string, string> };
    t.is(put.header["revision"], "2");
    const empty = await t.throwsAsync<GrpcError>(unary(kv, "Range", { key: Buffer.alloc(0) }));
    t.is(empty.code, 3);
    t.is(empty.details, "etcdserver: key is not provided");
    const big = await t.throwsAsync<GrpcError>(unary(kv, "Put", { key: Buffer.from("b"), value: Buffer.alloc(1_600_000) }));
    t.is(big.code, 3);
    t.is(big.details, "etcdserver: request is too large");
    await unary(kv, "Put", { key: Buffer.from("b"), value: Buffer.alloc(1_400_000) });
    const missing = await t.throwsAsync<GrpcError>(unary(kv, "Put", { key: Buffer.from("c"), lease: "5" }));
    t.is(missing.code, 5);
    t.is(missing.details, "etcdserver: requested lease not found");
    const metadata = new Metadata();
    metadata.set("hasleader", "true");
    f.backend.leader = false;
    const noLeader = await t.throwsAsync<GrpcError>(new Promise((resolve, reject) => {
      (kv as unknown as { Range: (r: object, m: Metadata, cb: (e: Error | null, v: unknown) => void) => void })
        .Range({ key: Buffer.from("a") }, metadata, (e, v) => { if (e) reject(e); else resolve(v); });
    }));
    f.backend.leader = true;
    t.is(noLeader.code, 14);
    t.is(noLeader.details, "etcdserver: no leader");
  } finally {
    await f.close();
  }
});

test("etcdctl: put, get, del, txn, lease, member list, endpoint status/health, snapshot", async (t) => {
  const f = await start();
  const dir = await mkdtemp(join(tmpdir(), "pfs-grpc-unit-"));
  try {
    t.is(await etcdctl(f.address, "put", "foo", "bar"), "OK\n");
    t.is(await etcdctl(f.address, "get", "foo"), "foo\nbar\n");
    t.regex(await etcdctl(f.address, "get", "foo", "-w", "json"), /"revision":2/);
    t.is(await etcdctl(f.address, "del", "foo"), "1\n");
    const grant = await etcdctl(f.address, "lease", "grant", "10");
    t.regex(grant, /^lease 694d77aa9e38260f granted with TTL\(10s\)\n$/);
    t.regex(await etcdctl(f.address, "lease", "keep-alive", "--once", "694d77aa9e38260f"),
      /lease 694d77aa9e38260f keepalived with TTL\(10\)/);
    t.regex(await etcdctl(f.address, "lease", "list"), /694d77aa9e38260f/);
    t.regex(await etcdctl(f.address, "member", "list"), /8e9e05c52164694d, started, m1/);
    t.regex(await etcdctl(f.address, "endpoint", "status"), /8e9e05c52164694d, 3\.4\.23/);
    // A direct dial sends the whole URL as :authority, which Node's HTTP/2 alone would refuse.
    t.regex(await etcdctl(`http://${f.address}`, "endpoint", "status"), /8e9e05c52164694d, 3\.4\.23/);
    t.regex(await etcdctl(`http://${f.address}`, "endpoint", "hashkv"), /, 1\n$/);
    t.regex(await etcdctl(`http://${f.address}`, "put", "x", "y"), /OK/);
    t.regex(await run("/usr/bin/etcdctl", ["--endpoints", f.address, "endpoint", "health"]).then((r) => r.stdout + r.stderr),
      /is healthy: successfully committed proposal/);
    const file = join(dir, "snap.db");
    const saved = await run("/usr/bin/etcdctl", ["--endpoints", f.address, "snapshot", "save", file]);
    t.regex(saved.stdout, /Snapshot saved at/);
    t.is((await stat(file)).size % 512, 32);
    t.true((await readFile(file)).length > 32);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await f.close();
  }
});

test("Watch: created first, then events in order; cancel is answered and silences the id", async (t) => {
  const f = await start();
  try {
    const Ctor = etcdService("etcdserverpb.Watch");
    const client = new Ctor(f.address, credentials.createInsecure());
    const call = (client as unknown as { Watch: () => NodeJS.ReadWriteStream & { write(m: object): boolean; end(): void; cancel(): void } }).Watch();
    const responses: Record<string, unknown>[] = [];
    call.on("data", (r: Record<string, unknown>) => responses.push(r));
    call.on("error", () => undefined);
    call.write({ create_request: { key: Buffer.from("w"), start_revision: "0" } });
    const kv = f.client("etcdserverpb.KV");
    const waitFor = async (count: number): Promise<void> => {
      for (let i = 0; i < 200 && responses.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    };
    await waitFor(1);
    for (let i = 0; i < 5; i++) await unary(kv, "Put", { key: Buffer.from("w"), value: Buffer.from(String(i)) });
    await waitFor(6);
    call.write({ cancel_request: { watch_id: "0" } });
    await waitFor(7);
    await unary(kv, "Put", { key: Buffer.from("w"), value: Buffer.from("late") });
    await new Promise((resolve) => setTimeout(resolve, 200));
    call.cancel();
    client.close();
    t.like(responses[0], { created: true, watch_id: "0" });
    const events = responses.slice(1, 6).map((r) => ((r["events"] as { kv: { value: Buffer } }[])[0]?.kv.value.toString()));
    t.deepEqual(events, ["0", "1", "2", "3", "4"]);
    t.like(responses[6], { canceled: true, watch_id: "0" });
    t.is(responses.length, 7);
  } finally {
    await f.close();
  }
});

test("Lock and Election services: lock, unlock, campaign, leader, errors as Unknown", async (t) => {
  const f = await start();
  try {
    const lock = f.client("v3lockpb.Lock");
    const locked = await unary(lock, "Lock", { name: Buffer.from("mylock") }) as { key: Buffer; header: { revision: string } };
    t.regex(locked.key.toString(), /^mylock\/[0-9a-f]+$/);
    t.is(locked.header.revision, "2");
    const second = unary(lock, "Lock", { name: Buffer.from("mylock") }) as Promise<{ key: Buffer }>;
    await new Promise((resolve) => setTimeout(resolve, 200));
    await unary(lock, "Unlock", { key: locked.key });
    t.not((await second).key.toString(), locked.key.toString());
    const election = f.client("v3electionpb.Election");
    const noLeader = await t.throwsAsync<GrpcError>(unary(election, "Leader", { name: Buffer.from("e") }));
    t.is(noLeader.code, 2);
    t.is(noLeader.details, "election: no leader");
    const missing = await t.throwsAsync<GrpcError>(unary(election, "Resign", {}));
    t.is(missing.details, "\"leader\" field must be provided");
    const won = await unary(election, "Campaign", { name: Buffer.from("e"), value: Buffer.from("v1") }) as { leader: { key: Buffer; rev: string; lease: string } };
    const leader = await unary(election, "Leader", { name: Buffer.from("e") }) as { kv: { value: Buffer } };
    t.is(leader.kv.value.toString(), "v1");
    await unary(election, "Proclaim", { leader: won.leader, value: Buffer.from("v2") });
    const after = await unary(election, "Leader", { name: Buffer.from("e") }) as { kv: { value: Buffer } };
    t.is(after.kv.value.toString(), "v2");
    const stale = await t.throwsAsync<GrpcError>(unary(election, "Proclaim", { leader: { ...won.leader, rev: "1" }, value: Buffer.from("x") }));
    t.is(stale.details, "election: not leader");
    await unary(election, "Resign", { leader: won.leader });
  } finally {
    await f.close();
  }
});
