/**
 * A run's stored executor handle across an upgrade and a downgrade: a handle of the current format without a version
 * (as dsjobs wrote it before handles had versions) is re-attached after a restart; one of a version this dsjobs does
 * not know (a newer dsjobs wrote it) ends the run lost, saying why, instead of being misread. Simulated by rewriting
 * the handle in a stopped server's database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startServer, createJob, startRun, waitForRun, readLogs, type TestServer } from '../support/server.js';

/** The jobs wait for a file in the host's /tmp, which a sandboxed run cannot see: unsandboxed (cgroups stay on). */
const HOST_FILES = { DSJOBS_SANDBOX: 'off' };

async function waitForLog(s: TestServer, runId: string, text: string, timeoutMs = 30_000) {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if ((await readLogs(s, runId)).some((l) => l.message === text)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`log line '${text}' did not appear in run ${runId}`);
}

test('a stored handle without a version is re-attached after a restart; one of an unknown version ends the run lost, saying so', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-handles-'));
  const flag = path.join(tmp, 'go');
  let s = await startServer({ env: HOST_FILES });
  try {
    const job = await createJob(s, 'w.sh', `echo waiting\nwhile [ ! -e '${flag}' ]; do sleep 0.05; done\necho done\n`);
    const legacy = await startRun(s, job);
    const newer = await startRun(s, job);
    // IN_PROGRESS: the run's handle is stored (its output may show a moment before that).
    for (const r of [legacy, newer]) await waitForRun(s.api, r.id, (x) => x.lifecycleState === 'IN_PROGRESS');
    for (const r of [legacy, newer]) await waitForLog(s, r.id, 'waiting');
    await s.kill('SIGKILL');

    const db = new Database(path.join(s.dataDir, 'dsjobs.db'));
    const handleOf = (id: string) => JSON.parse((db.prepare('SELECT handle FROM job_runs WHERE id = ?').get(id) as { handle: string }).handle);
    const setHandle = (id: string, h: object) => db.prepare('UPDATE job_runs SET handle = ? WHERE id = ?').run(JSON.stringify(h), id);
    const stored = handleOf(legacy.id);
    assert.equal(stored.v, 1, `the handle carries its format version: ${JSON.stringify(stored)}`);
    const { v: _v, ...unversioned } = stored;
    setHandle(legacy.id, unversioned);
    const newerStored = handleOf(newer.id);
    assert.equal(newerStored.v, 1, `the handle carries its format version: ${JSON.stringify(newerStored)}`);
    setHandle(newer.id, { ...newerStored, v: 2 });
    db.close();

    s = await s.restart();
    const lost = await waitForRun(s.api, newer.id);
    assert.equal(lost.lifecycleState, 'FAILED', 'a handle that cannot be read is never a success');
    assert.match(lost.lifecycleDetails ?? '', /could not be determined.*format version 2, which this dsjobs does not read/);
    assert.equal((await s.api.getJobRun(legacy.id)).lifecycleState, 'IN_PROGRESS', 'the unversioned handle is re-attached');
    writeFileSync(flag, '');
    const done = await waitForRun(s.api, legacy.id);
    assert.equal(done.lifecycleState, 'SUCCEEDED');
    assert.deepEqual((await readLogs(s, legacy.id)).map((l) => l.message), ['waiting', 'done']);
  } finally {
    writeFileSync(flag, '');
    await s.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
