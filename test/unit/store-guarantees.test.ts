/**
 * The store's durable guarantees, on SQLite and on PostgreSQL alike: a create at most once per retry token (also when
 * the same token comes many times at once), compare-and-set on the version (the etag: of two updates from the same
 * version one wins), keyset paging that returns every row once across rows with the same time, and the event of a
 * change written in the change's transaction (rolled back with it). And PostgreSQL's migrations, run once by
 * stores that open a new database at the same moment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store/store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { freshDatabase, postgresMissing } from '../support/postgres.js';
import type { ProjectRecord } from '../../src/store/records.js';
import { DsError } from '../../src/domain/errors.js';
import { forEachStore, withStore as withStoreOf } from '../support/stores.js';

const withStore = (fn: (store: Store) => Promise<void>) => withStoreOf('dsjobs-guarantees-', fn);

const project = (id: string, time: string): ProjectRecord => ({
  id, compartmentId: 'c', displayName: id, description: null, lifecycleState: 'ACTIVE', timeCreated: time, createdBy: 'u',
  freeformTags: {}, definedTags: {}, version: 1,
});

forEachStore(() => {
  test('retry tokens: one create per token, also with 32 at once; another body is refused', async () => {
    await withStore(async (store) => {
      let made = 0;
      const create = async (tx: Parameters<Parameters<Store['transaction']>[0]>[0]) => {
        const id = `p${++made}`;
        await store.insertProject(tx, project(id, new Date().toISOString()));
        return id;
      };
      const answers = await Promise.all(Array.from({ length: 32 }, () => store.idempotent('createProject', 'tok-1', 'hash-a', create)));
      const ids = new Set(answers.map((a) => a.id));
      assert.equal(ids.size, 1, `ids: ${[...ids].join(', ')}`);
      assert.equal(answers.filter((a) => !a.replayed).length, 1);
      assert.equal((await store.listProjects({ compartmentId: 'c', filters: {}, sortBy: 'timeCreated', sortOrder: 'ASC', limit: 100 })).items.length, 1);
      await assert.rejects(store.idempotent('createProject', 'tok-1', 'hash-b', create), (e) => e instanceof DsError && e.code === 'InvalidatedRetryToken');
    });
  });

  test('compare-and-set: of two updates from the same version one wins, the other sees null', async () => {
    await withStore(async (store) => {
      await store.transaction((tx) => store.insertProject(tx, project('p', '2026-01-01T00:00:00.000Z')));
      const [a, b] = await Promise.all([
        store.transaction((tx) => store.updateProject(tx, 'p', 1, { displayName: 'a' })),
        store.transaction((tx) => store.updateProject(tx, 'p', 1, { displayName: 'b' })),
      ]);
      assert.equal([a, b].filter((r) => r !== null).length, 1);
      const now = await store.getProject('p');
      assert.equal(now!.version, 2);
      assert.equal(now!.displayName, (a ?? b)!.displayName);
    });
  });

  test('keyset paging returns every row once, in order, across rows created in the same millisecond', async () => {
    await withStore(async (store) => {
      const time = '2026-01-01T00:00:00.000Z';
      const ids = Array.from({ length: 25 }, (_, i) => `p${String(i).padStart(2, '0')}`);
      await store.transaction(async (tx) => {
        for (const id of [...ids].reverse()) await store.insertProject(tx, project(id, time));
      });
      for (const sortOrder of ['ASC', 'DESC'] as const) {
        const seen: string[] = [];
        let page: string | undefined;
        do {
          const r = await store.listProjects({ compartmentId: 'c', filters: {}, sortBy: 'timeCreated', sortOrder, limit: 10, page });
          seen.push(...r.items.map((p) => p.id));
          page = r.nextPage ?? undefined;
        } while (page);
        assert.deepEqual(seen, sortOrder === 'ASC' ? ids : [...ids].reverse(), sortOrder);
      }
    });
  });

  test("an event is written in its change's transaction: a change that rolls back leaves no event", async () => {
    await withStore(async (store) => {
      const event = (id: string) => ({ type: 'test.change', resourceId: id, compartmentId: 'c', projectId: null, jobId: null, state: 'ACTIVE', data: { id } });
      await store.transaction(async (tx) => {
        await store.insertProject(tx, project('kept', '2026-01-01T00:00:00.000Z'));
        await store.insertEvent(tx, event('kept'));
      });
      await assert.rejects(
        store.transaction(async (tx) => {
          await store.insertProject(tx, project('undone', '2026-01-01T00:00:00.000Z'));
          await store.insertEvent(tx, event('undone'));
          throw new DsError('Conflict', 'changed meanwhile');
        }),
        /changed meanwhile/,
      );
      const events = await store.db.selectFrom('events').select(['resource_id', 'seq']).where('type', '=', 'test.change').execute();
      assert.deepEqual(events.map((e) => e.resource_id), ['kept']);
      assert.equal(typeof events[0].seq, 'number');
      assert.equal(await store.getProject('undone'), null);
    });
  });
});

test('PostgreSQL: stores opened on one new database at the same moment migrate it once', { skip: postgresMissing() ?? undefined }, async () => {
  const url = await freshDatabase();
  const stores = await Promise.all(Array.from({ length: 4 }, () => Store.openPostgres(url)));
  try {
    const rows = await stores[0].db.selectFrom('meta').select('key').where('key', 'like', 'migration:%').execute();
    assert.equal(rows.length, MIGRATIONS.length);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});
