// Runs clang-format over the project's own C++ (native/core, native/binding, native/bench).
// --check fails on any difference; --fix rewrites the files in place.
import { execFileSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dirs = ['native/core', 'native/binding', 'native/bench', 'native/test'];
const files = dirs
  .filter((d) => existsSync(d))
  .flatMap((d) =>
    readdirSync(d)
      .filter((f) => /\.(cc|h|hpp|cpp)$/.test(f))
      .map((f) => join(d, f)),
  );
const mode = process.argv.includes('--fix') ? ['-i'] : ['--dry-run', '-Werror'];
if (files.length > 0) {
  execFileSync('clang-format', [...mode, ...files], { stdio: 'inherit' });
}
console.log(`clang-format: ${files.length} files ${mode[0] === '-i' ? 'formatted' : 'checked'}`);
