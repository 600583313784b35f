/**
 * Server configuration, parsed once and failing fast. Precedence: explicit options, then the
 * environment, then the defaults below.
 *
 * | variable            | default                 | meaning                                          |
 * | ------------------- | ----------------------- | ------------------------------------------------ |
 * | `PORT`              | 8080                    | HTTP API port (0: any free port)                 |
 * | `HOST`              | 127.0.0.1               | HTTP API and generator bind address              |
 * | `DATABASE_URL`      | (none: embedded server) | PostgreSQL to use                                |
 * | `TADS_DATA_DIR`     | .tads                   | where the embedded PostgreSQL keeps its data     |
 * | `TADS_PG_PORT`      | 54329                   | the embedded PostgreSQL's port (never 5432)      |
 * | `GENERATOR_PORT`    | 50051                   | port the generator's gRPC server listens on      |
 * | `GENERATOR_ADDRESS` | `<HOST>:<GENERATOR_PORT>` | where the API reaches the generator            |
 * | `BODY_LIMIT`        | 1mb                     | largest request body (bytes, or with kb/mb)      |
 * | `CORS_ORIGINS`      | (none)                  | comma-separated origins allowed by CORS, or `*`  |
 * | `TADS_INFERENCE_RUNS_KEEP` | 10000            | inference runs kept (older ones are pruned)      |
 * | `TADS_ALLOWED_HOSTS` | loopback names, `HOST` | comma-separated host names the API answers to   |
 * | `TADS_PG_POOL`      | 10                      | most database connections the server opens (≥ 3) |
 * | `TADS_PG_ACQUIRE_TIMEOUT_MS` | 5000           | wait for a free connection before a 503          |
 * | `TADS_PG_QUERY_TIMEOUT_MS` | 30000            | wait for a short query's answer before a 503 (0: none) |
 */
import { z } from 'zod';
import { ValidationError } from '../core/errors.js';

/** The parsed configuration. `databaseUrl` is non-enumerable so it never shows up in logs. */
export interface Config {
  port: number;
  host: string;
  /** The PostgreSQL URL, or undefined to run the embedded server. */
  readonly databaseUrl: string | undefined;
  dataDir: string;
  embeddedPgPort: number;
  generatorPort: number;
  generatorAddress: string;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Origins allowed by CORS (`['*']` for any); empty: no CORS headers. */
  corsOrigins: string[];
  /** How many inference runs are kept; the reaper prunes older ones. */
  inferenceRunsKeep: number;
  /** Most connections of the server's database pool. */
  pgPool: number;
  /** How long a request waits for a free connection of the pool, in ms. */
  pgAcquireTimeoutMs: number;
  /** How long a query run through the pool waits for its answer, in ms (0: no limit). */
  pgQueryTimeoutMs: number;
  /**
   * Host names (lower case, no port; IPv6 addresses in brackets) that requests may name in their
   * `Host` header and WebSocket pages in their `Origin`: any other is refused, so a page whose
   * name was rebound to this server's address cannot use it.
   */
  allowedHosts: string[];
}

/** Host names always allowed when `TADS_ALLOWED_HOSTS` is not set: the loopback ones. */
export const LOOPBACK_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** Bind addresses that stand for every interface (no host name of their own). */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

// A DNS name or IPv4 address, or an IPv6 address in brackets; no port, no scheme.
const HOST_NAME =
  /^(?:\[[0-9a-f:.]+\]|[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*)$/i;

/** How the bind address appears in a `Host` header (an IPv6 address in brackets). */
function hostNameOf(bind: string): string {
  const h = bind.toLowerCase();
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/** The allowed hosts when none are configured: the loopback names and a non-wildcard bind host. */
function defaultAllowedHosts(bind: string): string[] {
  const own = hostNameOf(bind);
  return WILDCARD_HOSTS.has(own) || LOOPBACK_HOSTS.includes(own)
    ? [...LOOPBACK_HOSTS]
    : [...LOOPBACK_HOSTS, own];
}

/** Largest body limit that may be configured (64 MiB). */
export const MAX_BODY_LIMIT = 64 * 1024 * 1024;

const port = (name: string) =>
  z.coerce
    .number({ error: `${name} must be an integer in [0, 65535]` })
    .int(`${name} must be an integer in [0, 65535]`)
    .min(0, `${name} must be an integer in [0, 65535]`)
    .max(65535, `${name} must be an integer in [0, 65535]`);

/** Parses `1048576`, `512kb`, `1mb` (case-insensitive) into bytes. */
const byteSize = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const m = /^\s*(\d+)\s*(b|kb|mb)?\s*$/i.exec(String(v));
    if (!m) {
      ctx.addIssue({
        code: 'custom',
        message: 'BODY_LIMIT must be a size in bytes, e.g. 1048576, 512kb or 1mb',
      });
      return z.NEVER;
    }
    const unit = (m[2] ?? 'b').toLowerCase();
    return Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
  })
  .pipe(
    z
      .number()
      .int()
      .min(1, 'BODY_LIMIT must be at least 1 byte')
      .max(MAX_BODY_LIMIT, `BODY_LIMIT must be at most ${MAX_BODY_LIMIT} bytes`),
  );

/** An integer in [min, max] read from a variable, with one message for every way to miss. */
const integerIn = (name: string, min: number, max: number) => {
  const msg = `${name} must be an integer in [${min}, ${max}]`;
  return z.coerce.number({ error: msg }).int(msg).min(min, msg).max(max, msg);
};

const databaseUrl = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\//.test(s) && URL.canParse(s), 'DATABASE_URL must be a postgres:// URL');

