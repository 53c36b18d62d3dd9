/**
 * The executor conformance suite: what a run *is*, checked the same way for every executor. An executor (local
 * processes today; containers and Slurm next) passes it by providing a `ConformanceTarget`: how to start a real
 * server whose `shape` is served by that executor, and how to find what a run may have left on the host.
 *
 * Everything goes through the public API, as a user would: args and env arrive exactly, exit codes and signals,
 * stdout/stderr with no byte lost, cancel of a tree that traps SIGTERM and of one that ignores it, maximum runtime,
 * the memory limit, re-attach after the server is SIGKILLed mid-run, and nothing left behind by any of them.
 *
 * The artifacts are portable scripts (bash and python3, standard library only) that report what they see on
 * stdout: they make no assumption about the host's pids or files, so a sandboxed, containerized or remote run
 * passes the same checks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createJob as createTestJob, readLogs, startRun, waitForRun, type TestServer } from '../support/server.js';
import type { JobRun, LogRecord } from '../../src/sdk/client.js';

export interface ConformanceTarget {
  /** Names the suite's describe block. */
  name: string;
  /** A fresh server whose `shape` goes to the executor under test, with its grace period set to `graceMs`. */
  start(): Promise<TestServer>;
  /** The shape runs use (its memory is what the memory-limit check exceeds). */
  shape: string;
  /** The shape's memory, in GB: the memory check allocates three times as much. */
  shapeMemoryInGBs: number;
  graceMs: number;
  /**
   * What a run left on the host after it ended: processes, mounts, cgroups, containers, jobs, files. One line per
   * leftover; empty when clean. Called until it is empty or a few seconds have passed.
   */
  leftovers(s: TestServer, runId: string): Promise<string[]>;
  /**
   * How the suite's artifacts (.py and .sh scripts) run on this executor, as the job's
   * jobEnvironmentConfigurationDetails: a container engine runs an image with an entrypoint that runs the artifact
   * from the working directory. Absent: the artifact runs as a local run's does.
   */
  environment?(artifactFileName: string): Record<string, unknown>;
}

const stream = (logs: LogRecord[], name: 'stdout' | 'stderr') => logs.filter((l) => l.stream === name).map((l) => l.message);

async function waitForLine(s: TestServer, runId: string, pred: (l: LogRecord) => boolean, timeoutMs = 30_000): Promise<LogRecord> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const hit = (await readLogs(s, runId)).find(pred);
    if (hit) return hit;
    const r = await s.api.getJobRun(runId);
    if (['SUCCEEDED', 'FAILED', 'CANCELED'].includes(r.lifecycleState)) {
      throw new Error(`run ended ${r.lifecycleState} (${r.lifecycleDetails}) before the expected line`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`no expected log line from ${runId} in ${timeoutMs} ms`);
}

