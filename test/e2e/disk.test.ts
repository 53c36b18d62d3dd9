/**
 * What a run or a client can do to the server's disk: a log quota per run, no amplification of odd output, files
 * freed when runs and jobs are deleted, interrupted uploads cleaned at start, and a full data disk answered 507 and
 * recovered from without a restart.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startServer, createJob, startRun, waitForRun, readLogs, killRunProcesses, type TestServer } from '../support/server.js';
import { unmountUnder } from '../support/cleanup.js';
import { DsJobsError } from '../../src/sdk/client.js';
import { until as pollUntil } from '../support/until.js';

/** The runs here coordinate with the test through host files: unsandboxed (the sandbox is isolation.test.ts's). */
const HOST = { DSJOBS_SANDBOX: 'off', DSJOBS_BLOCK_STORAGE: 'directory', DSJOBS_WARM_SANDBOXES: '0' };

const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-disk-test-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

/** This file's bound and polling interval for the shared until(). */
const until = <T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 60_000) =>
  pollUntil(what, fn, ms, 50);

const status = (e: unknown) => (e instanceof DsJobsError ? e.status : -1);

test('a run printing past the log quota goes on; its log ends with a marker, lifecycleDetails say so, the disk keeps the quota', async (t) => {
  const quota = 1024 * 1024;
  const s = await startServer({ env: { ...HOST, DSJOBS_LOG_QUOTA_BYTES_PER_RUN: String(quota) } });
  t.after(() => s.close());
  // The start-up report states the quota.
  await until('the start-up report', () => new RegExp(`protection on: logs: at most ${quota} bytes stored per run \\(logQuotaBytesPerRun\\)`).test(s.output()));
  // 20 MB of lines, then a NUL hole of 64 MiB (the ftruncate attack), then it keeps running.
  const script = [
    `yes '${'x'.repeat(99)}' | head -n 200000`,
    `python3 -c 'import os; os.ftruncate(1, 64 * 1024 * 1024)'`,
    'sleep 600',
  ].join('\n');
  const job = await createJob(s, 'loud.sh', script + '\n');
  const run = await startRun(s, job);
  const during = await waitForRun(s.api, run.id, (r) => r.lifecycleState === 'IN_PROGRESS' && /quota/.test(r.lifecycleDetails ?? ''), 60_000);
  assert.match(during.lifecycleDetails!, new RegExp(`Its log reached the quota of ${quota} bytes: later output was dropped`));
  const dir = path.join(s.dataDir, 'runs', run.id);
  // The raw output is cut once the quota is reached (the hole comes after): the run directory stays small.
  await until('the raw stdout to be cut', () => statSync(path.join(dir, 'stdout.log')).blocks * 512 < quota);
  await s.api.cancelJobRun(run.id);
  const done = await waitForRun(s.api, run.id);
  assert.equal(done.lifecycleState, 'CANCELED');
  assert.match(done.lifecycleDetails!, /Its log reached the quota/);
  const logBytes = statSync(path.join(dir, 'log.ndjson')).size;
  assert.ok(logBytes >= quota && logBytes < quota + 512 * 1024, `log of ${logBytes} bytes for a quota of ${quota}`);
  const recs = await readLogs(s, run.id);
  assert.match(recs.at(-1)!.message, /reached its quota of 1048576 bytes \(logQuotaBytesPerRun\); further output is dropped/);
  assert.equal(existsSync(path.join(dir, 'stdout.log')), false, 'raw files go once the log is sealed');
});

test('deleting a run removes its directory and log; deleting a job frees its artifact, which is no longer served', async (t) => {
  const s = await startServer({ env: HOST });
  t.after(() => s.close());
  const job = await createJob(s, 'hello.sh', 'echo hello\n');
  const run = await startRun(s, job);
  assert.equal((await waitForRun(s.api, run.id)).lifecycleState, 'SUCCEEDED');
  const dir = path.join(s.dataDir, 'runs', run.id);
  assert.ok(existsSync(path.join(dir, 'log.ndjson')));
  await s.api.deleteJobRun(run.id);
  assert.equal(existsSync(dir), false, 'the run directory is removed with the run');
  await assert.rejects(readLogs(s, run.id), (e) => status(e) === 404);

  const artifactDir = path.join(s.dataDir, 'artifacts', job.id);
  assert.ok(existsSync(artifactDir));
  await s.api.deleteJob(job.id, { deleteRelatedJobRuns: true });
  assert.equal(existsSync(artifactDir), false, "the deleted job's artifact bytes are freed");
  for (const method of ['GET', 'HEAD']) {
    const res = await s.fetch(`${s.url}/20190101/jobs/${job.id}/artifact/content`, { method });
    assert.equal(res.status, 404, method);
    if (method === 'GET') assert.equal(((await res.json()) as { code: string }).code, 'NotAuthorizedOrNotFound');
  }
});

