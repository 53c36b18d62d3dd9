/**
 * A server on PostgreSQL while PostgreSQL itself restarts (fast shutdown: every connection is cut) with runs in
 * flight: GET /readyz says NOT_READY while the database is away and READY again after, the server reconnects by
 * itself, and nothing is lost: every run ends SUCCEEDED with its whole log, and new runs are accepted. GET /healthz
 * answers throughout (the process is alive), and the server keeps the coordinator's lease across the outage (nobody
 * else held it): a second server on the same database then joins as a replica (postgres-replicas.test.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { BIN, createJob, readLogs, startRun, startServer, waitForRun, type TestServer } from '../support/server.js';
import { freshDatabase, postgresCluster, postgresMissing } from '../support/postgres.js';

const missing = postgresMissing();
let s: TestServer;
let database: string;

before(async () => {
  if (missing) return;
  database = await freshDatabase();
  s = await startServer({ env: { DSJOBS_DATABASE: database } });
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

test('after the restart the server still holds the coordinator\'s lease, and a second server on the database joins as a replica', { skip: missing ?? undefined }, async () => {
  const db = new pg.Client({ connectionString: database });
  await db.connect();
  let second: TestServer | null = null;
  try {
    const holder = async () => (await db.query(`select holder from leases where name = 'coordinator' and expires_ms > (extract(epoch from clock_timestamp()) * 1000)::bigint`)).rows[0]?.holder;
    const first = readFileSync(path.join(s.dataDir, 'replica-id'), 'utf8').trim();
    assert.equal(await holder(), first);
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-test-'));
    cpSync(path.join(s.dataDir, 'secrets.key'), path.join(dataDir, 'secrets.key'));
    cpSync(path.join(s.dataDir, 'oci'), path.join(dataDir, 'oci'), { recursive: true });
    second = await startServer({ dataDir, env: { DSJOBS_DATABASE: database } });
    const ids = (await db.query('select id from replicas order by started_ms')).rows.map((r) => r.id);
    assert.deepEqual(ids, [first, readFileSync(path.join(dataDir, 'replica-id'), 'utf8').trim()]);
    assert.equal(await holder(), first, 'the lease stays with the first');
    assert.equal((await fetch(`${second.url}/readyz`)).status, 200);
  } finally {
    await second?.close();
    await db.end();
  }
});

test('while PostgreSQL is down, a create naming a job the server does not hold in memory answers 503 (retry), never 400 "was not found"', { skip: missing ?? undefined }, async () => {
  // Authentication off: no key or policy read comes before the job's (a signed request would meet the database
  // first in its key, whose cache is refreshed every second on PostgreSQL).
  // A second server on the database (a replica): the job is made through the first, so this one has never read it.
  // It writes no OCI config with authentication off; the harness's signer reads the first server's (unused here).
  const oDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-test-'));
  cpSync(path.join(s.dataDir, 'oci'), path.join(oDir, 'oci'), { recursive: true });
  const o = await startServer({ dataDir: oDir, env: { DSJOBS_DATABASE: database, DSJOBS_AUTHENTICATION: 'off' } });
  try {
    const job = await createJob(s, 'one.sh', 'echo one\n');
    const post = (route: string, body: object) =>
      fetch(`${o.url}/20190101${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const compartmentId = s.compartmentId;
    const creates: [string, object][] = [
      ['/jobRuns', { projectId: job.projectId, compartmentId, jobId: job.id }],
      ['/schedules', { compartmentId, jobId: job.id, cron: '0 0 1 1 *' }],
      ['/triggerRules', { compartmentId, jobId: job.id }],
    ];
    const dir = postgresCluster().dir;
    execFileSync('bash', ['scripts/postgres.sh', 'halt', dir], { stdio: 'ignore' });
    try {
      for (const [route, body] of creates) {
        const res = await post(route, body);
        const text = await res.text();
        assert.equal(res.status, 503, `${route}: ${text}`);
        assert.equal(JSON.parse(text).code, 'ServiceUnavailable', `${route}: ${text}`);
      }
    } finally {
      execFileSync('bash', ['scripts/postgres.sh', 'start', dir], { stdio: 'ignore' });
    }
    await readyUntil((c) => c === 200, 'answered 200 after PostgreSQL came back');
    const res = await post('/jobRuns', creates[0][1]);
    assert.equal(res.status, 200, await res.text());
  } finally {
    await o.close();
  }
});

test('dsjobs admin backup and restore refuse a PostgreSQL configuration, naming the tools to use', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-test-'));
  try {
    for (const cmd of ['backup', 'restore']) {
      const r = spawnSync(process.execPath, [BIN, 'admin', cmd, path.join(dataDir, 'copy.db'), '--data-dir', dataDir], {
        encoding: 'utf8',
        env: { ...process.env, DSJOBS_DATABASE: 'postgres://dsjobs@127.0.0.1:1/none' },
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /error: the server keeps its state in PostgreSQL .*use PostgreSQL's tools \(pg_dump, pg_restore\)/);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a server whose database does not answer exits with status 2, saying which database and why (no password shown)', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-test-'));
  try {
    const r = spawnSync(process.execPath, [BIN, 'server', '--port', '0', '--data-dir', dataDir, '--database', 'postgres://dsjobs:hunter2@127.0.0.1:1/dsjobs'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^error: the database postgres:\/\/dsjobs:\*\*\*@127\.0\.0\.1:1\/dsjobs could not be opened: .*ECONNREFUSED/m);
    assert.doesNotMatch(r.stderr, /hunter2/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
