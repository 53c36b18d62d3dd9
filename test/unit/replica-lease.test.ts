/**
 * The coordinator's lease and its fence on a real PostgreSQL database (store/replica-store.ts, store/fence.ts): one
 * holder at a time, a new epoch at each change of holder, and a holder whose lease ran out and was taken (a paused
 * replica that resumes) has its fenced transactions rolled back, listeners it registered included. Also the HMAC
 * that replicas sign their internal requests with (domain/replica-auth.ts).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store/store.js';
import { MetaStore } from '../../src/store/meta-store.js';
import { LeaseLostError, runFenced, type Fence } from '../../src/store/fence.js';
import { EventFeed } from '../../src/events/feed.js';
import { EventStore } from '../../src/store/event-store.js';
import { signReplicaRequest, verifyReplicaRequest } from '../../src/domain/replica-auth.js';
import { freshDatabase, postgresMissing } from '../support/postgres.js';

const missing = postgresMissing();
let store: Store | null = null;
after(async () => {
  await store?.close();
});

const fenceOf = (s: Store, holder: string, epoch: number): Fence => async (tx) => {
  if (!(await s.replicas.holdsLease(tx, 'coordinator', holder, epoch))) throw new LeaseLostError(`${holder} lost epoch ${epoch}`);
};

test('a holder whose lease was taken over cannot commit fenced work; the new holder can', { skip: missing ?? undefined }, async () => {
  store = await Store.openPostgres(await freshDatabase());
  const s = store;
  const epochA = await s.replicas.acquireLease('coordinator', 'A', 300, null);
  assert.equal(epochA, 1);
  assert.equal(await s.replicas.acquireLease('coordinator', 'B', 300, null), null, 'held by A');
  assert.equal(await s.replicas.acquireLease('coordinator', 'A', 300, 1), 1, 'A renews under its epoch');
  const fenceA = fenceOf(s, 'A', 1);
  await runFenced(fenceA, () => s.transaction((tx) => new MetaStore(tx).setIfAbsent('a-before', 'yes')));
  assert.equal(await s.getMeta('a-before'), 'yes');

  // A is "paused": its lease runs out and B takes it.
  await new Promise((r) => setTimeout(r, 400));
  const epochB = await s.replicas.acquireLease('coordinator', 'B', 5_000, null);
  assert.equal(epochB, 2);

  // A resumes and acts on what it decided before: rolled back.
  await assert.rejects(
    runFenced(fenceA, () => s.transaction((tx) => new MetaStore(tx).setIfAbsent('a-stale', 'yes'))),
    LeaseLostError,
  );
  assert.equal(await s.getMeta('a-stale'), null);
  // Work A's listeners do when woken by anyone's commit is fenced as well (the feed binds them to A's context).
  const feed = new EventFeed(new EventStore(s));
  const outcome = new Promise<unknown>((resolve) => {
    runFenced(fenceA, () => feed.onEvents(() => void s.transaction((tx) => new MetaStore(tx).setIfAbsent('a-listener', 'yes')).then(resolve, resolve)));
  });
  feed.notify();
  assert.ok((await outcome) instanceof LeaseLostError);
  assert.equal(await s.getMeta('a-listener'), null);
  // Its renewal fails too: it learns it was deposed.
  assert.equal(await s.replicas.acquireLease('coordinator', 'A', 300, 1), null);

  await runFenced(fenceOf(s, 'B', 2), () => s.transaction((tx) => new MetaStore(tx).setIfAbsent('b-work', 'yes')));
  assert.equal(await s.getMeta('b-work'), 'yes');
  // Transactions outside the fenced work (API requests) are not checked.
  await s.transaction((tx) => new MetaStore(tx).setIfAbsent('api', 'yes'));
  assert.equal(await s.getMeta('api'), 'yes');
});

test('internal requests between replicas: a valid HMAC passes; another path, method, secret or an old time does not', () => {
  const now = 1_800_000_000_000;
  const h = signReplicaRequest('s3cret', 'replica-a', 'GET', '/internal/replica/jobRuns/x/logs?since=0&follow=true', now);
  assert.deepEqual(verifyReplicaRequest('s3cret', h, 'GET', '/internal/replica/jobRuns/x/logs?since=0&follow=true', now + 1000), { ok: true, replica: 'replica-a' });
  const refused = (r: ReturnType<typeof verifyReplicaRequest>) => assert.equal(r.ok, false);
  refused(verifyReplicaRequest('s3cret', h, 'GET', '/internal/replica/jobRuns/y/logs?since=0&follow=true', now));
  refused(verifyReplicaRequest('s3cret', h, 'POST', '/internal/replica/jobRuns/x/logs?since=0&follow=true', now));
  refused(verifyReplicaRequest('other', h, 'GET', '/internal/replica/jobRuns/x/logs?since=0&follow=true', now));
  refused(verifyReplicaRequest('s3cret', h, 'GET', '/internal/replica/jobRuns/x/logs?since=0&follow=true', now + 120_000));
  refused(verifyReplicaRequest('s3cret', undefined, 'GET', '/x', now));
  refused(verifyReplicaRequest('s3cret', 'a b', 'GET', '/x', now));
});
