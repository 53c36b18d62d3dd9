import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, createJob, startRun, waitForRun, readLogs, type TestServer } from '../support/server.js';
import { alive } from '../support/procs.js';

/**
 * These jobs coordinate with the test through files in the host's /tmp and report host pids, which a sandboxed
 * run cannot see (its /tmp is its own, its pids are its namespace's). They run unsandboxed, with cgroups still on:
 * the sandbox itself is tested in isolation.test.ts.
 */
const HOST_FILES = { DSJOBS_SANDBOX: 'off' };

const sh = (body: string) => `set -e\n${body}\n`;
const waitFile = (f: string) => `while [ ! -e '${f}' ]; do sleep 0.05; done`;

async function waitForLog(s: TestServer, runId: string, text: string, timeoutMs = 15_000) {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const logs = await readLogs(s, runId);
    if (logs.some((l) => l.message === text)) return logs;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`log line '${text}' did not appear in run ${runId}`);
}

test('SIGKILL of the server during runs: runs keep going, a restart re-attaches, settles and never invents success', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-durability-'));
  // Capacity for exactly three Local.Light runs (0.25 CPU each): a fourth waits in the queue across the restart.
  let s = await startServer({ env: { ...HOST_FILES, DSJOBS_CAPACITY_CPUS: '0.75' } });
  try {
    const f = (n: string) => path.join(tmp, n);
    const a = await createJob(s, 'a.sh', sh(`echo start\n${waitFile(f('a1'))}\necho mid\n${waitFile(f('a2'))}\necho end`));
    const b = await createJob(s, 'b.sh', sh(`echo b-start\n${waitFile(f('b1'))}\necho b-end\nexit 5`));
    const c = await createJob(s, 'c.sh', sh(`echo c-start\necho $$ > '${f('c.pid')}'\nwhile true; do sleep 0.05; done`));
    const d = await createJob(s, 'd.sh', sh('echo d-ran'));
    const runA = await startRun(s, a);
    const runB = await startRun(s, b);
    const runC = await startRun(s, c);
    for (const r of [runA, runB, runC]) await waitForRun(s.api, r.id, (x) => x.lifecycleState === 'IN_PROGRESS');
    const runD = await startRun(s, d);
    const queued = await s.api.getJobRun(runD.id);
    assert.equal(queued.lifecycleState, 'ACCEPTED');
    assert.match(queued.lifecycleDetails ?? '', /Waiting for capacity/);
    await waitForLog(s, runA.id, 'start');
    await waitForLog(s, runC.id, 'c-start');

    await s.kill('SIGKILL');

    // While the server is down: A moves on (its output must not be lost), B ends with exit code 5, and C's
    // supervisor is killed so nothing records how C ended (its payload keeps running, orphaned).
    writeFileSync(f('a1'), '');
    writeFileSync(f('b1'), '');
    const cHandle = JSON.parse(readFileSync(path.join(s.dataDir, 'runs', runC.id, 'handle.json'), 'utf8'));
    process.kill(cHandle.pid, 'SIGKILL');
    const cPayload = Number(readFileSync(f('c.pid'), 'utf8'));
    const bExit = path.join(s.dataDir, 'runs', runB.id, 'exit.status');
    for (let i = 0; i < 200 && !existsSync(bExit); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(existsSync(bExit), 'B finished while the server was down');

    s = await s.restart();

    const doneB = await waitForRun(s.api, runB.id);
    assert.equal(doneB.lifecycleState, 'FAILED');
    assert.equal(doneB.lifecycleDetails, 'Job run artifact execution failed with exit code 5.');
    assert.deepEqual((await readLogs(s, runB.id)).map((l) => l.message), ['b-start', 'b-end']);

    const doneC = await waitForRun(s.api, runC.id);
    assert.equal(doneC.lifecycleState, 'FAILED', 'an unknown outcome is never a success');
    assert.match(doneC.lifecycleDetails ?? '', /could not be determined/);
    // Its orphaned payload is cleaned up with its process group.
    for (let i = 0; i < 100 && alive(cPayload); i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(alive(cPayload), false, 'the payload of a settled run does not survive');

    const stillA = await s.api.getJobRun(runA.id);
    assert.equal(stillA.lifecycleState, 'IN_PROGRESS', 'A is re-attached, still running');
    await waitForLog(s, runA.id, 'mid');
    writeFileSync(f('a2'), '');
    const doneA = await waitForRun(s.api, runA.id);
    assert.equal(doneA.lifecycleState, 'SUCCEEDED');
    assert.deepEqual((await readLogs(s, runA.id)).map((l) => l.message), ['start', 'mid', 'end']);

    // D waited in the queue through the restart and runs once capacity frees up.
    const doneD = await waitForRun(s.api, runD.id);
    assert.equal(doneD.lifecycleState, 'SUCCEEDED');
    assert.deepEqual((await readLogs(s, runD.id)).map((l) => l.message), ['d-ran']);
  } finally {
    await s.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('SIGKILL while creating runs: every acknowledged run exists after restart and completes', async () => {
  let s = await startServer({ env: HOST_FILES });
  try {
    const job = await createJob(s, 'ok.sh', 'echo ok\n');
    const acked: string[] = [];
    const attempts = Array.from({ length: 80 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 3));
      try {
        const r = await startRun(s, job);
        acked.push(r.id);
      } catch {
        /* the server died under this request: it was never acknowledged */
      }
    });
    // Kill it mid-stream: once a few creates were acknowledged, while others are in flight.
    for (let i = 0; i < 400 && acked.length < 5; i++) await new Promise((r) => setTimeout(r, 5));
    await s.kill('SIGKILL');
    await Promise.all(attempts);
    assert.ok(acked.length > 0, 'some runs were acknowledged before the kill');
    s = await s.restart();
    for (const id of acked) {
      const r = await waitForRun(s.api, id);
      assert.equal(r.lifecycleState, 'SUCCEEDED', `${id}: ${r.lifecycleDetails}`);
    }
  } finally {
    await s.close();
  }
});

test('concurrent creates share commits: conflicting retry tokens fail alone, every acknowledged run and its event survive SIGKILL', async () => {
  // One slot: the runs queue in ACCEPTED and nothing else writes much while they are created.
  let s = await startServer({ env: { ...HOST_FILES, DSJOBS_CAPACITY_CPUS: '0.25' } });
  try {
    const job = await createJob(s, 'ok.sh', 'exit 0\n');
    const body = (name: string) => ({ projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id, displayName: name });
    // All sent at once, so that they reach the server together and share batches: 40 plain creates, 6 pairs using
    // one retry token with different bodies (exactly one of each pair may win: 409 Conflict for the other) and 3
    // pairs replaying the same body under one token (both answered with the same run).
    const plain = Array.from({ length: 40 }, (_, i) => s.api.createJobRun(body(`plain-${i}`)));
    const conflicting = Array.from({ length: 6 }, (_, i) => [
      s.api.createJobRun(body(`conflict-${i}-a`), `conflict-token-${i}`),
      s.api.createJobRun(body(`conflict-${i}-b`), `conflict-token-${i}`),
    ]);
    const replayed = Array.from({ length: 3 }, (_, i) => [
      s.api.createJobRun(body(`replay-${i}`), `replay-token-${i}`),
      s.api.createJobRun(body(`replay-${i}`), `replay-token-${i}`),
    ]);
    const acked = new Set<string>();
    for (const r of await Promise.all(plain)) acked.add(r.id);
    for (const pair of conflicting) {
      const [a, b] = await Promise.allSettled(pair);
      const won = [a, b].filter((x) => x.status === 'fulfilled');
      const lost = [a, b].filter((x) => x.status === 'rejected');
      assert.equal(won.length, 1, 'one create per retry token');
      assert.equal(lost.length, 1);
      const err = (lost[0] as PromiseRejectedResult).reason;
      assert.equal(err.status, 409);
      assert.match(err.message, /opc-retry-token was already used with a different request body/);
      acked.add((won[0] as PromiseFulfilledResult<{ id: string }>).value.id);
    }
    for (const pair of replayed) {
      const [a, b] = await Promise.all(pair);
      assert.equal(a.id, b.id, 'a replay answers with the first run');
      acked.add(a.id);
    }
    assert.equal(acked.size, 40 + 6 + 3);

    const listed = async () => {
      const ids: string[] = [];
      for await (const r of s.api.all((page) => s.api.listJobRuns({ compartmentId: s.compartmentId, jobId: job.id, limit: 1000, page }))) ids.push(r.id);
      return ids.sort();
    };
    const accepted = async () => {
      const ids: string[] = [];
      const type = 'com.oraclecloud.datascience.createjobrun.begin';
      for await (const e of s.api.all((page) => s.api.listEvents({ jobId: job.id, type, limit: 1000, page }))) ids.push(e.subject);
      return ids.sort();
    };
    const expected = [...acked].sort();
    assert.deepEqual(await listed(), expected, 'exactly the acknowledged runs exist');
    assert.deepEqual(await accepted(), expected, 'one accepted event per run, no event of a failed create');

    await s.kill('SIGKILL');
    s = await s.restart();
    assert.deepEqual(await listed(), expected, 'after SIGKILL + restart');
    assert.deepEqual(await accepted(), expected, 'events after SIGKILL + restart');
  } finally {
    await s.close();
  }
});

test('SIGTERM stops the server cleanly without killing runs; the next start finds the run finished', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-sigterm-'));
  let s = await startServer({ env: HOST_FILES });
  try {
    const flag = path.join(tmp, 'go');
    const job = await createJob(s, 'w.sh', sh(`echo waiting\n${waitFile(flag)}\necho done`));
    const run = await startRun(s, job);
    await waitForLog(s, run.id, 'waiting');
    await s.kill('SIGTERM');
    assert.equal(s.proc.exitCode, 0, `clean exit; output:\n${s.output()}`);
    const handle = JSON.parse(readFileSync(path.join(s.dataDir, 'runs', run.id, 'handle.json'), 'utf8'));
    assert.ok(alive(handle.pid), 'the run is still running after the server stopped');
    writeFileSync(flag, '');
    s = await startServer({ dataDir: s.dataDir, env: HOST_FILES });
    const done = await waitForRun(s.api, run.id);
    assert.equal(done.lifecycleState, 'SUCCEEDED');
    assert.deepEqual((await readLogs(s, run.id)).map((l) => l.message), ['waiting', 'done']);
  } finally {
    await s.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('capacity lowered across a restart: a queued run that can never fit ends FAILED saying why, instead of blocking the queue', async () => {
  let s = await startServer({ env: { ...HOST_FILES, DSJOBS_CAPACITY_CPUS: '1' } });
  try {
    const job = await createJob(s, 'hold.sh', 'echo holding\nsleep 60\n', { shape: 'VM.Standard.E4.Flex', ocpus: 1, memoryInGBs: 1 });
    const holder = await startRun(s, job);
    await waitForRun(s.api, holder.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    const queued = await startRun(s, job);
    assert.equal((await s.api.getJobRun(queued.id)).lifecycleState, 'ACCEPTED');
    await s.kill('SIGKILL');
    s = await startServer({ dataDir: s.dataDir, env: { ...HOST_FILES, DSJOBS_CAPACITY_CPUS: '0.5' } });
    const failed = await waitForRun(s.api, queued.id);
    assert.equal(failed.lifecycleState, 'FAILED');
    assert.match(failed.lifecycleDetails ?? '', /can never start on this server: VM\.Standard\.E4\.Flex needs more than its capacity/);
    // A Local.Light run still gets through once the re-attached holder is canceled.
    await s.api.cancelJobRun(holder.id);
    assert.equal((await waitForRun(s.api, holder.id)).lifecycleState, 'CANCELED');
    const light = await createJob(s, 'light.sh', 'echo ok\n');
    assert.equal((await waitForRun(s.api, (await startRun(s, light)).id)).lifecycleState, 'SUCCEEDED');
  } finally {
    await s.close();
  }
});
