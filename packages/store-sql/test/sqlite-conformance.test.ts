import { join } from 'node:path';
import { runStoreConformance } from '@oasis/core/testing';
import Database from 'better-sqlite3';
import { afterAll } from 'vitest';
import { createSqlStore } from '../src/index';
import { tempDir, uniquePrefix } from './helpers';

// a database file shared by several store instances (crossProcess: the suite races them)
const tmp = tempDir();
const file = join(tmp.dir, 'conformance.db');
const prefix = uniquePrefix();
let migrated = false;

runStoreConformance({
  name: 'sqlite (file)',
  create: async () => {
    const store = createSqlStore({
      dialect: 'sqlite',
      filename: file,
      tablePrefix: prefix,
      migrate: !migrated,
    });
    migrated = true;
    return store;
  },
});

// `:memory:` cannot be shared between connections: the stores share one connection
const memory = new Database(':memory:');
let memoryMigrated = false;
runStoreConformance({
  name: 'sqlite (:memory:, one shared connection)',
  create: async () => {
    const store = createSqlStore({ dialect: 'sqlite', database: memory, migrate: !memoryMigrated });
    memoryMigrated = true;
    return store;
  },
});

afterAll(() => {
  memory.close();
  tmp.cleanup();
});
