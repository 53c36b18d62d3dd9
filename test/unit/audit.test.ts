/**
 * The audit trail's store and service against a real SQLite file: time windows and pages, input checks, and
 * retention (the retention service with a fixed clock deletes events past auditRetentionDays).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../src/store/store.js';
import { EventStore } from '../../src/store/event-store.js';
import { WebhookStore } from '../../src/store/webhook-store.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { AutomationStore } from '../../src/store/automation-store.js';
import { AuditStore, type AuditRecord } from '../../src/store/audit-store.js';
import { AuditService } from '../../src/service/audit.js';
import { RetentionService } from '../../src/service/retention.js';
import { DsError } from '../../src/domain/errors.js';
import { timeOrderedUuid } from '../../src/domain/ids.js';
import { currentStore, forEachStore } from '../support/stores.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-21T12:00:00Z');
const silent = { error() {}, info() {} };

async function withAudit(fn: (s: { store: Store; audit: AuditService; retention: RetentionService }) => Promise<void>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-audit-'));
  const store = await currentStore().open(dir);
  const audit = new AuditService(store, new AuditStore(store), { principalName: async (id) => (id === 'user-a' ? 'alice' : undefined), log: silent });
  const retention = new RetentionService(
    store,
    new EventStore(store),
    new WebhookStore(store, SecretBox.fromKeyFile(path.join(dir, 'secrets.key'))),
    new AutomationStore(store),
    { now: () => NOW },
    { eventRetentionDays: 30, audit, auditRetentionDays: 365, log: silent },
  );
  try {
    await fn({ store, audit, retention });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function event(ageMs: number, principalId: string | null, compartmentId = 'c1'): AuditRecord {
  const id = timeOrderedUuid();
  const eventTime = new Date(NOW - ageMs).toISOString();
  return {
    id,
    eventTime,
    compartmentId,
    principalId,
    event: { eventId: id, eventTime, data: { eventName: 'CreateJob', identity: principalId ? { principalId } : {} } },
  };
}

async function add(store: Store, records: AuditRecord[]) {
  const s = new AuditStore(store);
  await store.transaction((tx) => s.insert(tx, records));
}

const window = (fromAgo: number, toAgo = 0) => ({ startTime: new Date(NOW - fromAgo).toISOString(), endTime: new Date(NOW - toAgo + 1).toISOString() });

forEachStore(() => {
  test('lists a compartment\'s events in a time window, oldest first, by principal, page by page; names filled in when read', async () => {
    await withAudit(async ({ store, audit }) => {
      const old = event(10 * DAY, 'user-a');
      const a = [1, 2, 3, 4, 5].map((h) => event(h * 3_600_000, 'user-a'));
      const b = event(30 * 60_000, 'user-b');
      const other = event(60_000, 'user-a', 'c2');
      await add(store, [old, ...a, b, other]);
      const all = await audit.list({ compartmentId: 'c1', ...window(DAY) });
      assert.deepEqual(all.items.map((e) => e.eventId), [...a.reverse(), b].map((e) => e.id));
      assert.equal(all.nextPage, null);
      const first = all.items[0] as { data: { identity: { principalName?: string } } };
      assert.equal(first.data.identity.principalName, 'alice');

      const onlyB = await audit.list({ compartmentId: 'c1', ...window(DAY), principalId: 'user-b' });
      assert.deepEqual(onlyB.items.map((e) => e.eventId), [b.id]);

      const seen: unknown[] = [];
      let page: string | undefined;
      let pages = 0;
      do {
        const r = await audit.list({ compartmentId: 'c1', ...window(DAY), limit: 2, page });
        seen.push(...r.items.map((e) => e.eventId));
        page = r.nextPage ?? undefined;
        pages++;
      } while (page);
      assert.equal(pages, 3);
      assert.deepEqual(seen, all.items.map((e) => e.eventId));
    });
  });

  test('an event recorded is in a list asked for right after it, in the same turn (PostgreSQL writes it at the end of its batch)', async () => {
    await withAudit(async ({ audit }) => {
      const e = event(60_000, 'user-a');
      audit.record(e);
      const r = await audit.list({ compartmentId: 'c1', ...window(DAY) });
      assert.deepEqual(r.items.map((x) => x.eventId), [e.id]);
    });
  });

  test('startTime and endTime are required, RFC 3339, ordered and at most 366 days apart; a page token must be one the server gave', async () => {
    await withAudit(async ({ audit }) => {
      const refused = async (q: Parameters<AuditService['list']>[0], field: string, reason: RegExp) => {
        await assert.rejects(audit.list(q), (e: unknown) => {
          assert.ok(e instanceof DsError);
          assert.equal(e.code, 'InvalidParameter');
          assert.ok(e.message.startsWith(`${field}: `), e.message);
          assert.match(e.message, reason);
          return true;
        });
      };
      const t = '2026-11-01T00:00:00Z';
      await refused({ compartmentId: 'c1', endTime: t }, 'startTime', /is required/);
      await refused({ compartmentId: 'c1', startTime: t }, 'endTime', /is required/);
      await refused({ compartmentId: 'c1', startTime: 'yesterday', endTime: t }, 'startTime', /RFC 3339/);
      await refused({ compartmentId: 'c1', startTime: '2026-11-01', endTime: t }, 'startTime', /RFC 3339/);
      await refused({ compartmentId: 'c1', startTime: t, endTime: t }, 'endTime', /must be after startTime/);
      // The official SDK's way of writing a Date (the hour unpadded) is taken.
      assert.deepEqual((await audit.list({ compartmentId: 'c1', startTime: '2026-10-31T9:05:03Z', endTime: t })).items, []);
      await refused({ compartmentId: 'c1', startTime: '2025-01-01T00:00:00Z', endTime: t }, 'endTime', /at most 366 days/);
      await refused({ compartmentId: 'c1', startTime: '2026-10-01T00:00:00+02:00', endTime: t, page: 'bm9wZQ' }, 'page', /page token/);
    });
  });

  test('retention deletes audit events older than auditRetentionDays, in batches, and keeps newer ones', async () => {
    await withAudit(async ({ store, audit, retention }) => {
      const old = Array.from({ length: 5_500 }, () => event(400 * DAY, 'user-a'));
      const kept = [event(364 * DAY, 'user-a'), event(DAY, 'user-b')];
      await add(store, [...old, ...kept]);
      const r = await retention.pass();
      assert.equal(r.auditEvents, 5_500);
      const left = await audit.list({ compartmentId: 'c1', startTime: new Date(NOW - 366 * DAY).toISOString(), endTime: new Date(NOW).toISOString(), limit: 1000 });
      assert.deepEqual(left.items.map((e) => e.eventId), kept.map((e) => e.id));
      assert.equal((await retention.pass()).auditEvents, 0);
    });
  });
});