test("an upload cut off by a server kill leaves no temporary file after the restart; a deleted job's leftover artifact goes too", async (t) => {
  let s = await startServer({ env: HOST });
  t.after(() => s.close());
  const project = await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'p' });
  const job = await s.api.createJob({
    projectId: project.id,
    compartmentId: s.compartmentId,
    jobConfigurationDetails: { jobType: 'DEFAULT' },
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
  });
  const artifactDir = path.join(s.dataDir, 'artifacts', job.id);
  // 8 MiB announced, 2 MiB sent, then the server is killed mid-upload.
  const url = new URL(`${s.url}/20190101/jobs/${job.id}/artifact`);
  const headers: Record<string, string> = {
    'content-length': String(8 * 1024 * 1024),
    'content-disposition': 'attachment; filename="big.py"',
    'content-type': 'application/octet-stream',
  };
  // Signed as the SDKs sign a streamed upload: without the body headers.
  Object.assign(headers, s.sign({ method: 'POST', url: url.toString(), headers, excludeBody: true }));
  const req = http.request(url, { method: 'POST', headers });
  req.on('error', () => {});
  req.write(Buffer.alloc(2 * 1024 * 1024, 0x61));
  const temp = await until('the upload to reach the disk', () => {
    const f = existsSync(artifactDir) ? readdirSync(artifactDir).find((n) => n.startsWith('.upload-')) : undefined;
    return f && statSync(path.join(artifactDir, f)).size > 0 ? f : null;
  });
  // A deleted job whose artifact stayed (as before this version, or a kill right after the delete).
  const old = await createJob(s, 'old.py', 'print(1)\n', { projectId: project.id });
  const oldDir = path.join(s.dataDir, 'artifacts', old.id);
  const kept = path.join(tmpRoot, 'old-artifact');
  execFileSync('cp', ['-a', oldDir, kept]);
  await s.api.deleteJob(old.id);
  execFileSync('cp', ['-a', kept, oldDir]);
  s = await s.restart();
  req.destroy();
  assert.equal(existsSync(path.join(artifactDir, temp)), false, 'the interrupted upload is removed at start');
  assert.equal(existsSync(oldDir), false, "a deleted job's artifact is removed at start");
  // The job takes an upload again.
  await s.api.uploadArtifact(job.id, 'ok.py', Buffer.from('print(2)\n'), 9);
  assert.equal((await s.api.getJob(job.id)).lifecycleState, 'ACTIVE');
});

// The data directory is a 64 MiB tmpfs that the test fills up: creates answer 507 with a clear message (never
// 500), a run that writes to its volume and ends meanwhile settles once space returns, and new runs (on writable
// volumes) work again, all without a restart.
test('a full data disk answers 507 and everything recovers by itself when space returns', { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs' }, async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-full-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dataDir]);
  let s: TestServer | null = null;
  t.after(async () => {
    if (s) await s.kill('SIGTERM');
    killRunProcesses(dataDir);
    unmountUnder(dataDir);
    execFileSync('umount', ['-l', dataDir]);
    rmSync(dataDir, { recursive: true, force: true });
  });
  // Block storage as loop-mounted volumes on the data disk (their sparse images grow into it as runs write).
  s = await startServer({ dataDir, env: { DSJOBS_SANDBOX: 'off' } });
  const go = path.join(tmpRoot, 'go');
  const script = [
    'echo started',
    `while [ ! -e ${go} ]; do sleep 0.05; done`,
    'dd if=/dev/zero of=big bs=1M count=16 conv=fsync 2>/dev/null && echo wrote',
    'echo finished',
    // The run's own exit status, which the server must learn even though the disk was full when the run ended.
    'exit "${EXIT_CODE:-0}"',
  ];
  const job = await createJob(s, 'wait.sh', script.join('\n') + '\n');
  const run = await startRun(s, job, { env: { EXIT_CODE: '3' } });
  await until('the run to start', async () => (await readLogs(s!, run.id)).some((r) => r.message === 'started'));
  const childPid = Number(readFileSync(path.join(dataDir, 'runs', run.id, 'child.pid'), 'utf8'));

  const filler = path.join(dataDir, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M'], { stdio: 'ignore' });
  } catch {
    /* stops at "No space left on device": as intended */
  }
  // Creates fail as the database cannot grow: 507 with the reason, never 500 (it may take a few while SQLite still
  // has room in its write-ahead log).
  let refused: { status: number; body: { code: string; message: string } } | null = null;
  for (let i = 0; i < 2000 && !refused; i++) {
    const res = await s.fetch(`${s.url}/20190101/projects`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ compartmentId: s.compartmentId, displayName: `p${i}` }),
    });
    assert.notEqual(res.status, 500, await res.clone().text());
    if (res.status !== 200) refused = { status: res.status, body: (await res.json()) as { code: string; message: string } };
  }
  assert.ok(refused, 'a create on a full disk is refused');
  assert.equal(refused.status, 507);
  assert.equal(refused.body.code, 'InsufficientStorage');
  assert.match(refused.body.message, /data disk is full \(no space left on device\); nothing was changed/);
  await assert.rejects(startRun(s, job), (e) => status(e) === 507);

  // The run ends while the disk is full: its state cannot be written yet, and the server keeps trying.
  writeFileSync(go, '');
  await until('the run to end', () => {
    try {
      process.kill(childPid, 0);
      return false;
    } catch {
      return true;
    }
  });
  await until('the server to report it waits for space', () => /the data disk is full; retrying/.test(s!.output()));
  assert.equal((await s.api.getJobRun(run.id)).lifecycleState, 'IN_PROGRESS');

  rmSync(filler);
  const settled = await waitForRun(s.api, run.id, undefined, 90_000);
  // Its real exit status, recorded by the supervisor in the run directory on the full disk (in space it took when
  // the run started), never an unknown outcome.
  assert.equal(settled.lifecycleState, 'FAILED', `${settled.lifecycleState}: ${settled.lifecycleDetails}`);
  assert.equal(settled.exitCode, 3, `${settled.lifecycleDetails}`);
  t.diagnostic(`the run that ended on the full disk: ${settled.lifecycleState}: ${settled.lifecycleDetails}`);
  assert.equal(s.proc.exitCode, null, 'the server never stopped');
  // New runs work again, without a restart.
  const again = await startRun(s, job);
  assert.equal((await waitForRun(s.api, again.id)).lifecycleState, 'SUCCEEDED');
  assert.deepEqual((await readLogs(s, again.id)).map((r) => r.message), ['started', 'wrote', 'finished'], 'its volume takes writes');
});
