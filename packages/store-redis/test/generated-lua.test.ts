import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LUA_DIR, OUT_FILE, render } from '../scripts/embed-lua.mjs';
import { LUA_SOURCES } from '../src/lua/scripts.generated';

describe('embedded Lua', () => {
  it('scripts.generated.ts matches the .lua files (run `npm run embed-lua -w @oasis/store-redis`)', () => {
    expect(readFileSync(OUT_FILE, 'utf8')).toBe(render());
  });

  it('embeds every .lua step, each with a header naming its KEYS, ARGV and return', () => {
    const files = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'));
    expect(Object.keys(LUA_SOURCES).sort()).toEqual(files.map((f) => f.slice(0, -4)).sort());
    for (const file of files) {
      const text = readFileSync(join(LUA_DIR, file), 'utf8');
      const header = text.slice(0, text.indexOf('-- @include'));
      expect(header, file).toMatch(/^-- KEYS\[1\]/m);
      expect(header, file).toMatch(/^-- ARGV\[1\]/m);
      expect(header, file).toMatch(/^-- Returns:/m);
      expect(LUA_SOURCES[file.slice(0, -4) as keyof typeof LUA_SOURCES]).not.toContain('-- @include');
    }
  });

  it('never uses the node clock: scripts read TIME, not a time argument', () => {
    for (const source of Object.values(LUA_SOURCES)) {
      expect(source).toContain("redis.call('TIME')");
    }
  });
});
