// Goal: a failed pfs call reads as what went wrong. An UNAVAILABLE the pfs server itself sent
// (it carries the `pfs-code` trailer: a shard master changing, the store down) is the server's
// message alone; only a transport failure (no trailer) says "cannot reach the pfs API at …",
// with the TLS hint when the channel looks mismatched. Other statuses keep the server's text.
// Method: ServiceErrors as grpc-js hands them to a callback, with and without the trailer.
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import test from "ava";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import { clientError } from "../../../pkg/pfs/client/index.js";

function serviceError(code: status, details: string, pfsCode?: string): ServiceError {
  const metadata = new Metadata();
  if (pfsCode !== undefined) metadata.set("pfs-code", pfsCode);
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`),
    { code, details, metadata });
}

test("the server's own UNAVAILABLE is its message, without 'cannot reach' or a TLS hint", (t) => {
  const text = "node node1 has not confirmed its term as master of shard 2 for 3069 ms";
  const error = clientError(serviceError(status.UNAVAILABLE, text, "UNAVAILABLE"), "PutFile",
    "127.0.0.1:1", false);
  t.is(error.code, "UNAVAILABLE");
  t.is(error.message, text);
});

test("a transport failure names the address and the call, with the TLS hint", (t) => {
  const details = "No connection established. Last error: Error: connect ECONNREFUSED " +
    "127.0.0.1:1. Resolution note: ";
  const error = clientError(serviceError(status.UNAVAILABLE, details), "PutFile",
    "127.0.0.1:1", false);
  t.is(error.code, "UNAVAILABLE");
  t.is(error.message,
    "cannot reach the pfs API at 127.0.0.1:1 (PutFile): connect ECONNREFUSED 127.0.0.1:1");
  // A plaintext channel the server dropped (it serves TLS): the hint names --cacert.
  const dropped = clientError(serviceError(status.UNAVAILABLE, "Connection dropped"), "PutFile",
    "127.0.0.1:1", false);
  t.regex(dropped.message, /^cannot reach the pfs API at 127\.0\.0\.1:1 \(PutFile\): /);
  t.regex(dropped.message, /give --cacert/);
});

test("other statuses keep the server's message and map to the pfs code", (t) => {
  const error = clientError(serviceError(status.NOT_FOUND, "repo x not found", "NOT_FOUND"),
    "InspectRepo", "127.0.0.1:1");
  t.is(error.code, "NOT_FOUND");
  t.is(error.message, "repo x not found");
});
