/**
 * Measures the panel's own bundle: `src/index.ts` bundled and minified by esbuild with React
 * external (the host brings React), then gzipped. The budget is 150 KB gzipped.
 *
 * Run: `npm run size --workspace @oasis/react-panel` (or `npx tsx packages/react-panel/scripts/bundle-size.ts`).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** The budget: 150 KB, minified and gzipped, without React. */
export const BUDGET_BYTES = 150 * 1024;

/**
 * Bundles the panel (React external) and returns its minified and gzipped sizes in bytes, and
 * the files that went into it.
 */
export async function measurePanelBundle(): Promise<{ minified: number; gzipped: number; inputs: string[] }> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const result = await build({
    entryPoints: [join(root, 'src/index.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    write: false,
    external: ['react', 'react-dom', 'react/jsx-runtime', 'react-dom/client'],
    logLevel: 'silent',
    metafile: true,
  });
  const code = result.outputFiles[0]!.contents;
  return {
    minified: code.byteLength,
    gzipped: gzipSync(code, { level: 9 }).byteLength,
    inputs: Object.keys(result.metafile.inputs),
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { minified, gzipped } = await measurePanelBundle();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.log(
    `@oasis/react-panel without React: ${kb(minified)} minified, ${kb(gzipped)} gzipped (budget ${kb(BUDGET_BYTES)})`,
  );
  if (gzipped > BUDGET_BYTES) {
    console.error('over budget');
    process.exit(1);
  }
}
