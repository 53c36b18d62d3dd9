/**
 * A server on PostgreSQL while PostgreSQL itself restarts (fast shutdown: every connection is cut) with runs in
 * flight: GET /readyz says NOT_READY while the database is away and READY again after, the server reconnects by
 * itself, and nothing is lost: every run ends SUCCEEDED with its whole log, and new runs are accepted. GET /healthz
 * answers throughout (the process is alive).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createJob, readLogs, startRun, startServer, waitForRun, type TestServer } from '../support/server.js';
import { freshDatabase, postgresCluster, postgresMissing } from '../support/postgres.js';

const missing = postgresMissing();
let s: TestServer;

before(async () => {
  if (missing) return;
  s = await startServer({ env: { DSJOBS_DATABASE: await freshDatabase() } });
});
after(async () => {
  await s?.close();
});

/** Polls GET /readyz until `pred` holds for its status code (bounded). */
async function readyUntil(pred: (code: number) => boolean, what: string): Promise<void> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    const code = await fetch(`${s.url}/readyz`).then((r) => r.status, () => 0);
    if (pred(code)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`GET /readyz never ${what}`);
}

test('PostgreSQL restarts while runs are in flight: the server reconnects, readiness follows the database, nothing is lost', { skip: missing ?? undefined }, async () => {
  await readyUntil((c) => c === 200, 'answered 200 at start');
  const job = await createJob(s, 'steps.py', 'import time\nfor i in range(6):\n    print(f"step {i}", flush=True)\n    time.sleep(0.5)\n');
  const runs = await Promise.all([0, 1, 2, 3].map(() => startRun(s, job)));
  await Promise.all(runs.map((r) => waitForRun(s.api, r.id, (x) => x.lifecycleState === 'IN_PROGRESS')));

  // Stop PostgreSQL, see readiness drop while it is down (liveness stays), start it again on the same port.
  const dir = postgresCluster().dir;
  execFileSync('bash', ['scripts/postgres.sh', 'halt', dir], { stdio: 'ignore' });
  try {
    await readyUntil((c) => c === 503, 'answered 503 while PostgreSQL was down');
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    // Runs end meanwhile (about 3 s): their transitions meet the dead database.
    await new Promise((r) => setTimeout(r, 3_500));
  } finally {
    execFileSync('bash', ['scripts/postgres.sh', 'start', dir], { stdio: 'ignore' });
  }
  await readyUntil((c) => c === 200, 'answered 200 after PostgreSQL came back');

  for (const r of runs) {
    const done = await waitForRun(s.api, r.id, undefined, 60_000);
    assert.equal(done.lifecycleState, 'SUCCEEDED', `${r.id}: ${done.lifecycleDetails}`);
    const lines = (await readLogs(s, r.id)).map((l) => l.message);
    assert.deepEqual(lines, [0, 1, 2, 3, 4, 5].map((i) => `step ${i}`));
  }
  const after = await startRun(s, job);
  assert.equal((await waitForRun(s.api, after.id, undefined, 60_000)).lifecycleState, 'SUCCEEDED');
});
