/**
 * The control plane while runs saturate the machine (issue 25), end to end: CPU-bound runs fill every core, and a log
 * follow still gets each line promptly, a cancel still ends its run within the grace period, and the API answers.
 * The start-up report states the runs' CPU weight and the reservation in force. Bounds are generous (this machine is
 * shared with the rest of the suite); the tight figures are benchmark 10's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitForRun, type TestServer } from '../support/server.js';
import type { Job } from '../../src/sdk/client.js';

const isRoot = process.getuid?.() === 0;
let s: TestServer;

before(async () => {
  // 4.75 CPUs for admission, 0.5 of them reserved: 4.25 for runs, 17 Local.Light (0.25 each) at once.
  s = await startServer({
    env: { DSJOBS_CAPACITY_CPUS: '4.75', DSJOBS_CAPACITY_MEMORY_IN_GBS: '32', DSJOBS_RESERVED_CPUS: '0.5', DSJOBS_GRACE_PERIOD_MS: '2000' },
  });
});
after(async () => {
  await s?.close();
});

async function job(name: string, script: string): Promise<Job> {
  const project = await s.api.createProject({ compartmentId: s.compartmentId, displayName: name });
  const j = await s.api.createJob({
    projectId: project.id,
    compartmentId: s.compartmentId,
    displayName: name,
    jobConfigurationDetails: { jobType: 'DEFAULT', maximumRuntimeInMinutes: 5 },
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
  });
  await s.api.uploadArtifact(j.id, `${name}.sh`, Buffer.from(script), Buffer.byteLength(script));
  return j;
}

test('the start-up report states the runs\' CPU weight and the reservation', async () => {
  // The report's lines follow the one startServer waits for: give them a moment.
  for (let i = 0; i < 100 && !/the server ahead of runs:/.test(s.output()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(s.output(), /the server ahead of runs: (cpu\.shares 102 for all runs together \(the server: 1024\)|cpu\.weight 10 for all runs together \(the server: 100\)|no cgroup cpu controller[^;]*); reserved for the server and host: 0\.5 CPU, 0 GB \(runs get 4\.25 CPU, 32 GB\)/);
  const info = await s.api.serverInfo();
  assert.equal(info.capacity.cpus, 4.25, 'admission hands out the capacity less the reservation');
});

test('with CPU-bound runs on every core, a log follow gets each line within 2 s and a cancel ends its run within the grace period', { skip: !isRoot && 'needs root (cgroups)' }, async () => {
  const spin = await job('spin', 'while :; do :; done\n');
  const tick = await job('tick', 'for i in $(seq 1 200); do echo "$EPOCHREALTIME"; sleep 0.1; done\n');
  const spinners = [];
  for (let i = 0; i < 16; i++) spinners.push((await s.api.createJobRun({ projectId: spin.projectId, compartmentId: s.compartmentId, jobId: spin.id })).id);
  try {
    for (const id of spinners) await waitForRun(s.api, id, (r) => r.lifecycleState === 'IN_PROGRESS', 60_000);
    const ticker = await s.api.createJobRun({ projectId: tick.projectId, compartmentId: s.compartmentId, jobId: tick.id });
    await waitForRun(s.api, ticker.id, (r) => r.lifecycleState === 'IN_PROGRESS', 60_000);

    const from = Date.now();
    const lateness: number[] = [];
    const abort = new AbortController();
    const following = (async () => {
      for await (const rec of s.api.logs(ticker.id, { follow: true, signal: abort.signal })) {
        const printed = Number(rec.message.replace(',', '.')) * 1000;
        if (printed >= from) lateness.push(Date.now() - printed);
        if (lateness.length >= 40) break;
      }
    })();
    await Promise.race([following, new Promise((r) => setTimeout(r, 30_000))]);
    abort.abort();
    assert.ok(lateness.length >= 20, `the follow got ${lateness.length} lines in 30 s`);
    assert.ok(Math.max(...lateness) < 2_000, `the slowest line took ${Math.max(...lateness)} ms`);

    const t0 = Date.now();
    await s.api.cancelJobRun(spinners[0]);
    const canceled = await waitForRun(s.api, spinners[0], undefined, 30_000);
    assert.equal(canceled.lifecycleState, 'CANCELED');
    assert.ok(Date.now() - t0 < 2_000 + 5_000, `the cancel took ${Date.now() - t0} ms (grace period 2 s)`);
    await s.api.cancelJobRun(ticker.id).catch(() => {});
  } finally {
    for (const id of spinners) await s.api.cancelJobRun(id).catch(() => {});
  }
});
