import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url));

// Tests run against the TypeScript sources, so `npm test` needs no build first.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@oasis\/core\/testing$/, replacement: src('core/src/testing/index.ts') },
      { find: /^@oasis\/core$/, replacement: src('core/src/index.ts') },
      { find: /^@oasis\/store-sql$/, replacement: src('store-sql/src/index.ts') },
      { find: /^@oasis\/store-redis$/, replacement: src('store-redis/src/index.ts') },
      { find: /^@oasis\/react-panel$/, replacement: src('react-panel/src/index.ts') },
      { find: /^@oasis\/http-admin$/, replacement: src('http-admin/src/index.ts') },
      { find: /^@oasis\/http-admin\/express$/, replacement: src('http-admin/src/express.ts') },
      { find: /^@oasis\/http-admin\/fastify$/, replacement: src('http-admin/src/fastify.ts') },
    ],
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'packages/*/test/**/*.test.tsx',
      'examples/**/*.test.ts',
      'tests/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Server-backed suites share real databases; files run in parallel workers but each suite
    // isolates itself by app name / schema prefix.
    pool: 'forks',
  },
});
