/**
 * Progress output: a redrawn bar on a terminal, plain lines (one per tenth of the way) when
 * piped, nothing with `--json` (the result goes to stdout as one JSON document).
 */

/** Reports progress of one task. */
export interface Progress {
  /** Shows that `done` of `total` are done. */
  update(done: number, total: number): void;
  /** Ends the progress display (clears the bar's line on a terminal). */
  end(): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Where progress goes (stderr, so stdout keeps only results). */
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** What is counted, e.g. `rows`. */
  unit: string;
  /** No output at all (`--json`). */
  quiet?: boolean;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** Creates the progress display suited to the stream. */
export function createProgress(options: ProgressOptions): Progress {
  const { stream, unit } = options;
  if (options.quiet) return { update: () => {}, end: () => {} };
  if (stream.isTTY) {
    let drawn = false;
    return {
      update(done, total) {
        const frac = total > 0 ? Math.min(1, done / total) : 1;
        const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 50));
        const filled = Math.round(frac * width);
        const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
        stream.write(
          `\r${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${fmt(done)}/${fmt(total)} ${unit}\x1b[K`,
        );
        drawn = true;
      },
      end() {
        if (drawn) stream.write('\r\x1b[K');
      },
    };
  }
  let lastTenth = -1;
  return {
    update(done, total) {
      const tenth = total > 0 ? Math.floor((Math.min(1, done / total) * 100) / 10) : 10;
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      stream.write(`progress ${tenth * 10}% ${done}/${total} ${unit}\n`);
    },
    end() {},
  };
}
