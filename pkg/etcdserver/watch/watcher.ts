/** One watch of a stream: its selection and where it stands in the revision sequence. */
import type { EventSelection } from "./watch-range.js";

/**
 * Invariant: every event of a revision < `nextRevision` that the watcher selects has been put
 * in the outbox, and none of a revision >= it. A synced watcher takes live writes; an unsynced
 * one reads history until it reaches the current revision.
 */
export interface Watcher extends EventSelection {
  readonly id: number;
  readonly fragment: boolean;
  readonly progressNotify: boolean;
  nextRevision: number;
  synced: boolean;
  /** Whether events were sent since the last progress tick. */
  sentSinceTick: boolean;
}
