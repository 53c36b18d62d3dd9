/**
 * Runs on a Slurm cluster end to end, through the official oci-datascience SDK where OCI's API has the operation:
 * env and args overrides, exit codes, a cancel the run traps, the maximum runtime, a run queued behind a full
 * partition showing Slurm's reason (while local runs go on), a submission Slurm refuses, the server SIGKILLed with
 * jobs pending, running and ending meanwhile (and a job it never submitted left alone), and a sweep whose trials
 * run on the cluster. One two-node cluster (2 CPUs, 4000 MB each) and one server for the file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as ds from 'oci-datascience';
import { createJob, readLogs, startRun, waitForRun, type TestServer } from '../support/server.js';
import { startServer } from '../support/server.js';
import { makeOciClient } from '../support/oci-sdk-client.js';
import { slurmMissing, slurmServerConfig, startSlurmCluster, type SlurmCluster } from '../support/slurm.js';
import { until } from '../support/until.js';

const missing = await slurmMissing();

describe('runs on a Slurm cluster', { skip: missing ?? false }, () => {
  let cluster: SlurmCluster;
  let s: TestServer;
  let sdk: { client: ds.DataScienceClient; close(): void };
  const stdout = async (id: string) => (await readLogs(s, id)).filter((l) => l.stream === 'stdout').map((l) => l.message);

  before(async () => {
    cluster = await startSlurmCluster();
    s = await startServer({ config: slurmServerConfig(cluster, { metricsIntervalMs: 1000 }), env: { DSJOBS_GRACE_PERIOD_MS: '2000' } });
    sdk = makeOciClient(s.url, s.configFile);
  });
  after(async () => {
    sdk?.close();
    await s?.close();
    await cluster?.stop();
  });

  async function sdkRun(jobId: string, projectId: string, override?: ds.models.DefaultJobConfigurationDetails): Promise<string> {
    const r = await sdk.client.createJobRun({
      createJobRunDetails: { projectId, compartmentId: s.compartmentId, jobId, jobConfigurationOverrideDetails: override },
    });
    return r.jobRun.id;
  }
  const sdkGet = async (id: string) => (await sdk.client.getJobRun({ jobRunId: id })).jobRun;
  const sdkDone = (id: string) => until(`run ${id} to end`, async () => {
    const r = await sdkGet(id);
    return ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(r.lifecycleState) ? r : null;
  });

  test('SDK: env and args overrides arrive, exit codes are recorded, the run reports where it ran', async () => {
    const py = 'import os, sys\nprint(os.environ["MODE"], os.environ["KEEP"], sys.argv[1:], os.environ.get("SLURM_JOB_ID") is not None)\nsys.exit(int(os.environ.get("CODE", "0")))\n';
    const job = await createJob(s, 'env.py', py, { shape: 'Slurm.Small', env: { MODE: 'job', KEEP: 'kept' }, args: 'a b' });
    const ok = await sdkRun(job.id, job.projectId, { jobType: 'DEFAULT', environmentVariables: { MODE: 'run' }, commandLineArguments: `x "y z"` });
    const three = await sdkRun(job.id, job.projectId, { jobType: 'DEFAULT', environmentVariables: { CODE: '3' } });
    const [a, b] = await Promise.all([sdkDone(ok), sdkDone(three)]);
    assert.equal(a.lifecycleState, 'SUCCEEDED', a.lifecycleDetails);
    assert.deepEqual(await stdout(ok), [`run kept ['x', 'y z'] True`]);
    assert.equal(b.lifecycleState, 'FAILED');
    assert.match(b.lifecycleDetails ?? '', /exit code 3/);
    const rec = await s.api.getJobRun(three);
    assert.equal(rec.exitCode, 3);
    // Where it ran, and what protected it: Slurm's memory cgroup where the cluster's task plugin makes one.
    const cgroupTask = /^TaskPlugin=task\/cgroup/m.test(readFileSync(cluster.slurmConf, 'utf8'));
    assert.equal(rec.isolationDetails?.memoryLimit, cgroupTask ? 'ENFORCED' : 'NOT_ENFORCED');
    assert.match(rec.isolationDetails?.warnings.join(' ') ?? '', /runs on Slurm cluster \S+ \(partition default\)/);
  });

  test("a run has a scratch directory on the node, removed when it ends, and CPU and memory metrics from the node", async () => {
    // Busy for a few seconds with ~50 MB resident, so the supervisor's 1 s samples see both.
    const py = [
      'import os, time',
      'd = os.environ["DSJOBS_SCRATCH_DIR"]',
      'open(os.path.join(d, "x"), "w").write("scratch")',
      'print(d, os.path.isdir(d))',
      'keep = bytearray(50 * 1024 * 1024)',
      'end = time.time() + 6',
      'while time.time() < end: pass',
      '',
    ].join('\n');
    const job = await createJob(s, 'busy.py', py, { shape: 'Slurm.Small' });
    const id = (await startRun(s, job)).id;
    const done = await waitForRun(s.api, id, undefined, 90_000);
    assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
    const [line] = await stdout(id);
    const [dir, isDir] = line!.split(' ');
    assert.equal(isDir, 'True');
    assert.match(dir!, /dsjobs-scratch-\d+$/);
    assert.ok(!existsSync(dir!), 'the scratch directory is removed when the run ends');
    const m = await s.api.getJobRunMetrics(id);
    const points = (name: string) => m.items.find((i) => i.name === name)?.datapoints.map((p) => p.value) ?? [];
    assert.ok(points('CpuUtilization').some((v) => v > 20), `CPU from the node: ${points('CpuUtilization')}`);
    assert.ok(points('MemoryUtilization').some((v) => v > 2), `memory from the node: ${points('MemoryUtilization')}`);
  });

  test('SDK: a cancel reaches a run that traps SIGTERM; it cleans up and ends CANCELED', async () => {
    const sh = `trap 'echo "got TERM"; exit 0' TERM\necho ready\nwhile true; do sleep 0.1; done\n`;
    const job = await createJob(s, 'trap.sh', sh, { shape: 'Slurm.Small' });
    const id = await sdkRun(job.id, job.projectId);
    await until('the run to be ready', async () => (await stdout(id)).includes('ready'));
    await sdk.client.cancelJobRun({ jobRunId: id });
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'CANCELED', done.lifecycleDetails);
    assert.deepEqual(await stdout(id), ['ready', 'got TERM']);
  });

  test('SDK: the maximum runtime stops a run on the cluster', async () => {
    const job = await createJob(s, 'forever.sh', 'echo started\nwhile true; do sleep 0.1; done\n', { shape: 'Slurm.Small' });
    const id = await sdkRun(job.id, job.projectId, { jobType: 'DEFAULT', maximumRuntimeInMinutes: 0.05 } as ds.models.DefaultJobConfigurationDetails);
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'FAILED');
    assert.match(done.lifecycleDetails ?? '', /maximum runtime/);
  });

  test("a run behind a full partition waits ACCEPTED with Slurm's reason and job id; local runs are not held up", async () => {
    // Two runs of 2 CPUs take both nodes; the third waits in Slurm's queue, not the server's.
    const job = await createJob(s, 'hold.sh', 'echo holding\nsleep 300\n', { shape: 'Slurm.Flex', ocpus: 2, memoryInGBs: 0.5 });
    const holders = [await startRun(s, job), await startRun(s, job)];
    for (const h of holders) await until('a holder to run', async () => (await s.api.getJobRun(h.id)).lifecycleState === 'IN_PROGRESS');
    const queued = await startRun(s, job);
    const waiting = await until('Slurm\'s reason', async () => {
      const r = await sdkGet(queued.id);
      return r.lifecycleState === 'ACCEPTED' && /PENDING \((Resources|Priority)\)/.test(r.lifecycleDetails ?? '') ? r : null;
    });
    assert.match(waiting.lifecycleDetails ?? '', /^Queued on Slurm cluster \S+ as job \d+: PENDING/);
    const local = await createJob(s, 'local.sh', 'echo local\n', { shape: 'Local.Light' });
    const l = await waitForRun(s.api, (await startRun(s, local)).id);
    assert.equal(l.lifecycleState, 'SUCCEEDED', 'the server\'s own capacity is not taken by runs the cluster holds');
    await sdk.client.cancelJobRun({ jobRunId: queued.id });
    const canceled = await sdkDone(queued.id);
    assert.equal(canceled.lifecycleState, 'CANCELED');
    assert.ok(!canceled.timeStarted, 'it never started');
    await Promise.all(holders.map((h) => s.api.cancelJobRun(h.id)));
    for (const h of holders) assert.equal((await waitForRun(s.api, h.id)).lifecycleState, 'CANCELED');
  });

  test("a submission Slurm refuses fails the run with Slurm's message", async () => {
    // 8 GB on nodes of 4000 MB: sbatch refuses it at submission.
    const job = await createJob(s, 'big.sh', 'echo never\n', { shape: 'Slurm.Flex', ocpus: 2, memoryInGBs: 8 });
    const run = await waitForRun(s.api, (await startRun(s, job)).id);
    assert.equal(run.lifecycleState, 'FAILED');
    assert.match(run.lifecycleDetails ?? '', /Slurm refused the job: sbatch: error: .*(not available|memory)/i);
  });

  test('the server SIGKILLed with jobs pending, running and ending meanwhile: a restart re-attaches and settles each; a job it did not submit is never touched', async () => {
    const foreign = (await cluster.tool('sbatch', ['--parsable', '--job-name=not-dsjobs', '--output=/dev/null', '--mem=100M', '--wrap', 'sleep 120'])).trim();
    const gate = path.join(cluster.dir, 'gate');
    const quick = await createJob(s, 'quick.sh', 'echo quick\nsleep 2\nexit 5\n', { shape: 'Slurm.Small' });
    const gated = await createJob(s, 'gated.sh', `echo gated\nwhile [ ! -e ${gate} ]; do sleep 0.1; done\necho through\n`, { shape: 'Slurm.Flex', ocpus: 2, memoryInGBs: 0.5 });
    const q = await startRun(s, quick);
    const g1 = await startRun(s, gated);
    await until('both to run', async () => (await Promise.all([q, g1].map((r) => s.api.getJobRun(r.id)))).every((r) => r.lifecycleState === 'IN_PROGRESS'));
    // The cluster is full now (foreign 1 CPU, quick 1, gated 2): this one waits PENDING.
    const g2 = await startRun(s, gated);
    await until('the third to wait in Slurm', async () => /PENDING/.test((await s.api.getJobRun(g2.id)).lifecycleDetails ?? ''));
    await s.kill('SIGKILL');
    // The quick run ends while no server is up.
    await until('the quick run to end on the node', async () => existsSync(path.join(cluster.sharedDir, 'runs', q.id, 'exit.status')));
    s = await s.restart();
    sdk.close();
    sdk = makeOciClient(s.url, s.configFile);
    const qd = await waitForRun(s.api, q.id);
    assert.equal(qd.lifecycleState, 'FAILED');
    assert.equal(qd.exitCode, 5, 'its real exit code, recorded while no server was up');
    assert.deepEqual(await stdout(q.id), ['quick']);
    assert.equal((await s.api.getJobRun(g1.id)).lifecycleState, 'IN_PROGRESS');
    writeFileSync(gate, '');
    for (const r of [g1, g2]) {
      const d = await waitForRun(s.api, r.id, undefined, 60_000);
      assert.equal(d.lifecycleState, 'SUCCEEDED', d.lifecycleDetails ?? '');
      assert.deepEqual(await stdout(r.id), ['gated', 'through']);
    }
    const still = await cluster.tool('squeue', ['-h', '-o', '%i %T %j', '-j', foreign]);
    assert.match(still, new RegExp(`^${foreign} (RUNNING|PENDING) not-dsjobs`), 'the job dsjobs did not submit is left alone');
    await cluster.tool('scancel', [foreign]);
  });

  test('a sweep runs its trials on the cluster', async () => {
    const trial = await createJob(s, 'trial.sh', 'echo "DSJOBS_METRIC score=$((X * 10 + Y)) node=${SLURM_JOB_ID:+1}"\n', { shape: 'Slurm.Small' });
    const sweep = await s.api.createSweep({
      compartmentId: s.compartmentId,
      jobId: trial.id,
      displayName: 'on-slurm',
      parameters: { environmentVariables: { X: ['0', '1'], Y: ['0', '1', '2'] } },
      maxParallel: 3,
      metric: { name: 'score', goal: 'MAXIMIZE' },
    });
    const done = await until('the sweep to finish', async () => {
      const x = await s.api.getSweep(sweep.id);
      return x.lifecycleState !== 'IN_PROGRESS' ? x : null;
    }, 120_000);
    assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
    assert.equal(done.best!.metrics.score, 12);
    const trials = await s.api.listSweepTrials(sweep.id);
    assert.equal(trials.length, 6);
    for (const t of trials) assert.equal(t.metrics.node, 1, 'the trial ran inside a Slurm job');
  });
});
