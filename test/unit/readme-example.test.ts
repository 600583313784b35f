/**
 * The README's library example is real: the first ```ts block under "Use as a library" is
 * type-checked against the package's published types (imported by name, as a user would) and
 * run in a fresh process, and it prints what the README says it prints.
 *
 * Needs the build (`npm run build:ts`; `npm test` builds first).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const readme = readFileSync('README.md', 'utf8');

/** The first ```ts block after the "Use as a library" heading. */
function libraryExample(): string {
  const heading = /^#+ Use as a library$/m.exec(readme);
  expect(heading, 'a "Use as a library" heading').not.toBeNull();
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(heading!.index));
  expect(block, 'a ```ts block under it').not.toBeNull();
  return block![1]!;
}

describe("the README's library example", () => {
  const code = libraryExample();

  it("imports from 'tads' by name", () => {
    expect(code).toMatch(/^import \{[^}]+\} from 'tads';$/m);
  });

  it('type-checks under the project’s strict settings against the published types', () => {
    // A virtual file in the package folder: 'tads' resolves through package.json's "exports".
    const file = join(process.cwd(), 'readme-example.ts');
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2023,
      lib: ['lib.es2023.d.ts'],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noUncheckedIndexedAccess: true,
      types: ['node'],
      noEmit: true,
      skipLibCheck: true,
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    const readFile = host.readFile.bind(host);
    host.getSourceFile = (name, lang, ...rest) =>
      name === file ? ts.createSourceFile(name, code, lang) : getSourceFile(name, lang, ...rest);
    host.fileExists = (name) => name === file || fileExists(name);
    host.readFile = (name) => (name === file ? code : readFile(name));
    const program = ts.createProgram([file], options, host);
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });

  it('runs and prints what the README says', () => {
    const js = ts.transpileModule(code, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', js], { encoding: 'utf8' });
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('components: 3');
    const anomalous = /^anomalous records: (\d+) of (\d+)$/.exec(lines[1]!);
    const roc = /^ROC-AUC: (\d\.\d{3})$/.exec(lines[2]!);
    const pr = /^PR-AUC: (\d\.\d{3})$/.exec(lines[3]!);
    const alerts = /^alerts opened: (\d+)$/.exec(lines[4]!);
    expect([anomalous, roc, pr, alerts].every((m) => m !== null)).toBe(true);
    // The README quotes the figures; generation is deterministic, so they must match.
    const [n, total] = [Number(anomalous![1]), Number(anomalous![2])];
    const prose = readme.replace(/\s+/g, ' ');
    expect(prose).toContain(
      `the day's ${n} labelled anomalous records of ${total.toLocaleString('en-US')}, ROC-AUC ${roc![1]}, PR-AUC ${pr![1]} and ${alerts![1]} alerts`,
    );
    expect(Number(roc![1])).toBeGreaterThan(0.5);
  });
});
