/**
 * A list of doubles in a Float64Array that grows by doubling: for tables of unknown length built
 * one value at a time (runs of a COPY, kept candidates of a selection).
 */
export class Float64List {
  /** The storage; values are at [0, length). */
  data = new Float64Array(1024);
  length = 0;

  /** Appends `v`. */
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  /** The values, as a view of the storage (changed by later pushes that grow it). */
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }

  /** A copy of the values, ascending (NaN last). */
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}
