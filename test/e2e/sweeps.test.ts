import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createJob, readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';
import type { Sweep } from '../../src/sdk/client.js';
import { until } from '../support/until.js';

/** The most intervals [start, end] open at one moment. */
function maxOverlap(intervals: [number, number][]): number {
  const points = intervals.flatMap(([a, b]) => [[a, 1], [b, -1]] as [number, number][]);
  // At equal times an end comes before a start: back-to-back runs do not overlap.
  points.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of points) {
    open += d;
    max = Math.max(max, open);
  }
  return max;
}

test('a sweep of 20 runs with maxParallel 4 never runs more than 4 at once (across a server kill), ranks by metric and starts a final run with the best', async () => {
  const marks = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-sweep-marks-'));
  // The trials write to a file in the host's /tmp that the test reads: unsandboxed (a sandboxed run's /tmp is its own).
  let s: TestServer = await startServer({ env: { DSJOBS_SANDBOX: 'off', DSJOBS_CAPACITY_CPUS: '64', DSJOBS_CAPACITY_MEMORY_IN_GBS: '512' } });
  try {
    // Each trial appends its start and end (ns) to a shared file, sleeps a little, and reports score = 10*X + Y.
    const trial = await createJob(
      s,
      'trial.sh',
      [
        'echo "start $(date +%s%N) $JOB_RUN_OCID" >> "$MARKS/log"',
        'sleep 0.$((RANDOM % 4 + 2))',
        'echo "DSJOBS_METRIC score=$((X * 10 + Y)) other=1"',
        'echo "end $(date +%s%N) $JOB_RUN_OCID" >> "$MARKS/log"',
        '',
      ].join('\n'),
      { env: { MARKS: marks } },
    );
    const final = await createJob(s, 'final.sh', 'echo "final with X=$X Y=$Y MODE=$MODE"\n', { projectId: trial.projectId });
    const sweep = await s.api.createSweep({
      compartmentId: s.compartmentId,
      jobId: trial.id,
      displayName: 'grid',
      parameters: { environmentVariables: { X: ['0', '1', '2', '3', '4'], Y: ['0', '1', '2', '3'] } },
      maxParallel: 4,
      metric: { name: 'score', goal: 'MAXIMIZE' },
      final: { jobId: final.id, overrides: { environmentVariables: { MODE: 'all-data' } } },
    });
    assert.equal(sweep.trialCount, 20);
    assert.equal(sweep.lifecycleState, 'IN_PROGRESS');

    // Kill the server while trials are running and restart it: the bound must hold across the restart.
    await until('6 trials to end', async () => {
      const t = await s.api.listSweepTrials(sweep.id);
      return t.filter((x) => x.lifecycleState === 'SUCCEEDED').length >= 6;
    });
    s = await s.restart();
    const done = await until('the sweep to finish', async () => {
      const x = await s.api.getSweep(sweep.id);
      return x.lifecycleState !== 'IN_PROGRESS' ? x : null;
    });
    assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
    assert.equal(done.trialCounts.SUCCEEDED, 20);
    assert.equal(done.best!.parameters.environmentVariables.X, '4');
    assert.equal(done.best!.parameters.environmentVariables.Y, '3');
    assert.equal(done.best!.metrics.score, 43);
    assert.match(done.lifecycleDetails!, /Best: trial 19 with score=43 \(highest of 20\)\. Final run .* started\./);

    const ranked = await s.api.listSweepTrials(sweep.id, { sortBy: 'rank' });
    assert.deepEqual(ranked.slice(0, 3).map((t) => t.metrics.score), [43, 42, 41]);
    assert.deepEqual(ranked.map((t) => t.rank), Array.from({ length: 20 }, (_, i) => i + 1));

    // Trials are ordinary runs, tagged with the sweep.
    const runs = (await s.api.listJobRuns({ compartmentId: s.compartmentId, jobId: trial.id })).items;
    assert.equal(runs.length, 20);
    assert.ok(runs.every((r) => r.freeformTags['dsjobs-sweep'] === sweep.id));

    // Never more than 4 at once: by the processes' own clocks, and by the server's start/finish times.
    const lines = readFileSync(path.join(marks, 'log'), 'utf8').trim().split('\n').map((l) => l.split(' '));
    const byRun = new Map<string, [number, number]>();
    for (const [kind, ns, id] of lines) {
      const iv = byRun.get(id) ?? [0, 0];
      iv[kind === 'start' ? 0 : 1] = Number(BigInt(ns) / 1000n);
      byRun.set(id, iv);
    }
    assert.equal(byRun.size, 20);
    const processOverlap = maxOverlap([...byRun.values()]);
    assert.ok(processOverlap <= 4, `at most 4 trial processes at once, saw ${processOverlap}`);
    assert.ok(processOverlap >= 2, `trials did run in parallel (saw ${processOverlap})`);
    const full = await Promise.all(runs.map((r) => s.api.getJobRun(r.id)));
    const serverOverlap = maxOverlap(full.map((r) => [Date.parse(r.timeStarted!), Date.parse(r.timeFinished!)]));
    assert.ok(serverOverlap <= 4, `at most 4 runs IN_PROGRESS at once, saw ${serverOverlap}`);

    const finalRun = await waitForRun(s.api, done.finalJobRunId!);
    assert.equal(finalRun.jobId, final.id);
    assert.equal(finalRun.lifecycleState, 'SUCCEEDED');
    assert.equal((await readLogs(s, finalRun.id))[0].message, 'final with X=4 Y=3 MODE=all-data');

    const types = (await s.api.listEvents({ resourceId: sweep.id })).items.map((e) => e.type);
    assert.deepEqual(types, ['io.dsjobs.createsweep', 'io.dsjobs.succeededsweep']);
  } finally {
    await s.close();
    rmSync(marks, { recursive: true, force: true });
  }
});

