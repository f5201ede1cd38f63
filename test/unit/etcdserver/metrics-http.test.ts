// Goal: the metrics endpoints answer as Kubernetes and etcd do: /livez and /readyz "ok" when
// every check passes; a failing, throwing or hanging check makes /readyz 503 and is named
// ([-]name failed: reason); ?verbose lists every check; /readyz/<name> runs one check (404
// for an unknown name); /health is etcd's JSON; /metrics is the registry in the Prometheus
// text format. Also: gRPC status codes are labelled as go-grpc-prometheus spells them, and
// fsyncs are timed per directory (WAL, snapshots) and nowhere else.
// Method: a real MetricsHttp on a free loopback port; MemoryFileIo for the WAL timing.
import test from "ava";
import { Counter, Registry } from "prom-client";
import { GrpcStatus, silentLogger } from "../../../pkg/common/index.js";
import {
  GrpcCounters, HealthChecks, MetricsHttp, grpcCodeName, timedSyncIo,
} from "../../../pkg/etcdserver/index.js";
import { MemoryFileIo } from "../../../pkg/raftnode/index.js";
import { freePort } from "../../compat/support/etcd-process.js";
import { httpGet, parseExposition, sampleSum } from "../../e2e/pfsd-metrics-support.js";

async function serve(checks: HealthChecks, registry: Registry, healthy: boolean):
  Promise<{ base: string; close: () => Promise<void> }> {
  const port = await freePort();
  const http = await MetricsHttp.start({
    registry, checks, health: () => Promise.resolve(healthy), logger: silentLogger,
    urls: [`http://127.0.0.1:${port}`],
  });
  return { base: `http://127.0.0.1:${port}`, close: () => http.close() };
}

test("livez and readyz pass with every check and name the failing ones", async (t) => {
  const checks = new HealthChecks();
  const registry = new Registry();
  const server = await serve(checks, registry, true);
  let leader = false;
  try {
    t.deepEqual(await httpGet(`${server.base}/livez`), { status: 200, body: "ok\n" });
    const starting = await httpGet(`${server.base}/readyz`);
    t.deepEqual(starting, { status: 503,
      body: "[-]started failed: starting\nreadyz check failed\n" });
    checks.started();
    checks.addReady({ name: "leader", run: () => (leader ? undefined : "no leader") },
      { name: "thrown", run: () => { throw new Error("broken check"); } });
    const failing = await httpGet(`${server.base}/readyz`);
    t.is(failing.status, 503);
    t.is(failing.body, "[+]started ok\n[-]leader failed: no leader\n" +
      "[-]thrown failed: broken check\nreadyz check failed\n");
    t.deepEqual(await httpGet(`${server.base}/readyz/started`), { status: 200, body: "ok\n" });
    t.is((await httpGet(`${server.base}/readyz/leader`)).status, 503);
    t.is((await httpGet(`${server.base}/readyz/unknown`)).status, 404);
    t.is((await httpGet(`${server.base}/readyz/leader/extra`)).status, 404);
    leader = true;
    t.is((await httpGet(`${server.base}/readyz/leader?verbose`)).body,
      "[+]leader ok\nreadyz check passed\n");
    t.deepEqual(await httpGet(`${server.base}/livez?verbose`), { status: 200,
      body: "[+]ping ok\n[+]event-loop ok\nlivez check passed\n" });
    t.deepEqual(await httpGet(`${server.base}/health`),
      { status: 200, body: "{\"health\":\"true\"}" });
  } finally {
    await server.close();
    checks.close();
  }
});

test("a check that does not answer in time fails instead of hanging the probe", async (t) => {
  const checks = new HealthChecks();
  checks.started();
  checks.addReady({ name: "stuck", run: () => new Promise<undefined>(() => undefined) });
  const server = await serve(checks, new Registry(), false);
  try {
    const answer = await httpGet(`${server.base}/readyz`);
    t.is(answer.status, 503);
    t.regex(answer.body, /\[-\]stuck failed: no answer within \d+ ms\n/u);
    t.deepEqual(await httpGet(`${server.base}/health`),
      { status: 503, body: "{\"health\":\"false\"}" });
  } finally {
    await server.close();
    checks.close();
  }
});

test("/metrics serves the registry; gRPC counters use go-grpc-prometheus labels", async (t) => {
  const registry = new Registry();
  const counters = new GrpcCounters(registry);
  const label = { service: "etcdserverpb.KV", method: "Range", type: "unary" } as const;
  counters.started(label);
  counters.handled(label, GrpcStatus.NOT_FOUND);
  counters.started(label);
  counters.handled(label, GrpcStatus.OK);
  new Counter({ name: "pfs_test_total", help: "A test counter.", registers: [registry] }).inc(3);
  const checks = new HealthChecks();
  const server = await serve(checks, registry, true);
  try {
    const families = parseExposition((await httpGet(`${server.base}/metrics`)).body);
    t.is(sampleSum(families, "pfs_test_total"), 3);
    t.is(sampleSum(families, "grpc_server_started_total", { grpc_method: "Range" }), 2);
    t.is(sampleSum(families, "grpc_server_handled_total",
      { grpc_method: "Range", grpc_code: "NotFound", grpc_type: "unary",
        grpc_service: "etcdserverpb.KV" }), 1);
    t.is(sampleSum(families, "grpc_server_handled_total", { grpc_code: "OK" }), 1);
  } finally {
    await server.close();
    checks.close();
  }
  t.is(grpcCodeName(GrpcStatus.CANCELLED), "Canceled");
  t.is(grpcCodeName(GrpcStatus.DEADLINE_EXCEEDED), "DeadlineExceeded");
  t.is(grpcCodeName(GrpcStatus.UNAUTHENTICATED), "Unauthenticated");
  const names = new Set(Object.values(GrpcStatus).filter((code) => typeof code === "number")
    .map((code) => grpcCodeName(code)));
  t.is(names.size, 17, "every code has its own name");
});

test("fsyncs are timed into the callback of their directory, and only those", async (t) => {
  const synced: number[] = [];
  const snapshots: number[] = [];
  const io = timedSyncIo(new MemoryFileIo(), [
    { dir: "/data/member/wal", onSync: (seconds) => { synced.push(seconds); } },
    { dir: "/data/member/snap", onSync: (seconds) => { snapshots.push(seconds); } }]);
  await io.makeDir("/data/member/wal");
  await io.makeDir("/data/member/snap");
  const wal = await io.createFile("/data/member/wal/0.wal");
  await wal.append(new Uint8Array([1, 2, 3]));
  t.is(wal.sizeBytes, 3);
  await wal.sync();
  const snapshot = await io.createFile("/data/member/snap/1.snap");
  await snapshot.append(new Uint8Array([4]));
  await snapshot.sync();
  const walAgain = await io.openAppend("/data/member/wal/0.wal");
  await walAgain.sync();
  await io.makeDir("/data/member/wal2");
  const elsewhere = await io.createFile("/data/member/wal2/x");
  await elsewhere.sync();
  await elsewhere.close();
  t.is(synced.length, 2);
  t.is(snapshots.length, 1);
  t.true(synced.every((seconds) => seconds >= 0 && seconds < 60));
  await Promise.all([wal.close(), snapshot.close(), walAgain.close()]);
});
