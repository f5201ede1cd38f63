/**
 * One atomic write (a Put, a DeleteRange, a Txn or a lease revoke): every change gets the
 * main revision begin + 1 and the next sub-revision, as etcd's storeTxnWrite.
 */
import type { MvccEvent } from "./key-value.js";

/** The state of one write in progress. Invariant: subRevision === number of changes. */
export class WriteBatch {
  /** The store's revision when the write began. */
  readonly beginRevision: number;
  /** Changes made so far; also the next sub-revision. */
  changes = 0;
  /** The events of the changes, in order. */
  readonly events: MvccEvent[] = [];

  constructor(beginRevision: number) {
    this.beginRevision = beginRevision;
  }

  /** The revision every change of this write gets. */
  get writeRevision(): number {
    return this.beginRevision + 1;
  }

  /** The revision a read inside this write sees: its own changes once it made any. */
  get readRevision(): number {
    return this.changes > 0 ? this.beginRevision + 1 : this.beginRevision;
  }
}
