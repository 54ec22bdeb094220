import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bench workspace's directory. */
export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The repository root. */
export const REPO_DIR = join(BENCH_DIR, '..');

/** True when a file of the repository exists (used to tell whether a package has landed). */
export function repoHas(relativePath: string): boolean {
  return existsSync(join(REPO_DIR, relativePath));
}
