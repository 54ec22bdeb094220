/**
 * The panel page, bundled at startup with esbuild from `host-app.tsx` (React and
 * `@oasis/react-panel` from their sources, through the root tsconfig's paths), kept in memory.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');

/** The page's two files: `index.html` and the bundled `app.js`. */
export interface PanelPage {
  html: string;
  js: string;
}

/** Bundles the panel page (a few seconds the first time); `title` goes into the HTML. */
export async function buildPanelPage(title: string): Promise<PanelPage> {
  const result = await build({
    entryPoints: [join(here, 'host-app.tsx')],
    write: false,
    outdir: 'out',
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    tsconfig: join(root, 'tsconfig.json'),
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  if (js === undefined) throw new Error('esbuild produced no JavaScript');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
</head>
<body>
<div id="root"></div>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
  return { html, js: js.text };
}
