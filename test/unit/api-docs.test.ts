/**
 * The library's API reference (docs/api-*.md) is what `npm run docs` makes of the TSDoc in src/
 * today: `node docs/build.mjs --check` finds no stale page, and the index docs/api-index.md links
 * every name src/index.ts exports. When this fails after a change to an export or its TSDoc, run
 * `npm run docs` and commit the pages.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** Every name src/index.ts exports, values and types, read with the TypeScript parser. */
function exportedNames(): string[] {
  const file = 'src/index.ts';
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const names: string[] = [];
  for (const st of sf.statements) {
    if (ts.isExportDeclaration(st)) {
      const clause = st.exportClause;
      expect(clause && ts.isNamedExports(clause), `${file}: only named re-exports are read`).toBe(true);
      if (clause && ts.isNamedExports(clause)) names.push(...clause.elements.map((e) => e.name.text));
    } else if (
      ts.canHaveModifiers(st) &&
      ts.getModifiers(st)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
    ) {
      if (ts.isVariableStatement(st)) {
        for (const d of st.declarationList.declarations) names.push(d.name.getText(sf));
      } else if (
        (ts.isFunctionDeclaration(st) ||
          ts.isClassDeclaration(st) ||
          ts.isInterfaceDeclaration(st) ||
          ts.isTypeAliasDeclaration(st)) &&
        st.name
      ) {
        names.push(st.name.text);
      }
    }
  }
  return names;
}

describe('the API reference (docs/api-*.md)', () => {
  it('is what `npm run docs` generates from the TSDoc in src/', () => {
    const res = spawnSync(process.execPath, ['docs/build.mjs', '--check'], { encoding: 'utf8' });
    expect(res.status, `${res.stdout}${res.stderr}`).toBe(0);
  });

  it('links every export of src/index.ts from its index, docs/api-index.md', () => {
    const index = readFileSync('docs/api-index.md', 'utf8');
    const names = exportedNames();
    expect(names.length).toBeGreaterThan(50);
    for (const name of names) expect(index, name).toContain(`- [\`${name}\`](api-`);
  });
});
