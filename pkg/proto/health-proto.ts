/**
 * The gRPC health-checking contract (pkg/proto/health.proto, package grpc.health.v1), loaded
 * with the same options as etcd's files so one server can serve both.
 */
import { fileURLToPath } from "node:url";
import { type PackageDefinition, loadSync } from "@grpc/proto-loader";
import { etcdProtoLoaderOptions } from "./etcd-protos.js";

/** The .proto file, read from the source tree at run time (tsc does not copy it). */
export const healthProtoFile: string = fileURLToPath(
  new URL("../../../pkg/proto/health.proto", import.meta.url),
);

/** The fully qualified service name, part of its wire path (/grpc.health.v1.Health/Check). */
export const healthServiceName = "grpc.health.v1.Health";

/** Loads grpc.health.v1 as a proto-loader package definition. */
export function loadHealthPackageDefinition(): PackageDefinition {
  return loadSync(healthProtoFile, etcdProtoLoaderOptions);
}
