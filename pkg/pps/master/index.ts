/**
 * pkg/pps/master: the elected pps master (`PpsMaster`). It turns each pipeline's finished
 * input commits into jobs, starts them (output commit, datums, skips, tasks), follows their
 * results, assembles their output commits and logs, kills them when their pipeline changes,
 * and cleans up after them. The api helper's PpsNode constructs it in every pfsd.
 */
export { type PpsMasterOptions, type PpsMasterStats, PpsMaster } from "./pps-master.js";
export * as ppsMasterLimits from "./limits.js";
export { DeposedError } from "./master-store.js";
export { type Judgement, judgeResults } from "./assembly.js";
