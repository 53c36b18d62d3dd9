/**
 * Runs created together, on SQLite and on PostgreSQL alike. On PostgreSQL the runs and events of a group commit's
 * batch are written in one statement at its end, and a create that writes nothing else opens no savepoint:
 * these tests hold what must stay true then. A create whose run cannot be written (an id taken) fails alone; one
 * that fails after writing its run leaves nothing; two creates with one retry token in one batch give one run; a
 * chain's count inside a transaction sees the runs its batch-mates created; and the round trips a batch costs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store, type Tx } from '../../src/store/store.js';
import type { RunRecord } from '../../src/store/records.js';
import { completePlan } from '../../src/domain/launch.js';
import { DsError } from '../../src/domain/errors.js';
import { forEachStore, withStore as withStoreOf } from '../support/stores.js';
import { countQueries, freshDatabase, postgresMissing } from '../support/postgres.js';

const withStore = (fn: (store: Store) => Promise<void>) => withStoreOf('dsjobs-batched-runs-', fn);

let made = 0;
const run = (id: string, chainRoot: string | null = null): RunRecord => ({
  id, seq: 0, jobId: 'job', projectId: 'project', compartmentId: 'c', displayName: id, lifecycleState: 'ACCEPTED',
  lifecycleDetails: null, timeAccepted: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ++made)).toISOString(), timeStarted: null,
  timeFinished: null, createdBy: 'u', jobConfigurationOverrideDetails: { jobType: 'DEFAULT' },
  jobInfrastructureConfigurationDetails: null, jobInfrastructureConfigurationOverrideDetails: null,
  jobEnvironmentConfigurationOverrideDetails: null, jobLogConfigurationOverrideDetails: null,
  jobStorageMountConfigurationDetailsList: null, jobStorageMountConfigurationOverrideDetailsList: null, freeformTags: {},
  definedTags: {}, launch: completePlan({} as never), executor: null, handle: null, deadlineMs: null, killAtMs: null,
  stopReason: null, exitCode: null, exitSignal: null, outcomeReason: null, isolation: null, nodeGroups: null,
  jobNodeConfigurationOverrideDetails: null, version: 1, chain: { rootId: chainRoot, depth: chainRoot ? 1 : 0 }, owner: null,
} as unknown as RunRecord);

const accepted = (r: RunRecord) => ({ type: 'test.run.accepted', resourceId: r.id, compartmentId: 'c', projectId: null, jobId: null, state: 'ACCEPTED', data: { id: r.id } });

/** A create as the run service makes it: the run and its event in one transaction. */
const create = (store: Store, r: RunRecord, after?: () => void) => async (tx: Tx) => {
  await store.insertRun(tx, r);
  await store.insertEvent(tx, accepted(r));
  after?.();
  return r.id;
};

const eventsOf = async (store: Store) =>
  (await store.db.selectFrom('events').select('resource_id').where('type', '=', 'test.run.accepted').orderBy('seq').execute()).map((e) => e.resource_id);

forEachStore(() => {
  test('creates of one batch: one whose run cannot be written (id taken) fails alone, one that throws after writing leaves nothing, the others commit with their events', async () => {
    await withStore(async (store) => {
      await store.transaction(create(store, run('taken')));
      const results = await Promise.allSettled([
        store.transaction(create(store, run('a'))),
        store.transaction(create(store, run('b'))),
        store.transaction(create(store, run('taken'))),
        store.transaction(create(store, run('thrown'), () => { throw new DsError('Conflict', 'changed meanwhile'); })),
        store.transaction(create(store, run('c'))),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
      assert.match(String((results[2] as PromiseRejectedResult).reason), /duplicate|UNIQUE/i);
      assert.ok((results[3] as PromiseRejectedResult).reason instanceof DsError);
      for (const id of ['a', 'b', 'c']) assert.equal((await store.getRun(id))?.displayName, id);
      assert.equal(await store.getRun('thrown'), null);
      // The run that was there before keeps its one event; the failed creates wrote none.
      assert.deepEqual(await eventsOf(store), ['taken', 'a', 'b', 'c']);
    });
  });

  test('two creates with the same retry token in one batch give one run; the second gets its id', async () => {
    await withStore(async (store) => {
      const ids = ['t1', 't2'];
      const answers = await Promise.all(ids.map((id) => store.idempotent('createJobRun', 'tok', 'hash', create(store, run(id)))));
      assert.deepEqual(answers, [{ id: 't1', replayed: false }, { id: 't1', replayed: true }]);
      assert.equal(await store.getRun('t2'), null);
      assert.deepEqual(await eventsOf(store), ['t1']);
    });
  });

  test("a chain's runs counted inside a transaction include those its batch-mates created before it", async () => {
    await withStore(async (store) => {
      await store.transaction(create(store, run('root')));
      const [, , counted] = await Promise.all([
        store.transaction(create(store, run('k1', 'root'))),
        store.transaction(create(store, run('k2', 'root'))),
        store.transaction((tx) => store.countChainRuns('root', tx)),
      ]);
      assert.equal(counted, 2);
    });
  });
});

test('PostgreSQL: a batch of creates (a run and an event each) costs three round trips whatever its size', { skip: postgresMissing() ?? undefined }, async () => {
  const store = await Store.openPostgres(await freshDatabase());
  const queries = countQueries();
  try {
    for (const n of [1, 20]) {
      queries.count = 0;
      await Promise.all(Array.from({ length: n }, (_, i) => store.transaction(create(store, run(`n${n}.${i}`)))));
      // BEGIN (with the writers' lock and a savepoint), the runs and the events in one statement, COMMIT. It was
      // 2n + 3: each create's SAVEPOINT, its run's INSERT and its RELEASE.
      assert.equal(queries.count, 3, `a batch of ${n}`);
    }
  } finally {
    queries.restore();
    await store.close();
  }
});
