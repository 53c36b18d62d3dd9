import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { BIN, ROOT, createJob, startRun, startServer, waitForRun, type TestServer } from '../support/server.js';

/** Runs the CLI to its end (a server that refuses to start exits; one that starts would be killed at 60 s). */
function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, DSJOBS_LOG_LEVEL: 'warn' },
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

const serverOn = (dataDir: string) => cli(['server', '--port', '0', '--data-dir', dataDir]);
const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at /, `a stack trace was printed:\n${text}`);

async function withJobs(s: TestServer, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await createJob(s, `j${i}.sh`, `echo ${i}`)).id);
  return ids;
}

/** Overwrites `pages` pages of the database file with garbage, starting `fromEnd` pages before its end. */
function damagePages(file: string, pages: number, at: number): void {
  const pageSize = 4096;
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(pages * pageSize, 0x5a), 0, pages * pageSize, at * pageSize);
  } finally {
    closeSync(fd);
  }
}

test('a second server on the same data directory is refused, naming the first; the first keeps running runs', async () => {
  let s = await startServer();
  try {
    const job = await createJob(s, 'slow.sh', 'sleep 1; echo done');
    const before = await startRun(s, job);

    const second = serverOn(s.dataDir);
    assert.notEqual(second.status, 0, `the second server started:\n${second.out}`);
    assert.notEqual(second.status, null, `the second server started and had to be killed:\n${second.out}`);
    assert.match(second.out, new RegExp(`in use by another dsjobs server \\(pid ${s.proc.pid}: \\S*node\\S* \\S*dsjobs\\.js server`));
    noStack(second.out);

    assert.equal((await waitForRun(s.api, before.id)).lifecycleState, 'SUCCEEDED');
    const after = await startRun(s, job);
    assert.equal((await waitForRun(s.api, after.id)).lifecycleState, 'SUCCEEDED');

    // The kernel drops the lock with the process: a SIGKILLed server leaves nothing that blocks the next start.
    s = await s.restart();
    assert.equal((await s.api.getJobRun(after.id)).lifecycleState, 'SUCCEEDED');
  } finally {
    await s.close();
  }
});

test('a database with damaged pages at its tail is refused at start with what to do, not a stack', async () => {
  const s = await startServer();
  const file = path.join(s.dataDir, 'dsjobs.db');
  try {
    await withJobs(s, 40);
    await s.kill('SIGTERM');
    assert.ok(!existsSync(file + '-wal') || statSync(file + '-wal').size === 0, 'a clean stop leaves everything in the file');
    const pages = statSync(file).size / 4096;
    damagePages(file, 3, pages - 3);

    const r = serverOn(s.dataDir);
    assert.notEqual(r.status, 0, `the server started on a damaged database:\n${r.out}`);
    assert.notEqual(r.status, null, `the server started on a damaged database and had to be killed:\n${r.out}`);
    assert.match(r.out, /error: the database \S+dsjobs\.db is damaged \(.+\); the server will not start on it: .*dsjobs admin restore/);
    noStack(r.out);
  } finally {
    await s.close();
  }
});

test('a database cut to half its size is refused with a message, not a stack', async () => {
  const s = await startServer();
  const file = path.join(s.dataDir, 'dsjobs.db');
  try {
    await withJobs(s, 40);
    await s.kill('SIGTERM');
    truncateSync(file, Math.floor(statSync(file).size / 2 / 4096) * 4096);

    const r = serverOn(s.dataDir);
    assert.notEqual(r.status, 0, r.out);
    assert.notEqual(r.status, null, r.out);
    assert.match(r.out, /error: the database \S+dsjobs\.db is damaged/);
    noStack(r.out);
  } finally {
    await s.close();
  }
});

