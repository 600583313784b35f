/**
 * The dashboard's built files (web/dist) under `/app/`, and `/` redirecting there.
 *
 * The whole directory is read once at startup into memory (a built dashboard is a few hundred
 * kilobytes), with a gzip copy of each compressible file, so a request costs a map lookup and one
 * corked write. Caching:
 * - files under `assets/` carry a content hash in their names (Vite's output): `public,
 *   max-age=31536000, immutable`;
 * - everything else, `index.html` first of all, is `no-cache` with an ETag, so browsers revalidate
 *   and get a 304 while it is unchanged.
 *
 * Unknown paths under `/app/` answer with `index.html` (the dashboard's client-side routes:
 * `/app/alerts`, `/app/runs/…`), except under `/app/assets/`, where a miss is a 404: a missing
 * script must not come back as HTML. Without a built dashboard, `/app/` answers 404 with the
 * error body saying how to build it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { ApiDeps } from './deps.js';
import { statusLine, type HttpRequest, type HttpResponse } from './http.js';
import type { Router } from './router.js';

/** Where the dashboard is served. */
export const APP_PREFIX = '/app/';

/** Cache-Control of content-hashed assets. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Cache-Control of everything else (revalidated with the ETag). */
export const REVALIDATE = 'no-cache';

/** Content types by file extension. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

const COMPRESSIBLE = /^(text\/|application\/(json|manifest\+json|wasm)|image\/svg\+xml)/;

/** One file ready to send. */
export interface StaticFile {
  body: Buffer;
  /** The gzip-compressed body, when compressing is worth it. */
  gzip: Buffer | undefined;
  contentType: string;
  cacheControl: string;
  /** Strong ETag of the content (quoted). */
  etag: string;
}

/** A loaded dashboard: files by path relative to the directory, `/`-separated. */
export interface StaticSite {
  readonly dir: string;
  readonly files: ReadonlyMap<string, StaticFile>;
  /** Total bytes held (bodies and gzip copies). */
  readonly bytes: number;
}

/** The package's root directory (the one holding TADS's package.json), from src/ or dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown };
        if (pkg.name === 'tads') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/** The default dashboard directory: `<package root>/web/dist`. */
export function defaultStaticDir(): string {
  return join(packageRoot(), 'web', 'dist');
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile()) out.push(path);
  }
}

/**
 * Reads a built dashboard into memory.
 *
 * @param dir - the directory (holding `index.html`)
 * @returns the site, or null when `dir` does not exist or holds no `index.html`
 */
export function loadStaticSite(dir: string): StaticSite | null {
  if (!existsSync(dir) || !statSync(dir).isDirectory() || !existsSync(join(dir, 'index.html'))) return null;
  const paths: string[] = [];
  walk(dir, paths);
  const files = new Map<string, StaticFile>();
  let bytes = 0;
  for (const path of paths) {
    const rel = relative(dir, path).split(sep).join('/');
    const body = readFileSync(path);
    const contentType = CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
    let gzip: Buffer | undefined;
    if (COMPRESSIBLE.test(contentType) && body.length >= 1024) {
      const z = gzipSync(body, { level: 9 });
      // Keep it only when it saves at least a tenth.
      if (z.length < body.length * 0.9) gzip = z;
    }
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    const cacheControl = rel.startsWith('assets/') ? IMMUTABLE : REVALIDATE;
    files.set(rel, { body, gzip, contentType, cacheControl, etag });
    bytes += body.length + (gzip?.length ?? 0);
  }
  return { dir, files, bytes };
}

/** What a request under `/app/` resolves to. */
export type StaticLookup =
  { kind: 'file'; file: StaticFile } | { kind: 'missing' } | { kind: 'redirect'; location: string };

/**
 * Resolves a request path (as received, percent-encoded) against the site: a file, the index
 * for a client-side route, or missing (under `assets/`, or undecodable).
 */
