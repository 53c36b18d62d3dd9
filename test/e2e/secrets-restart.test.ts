/**
 * A restart keeps masking: the values a run had read (recorded sealed in run_secret_masks) are given back to the log
 * service before recovery re-attaches the run's log, so what the run printed while the server was down is stored
 * masked. The record is written here straight into the database while the server is down, as SecretsService writes
 * it when a run principal reads a bundle (that path is tested in test/unit/secrets-service.test.ts); this test is
 * about the server's start order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SecretBox } from '../../src/store/secret-box.js';
import { createJob, readLogs, startRun, startServer, waitForRun, type TestServer } from '../support/server.js';

/** The job coordinates with the test through files in the host's /tmp: it runs unsandboxed (as durability.test.ts). */
const HOST_FILES = { DSJOBS_SANDBOX: 'off' };
const VALUE = 'restart-secret-4c1d9e7a';
const waitFile = (f: string) => `while [ ! -e '${f}' ]; do sleep 0.05; done`;

async function waitForLogs(s: TestServer, runId: string, count: number, timeoutMs = 20_000) {
  const start = Date.now();
  for (;;) {
    const logs = await readLogs(s, runId);
    if (logs.length >= count) return logs;
    if (Date.now() - start > timeoutMs) throw new Error(`run ${runId} logged ${logs.length} of ${count} lines: ${JSON.stringify(logs)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('what a run prints while the server is down is stored masked after the restart', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-secrets-restart-'));
  const f = (n: string) => path.join(tmp, n);
  let s = await startServer({ env: HOST_FILES });
  try {
    const b64 = Buffer.from(VALUE).toString('base64');
    const script = [
      'set -e',
      `echo "before ${VALUE}"`,
      waitFile(f('go')),
      `echo "after ${VALUE}"`,
      `echo "after-b64 ${b64}"`,
      `touch '${f('printed')}'`,
      waitFile(f('end')),
    ].join('\n');
    const job = await createJob(s, 'r.sh', `${script}\n`);
    const run = await startRun(s, job);
    await waitForRun(s.api, run.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    assert.deepEqual((await waitForLogs(s, run.id, 1)).map((l) => l.message), [`before ${VALUE}`], 'nothing is masked before the run reads the value');

    await s.kill('SIGKILL');
    // The run read the value (recorded as the service records it: sealed with the server's key).
    const box = SecretBox.fromKeyFile(path.join(s.dataDir, 'secrets.key'));
    const db = new Database(path.join(s.dataDir, 'dsjobs.db'));
    db.prepare('INSERT INTO run_secret_masks (run_id, secret_id, version_number, sealed_content) VALUES (?, ?, 1, ?)').run(run.id, 'ocid1.vaultsecret.test', box.seal(b64));
    db.close();
    // The run prints while the server is down.
    writeFileSync(f('go'), '');
    for (let i = 0; i < 400 && !existsSync(f('printed')); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(existsSync(f('printed')), 'the run printed while the server was down');

    s = await s.restart();
    const logs = await waitForLogs(s, run.id, 3);
    assert.deepEqual(logs.map((l) => l.message), [`before ${VALUE}`, 'after ***', 'after-b64 ***']);
    writeFileSync(f('end'), '');
    assert.equal((await waitForRun(s.api, run.id)).lifecycleState, 'SUCCEEDED');
  } finally {
    writeFileSync(f('go'), '');
    writeFileSync(f('end'), '');
    await s.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
