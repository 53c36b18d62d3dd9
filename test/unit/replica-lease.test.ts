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
import { WebhookStore } from '../../src/store/webhook-store.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

test("a webhook delivery's result recorded by a holder that lost the lease is rolled back; the new holder's is kept", { skip: missing ?? undefined }, async () => {
  const s = await Store.openPostgres(await freshDatabase());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-webhook-fence-'));
  try {
    const hooks = new WebhookStore(s, SecretBox.fromKeyFile(path.join(dir, 'secrets.key')));
    const sub = 'ocid1.webhooksubscription.test';
    await s.transaction(async (tx) => {
      await hooks.insertSubscription(tx, {
        id: sub, compartmentId: 'ocid1.compartment.test', displayName: 'hook', url: 'https://example.invalid/hook', secret: 'x'.repeat(32),
        filter: {} as never, lifecycleState: 'ACTIVE', startSeq: 0, createdBy: null, timeCreated: new Date().toISOString(), version: 1,
      });
      await hooks.insertDelivery(tx, { id: 'delivery-1', subscriptionId: sub, eventId: 'event-1', eventSeq: 1, nowMs: Date.now() });
    });
    const [pending] = await hooks.listDeliveries({ subscriptionId: sub, limit: 10 });
    assert.equal(pending.status, 'PENDING');
    assert.equal(await s.replicas.acquireLease('coordinator', 'A', 200, null), 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await s.replicas.acquireLease('coordinator', 'B', 5_000, null), 2);

    // A sent the event before it was paused; it resumes and records the result (and the retry count): refused.
    const attempt = { time: new Date().toISOString(), statusCode: 500, error: 'server error', durationMs: 5 };
    await assert.rejects(
      runFenced(fenceOf(s, 'A', 1), () => hooks.recordAttempt(pending, attempt, { status: 'PENDING', nextAttemptMs: Date.now() + 60_000 })),
      LeaseLostError,
    );
    const [untouched] = await hooks.listDeliveries({ subscriptionId: sub, limit: 10 });
    assert.equal(untouched.status, 'PENDING');
    assert.equal(untouched.attempts, 0, 'no retry counted by the deposed holder');
    assert.deepEqual(untouched.attemptLog, []);

    // B, the holder now, delivers it: recorded.
    await runFenced(fenceOf(s, 'B', 2), () => hooks.recordAttempt(pending, { ...attempt, statusCode: 200, error: null }, { status: 'SUCCEEDED', nextAttemptMs: null }));
    const [delivered] = await hooks.listDeliveries({ subscriptionId: sub, limit: 10 });
    assert.equal(delivered.status, 'SUCCEEDED');
    assert.equal(delivered.attempts, 1);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
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