test('sweeps: random sampling is reproducible by seed, a missing metric fails the sweep, cancel stops it, bad input is refused', async () => {
  const s = await startServer({ env: { DSJOBS_CAPACITY_CPUS: '16', DSJOBS_CAPACITY_MEMORY_IN_GBS: '256' } });
  try {
    const quiet = await createJob(s, 'quiet.sh', 'echo "lr=$LR"\n');
    const body = {
      compartmentId: s.compartmentId,
      jobId: quiet.id,
      strategy: 'RANDOM' as const,
      sampleCount: 6,
      seed: 7,
      parameters: { environmentVariables: { LR: ['0.1', '0.01', '0.001'] }, commandLineArguments: ['--a', '--b'] },
      maxParallel: 3,
      metric: { name: 'loss', goal: 'MINIMIZE' as const },
    };
    const a = await s.api.createSweep(body);
    const b = await s.api.createSweep(body);
    const pa = (await s.api.listSweepTrials(a.id)).map((t) => t.parameters);
    const pb = (await s.api.listSweepTrials(b.id)).map((t) => t.parameters);
    assert.equal(pa.length, 6);
    assert.deepEqual(pa, pb, 'same seed, same sample');
    const failed = await until('the sweep without metrics to end', async () => {
      const x: Sweep = await s.api.getSweep(a.id);
      return x.lifecycleState !== 'IN_PROGRESS' ? x : null;
    });
    assert.equal(failed.lifecycleState, 'FAILED');
    assert.match(failed.lifecycleDetails!, /No trial reported the metric loss \(a stdout line "DSJOBS_METRIC loss=<number>"\)/);

    const slow = await createJob(s, 'slow.sh', 'sleep 30\n');
    const c = await s.api.createSweep({ ...body, jobId: slow.id, strategy: 'GRID', sampleCount: undefined, seed: undefined, maxParallel: 2 });
    await until('two trials running', async () => (await s.api.getSweep(c.id)).trialCounts.RUNNING === 2);
    await s.api.cancelSweep(c.id);
    const canceled = await until('the sweep to be canceled', async () => {
      const x = await s.api.getSweep(c.id);
      return x.lifecycleState === 'CANCELED' ? x : null;
    });
    assert.equal(canceled.trialCounts.CANCELED, 2);
    assert.equal(canceled.trialCounts.PENDING, 4);

    const bad = (d: any, re: RegExp) => assert.rejects(s.api.createSweep({ ...body, ...d }), (e: any) => e.status === 400 && re.test(e.message));
    await bad({ strategy: 'RANDOM', sampleCount: undefined }, /^sampleCount: is required for a RANDOM sweep/);
    await bad({ parameters: {} }, /^parameters: give environmentVariables and\/or commandLineArguments/);
    await bad({ parameters: { environmentVariables: { 'BAD-NAME': ['1'] } } }, /'BAD-NAME' is not a valid variable name/);
    await bad({ maxParallel: 0 }, /maxParallel: must be >= 1/);
    await bad({ metric: { name: 'x y', goal: 'MINIMIZE' } }, /^metric.name: must be a metric name/);
    await bad({ strategy: 'GRID', sampleCount: 20000, parameters: { environmentVariables: { A: Array.from({ length: 200 }, (_, i) => String(i)), B: Array.from({ length: 100 }, (_, i) => String(i)) } } }, /^parameters: the grid has 20000 combinations; at most 10000 trials/);
  } finally {
    await s.close();
  }
});
