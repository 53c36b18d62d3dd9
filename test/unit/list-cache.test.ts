import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListCache, writing } from '../../src/store/list-cache.js';

test('a kept list is used until a write, and a load that a write overtook is not kept', async () => {
  const cache = new ListCache<number>();
  let table = [1];
  let loads = 0;
  const load = async () => {
    loads++;
    return [...table];
  };
  assert.deepEqual(await cache.get('k', load), [1]);
  assert.deepEqual(await cache.get('k', load), [1]);
  assert.equal(loads, 1);
  // Callers get their own array.
  (await cache.get('k', load)).push(99);
  assert.deepEqual(await cache.get('k', load), [1]);

  await writing(cache, async () => {
    table = [1, 2];
  });
  assert.deepEqual(await cache.get('k', load), [1, 2]);
  assert.equal(loads, 2);

  // A write that fails still marks the cache stale (a statement may have run before the error).
  await assert.rejects(
    writing(cache, async () => {
      table = [3];
      throw new Error('constraint');
    }),
  );
  assert.deepEqual(await cache.get('k', load), [3]);

  // A load in flight while a write goes ahead: its result is returned but not kept.
  let release!: () => void;
  const slow = cache.get('k2', async () => {
    await new Promise<void>((r) => (release = r));
    return [7];
  });
  cache.changed();
  release();
  assert.deepEqual(await slow, [7]);
  let asked = false;
  assert.deepEqual(
    await cache.get('k2', async () => {
      asked = true;
      return [8];
    }),
    [8],
  );
  assert.ok(asked);
});

test('on PostgreSQL the trigger rules are read anew every time: another server may have written them', async () => {
  const { AutomationStore } = await import('../../src/store/automation-store.js');
  const { STORE_KINDS } = await import('../support/stores.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  for (const kind of STORE_KINDS) {
    if (kind.skip) continue;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-cache-'));
    const store = await kind.open(dir);
    try {
      const automation = new AutomationStore(store);
      assert.deepEqual(await automation.listRules({ states: ['ACTIVE'] }), []);
      // A write that does not go through this store object: what another server sharing the database does.
      await store.db.insertInto('trigger_rules').values({
        id: 'r1', compartment_id: 'c', display_name: 'r', lifecycle_state: 'ACTIVE', condition: '{}', job_id: 'j', project_id: 'p',
        overrides: '{}', secret_hash: 'h', time_created: new Date().toISOString(), version: 1, created_by: null,
      }).execute();
      const seen = (await automation.listRules({ states: ['ACTIVE'] })).map((r) => r.id);
      assert.deepEqual(seen, kind.name === 'PostgreSQL' ? ['r1'] : [], `${kind.name}: SQLite keeps its list (it is the only writer), PostgreSQL asks again`);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
