/**
 * The pfs API contract as the client sees it: a re-export of pkg/proto's pfs-proto (the typed
 * messages and loader), kept in one file so the deep import lives in one place.
 */
// pkg/proto/index.ts does not export pfs-proto yet; this is the one place that reaches in.
export * from "../../proto/pfs-proto.js";
