import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { measurePanelBundle } from '../scripts/bundle-size';
import { OasisPanel } from '../src/index';
import { PANEL_CSS } from '../src/styles';

describe('<OasisPanel>', () => {
  it('renders on the server without touching the network or window', () => {
    const html = renderToString(
      <OasisPanel baseUrl="/admin/oasis" theme="dark" fetch={() => Promise.reject(new Error('no'))} />,
    );
    expect(html).toContain('class="oasis-panel"');
    expect(html).toContain('data-theme="dark"');
    expect(html).toContain('aria-label="Oasis panel"');
  });

  it('scopes every CSS rule under the .oasis-panel root', () => {
    // Drop at-rule headers, keep their inner rules; then check each selector of each rule.
    const selectors = [...PANEL_CSS.replace(/@(media|container)[^{]*\{/g, '').matchAll(/([^{}]+)\{[^{}]*\}/g)]
      .map((m) => m[1]!.trim())
      .filter((s) => s !== '');
    expect(selectors.length).toBeGreaterThan(50);
    for (const rule of selectors) {
      for (const selector of rule.split(/,(?![^(]*\))/)) {
        expect(selector.trim(), rule).toMatch(/^\.oasis-panel(?![\w-])/);
      }
    }
  });
});

describe('bundle size', () => {
  it('stays within 150 KB minified and gzipped, without React', async () => {
    const { minified, gzipped, inputs } = await measurePanelBundle();
    console.log(
      `@oasis/react-panel: ${(minified / 1024).toFixed(1)} KB minified, ${(gzipped / 1024).toFixed(1)} KB gzipped`,
    );
    expect(gzipped).toBeLessThanOrEqual(150 * 1024);
    // Only the panel's own sources are in it: React stays the host's.
    expect(inputs.length).toBeGreaterThan(10);
    expect(inputs.filter((f) => f.includes('node_modules'))).toEqual([]);
  });
});
