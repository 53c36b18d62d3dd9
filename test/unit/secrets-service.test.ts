import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../src/store/store.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { LogService } from '../../src/logs/log-service.js';
import { LOG_FILE } from '../../src/logs/run-log.js';
import { MASK } from '../../src/logs/masker.js';
import { SecretsService } from '../../src/service/secrets.js';
import type { Principal } from '../../src/domain/principal.js';
import { bodyHash } from '../../src/service/common.js';
import { currentStore, forEachStore } from '../support/stores.js';

const server = { region: 'local', tenancyId: 'ocid1.tenancy.dsjobs..t', defaultCompartmentId: 'ocid1.compartment.dsjobs..d', userId: 'ocid1.user.dsjobs..admin' };
const VALUE = 'service-level-secret-9e4f2a';
const b64 = (v: string) => Buffer.from(v).toString('base64');

/** A real SQLite store, the sealing key file, a LogService over a runs directory, and the service; `now` moves the clock. */
async function setup(dir: string) {
  const store = await currentStore().open(dir);
  const box = SecretBox.fromKeyFile(path.join(dir, 'secrets.key'));
  const logs = new LogService(path.join(dir, 'runs'));
  const clock = { t: Date.parse('2026-01-01T00:00:00Z'), now() { return this.t; } };
  const secrets = new SecretsService(store, box, server, clock, logs);
  const vault = await secrets.init();
  return { store, logs, secrets, clock, vault };
}

function runFiles(dir: string, runId: string) {
  mkdirSync(path.join(dir, 'raw'), { recursive: true });
  const files = { stdout: path.join(dir, 'raw', `${runId}.out`), stderr: path.join(dir, 'raw', `${runId}.err`) };
  writeFileSync(files.stdout, '');
  writeFileSync(files.stderr, '');
  return files;
}
const messages = (dir: string, runId: string) =>
  readFileSync(path.join(dir, 'runs', runId, LOG_FILE), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l).message);

