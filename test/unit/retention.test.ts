/**
 * Retention (src/service/retention.ts) against a real SQLite file: what goes, what stays because something still
 * needs it, in batches past one transaction's worth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../src/store/store.js';
import { EventStore } from '../../src/store/event-store.js';
import { WebhookStore } from '../../src/store/webhook-store.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { AutomationStore } from '../../src/store/automation-store.js';
import { RetentionService } from '../../src/service/retention.js';
import { LogService } from '../../src/logs/log-service.js';
import { currentStore, forEachStore } from '../support/stores.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-21T12:00:00Z');
const silent = { error() {}, info() {} };

async function withStores(fn: (s: { store: Store; events: EventStore; hooks: WebhookStore; automation: AutomationStore; retention: RetentionService }) => Promise<void>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-retention-'));
  const store = await currentStore().open(dir);
  const events = new EventStore(store);
  const hooks = new WebhookStore(store, SecretBox.fromKeyFile(path.join(dir, 'secrets.key')));
  const automation = new AutomationStore(store);
  const retention = new RetentionService(store, events, hooks, automation, { now: () => NOW }, { eventRetentionDays: 30, log: silent });
  try {
    await fn({ store, events, hooks, automation, retention });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `n` events `ageDays` old, in one transaction; their sequence numbers. */
async function addEvents(store: Store, n: number, ageDays: number): Promise<number[]> {
  const time = new Date(NOW - ageDays * DAY).toISOString();
  return store.transaction(async (tx) => {
    const seqs: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = `ev-${ageDays}-${i}-${Math.random().toString(36).slice(2)}`;
      const row = await tx.insertInto('events').values({ id, time, type: 't', resource_id: 'r', compartment_id: 'c', project_id: null, job_id: null, state: null, data: '{}' }).returning('seq').executeTakeFirstOrThrow();
      seqs.push(Number(row.seq));
    }
    return seqs;
  });
}

const seqsLeft = async (store: Store) => (await store.db.selectFrom('events').select('seq').orderBy('seq').execute()).map((r) => Number(r.seq));

