/** A byte range of an object or a stored copy. */
export interface ByteRange {
  /** Inclusive offsets. */
  start: number;
  end: number;
}