forEachStore(() => {
  test('a bundle read by a run principal is masked in that run\'s log, recorded sealed, and masked again after a restart', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-secrets-'));
    try {
      let { store, logs, secrets, vault } = await setup(dir);
      const s = await secrets.create({ compartmentId: server.tenancyId, secretName: 'db', vaultId: vault.vaultId, keyId: vault.keyId, secretContent: { contentType: 'BASE64', content: b64(VALUE) } });
      const run: Principal = { kind: 'run', runId: 'ocid1.datasciencejobrun.dsjobs.local.r1', compartmentId: server.tenancyId };
      const other = { kind: 'run' as const, runId: 'ocid1.datasciencejobrun.dsjobs.local.r2', compartmentId: server.tenancyId };
      const files = runFiles(dir, run.runId);
      const otherFiles = runFiles(dir, other.runId);
      logs.attach(run.runId, files);
      logs.attach(other.runId, otherFiles);

      const bundle = await secrets.getBundle(s.id, {}, run);
      assert.equal(Buffer.from(bundle.content, 'base64').toString(), VALUE);
      // A user reading the same secret registers nothing.
      await secrets.getBundle(s.id, {}, { kind: 'user', userId: server.userId, groupNames: [] });
      const rows = await store.db.selectFrom('run_secret_masks').selectAll().execute();
      assert.deepEqual(rows.map((r) => [r.run_id, r.secret_id, r.version_number]), [[run.runId, s.id, 1]]);
      assert.ok(SecretBox.isSealed(rows[0].sealed_content), 'the recorded copy is sealed');

      appendFileSync(files.stdout, `connecting with ${VALUE}\n`);
      appendFileSync(otherFiles.stdout, `other run prints ${VALUE}\n`);
      // The server stops with the line not yet captured (close: checkpoints stay), then starts again.
      logs.close();
      await store.close();
      ({ store, logs, secrets } = await setup(dir));
      // Only the active run keeps its masks; the record of a run no longer active is dropped.
      assert.equal(await secrets.restoreMasks([run.runId, other.runId]), 1);
      logs.attach(run.runId, files);
      logs.attach(other.runId, otherFiles);
      appendFileSync(files.stdout, `base64: ${b64(VALUE)}\n`);
      await logs.finish(run.runId);
      await logs.finish(other.runId);
      assert.deepEqual(messages(dir, run.runId), [`connecting with ${MASK}`, `base64: ${MASK}`]);
      // Masks belong to the run that read the value: another run's log is not touched (it did not read it here).
      assert.deepEqual(messages(dir, other.runId), [`other run prints ${VALUE}`]);
      await secrets.restoreMasks([]);
      assert.equal((await store.db.selectFrom('run_secret_masks').selectAll().execute()).length, 0);
      // The hourly pass forgets the values of runs that are not active (here: not in job_runs at all).
      await secrets.getBundle(s.id, {}, run);
      assert.equal((await store.db.selectFrom('run_secret_masks').selectAll().execute()).length, 1);
      await secrets.housekeeping();
      assert.equal((await store.db.selectFrom('run_secret_masks').selectAll().execute()).length, 0);
      // A restart with tens of thousands of queued runs (benchmark 3's): more ids than SQLite takes in one statement.
      await secrets.restoreMasks(Array.from({ length: 40_000 }, (_, i) => `ocid1.datasciencejobrun.dsjobs.local.q${i}`));

      // Neither the value nor its Base64 is in the database file.
      await store.close();
      for (const f of ['dsjobs.db', 'dsjobs.db-wal']) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(path.join(dir, f));
        } catch {
          continue;
        }
        assert.equal(bytes.indexOf(VALUE), -1, f);
        assert.equal(bytes.indexOf(b64(VALUE)), -1, f);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('deletion: once its time has come the secret is DELETED and its contents gone; before, it can be cancelled', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-secrets-'));
    const { store, secrets, clock, vault } = await setup(dir);
    try {
      const s = await secrets.create({ compartmentId: server.tenancyId, secretName: 'gone', vaultId: vault.vaultId, keyId: vault.keyId, secretContent: { contentType: 'BASE64', content: b64(VALUE) } });
      await secrets.update(s.id, { secretContent: { contentType: 'BASE64', content: b64('second') } });
      await secrets.scheduleDeletion(s.id, new Date(clock.t + 2 * 86_400_000).toISOString());
      clock.t += 86_400_000;
      assert.equal((await secrets.get(s.id)).lifecycleState, 'PENDING_DELETION');
      await assert.rejects(secrets.getBundle(s.id, {}, null), { code: 'IncorrectState' });
      clock.t += 86_400_000 + 1;
      assert.equal(await secrets.deleteDue(), 1);
      assert.equal((await secrets.get(s.id)).lifecycleState, 'DELETED');
      assert.equal((await store.db.selectFrom('secret_versions').selectAll().where('secret_id', '=', s.id).execute()).length, 0);
      await assert.rejects(secrets.getBundle(s.id, {}, null), { code: 'NotAuthorizedOrNotFound' });
      await assert.rejects(secrets.cancelDeletion(s.id), { code: 'IncorrectState' });
      // Another secret's deletion is cancelled in time.
      const kept = await secrets.create({ compartmentId: server.tenancyId, secretName: 'kept', vaultId: vault.vaultId, keyId: vault.keyId, secretContent: { contentType: 'BASE64', content: b64(VALUE) } });
      await secrets.scheduleDeletion(kept.id, undefined);
      await secrets.cancelDeletion(kept.id);
      clock.t += 40 * 86_400_000;
      assert.equal(await secrets.deleteDue(), 0);
      assert.equal((await secrets.get(kept.id)).lifecycleState, 'ACTIVE');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a start without the original key file is refused, not served with a new key', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-secrets-'));
    try {
      const first = await setup(dir);
      await first.secrets.create({ compartmentId: server.tenancyId, secretName: 'k', vaultId: first.vault.vaultId, keyId: first.vault.keyId, secretContent: { contentType: 'BASE64', content: b64(VALUE) } });
      await first.store.close();
      const keyFile = path.join(dir, 'secrets.key');
      const original = readFileSync(keyFile);
      rmSync(keyFile);
      await assert.rejects(setup(dir), /secrets key file .*secrets\.key is missing, and the vault's secrets in the database are sealed with it/);
      assert.throws(() => readFileSync(keyFile), /ENOENT/, 'the key this start made is removed again');
      writeFileSync(keyFile, `${'ab'.repeat(32)}\n`);
      await assert.rejects(setup(dir), /sealed with another key/);
      writeFileSync(keyFile, original);
      const again = await setup(dir);
      const s = (await again.secrets.list({ compartmentId: server.tenancyId })).items[0];
      assert.equal(Buffer.from((await again.secrets.getBundle(s.id, {}, null)).content, 'base64').toString(), VALUE);
      await again.store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a retry token keeps no plain hash of the contents (a short secret could be found from it by trying candidates)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-secrets-'));
    const { store, secrets, vault } = await setup(dir);
    try {
      const d = { compartmentId: server.tenancyId, secretName: 'pin', vaultId: vault.vaultId, keyId: vault.keyId, secretContent: { contentType: 'BASE64' as const, content: b64('1234') } };
      const s = await secrets.create(d, 'retry-1');
      assert.equal((await secrets.create(d, 'retry-1')).id, s.id);
      const row = await store.db.selectFrom('retry_tokens').selectAll().where('token', '=', 'retry-1').executeTakeFirstOrThrow();
      for (const pin of ['0000', '1234', '9999']) {
        assert.notEqual(row.body_hash, bodyHash({ ...d, secretContent: { ...d.secretContent, content: b64(pin) } }));
      }
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
