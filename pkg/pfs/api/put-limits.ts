/**
 * The bounds of a put stream's ready handshake (remote-shard.ts, shard-service.ts), in their own
 * module so the shared limits.ts stays as it is. Relations are asserted when the module loads.
 */
import { assert } from "../../common/index.js";
import { replicationLimits } from "../replication/index.js";

/**
 * Longest wait of a put stream for its master's ready header, in milliseconds: the master
 * checks its term (waiting up to the election's settle time) and writes the commit's staged-on
 * mark (one coordination-store transaction) first. A master that is stopped or cut off sends
 * none; the router then gives up sooner, as soon as the election names another master, so this
 * only bounds a master that hangs while the election still names it. Well under the router's
 * masterWaitMs, so a put has time to be sent again after it.
 */
export const putReadyWaitMs: number = 10_000;

assert(putReadyWaitMs * 2 <= replicationLimits.masterWaitMs,
  `putReadyWaitMs ${putReadyWaitMs} must leave a retry inside masterWaitMs ` +
  `${replicationLimits.masterWaitMs}`);
