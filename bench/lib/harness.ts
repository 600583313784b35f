/**
 * Shared pieces of the benchmark files: the machine's description, a PostgreSQL for the benches
 * that need one (DATABASE_URL, else an embedded server in a temporary folder), and one way of
 * printing figures so that `npm run bench` reads as one report.
 */
import os from 'node:os';
import pg from 'pg';
import { startScratchPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';

/** One line describing the machine a bench runs on. */
export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** Prints a section heading for a benchmark file. */
export function heading(title: string): void {
  console.log(`\n## ${title}\n`);
  console.log(`machine: ${machineLine()}\n`);
}

/** Prints rows as a Markdown table (the format docs/BENCHMARKS.md uses). */
export function table(rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const fmt = (v: string | number | undefined) => (typeof v === 'number' ? formatNumber(v) : (v ?? ''));
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`| ${cols.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${cols.map((c) => fmt(r[c])).join(' | ')} |`);
  console.log('');
}

/** Formats a figure with thousands separators and sensible precision. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 1 ? 2 : 4;
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Peak resident set size of this process so far, in MB. */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export interface BenchDatabase {
  /** Connection URL of an empty database made for this bench. */
  url: string;
  /** Drops the database (and stops the embedded server, if one was started). */
  close(): Promise<void>;
}

/**
 * A fresh database for a bench: on DATABASE_URL's server when set, else on an embedded
 * PostgreSQL started for the purpose.
 */
export async function benchDatabase(): Promise<BenchDatabase> {
  let serverUrl = process.env.DATABASE_URL;
  let embedded: EmbeddedDatabase | undefined;
  if (!serverUrl) {
    embedded = await startScratchPostgres();
    serverUrl = embedded.url;
  }
  const name = `tads_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async close() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
      await embedded?.stop();
    },
  };
}
