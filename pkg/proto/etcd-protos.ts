/**
 * Loads etcd's vendored v3 .proto files (pkg/proto/etcd, from etcd 3.4.23) with the options
 * the etcd3 client uses: field names as written (keepCase), int64 as decimal strings (longs:
 * String; STYLE rule 10: convert to bigint in one codec), enums as names, defaults filled,
 * oneofs named. The files are read from the source tree at run time (tsc does not copy them).
 */
import { fileURLToPath } from "node:url";
import { type GrpcObject, loadPackageDefinition } from "@grpc/grpc-js";
import { type Options, loadSync } from "@grpc/proto-loader";

/** The include directory: imports inside etcd's files are `etcd/...` relative to it. */
export const etcdProtoRoot: string = fileURLToPath(
  new URL("../../../pkg/proto/etcd/", import.meta.url),
);

/** The files that define the eight etcd services; the rest load through their imports. */
export const etcdProtoFiles: readonly string[] = [
  "etcd/etcdserver/etcdserverpb/rpc.proto",
  "etcd/etcdserver/api/v3election/v3electionpb/v3election.proto",
  "etcd/etcdserver/api/v3lock/v3lockpb/v3lock.proto",
];

/** proto-loader options, as etcd3 1.1.2 uses them. */
export const etcdProtoLoaderOptions: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [etcdProtoRoot],
};

/** The fully qualified etcd services, whose names are part of the wire paths. */
export const etcdServiceNames = [
  "etcdserverpb.KV",
  "etcdserverpb.Watch",
  "etcdserverpb.Lease",
  "etcdserverpb.Cluster",
  "etcdserverpb.Maintenance",
  "etcdserverpb.Auth",
  "v3electionpb.Election",
  "v3lockpb.Lock",
] as const;

/** Loads the etcd packages (`etcdserverpb`, `mvccpb`, `authpb`, `v3electionpb`, `v3lockpb`). */
export function loadEtcdProtos(): GrpcObject {
  const definition = loadSync([...etcdProtoFiles], etcdProtoLoaderOptions);
  return loadPackageDefinition(definition);
}
