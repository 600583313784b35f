/**
 * The real data that ships beside the repository: `../shared/data/` next to the repository's own
 * folder. In a linked git worktree the repository's folder is its main working tree (found
 * through the worktree's `.git` file), so every checkout reads the same data.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of this checkout. */
const checkout = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The repository's main working tree: this checkout, or the one a linked worktree belongs to. */
function repositoryRoot(): string {
  const dotGit = resolve(checkout, '.git');
  if (!existsSync(dotGit) || statSync(dotGit).isDirectory()) return checkout;
  const gitdir = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim();
  if (gitdir === undefined) return checkout;
  const worktreeGitDir = resolve(checkout, gitdir);
  const commondirFile = resolve(worktreeGitDir, 'commondir');
  if (!existsSync(commondirFile)) return checkout;
  return dirname(resolve(worktreeGitDir, readFileSync(commondirFile, 'utf8').trim()));
}

/** The four machines of the Server Machine Dataset: `train/`, `test/`, `test_label/`. */
export const SMD_DATA_DIR = resolve(repositoryRoot(), '../shared/data/smd');

/**
 * The path of one SMD file, e.g. `smdFile('train', 'machine-2-1')`; throws, saying where it
 * looked, when the data folder is missing.
 */
export function smdFile(part: 'train' | 'test' | 'test_label', machine: string): string {
  const path = resolve(SMD_DATA_DIR, part, `${machine}.txt`);
  if (!existsSync(path)) {
    throw new Error(
      `the Server Machine Dataset is missing: no ${path}. It ships beside the repository, in ../shared/data/smd (train/, test/, test_label/)`,
    );
  }
  return path;
}