export function lookupStatic(site: StaticSite, url: string): StaticLookup {
  if (url === '/app') return { kind: 'redirect', location: APP_PREFIX };
  let rel: string;
  try {
    rel = decodeURIComponent(url.slice(APP_PREFIX.length));
  } catch {
    return { kind: 'missing' };
  }
  // Only names read at startup are served: nothing outside the directory can be reached.
  const file = site.files.get(rel === '' ? 'index.html' : rel);
  if (file) return { kind: 'file', file };
  if (rel.startsWith('assets/')) return { kind: 'missing' };
  const index = site.files.get('index.html');
  return index ? { kind: 'file', file: index } : { kind: 'missing' };
}

function sendNotFound(res: HttpResponse, message: string, head: boolean): void {
  const body = JSON.stringify({ error: { code: 'not_found', message, details: null } });
  res.cork(() => {
    res.writeStatus(statusLine(404));
    res.writeHeader('content-type', 'application/json; charset=utf-8');
    if (head) endHead(res, Buffer.byteLength(body));
    else res.end(body);
  });
}

function serve(site: StaticSite | null, res: HttpResponse, req: HttpRequest, head: boolean): void {
  // Read the request synchronously (uWS rule), then answer at once.
  const url = req.getUrl();
  const ifNoneMatch = req.getHeader('if-none-match');
  const acceptsGzip = /\bgzip\b/.test(req.getHeader('accept-encoding'));
  if (!site) {
    if (url === '/app') return redirect(res, APP_PREFIX);
    sendNotFound(res, 'the dashboard is not built: run `npm run build` in web/ (it writes web/dist)', head);
    return;
  }
  const found = lookupStatic(site, url);
  if (found.kind === 'redirect') return redirect(res, found.location);
  if (found.kind === 'missing') return sendNotFound(res, `no file ${url}`, head);
  const { file } = found;
  const notModified =
    ifNoneMatch !== '' && ifNoneMatch.split(/\s*,\s*/).some((t) => t === file.etag || t === '*');
  const body = acceptsGzip && file.gzip ? file.gzip : file.body;
  res.cork(() => {
    res.writeStatus(statusLine(notModified ? 304 : 200));
    res.writeHeader('cache-control', file.cacheControl);
    res.writeHeader('etag', file.etag);
    if (file.gzip) res.writeHeader('vary', 'Accept-Encoding');
    if (notModified) {
      res.endWithoutBody();
      return;
    }
    res.writeHeader('content-type', file.contentType);
    res.writeHeader('x-content-type-options', 'nosniff');
    if (body === file.gzip) res.writeHeader('content-encoding', 'gzip');
    if (head) endHead(res, body.length);
    else res.end(body);
  });
}

// A HEAD answer: the length the body would have, and none. (`endWithoutBody(length)` of this uWS
// build aborts the process, so the header is written by hand.)
function endHead(res: HttpResponse, length: number): void {
  res.writeHeader('content-length', String(length));
  res.endWithoutBody();
}

function redirect(res: HttpResponse, location: string): void {
  res.cork(() => {
    res.writeStatus(statusLine(302));
    res.writeHeader('location', location);
    res.end('');
  });
}

/**
 * Route group of the dashboard: `GET|HEAD /app/*` (and `/app`) from the directory
 * `deps.staticDir` (default {@link defaultStaticDir}), `GET /` → 302 `/app/`. These are not API
 * routes: they are registered on the uWS app directly and left out of `/openapi.json`.
 */
export function register(router: Router, deps: ApiDeps): void {
  const site = loadStaticSite(deps.staticDir ?? defaultStaticDir());
  if (site) deps.log.info('dashboard loaded', { dir: site.dir, files: site.files.size, bytes: site.bytes });
  const app = router.app;
  for (const pattern of ['/app', '/app/*']) {
    app.get(
      pattern,
      router.guard((res, req) => serve(site, res, req, false)),
    );
    app.head(
      pattern,
      router.guard((res, req) => serve(site, res, req, true)),
    );
  }
  app.get(
    '/',
    router.guard((res) => redirect(res, APP_PREFIX)),
  );
}
