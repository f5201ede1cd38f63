// Goal: log lines carry the node id and component, go to the given stream (stderr in
// production, never stdout), are JSON by default with bigints made safe, and are readable
// text when asked.
import { PassThrough } from "node:stream";
import test from "ava";
import { MemoryLogger, createLogger } from "../../../pkg/common/index.js";

async function capture(format: "json" | "text", write: (log: ReturnType<typeof createLogger>) => void) {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  const logger = createLogger({ nodeId: "pfsd-0", component: "test", level: "debug", format, stream });
  write(logger);
  await new Promise((resolve) => setImmediate(resolve));
  return chunks.join("").trim().split("\n");
}

test("JSON lines carry node, component, level, message and safe fields", async (t) => {
  const lines = await capture("json", (log) => {
    log.info("hello", { revision: 12n, data: new Uint8Array([1, 2]) });
    log.child({ component: "raft" }).warn("term changed", { term: 3 });
  });
  t.is(lines.length, 2);
  const first = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
  t.like(first, { level: "info", message: "hello", node: "pfsd-0", component: "test", revision: "12", data: "AQI=" });
  t.truthy(first["timestamp"]);
  const second = JSON.parse(lines[1] ?? "") as Record<string, unknown>;
  t.like(second, { level: "warn", component: "raft", node: "pfsd-0", term: 3 });
});

test("text lines are readable and name node/component", async (t) => {
  const lines = await capture("text", (log) => { log.error("disk full", { path: "/data" }); });
  t.regex(lines[0] ?? "", /ERROR \[pfsd-0\/test\] disk full path=\/data$/);
});

test("levels below the threshold are dropped", async (t) => {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => { text += chunk.toString("utf8"); });
  const logger = createLogger({ nodeId: "n", component: "c", level: "warn", format: "json", stream });
  logger.info("quiet");
  logger.warn("loud");
  await new Promise((resolve) => setImmediate(resolve));
  t.false(text.includes("quiet"));
  t.true(text.includes("loud"));
});

test("the memory logger shares records with its children", (t) => {
  const logger = new MemoryLogger({ node: "n" });
  logger.child({ component: "x" }).debug("m", { a: 1n });
  t.deepEqual(logger.records, [{ level: "debug", message: "m", fields: { node: "n", component: "x", a: "1" } }]);
});
