// The package's install step: builds the native addon always; in a checkout (sources and dev
// tools present) also compiles the TypeScript and the dashboard, so `npm install` leaves a
// runnable system.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

// TADS_MARCH picks the CPU target of the addon (default: this machine's; the Dockerfile asks for a
// portable one).
const march = process.env.TADS_MARCH ? [`--CDTADS_MARCH=${process.env.TADS_MARCH}`] : [];
const require = createRequire(import.meta.url);
run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--out', 'build', ...march]);

const inCheckout =
  existsSync(join(root, 'tsconfig.build.json')) && existsSync(join(root, 'node_modules/typescript'));
if (inCheckout) {
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
  if (existsSync(join(root, 'web/package.json'))) {
    run('npm', ['run', 'build', '--workspace', 'web']);
  }
}