export function executorConformance(target: ConformanceTarget): void {
  // Every job of the suite is made through here: the artifact's name says how the executor runs it.
  const t = target;
  const createJob = (s: TestServer, fileName: string, content: string, opts: Parameters<typeof createTestJob>[3] = {}) =>
    createTestJob(s, fileName, content, { ...opts, environment: t.environment?.(fileName) });
  describe(`executor conformance: ${t.name}`, () => {
    let s: TestServer;
    const runs: string[] = [];
    before(async () => {
      s = await t.start();
    });
    after(async () => {
      await s?.close();
    });

    /** Runs to the end, then checks the host is clean of it. */
    async function finished(run: JobRun, timeoutMs = 60_000): Promise<{ run: JobRun; logs: LogRecord[] }> {
      runs.push(run.id);
      const done = await waitForRun(s.api, run.id, undefined, timeoutMs);
      await assertClean(run.id);
      return { run: done, logs: await readLogs(s, run.id) };
    }

    async function assertClean(runId: string): Promise<void> {
      let left: string[] = [];
      const until = Date.now() + 10_000;
      do {
        left = await t.leftovers(s, runId);
        if (left.length === 0) return;
        await new Promise((res) => setTimeout(res, 100));
      } while (Date.now() < until);
      assert.deepEqual(left, [], `run ${runId} left these behind`);
    }

    test('arguments and environment variables arrive exactly (quotes, unicode, empty values), with the injected variables', async () => {
      const py = [
        'import json, os, sys',
        'keys = ["EMPTY", "UNICODE", "QUOTES", "SPACES", "EQUALS", "JOB_OCID", "JOB_RUN_OCID", "PROJECT_OCID", "JOB_ARTIFACT_FILE_NAME"]',
        'print(json.dumps({"argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in keys}}, ensure_ascii=True))',
      ].join('\n');
      const job = await createJob(s, 'args-env.py', py, { shape: t.shape, env: { EMPTY: 'from the job', UNICODE: 'job' } });
      const env = {
        EMPTY: '',
        UNICODE: 'naïve ✓ 日本 🚀',
        QUOTES: `it's "quoted" \\ back`,
        SPACES: '  leading and trailing  ',
        EQUALS: 'a=b=c',
      };
      const args = `plain 'single quoted' "double \\"escaped\\"" '' "" naïve-✓ 'x=$HOME' "tab\there"`;
      const { run, logs } = await finished(await startRun(s, job, { env, args }));
      assert.equal(run.lifecycleState, 'SUCCEEDED', run.lifecycleDetails ?? '');
      const out = JSON.parse(stream(logs, 'stdout')[0]);
      assert.deepEqual(out.argv, ['plain', 'single quoted', 'double "escaped"', '', '', 'naïve-✓', 'x=$HOME', 'tab\there']);
      assert.deepEqual(out.env, { ...env, JOB_OCID: job.id, JOB_RUN_OCID: run.id, PROJECT_OCID: job.projectId, JOB_ARTIFACT_FILE_NAME: 'args-env.py' });
    });

    test('exit codes and signals: 0 succeeds, any other code or a signal fails with it recorded', async () => {
      const job = await createJob(s, 'exit.sh', 'case "$1" in kill) kill -KILL $$ ;; *) exit "$1" ;; esac\n', { shape: t.shape });
      const [ok, three, max, killed] = await Promise.all(['0', '3', '255', 'kill'].map(async (a) => finished(await startRun(s, job, { args: a }))));
      assert.equal(ok.run.lifecycleState, 'SUCCEEDED', ok.run.lifecycleDetails ?? '');
      assert.equal(ok.run.exitCode, 0);
      assert.equal(three.run.lifecycleState, 'FAILED');
      assert.equal(three.run.exitCode, 3);
      assert.match(three.run.lifecycleDetails ?? '', /exit code 3/);
      assert.equal(max.run.lifecycleState, 'FAILED');
      assert.equal(max.run.exitCode, 255);
      assert.equal(killed.run.lifecycleState, 'FAILED', 'a run killed by a signal never succeeds');
      assert.match(killed.run.lifecycleDetails ?? '', /signal (SIGKILL|9)|exit code 137/, killed.run.lifecycleDetails ?? '');
    });

    test('stdout and stderr are captured with no byte lost: every line once, in order, per stream', async () => {
      // 20,000 stdout lines interleaved with 5,000 stderr lines, unicode, an empty line, a 100 KB line (records hold
      // at most 64 KiB: a longer line is split into records, never cut), and a last line with no newline.
      const py = [
        'import sys',
        'for i in range(20000):',
        '    sys.stdout.write(f"out {i:05d} é✓\\n")',
        '    if i % 4 == 0:',
        '        sys.stderr.write(f"err {i // 4:05d}\\n")',
        '    if i % 5000 == 0:',
        '        sys.stdout.flush(); sys.stderr.flush()',
        'sys.stdout.write("\\n")',
        'sys.stdout.write("L" * 100000 + "\\n")',
        'sys.stdout.write("no newline at the end")',
      ].join('\n');
      const job = await createJob(s, 'output.py', py, { shape: t.shape });
      const { run, logs } = await finished(await startRun(s, job));
      assert.equal(run.lifecycleState, 'SUCCEEDED', run.lifecycleDetails ?? '');
      const expectOut = Array.from({ length: 20000 }, (_, i) => `out ${String(i).padStart(5, '0')} é✓`);
      expectOut.push('', 'L'.repeat(65536), 'L'.repeat(100000 - 65536), 'no newline at the end');
      const expectErr = Array.from({ length: 5000 }, (_, i) => `err ${String(i).padStart(5, '0')}`);
      const out = stream(logs, 'stdout');
      const err = stream(logs, 'stderr');
      assert.equal(out.length, expectOut.length, 'stdout line count');
      assert.equal(err.length, expectErr.length, 'stderr line count');
      assert.ok(out.every((l, i) => l === expectOut[i]), 'stdout lines exact and in order');
      assert.ok(err.every((l, i) => l === expectErr[i]), 'stderr lines exact and in order');
    });

    test('cancel: a tree that traps SIGTERM cleans up and ends CANCELED; its children are gone', async () => {
      const sh = [
        'sleep 300 &',
        `trap 'echo "got TERM"; kill $! 2>/dev/null; echo "cleaned up"; exit 0' TERM`,
        'echo ready',
        'while true; do sleep 0.1; done',
      ].join('\n');
      const job = await createJob(s, 'trap.sh', sh, { shape: t.shape });
      const run = await startRun(s, job);
      await waitForLine(s, run.id, (l) => l.message === 'ready');
      await s.api.cancelJobRun(run.id);
      const { run: done, logs } = await finished(run);
      assert.equal(done.lifecycleState, 'CANCELED', done.lifecycleDetails ?? '');
      assert.deepEqual(stream(logs, 'stdout'), ['ready', 'got TERM', 'cleaned up']);
    });

    test('cancel: a tree that ignores SIGTERM is killed after the grace period; nothing of it is left', async () => {
      const sh = [`trap '' TERM`, `(trap '' TERM; exec sleep 301) &`, 'echo ready', 'while true; do sleep 0.1; done'].join('\n');
      const job = await createJob(s, 'ignore.sh', sh, { shape: t.shape });
      const run = await startRun(s, job);
      await waitForLine(s, run.id, (l) => l.message === 'ready');
      // The probe must see a live run, or its "nothing left" would prove nothing.
      assert.notDeepEqual(await t.leftovers(s, run.id), [], 'the leftovers probe finds nothing of a running run');
      const t0 = Date.now();
      await s.api.cancelJobRun(run.id);
      const { run: done } = await finished(run);
      const took = Date.now() - t0;
      assert.equal(done.lifecycleState, 'CANCELED', done.lifecycleDetails ?? '');
      assert.ok(took >= t.graceMs - 100, `ended after ${took} ms: the SIGKILL must wait for the ${t.graceMs} ms grace period`);
    });

    test('maximum runtime: the run is stopped and ends FAILED saying so', async () => {
      const job = await createJob(s, 'forever.sh', 'echo started\nwhile true; do sleep 0.1; done\n', { shape: t.shape });
      const { run, logs } = await finished(await startRun(s, job, { maxRuntimeMinutes: 0.05 }));
      assert.equal(run.lifecycleState, 'FAILED');
      assert.match(run.lifecycleDetails ?? '', /maximum runtime/);
      assert.deepEqual(stream(logs, 'stdout'), ['started']);
    });

    test("memory limit: a run that allocates three times its shape's memory fails, saying out of memory", async () => {
      const bytes = Math.round(t.shapeMemoryInGBs * 3 * 1024 ** 3);
      const py = [
        'import sys',
        'chunks = []',
        `while sum(len(c) for c in chunks) < ${bytes}:`,
        '    chunks.append(bytearray(b"x" * (64 * 1024 * 1024)))',
        'print("allocated everything")',
      ].join('\n');
      const job = await createJob(s, 'hog.py', py, { shape: t.shape });
      const { run, logs } = await finished(await startRun(s, job));
      assert.equal(run.lifecycleState, 'FAILED', run.lifecycleDetails ?? '');
      assert.match(run.lifecycleDetails ?? '', /out of memory/);
      assert.ok(!stream(logs, 'stdout').includes('allocated everything'));
    });

    test('re-attach: the server is SIGKILLed mid-run; the run goes on, and after a restart it settles with every line once', async () => {
      const sh = 'for i in $(seq 1 30); do echo "line $i"; sleep 0.1; done\nexit 7\n';
      const job = await createJob(s, 'long.sh', sh, { shape: t.shape });
      const run = await startRun(s, job);
      runs.push(run.id);
      await waitForLine(s, run.id, (l) => l.message === 'line 3');
      s = await s.restart();
      const done = await waitForRun(s.api, run.id, undefined, 60_000);
      assert.equal(done.lifecycleState, 'FAILED', done.lifecycleDetails ?? '');
      assert.equal(done.exitCode, 7, 'the real exit code, recorded while the server was down or after');
      const out = stream(await readLogs(s, run.id), 'stdout');
      assert.deepEqual(out, Array.from({ length: 30 }, (_, i) => `line ${i + 1}`));
      await assertClean(run.id);
    });

    test('nothing is left behind by any run of this suite', async () => {
      for (const id of runs) await assertClean(id);
    });
  });
}
