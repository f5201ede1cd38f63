/**
 * The pfs API contract as the client sees it: pkg/proto's typed pfs.API messages and loader,
 * re-exported so the client's files name one source.
 */
export * from "../../proto/index.js";
