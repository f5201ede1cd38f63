/** The pfs version, read once from package.json (dist/pkg/common → the project root). */
import { readFileSync } from "node:fs";

interface PackageJson {
  readonly version?: unknown;
}

function readVersion(): string {
  const file = new URL("../../../package.json", import.meta.url);
  const parsed = JSON.parse(readFileSync(file, "utf8")) as PackageJson;
  return typeof parsed.version === "string" ? parsed.version : "0.0.0";
}

/** pfs's semantic version. */
export const pfsVersion: string = readVersion();

/** The etcd API version pfsd reports in Maintenance.Status (clients reject below 3.2). */
export const etcdApiVersion = "3.4.23";
