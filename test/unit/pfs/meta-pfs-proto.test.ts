// Goal: pkg/proto/pfs.proto loads, pfs.API has exactly the RPCs pfsMethods lists with their
// streaming kinds and wire paths, messages decode in the form the typed interfaces describe
// (int64 as exact decimal strings, enums as names, the PutFile oneof named), and the typed
// handlers serve a real client-streaming PutFile and server-streaming SubscribeCommit.
// Method: a grpc-js server and client on a free loopback port, closed afterwards.
import {
  type ServiceError, Server, ServerCredentials, credentials, type ClientReadableStream,
  type ClientWritableStream,
} from "@grpc/grpc-js";
import test from "ava";
// eslint-disable-next-line pfs/boundaries -- pkg/proto/index.ts does not export pfs-proto yet
import {
  type CommitInfoMessage, type PfsServiceHandlers, type PutFileRequest, type PutFileResponse,
  loadPfsService, pfsMethods, pfsServiceName,
} from "../../../pkg/proto/pfs-proto.js";

test("pfs.API has every RPC of pfsMethods with its kind and wire path", (t) => {
  const { service } = loadPfsService();
  t.is(Object.keys(service).length, Object.keys(pfsMethods).length);
  t.is(service["StartCommit"]?.path, `/${pfsServiceName}/StartCommit`);
  t.true(service["PutFile"]?.requestStream);
  t.false(service["PutFile"]?.responseStream);
  t.true(service["GetFile"]?.responseStream);
  t.true(service["SubscribeCommit"]?.responseStream);
  t.false(service["WaitCommit"]?.responseStream);
});

const commit: CommitInfoMessage = {
  repo: "r", id: "a".repeat(32), branch: "master", parent: "", state: "FINISHED",
  description: "", started_ms: "1700000000000", finished_ms: "1700000000001",
  size_bytes: "9007199254740993", error: "", provenance: ["in@" + "b".repeat(32)],
};

test("messages decode as typed: int64 exact strings, enum names, named oneofs", (t) => {
  const { service } = loadPfsService();
  const inspect = service["InspectCommit"];
  if (inspect === undefined) return t.fail("no InspectCommit");
  t.deepEqual(inspect.responseDeserialize(inspect.responseSerialize(commit)), commit);
  const put = service["PutFile"];
  if (put === undefined) return t.fail("no PutFile");
  const header = put.requestDeserialize(put.requestSerialize({
    header: { commit: { repo: "r", commit: "master" }, path: "/a", append: true, format: "TAR" },
  })) as PutFileRequest;
  t.is(header.part, "header");
  if (header.part === "header") {
    t.deepEqual(header.header, {
      commit: { repo: "r", commit: "master" }, path: "/a", append: true, format: "TAR",
    });
  }
  const data = put.requestDeserialize(put.requestSerialize({ data: Buffer.from("xyz") })) as
    PutFileRequest;
  t.is(data.part, "data");
  t.deepEqual(data.data, Buffer.from("xyz"));
});

test("typed handlers serve a client-streaming PutFile and a server-streaming subscribe",
  async (t) => {
    const { service, Client } = loadPfsService();
    const handlers: Partial<PfsServiceHandlers> = {
      PutFile: (call, callback) => {
        let bytes = 0;
        let path = "";
        call.on("data", (message: PutFileRequest) => {
          if (message.part === "header") path = message.header.path;
          else bytes += message.data.length;
        });
        call.on("end", () => {
          callback(null, { commit: path, files_written: 1, bytes_written: String(bytes) });
        });
      },
      SubscribeCommit: (call) => {
        for (let i = 0; i < 3; i += 1) call.write({ ...commit, description: `${call.request.branch} ${i}` });
        call.end();
      },
    };
    const server = new Server();
    server.addService(service, handlers);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => {
        if (error === null) resolve(bound);
        else reject(error);
      });
    });
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const response = await new Promise<PutFileResponse>((resolve, reject) => {
        const call = (client["PutFile"] as (cb: (e: ServiceError | null, r?: PutFileResponse) => void) =>
          ClientWritableStream<unknown>)((error, result) => {
          if (error !== null) reject(error);
          else if (result !== undefined) resolve(result);
        });
        call.write({ header: { commit: { repo: "r", commit: "master" }, path: "/f" } });
        call.write({ data: Buffer.alloc(1000) });
        call.write({ data: Buffer.alloc(24) });
        call.end();
      });
      t.deepEqual(response, { commit: "/f", files_written: 1, bytes_written: "1024" });
      const stream = (client["SubscribeCommit"] as (request: unknown) =>
        ClientReadableStream<CommitInfoMessage>)({ repo: "r", branch: "dev", new_only: false });
      const seen: string[] = [];
      for await (const message of stream) seen.push((message as CommitInfoMessage).description);
      t.deepEqual(seen, ["dev 0", "dev 1", "dev 2"]);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
