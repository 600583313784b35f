/**
 * A temporary-file spill of float64 columns: one file per column (values in arrival order, later
 * overwritten by the same values sorted) plus a scratch file for sorted windows, so that memory
 * holds one window of one column whatever the row count. Used by the analytics precompute
 * (src/jobs/analytics.ts) through the per-metric pass of ./summary.ts.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The metrics of one COPY pass, spilled to one file per metric (float64s in arrival order, later
 * overwritten by the same values sorted), plus a scratch file for sorted windows, so that memory
 * holds one window of one metric whatever the row count.
 */
export class MetricSpill {
  readonly dir: string;
  readonly #fds: number[];
  readonly #stage: Float64Array[];
  #used = 0;
  static readonly STAGE = 65_536;

  constructor(metrics: readonly string[]) {
    this.dir = mkdtempSync(join(tmpdir(), 'tads-stats-'));
    this.#fds = [...metrics, 'scratch'].map((m) => openSync(join(this.dir, m), 'w+'));
    this.#stage = metrics.map(() => new Float64Array(MetricSpill.STAGE));
  }

  /** The file number of the scratch file (after the metrics'), for sorted runs. */
  get scratch(): number {
    return this.#fds.length - 1;
  }

  /** Stage slot of the next row (flushing first when full). */
  slot(): number {
    if (this.#used === MetricSpill.STAGE) this.flush();
    return this.#used++;
  }

  get stages(): Float64Array[] {
    return this.#stage;
  }

  flush(): void {
    if (this.#used === 0) return;
    this.#stage.forEach((s, j) => {
      writeSync(this.#fds[j]!, new Uint8Array(s.buffer, 0, this.#used * 8));
    });
    this.#used = 0;
  }

  /**
   * Reads file j's values from position `start` on into `out`: a metric's in arrival order, or
   * sorted once the per-metric pass has put them back so.
   */
  read(j: number, out: Float64Array, start = 0): void {
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    let done = 0;
    while (done < bytes.length) {
      const got = readSync(
        this.#fds[j]!,
        bytes,
        done,
        Math.min(bytes.length - done, 1 << 26),
        start * 8 + done,
      );
      if (got <= 0) throw new Error(`spill file of metric ${j} is short`);
      done += got;
    }
  }

  /** Writes `values` into file j (a metric's, or {@link MetricSpill.scratch}) from position `start`. */
  write(j: number, values: Float64Array, start = 0): void {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    let done = 0;
    while (done < bytes.length) {
      done += writeSync(this.#fds[j]!, bytes, done, Math.min(bytes.length - done, 1 << 26), start * 8 + done);
    }
  }

  close(): void {
    for (const fd of this.#fds) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
