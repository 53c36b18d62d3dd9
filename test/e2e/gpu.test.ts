/**
 * GPU admission and assignment. This machine has no GPU, so nvidia-smi is replaced by a script that answers the
 * two queries dsjobs makes (the GPU list at start, utilization and memory when sampling) for two GPUs: the fake is
 * nvidia-smi only; the server, admission, the runs and their environment are real (a container run's GPU request
 * goes to the real Docker Engine, which has no GPU driver here). Checked on a real GPU when a
 * GPU machine is available: see docs/gpus.md.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createJob, readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';
import { DEFAULT_SHAPES } from '../../src/domain/shapes.js';
import { BUSYBOX_IMAGE, dockerReady } from '../support/docker.js';

const LIGHT = DEFAULT_SHAPES.find((x) => x.name === 'Local.Light')!;

const GPUS = ['GPU-11111111-2222-3333-4444-555555555555', 'GPU-66666666-7777-8888-9999-000000000000'];
let tmp: string;
let s: TestServer;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-gpu-test-'));
  const smi = path.join(tmp, 'nvidia-smi');
  writeFileSync(
    smi,
    [
      '#!/bin/sh',
      'case "$1" in',
      `  --query-gpu=index,uuid,name,memory.total) printf '0, ${GPUS[0]}, NVIDIA A10, 23028\\n1, ${GPUS[1]}, NVIDIA A10, 23028\\n' ;;`,
      `  --query-gpu=uuid,utilization.gpu,memory.used,memory.total) printf '${GPUS[0]}, 37, 5757, 23028\\n${GPUS[1]}, 0, 0, 23028\\n' ;;`,
      '  *) echo "unexpected query: $*" >&2; exit 2 ;;',
      'esac',
    ].join('\n'),
  );
  chmodSync(smi, 0o755);
  const config = path.join(tmp, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      nvidiaSmiCommand: smi,
      metricsIntervalMs: 200,
      shapes: [
        LIGHT,
        // Local.Light's flex form (0.25 OCPU, 0.5 GB by default: a fixed shape's size must be whole) with GPUs.
        { ...LIGHT, name: 'Local.GPU.1', series: 'NVIDIA_GPU', gpus: 1 },
        { ...LIGHT, name: 'Local.GPU.2', series: 'NVIDIA_GPU', gpus: 2 },
        { ...LIGHT, name: 'Local.GPU.4', series: 'NVIDIA_GPU', gpus: 4 },
      ],
    }),
  );
  s = await startServer({ config });
});
after(async () => {
  await s?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('GPUs found by nvidia-smi are the capacity; each run gets its own, named in CUDA_VISIBLE_DEVICES; a third run waits', async () => {
  const info = await s.api.serverInfo();
  assert.equal(info.capacity.gpus, 2);
  assert.ok(info.protections.enforced.some((l) => l.includes(GPUS[0])), info.protections.enforced.join('\n'));

  const job = await createJob(s, 'gpu.sh', 'echo "cuda=$CUDA_VISIBLE_DEVICES nvidia=$NVIDIA_VISIBLE_DEVICES"\nsleep 2\n', {
    shape: 'Local.GPU.1',
  });
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await s.api.createJobRun({ projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id }));
  const third = await waitForRun(s.api, runs[2].id, (r) => r.lifecycleState === 'ACCEPTED' && /GPU/.test(r.lifecycleDetails ?? ''));
  assert.match(third.lifecycleDetails ?? '', /GPU \(needs 1, 0 free\)/);
  const first = await Promise.all(runs.slice(0, 2).map((r) => waitForRun(s.api, r.id, (x) => x.lifecycleState === 'IN_PROGRESS')));
  const assigned = first.map((r) => r.isolationDetails?.gpus ?? []);
  assert.deepEqual(assigned.map((g) => g.length), [1, 1]);
  assert.notEqual(assigned[0][0], assigned[1][0], 'two runs never share a GPU');
  assert.deepEqual(new Set(assigned.flat()), new Set(GPUS));

  // GPU use is part of the run's metrics (from nvidia-smi, for the run's own GPU).
  const m = await waitForMetrics(first.find((r) => r.isolationDetails?.gpus[0] === GPUS[0])!.id);
  assert.equal(m.find((i) => i.name === 'GpuUtilization')?.datapoints[0].value, 37);
  assert.equal(m.find((i) => i.name === 'GpuMemoryUtilization')?.datapoints[0].value, 25);

  for (const r of runs) assert.equal((await waitForRun(s.api, r.id)).lifecycleState, 'SUCCEEDED');
  const seen = [];
  for (const r of runs) {
    const out = (await readLogs(s, r.id)).map((l) => l.message);
    const m = /^cuda=(\S+) nvidia=(\S+)$/.exec(out[0] ?? '');
    assert.ok(m, `run output: ${out.join('|')}`);
    assert.equal(m[1], m[2]);
    seen.push(m[1]);
  }
  assert.ok(GPUS.includes(seen[2]), 'the waiting run got a GPU once one was free');
});

test('a run without a GPU shape sees no GPU; a shape needing more GPUs than the server has is refused', async () => {
  const job = await createJob(s, 'cpu.sh', 'echo "cuda=[$CUDA_VISIBLE_DEVICES] nvidia=$NVIDIA_VISIBLE_DEVICES"\n', { shape: 'Local.Light' });
  const run = await s.api.createJobRun({ projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id });
  assert.equal((await waitForRun(s.api, run.id)).lifecycleState, 'SUCCEEDED');
  assert.deepEqual((await readLogs(s, run.id)).map((l) => l.message), ['cuda=[] nvidia=void']);
  await assert.rejects(
    createJob(s, 'big.sh', 'true\n', { shape: 'Local.GPU.4' }),
    (e: Error) => /shapeName/.test(e.message) && /4 GPU/.test(e.message) && /2 GPU/.test(e.message),
  );
});

async function waitForMetrics(runId: string) {
  const until = Date.now() + 10_000;
  for (;;) {
    const m = await s.api.getJobRunMetrics(runId);
    if (m.items.some((i) => i.name === 'GpuUtilization' && i.datapoints.length > 0)) return m.items;
    if (Date.now() > until) assert.fail(`no GPU samples: ${JSON.stringify(m)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the console draws the GPU charts for a run on a GPU shape (and only there: see console.test.ts)', async (t) => {
  const { launchBrowser } = await import('../support/browser.js');
  const job = await createJob(s, 'gpu-chart.sh', 'echo gpu\nsleep 1\n', { shape: 'Local.GPU.1' });
  const run = await s.api.createJobRun({ projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id });
  await waitForMetrics(run.id);
  await waitForRun(s.api, run.id);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  // The console needs a login (its session cookie lands in the context's cookie jar).
  const ctx = await browser.context();
  const login = await ctx.request.post(`${s.url}/20190101/console/login`, { data: { userName: 'admin', password: s.adminPassword } });
  assert.equal(login.status(), 200, await login.text());
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(`${s.url}/runs/${run.id}`);
  await page.locator('figure[data-metric="GpuUtilization"] svg circle.series-dot, figure[data-metric="GpuUtilization"] svg path.series').first().waitFor({ state: 'attached' }); // a flat line has no height: "hidden" to playwright
  await page.locator('figure[data-metric="GpuMemoryUtilization"]').waitFor();
});

test("a container run on a GPU shape asks Docker for its own GPUs by UUID; an engine without NVIDIA's toolkit refuses it, saying why, and the GPUs go back", { skip: dockerReady() ?? false }, async () => {
  // The start-up report: containers get GPUs here (these two are nvidia-smi's fake ones).
  assert.ok((await s.api.serverInfo()).protections.enforced.some((l) => /^containers: GPUs: a GPU shape's run gets its own of the host's 2 /.test(l)));
  const job = await createJob(s, 'unused.sh', 'true\n', { shape: 'Local.GPU.2', environment: { jobEnvironmentType: 'OCIR_CONTAINER', image: BUSYBOX_IMAGE, cmd: ['true'] } });
  const r = await s.api.createJobRun({ projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id });
  const done = await waitForRun(s.api, r.id, undefined, 60_000);
  assert.equal(done.lifecycleState, 'FAILED');
  // The request reached the engine: this host's Docker has no device driver for the `gpu` capability (no GPU, no
  // NVIDIA Container Toolkit). With one, the container would see exactly these two.
  assert.match(done.lifecycleDetails ?? '', /image dsjobs-test\/busybox:1: the container could not start: could not select device driver "" with capabilities: \[\[gpu\]\]/);
  // Both GPUs are free again: a local run of the same shape gets them.
  const local = await createJob(s, 'gpu.sh', 'echo "cuda=$CUDA_VISIBLE_DEVICES"\n', { shape: 'Local.GPU.2' });
  const lr = await waitForRun(s.api, (await s.api.createJobRun({ projectId: local.projectId, compartmentId: s.compartmentId, jobId: local.id })).id, undefined, 60_000);
  assert.equal(lr.lifecycleState, 'SUCCEEDED', lr.lifecycleDetails ?? '');
  assert.deepEqual(new Set(lr.isolationDetails?.gpus), new Set(GPUS));
});