const Env = z.object({
  PORT: port('PORT').default(8080),
  HOST: z.string().min(1, 'HOST must not be empty').default('127.0.0.1'),
  DATABASE_URL: databaseUrl.optional(),
  TADS_DATA_DIR: z.string().min(1, 'TADS_DATA_DIR must not be empty').default('.tads'),
  TADS_PG_PORT: port('TADS_PG_PORT')
    .refine((p) => p !== 5432 && p !== 0, 'TADS_PG_PORT must not be 5432 (a machine server may use it) or 0')
    .default(54329),
  GENERATOR_PORT: port('GENERATOR_PORT').default(50051),
  GENERATOR_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'GENERATOR_ADDRESS must be host:port')
    .optional(),
  BODY_LIMIT: byteSize.default(1024 * 1024),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o.length > 0),
    ),
  TADS_INFERENCE_RUNS_KEEP: z.coerce
    .number({ error: 'TADS_INFERENCE_RUNS_KEEP must be an integer ≥ 1' })
    .int('TADS_INFERENCE_RUNS_KEEP must be an integer ≥ 1')
    .min(1, 'TADS_INFERENCE_RUNS_KEEP must be an integer ≥ 1')
    .default(10_000),
  TADS_ALLOWED_HOSTS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h.length > 0),
    )
    .refine((hosts) => hosts.length > 0, 'TADS_ALLOWED_HOSTS must name at least one host')
    .refine(
      (hosts) => hosts.every((h) => HOST_NAME.test(h)),
      'TADS_ALLOWED_HOSTS must be comma-separated host names without port or scheme (localhost, tads.example, 10.0.0.5, [::1])',
    )
    .optional(),
  // A generation needs two connections side by side, a scoring job and the analytics three.
  TADS_PG_POOL: integerIn('TADS_PG_POOL', 3, 1000).default(10),
  TADS_PG_ACQUIRE_TIMEOUT_MS: integerIn('TADS_PG_ACQUIRE_TIMEOUT_MS', 1, 600_000).default(5000),
  TADS_PG_QUERY_TIMEOUT_MS: integerIn('TADS_PG_QUERY_TIMEOUT_MS', 0, 3_600_000).default(30_000),
});

/** Explicit options: each one wins over its environment variable. */
export type ConfigOptions = Partial<Omit<Config, 'databaseUrl'>> & { databaseUrl?: string | undefined };

/**
 * Builds the configuration from explicit options, then `env`, then defaults.
 *
 * @param options - explicit values (e.g. from CLI flags)
 * @param env - the environment to read (default `process.env`); empty strings count as unset
 * @throws ValidationError naming each invalid variable, what it must be and what it was
 * @example
 * const config = loadConfig({ port: 0 }); // any free port, the rest from the environment
 */
export function loadConfig(options: ConfigOptions = {}, env: NodeJS.ProcessEnv = process.env): Config {
  // Apply precedence: an explicit option replaces the variable before parsing, so it is
  // validated the same way.
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(Env.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const set = (key: keyof z.input<typeof Env>, v: unknown) => {
    if (v !== undefined) raw[key] = v;
  };
  set('PORT', options.port);
  set('HOST', options.host);
  set('DATABASE_URL', options.databaseUrl);
  set('TADS_DATA_DIR', options.dataDir);
  set('TADS_PG_PORT', options.embeddedPgPort);
  set('GENERATOR_PORT', options.generatorPort);
  set('GENERATOR_ADDRESS', options.generatorAddress);
  set('BODY_LIMIT', options.bodyLimit);
  set('TADS_INFERENCE_RUNS_KEEP', options.inferenceRunsKeep);
  set('TADS_PG_POOL', options.pgPool);
  set('TADS_PG_ACQUIRE_TIMEOUT_MS', options.pgAcquireTimeoutMs);
  set('TADS_PG_QUERY_TIMEOUT_MS', options.pgQueryTimeoutMs);
  if (options.corsOrigins !== undefined) raw.CORS_ORIGINS = options.corsOrigins.join(',');
  if (options.allowedHosts !== undefined) raw.TADS_ALLOWED_HOSTS = options.allowedHosts.join(',');

  // Validate
  const parsed = Env.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? '');
      const got = name === 'DATABASE_URL' ? '(hidden)' : JSON.stringify(raw[name]);
      return { path: name, message: `${i.message}; got ${got}` };
    });
    throw new ValidationError(`invalid configuration: ${issues.map((i) => i.message).join('; ')}`, issues);
  }
  const e = parsed.data;
  const config = {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.TADS_DATA_DIR,
    embeddedPgPort: e.TADS_PG_PORT,
    generatorPort: e.GENERATOR_PORT,
    generatorAddress: e.GENERATOR_ADDRESS ?? `${e.HOST}:${e.GENERATOR_PORT}`,
    bodyLimit: e.BODY_LIMIT,
    corsOrigins: e.CORS_ORIGINS,
    inferenceRunsKeep: e.TADS_INFERENCE_RUNS_KEEP,
    allowedHosts: e.TADS_ALLOWED_HOSTS ?? defaultAllowedHosts(e.HOST),
    pgPool: e.TADS_PG_POOL,
    pgAcquireTimeoutMs: e.TADS_PG_ACQUIRE_TIMEOUT_MS,
    pgQueryTimeoutMs: e.TADS_PG_QUERY_TIMEOUT_MS,
  } as Config;
  // The URL may carry a password: keep it off enumeration (logs, JSON.stringify).
  Object.defineProperty(config, 'databaseUrl', { value: e.DATABASE_URL, enumerable: false });
  return config;
}