forEachStore(() => {
  test('events past the retention go, in batches, oldest first; newer ones stay', async () => {
    await withStores(async ({ store, retention }) => {
      await addEvents(store, 12_000, 40);
      const recent = await addEvents(store, 5, 1);
      const r = await retention.pass();
      assert.equal(r.events, 12_000);
      assert.deepEqual(await seqsLeft(store), recent);
      assert.equal((await retention.pass()).events, 0);
    });
  });

  test('old events something still needs stay: a pending delivery, the webhook cursor while subscriptions exist, the trigger cursor while a rule listens', async () => {
    await withStores(async ({ store, events, hooks, automation, retention }) => {
      const seqs = await addEvents(store, 100, 40);
      const at = (i: number) => seqs[i - 1]!;
      const sub = { id: 'sub1', compartmentId: 'c', displayName: 's', url: 'https://example.com/h', secret: 'x', filter: {}, lifecycleState: 'ACTIVE' as const, startSeq: 0, createdBy: null, timeCreated: new Date(NOW).toISOString(), version: 1 };
      const rule = { id: 'rule1', compartmentId: 'c', displayName: 'r', lifecycleState: 'ACTIVE' as const, condition: { eventTypes: ['t'] }, jobId: 'j', projectId: 'p', overrides: {}, secretHash: 'h', createdBy: null, timeCreated: new Date(NOW).toISOString(), version: 1 };
      await store.transaction(async (tx) => {
        await hooks.insertSubscription(tx, sub);
        await hooks.insertDelivery(tx, { id: 'd1', subscriptionId: 'sub1', eventId: 'unused', eventSeq: at(30), nowMs: NOW - 40 * DAY });
        await events.setCursor(tx, 'webhooks', at(60));
        await automation.insertRule(tx, rule);
        await events.setCursor(tx, 'triggers', at(80));
      });
      await retention.pass();
      assert.equal((await seqsLeft(store))[0], at(30), 'the pending delivery keeps its event');

      await store.db.updateTable('webhook_deliveries').set({ status: 'SUCCEEDED' }).where('id', '=', 'd1').execute();
      await retention.pass();
      assert.equal((await seqsLeft(store))[0], at(61), 'events after the webhook cursor stay while a subscription exists');

      await hooks.updateSubscription('sub1', 1, { lifecycleState: 'DELETED' });
      await retention.pass();
      assert.equal((await seqsLeft(store))[0], at(81), 'events after the trigger cursor stay while a rule listens');

      await automation.updateRule('rule1', 1, { lifecycleState: 'INACTIVE' });
      await retention.pass();
      assert.deepEqual(await seqsLeft(store), []);
    });
  });

  test('finished deliveries past the retention and retry tokens past 24 hours go; the rest stay', async () => {
    await withStores(async ({ store, hooks, retention }) => {
      const sub = { id: 'sub1', compartmentId: 'c', displayName: 's', url: 'https://example.com/h', secret: 'x', filter: {}, lifecycleState: 'ACTIVE' as const, startSeq: 0, createdBy: null, timeCreated: new Date(NOW).toISOString(), version: 1 };
      await store.transaction(async (tx) => {
        await hooks.insertSubscription(tx, sub);
        let k = 0;
        for (const [status, ageDays] of [['SUCCEEDED', 40], ['FAILED', 40], ['SUCCEEDED', 2], ['PENDING', 40]] as const) {
          await hooks.insertDelivery(tx, { id: `d-${status}-${ageDays}`, subscriptionId: 'sub1', eventId: `e${k}`, eventSeq: ++k, nowMs: NOW - ageDays * DAY });
          await tx.updateTable('webhook_deliveries').set({ status }).where('id', '=', `d-${status}-${ageDays}`).execute();
        }
        for (const [token, ageHours] of [['old', 25], ['new', 1]] as const) {
          await tx.insertInto('retry_tokens').values({ token, operation: 'createJobRun', body_hash: 'h', resource_id: 'x', created_ms: NOW - ageHours * 3_600_000 }).execute();
        }
      });
      const r = await retention.pass();
      assert.deepEqual({ deliveries: r.deliveries, retryTokens: r.retryTokens }, { deliveries: 2, retryTokens: 1 });
      const left = (await store.db.selectFrom('webhook_deliveries').select('id').orderBy('id').execute()).map((d) => d.id);
      assert.deepEqual(left, ['d-PENDING-40', 'd-SUCCEEDED-2']);
      const tokens = (await store.db.selectFrom('retry_tokens').select('token').execute()).map((t) => t.token);
      assert.deepEqual(tokens, ['new']);
    });
  });

  /** A run row ended `ageDays` ago (null: still running), with a log of `bytes` in its run directory. */
  async function addRunWithLog(store: Store, runsDir: string, id: string, state: string, ageDays: number | null, bytes: number) {
    await store.db
      .insertInto('job_runs')
      .values({
        id,
        job_id: 'j',
        project_id: 'p',
        compartment_id: 'c',
        lifecycle_state: state,
        time_accepted: new Date(NOW - 100 * DAY).toISOString(),
        time_finished: ageDays === null ? null : new Date(NOW - ageDays * DAY).toISOString(),
        created_by: 'u',
        configuration_override: '{}',
        infrastructure: '{}',
        freeform_tags: '{}',
        defined_tags: '{}',
        launch: '{}',
        version: 1,
      } as never)
      .execute();
    mkdirSync(path.join(runsDir, id), { recursive: true });
    writeFileSync(path.join(runsDir, id, 'log.ndjson'), Buffer.alloc(bytes, 0x61));
    writeFileSync(path.join(runsDir, id, 'ingest.json'), JSON.stringify({ stdout: bytes, stderr: 0, seq: 1, logSize: bytes, complete: true }));
  }

  test('with logRetentionDays, the logs of runs that ended before it go and the bytes freed are reported; nothing else', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-log-retention-'));
    const store = await currentStore().open(dir);
    try {
      const runsDir = path.join(dir, 'runs');
      const logs = new LogService(runsDir);
      const events = new EventStore(store);
      const hooks = new WebhookStore(store, SecretBox.fromKeyFile(path.join(dir, 'secrets.key')));
      const automation = new AutomationStore(store);
      const make = (logRetentionDays?: number) =>
        new RetentionService(store, events, hooks, automation, { now: () => NOW }, { eventRetentionDays: 30, logRetentionDays, logs, log: silent });
      await addRunWithLog(store, runsDir, 'old-ok', 'SUCCEEDED', 10, 100_000);
      await addRunWithLog(store, runsDir, 'old-failed', 'FAILED', 8, 50_000);
      await addRunWithLog(store, runsDir, 'recent', 'SUCCEEDED', 2, 10_000);
      await addRunWithLog(store, runsDir, 'running', 'IN_PROGRESS', null, 10_000);
      const logOf = (id: string) => path.join(runsDir, id, 'log.ndjson');

      // Off by default: OCI keeps runs, and their logs, until they are deleted.
      const off = await make().pass();
      assert.deepEqual({ logs: off.logs, logBytes: off.logBytes }, { logs: 0, logBytes: 0 });
      assert.ok(existsSync(logOf('old-ok')));

      const r = await make(7).pass();
      assert.equal(r.logs, 2);
      assert.ok(r.logBytes >= 150_000, `${r.logBytes} bytes reported freed`);
      assert.equal(existsSync(logOf('old-ok')), false);
      assert.equal(existsSync(logOf('old-failed')), false);
      assert.ok(existsSync(logOf('recent')));
      assert.ok(existsSync(logOf('running')));
      // A removed log reads as empty and sealed: a follower ends instead of waiting.
      const text = await new Promise<string>((resolve, reject) => {
        let out = '';
        logs.read('old-ok', 0, true).on('data', (d: Buffer) => (out += d)).on('end', () => resolve(out)).on('error', reject);
      });
      assert.equal(text, '');
      // Already removed: not counted again.
      assert.deepEqual(await make(7).pass().then((x) => [x.logs, x.logBytes]), [0, 0]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the directories of deleted runs that are still there go (and only theirs)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-run-dirs-'));
    const store = await currentStore().open(dir);
    try {
      const runsDir = path.join(dir, 'runs');
      const logs = new LogService(runsDir);
      const forgotten: string[] = [];
      const retention = new RetentionService(
        store,
        new EventStore(store),
        new WebhookStore(store, SecretBox.fromKeyFile(path.join(dir, 'secrets.key'))),
        new AutomationStore(store),
        { now: () => NOW },
        {
          eventRetentionDays: 30,
          logs,
          forgetRun: async (id) => {
            forgotten.push(id);
            rmSync(path.join(runsDir, id), { recursive: true, force: true });
          },
          log: silent,
        },
      );
      await addRunWithLog(store, runsDir, 'deleted', 'DELETED', 40, 1000);
      await addRunWithLog(store, runsDir, 'kept', 'SUCCEEDED', 40, 1000);
      mkdirSync(path.join(runsDir, 'unknown'));
      const r = await retention.pass();
      assert.equal(r.runDirs, 1);
      assert.deepEqual(forgotten, ['deleted']);
      assert.equal(existsSync(path.join(runsDir, 'deleted')), false);
      assert.ok(existsSync(path.join(runsDir, 'kept', 'log.ndjson')), 'logs are kept without logRetentionDays');
      assert.ok(existsSync(path.join(runsDir, 'unknown')), "a directory this store has no run for is not this server's to remove");
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
