/**
 * No import cycles in src/: every static `import … from` and `export … from` of a relative
 * module counts, type-only ones included, so the layers (contract, core, db, jobs and scorer,
 * api, server, cli) stay a graph that can be read from the bottom up.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve('src');

/** Every .ts file under `dir`. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The files of `files` that `file` imports (relative specifiers, `.js` naming its `.ts`). */
export function importsOf(file: string, text: string, files: ReadonlySet<string>): string[] {
  const out: string[] = [];
  // `import x from '…'`, `import type { … } from '…'`, `export { … } from '…'`, `import '…'`.
  const re = /^\s*(?:import|export)\b[^'";]*?(?:\bfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) {
    const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'));
    if (files.has(target)) out.push(target);
  }
  return out;
}

/** The cycles of a graph (one per strongly connected component of more than one file, or a self-import). */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('import cycles', () => {
  it('finds a cycle, type-only imports included, and none in a chain', () => {
    const files = new Set(['/p/a.ts', '/p/b.ts', '/p/c.ts']);
    const a = importsOf('/p/a.ts', "import { b } from './b.js';\n", files);
    const b = importsOf('/p/b.ts', "import type {\n  A,\n} from './a.js';\nimport 'node:fs';\n", files);
    const c = importsOf('/p/c.ts', "export { b } from './b.js';\n", files);
    expect([a, b, c]).toEqual([['/p/b.ts'], ['/p/a.ts'], ['/p/b.ts']]);
    const graph = new Map([
      ['/p/a.ts', a],
      ['/p/b.ts', b],
      ['/p/c.ts', c],
    ]);
    expect(cycles(graph)).toEqual([['/p/a.ts', '/p/b.ts']]);
    graph.set('/p/b.ts', []);
    expect(cycles(graph)).toEqual([]);
  });

  it('src/ has none', () => {
    const files = sourceFiles(SRC);
    const set = new Set(files);
    const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(f, 'utf8'), set)]));
    expect(graph.size).toBeGreaterThan(50);
    const found = cycles(graph).map((c) => c.map((f) => relative(SRC, f)));
    expect(found).toEqual([]);
  });
});