test('backup while the server runs, health, and restore after damage: the recovery path in the docs', async () => {
  let s = await startServer();
  const file = path.join(s.dataDir, 'dsjobs.db');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-backup-'));
  const backup = path.join(tmp, 'backup.db');
  try {
    const health = await fetch(`${s.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'OK', database: { status: 'OK' } });
    assert.deepEqual((await s.api.serverInfo()).database, { status: 'OK' });

    const ids = await withJobs(s, 25);
    // Writes go on during the backup; the copy is a consistent snapshot that holds at least what came before.
    const during = withJobs(s, 10);
    const b = cli(['admin', 'backup', backup, '--data-dir', s.dataDir]);
    await during;
    assert.equal(b.status, 0, b.out);
    assert.match(b.out, /backed up to .*backup\.db: \d+ bytes, \d+ projects, \d+ jobs, \d+ job runs \(integrity_check ok\)/);
    const copy = new SQLite(backup, { readonly: true });
    try {
      assert.deepEqual(copy.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
      const inCopy = new Set((copy.prepare('SELECT id FROM jobs').all() as { id: string }[]).map((r) => r.id));
      for (const id of ids) assert.ok(inCopy.has(id), `job ${id} is missing from the backup`);
    } finally {
      copy.close();
    }
    assert.deepEqual(
      (await fetch(`${s.url}/health`)).status,
      200,
      'the server is still healthy after being backed up',
    );

    // Restoring under a running server is refused (it would pull the database from under it).
    const busy = cli(['admin', 'restore', backup, '--data-dir', s.dataDir]);
    assert.notEqual(busy.status, 0, busy.out);
    assert.match(busy.out, /in use by another dsjobs server/);

    await s.kill('SIGTERM');
    damagePages(file, 3, statSync(file).size / 4096 - 3);
    assert.notEqual(serverOn(s.dataDir).status, 0);
    const r = cli(['admin', 'restore', backup, '--data-dir', s.dataDir]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /the database it replaced is kept as \S+dsjobs\.db\.replaced-/);
    s = await s.restart();
    for (const id of ids) assert.equal((await s.api.getJob(id)).id, id);
  } finally {
    await s.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a database damaged while the server runs: health answers 503 and says how to recover', async () => {
  const s = await startServer();
  const file = path.join(s.dataDir, 'dsjobs.db');
  try {
    await withJobs(s, 40);
    const side = new SQLite(file);
    try {
      side.pragma('busy_timeout = 10000');
      side.pragma('wal_checkpoint(TRUNCATE)');
      const root = (side.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'jobs'").get() as { rootpage: number }).rootpage;
      damagePages(file, 1, root - 1);
      // A write from another connection makes the server's next read drop its page cache and read the file.
      side.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('test-touch', '1')").run();
    } finally {
      side.close();
    }
    const list = await s.fetch(`${s.url}/20190101/jobs?compartmentId=${s.compartmentId}`);
    assert.equal(list.status, 500);
    const health = await fetch(`${s.url}/health`);
    assert.equal(health.status, 503);
    const body = (await health.json()) as { status: string; database: { status: string; message: string } };
    assert.equal(body.status, 'UNHEALTHY');
    assert.equal(body.database.status, 'DAMAGED');
    assert.match(body.database.message, /malformed.*dsjobs admin restore/);
    assert.equal((await s.api.serverInfo()).database.status, 'DAMAGED');
  } finally {
    await s.close();
  }
});

test('a check that outlasts integrityCheckWaitMs lets the server start, and health reports the damage it finds', async () => {
  const s = await startServer();
  const file = path.join(s.dataDir, 'dsjobs.db');
  let s2: TestServer | null = null;
  try {
    await withJobs(s, 40);
    await s.kill('SIGTERM');
    const side = new SQLite(file, { readonly: true });
    const root = (side.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'jobs'").get() as { rootpage: number }).rootpage;
    side.close();
    // A page the start itself never reads: only the check finds it.
    damagePages(file, 1, root - 1);

    s2 = await startServer({ dataDir: s.dataDir, env: { DSJOBS_INTEGRITY_CHECK_WAIT_MS: '0' } });
    assert.match(s2.output(), /the database check \(quick_check\) takes longer than 0 ms: starting/);
    type Health = { status: string; database: { status: string; message?: string } };
    const health = async () => (await (await fetch(`${s2!.url}/health`)).json()) as Health;
    let body = await health();
    for (let i = 0; i < 600 && body.database.status !== 'DAMAGED'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      body = await health();
    }
    assert.equal(body.status, 'UNHEALTHY');
    assert.match(body.database.message ?? '', /dsjobs admin restore/);
  } finally {
    await s2?.kill('SIGTERM');
    await s.close();
  }
});
