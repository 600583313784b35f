/**
 * SQL lives in src/db: the use cases (src/jobs, src/scorer), the generator service (src/generator), the HTTP layer (src/api) and the
 * composition root (src/server) call its functions and hold no statement of their own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIRS = ['src/api', 'src/generator', 'src/jobs', 'src/scorer', 'src/server'];

/** A string literal that starts with an SQL statement's keyword. */
const STATEMENT =
  /['"`]\s*(?:SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|BEGIN|COMMIT|ROLLBACK|WITH\s+\w+\s+AS|CREATE\s|DROP\s|COPY\s)/;

/** Every .ts file under `dir`. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** A comment's line. */
const COMMENT = /^\s*(?:\/\/|\/\*|\*)/;

/** `file:line` of each line of `text` (comments aside) that holds a statement. */
export function statements(file: string, text: string): string[] {
  return text
    .split('\n')
    .flatMap((line, i) => (!COMMENT.test(line) && STATEMENT.test(line) ? [`${file}:${i + 1}`] : []));
}

describe('SQL outside src/db', () => {
  it('finds a statement in a string, not a word in a comment or a call named query', () => {
    const text = [
      "await client.query('BEGIN');",
      'const { rows } = await db.query(`SELECT id FROM models`);',
      ' * The database check (`SELECT 1`) is shared',
      'const query = route.query(ex.rawQuery);',
    ].join('\n');
    expect(statements('a.ts', text)).toEqual(['a.ts:1', 'a.ts:2']);
  });

  it(`is in none of ${DIRS.join(', ')}`, () => {
    const files = DIRS.flatMap((d) => sourceFiles(d));
    expect(files.length).toBeGreaterThan(20);
    const found = files.flatMap((f) => statements(relative('.', f), readFileSync(f, 'utf8')));
    expect(found).toEqual([]);
  });
});
