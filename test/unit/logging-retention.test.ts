/**
 * Each OCI Logging log's retentionDuration, applied by the retention pass (src/service/retention.ts with
 * LoggingService.applyRetention) against a real SQLite file: pushed entries older than the log's retention go,
 * newer ones and other logs' entries stay.
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
import { RetentionService } from '../../src/service/retention.js';
import { LogService } from '../../src/logs/log-service.js';
import { LoggingService } from '../../src/service/logging.js';
import { WorkRequestsService } from '../../src/service/work-requests.js';
import { currentStore, forEachStore } from '../support/stores.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-21T12:00:00Z');
const silent = { error() {}, info() {} };
const identity = { region: 'local', tenancyId: 'ocid1.tenancy.oc1..t', defaultCompartmentId: 'ocid1.compartment.oc1..c', userId: 'u' };

forEachStore(() => {
  test("a log's pushed entries older than its retentionDuration go at the retention pass; newer ones, and a longer-kept log's, stay", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-logret-'));
    const store = await currentStore().open(dir);
    try {
      const clock = { now: () => NOW };
      const logs = new LogService(path.join(dir, 'runs'));
      const logging = new LoggingService(store, new WorkRequestsService(store, identity, clock), identity, clock, logs);
      const wr = await logging.createGroup({ compartmentId: identity.defaultCompartmentId, displayName: 'g' });
      const groupId = (await store.db.selectFrom('log_groups').select('id').executeTakeFirstOrThrow()).id;
      assert.match(wr, /^ocid1\./);
      await logging.createLog(groupId, { displayName: 'short', logType: 'CUSTOM' });
      await logging.createLog(groupId, { displayName: 'long', logType: 'CUSTOM', retentionDuration: 90 });
      const byName = Object.fromEntries((await store.db.selectFrom('logs').select(['id', 'display_name']).execute()).map((r) => [r.display_name, r.id]));
      const push = (logId: string, ageDays: number, n: number) =>
        logging.putLogs(logId, {
          specversion: '1.0',
          logEntryBatches: [{ source: 's', type: 't', defaultlogentrytime: new Date(NOW - ageDays * DAY).toISOString(), entries: Array.from({ length: n }, (_, i) => ({ id: `${ageDays}-${i}`, data: 'x' })) }],
        });
      await push(byName.short, 31, 6000); // past the default 30 days: more than one batch of deletes
      await push(byName.short, 29, 5);
      await push(byName.long, 31, 7);
      const retention = new RetentionService(store, new EventStore(store), new WebhookStore(store, SecretBox.fromKeyFile(path.join(dir, 'k'))), new AutomationStore(store), clock, {
        eventRetentionDays: 30,
        logging: () => logging.applyRetention((id) => logs.remove(id)),
        log: silent,
      });
      const r = await retention.pass();
      assert.equal(r.logEntries, 6000);
      const left = await store.db.selectFrom('log_entries').select(['log_id', 'entry_id']).execute();
      assert.equal(left.filter((e) => e.log_id === byName.short).length, 5);
      assert.ok(left.filter((e) => e.log_id === byName.short).every((e) => e.entry_id.startsWith('29-')));
      assert.equal(left.filter((e) => e.log_id === byName.long).length, 7);
      assert.equal((await retention.pass()).logEntries, 0);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
