/**
 * The databases every store test runs on: SQLite (a file in the test's directory) and PostgreSQL (a database of
 * its own in the test process's throwaway cluster, test/support/postgres.ts). A test file runs its tests once per
 * kind (`forEachStore`); the store helpers it has call `currentStore().open(dir)` where they opened SQLite before.
 */
import { before, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../src/store/store.js';
import { freshDatabase, postgresMissing } from './postgres.js';

export interface StoreKind {
  name: 'SQLite' | 'PostgreSQL';
  /** Why this kind cannot run here (PostgreSQL not installed, outside CI), else undefined. */
  skip: string | undefined;
  /** Opens the store of `dir`: the same one again when `dir` is opened again (a restart). */
  open(dir: string): Promise<Store>;
}

const databases = new Map<string, Promise<string>>();

export const STORE_KINDS: StoreKind[] = [
  { name: 'SQLite', skip: undefined, open: (dir) => Store.openSqlite(path.join(dir, 'dsjobs.db')) },
  {
    name: 'PostgreSQL',
    skip: postgresMissing() ?? undefined,
    async open(dir) {
      if (!databases.has(dir)) databases.set(dir, freshDatabase());
      return Store.openPostgres(await databases.get(dir)!);
    },
  },
];

let current: StoreKind = STORE_KINDS[0];

/** The kind whose tests are running. */
export function currentStore(): StoreKind {
  return current;
}

/** Registers `tests` once per kind, each group under the kind's name (skipped with its reason where it cannot run). */
export function forEachStore(tests: (kind: StoreKind) => void): void {
  for (const kind of STORE_KINDS) {
    describe(`on ${kind.name}`, { skip: kind.skip }, () => {
      before(() => {
        current = kind;
      });
      tests(kind);
    });
  }
}

/** Runs `fn` on a fresh store of the current kind in a temporary directory (`prefix` names it), closed and removed after. */
export async function withStore(prefix: string, fn: (store: Store) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const store = await currentStore().open(dir);
  try {
    await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
