/**
 * The Slurm executor's pure parts (the sbatch request from a plan and its shape's entry, squeue's lines, the
 * handle's checks) and what it changed around it: the scheduler starts runs a cluster admits without the server's
 * capacity, and the executor set's home engine need not come first.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { sbatchOptions, parseQueue } from '../../src/executors/slurm/batch-request.js';
import { decodeSlurmHandle } from '../../src/executors/slurm/handle.js';
import { ExecutorSet } from '../../src/executors/executor-set.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import type { Executor } from '../../src/executors/executor.js';
import type { LaunchPlan } from '../../src/domain/launch.js';

const plan = (o: Partial<LaunchPlan> = {}) =>
  ({ shapeName: 'S', resources: { cpus: 1.5, memoryInGBs: 0.3, gpus: 0 }, maximumRuntimeInMinutes: 10, ...o }) as LaunchPlan;
const shape = { shape: 'S', cpusPerOcpu: 2, gres: 'gpu', extraArgs: ['--qos=ml'] };

test('a plan becomes one node with its CPUs and memory rounded up, GPUs as gres, a time limit past dsjobs\' own deadline', () => {
  const args = sbatchOptions(plan({ resources: { cpus: 1.5, memoryInGBs: 0.3, gpus: 2 } }), { ...shape, partition: 'gpu' }, 'ocid1.run', { graceMs: 30_000, runDir: '/s/r' });
  assert.ok(args.includes('--cpus-per-task=3'));
  assert.ok(args.includes('--mem=308M'), 'ceil(0.3 * 1024)');
  assert.ok(args.includes('--gres=gpu:2'));
  assert.ok(args.includes('--partition=gpu'));
  assert.ok(args.includes('--time=12'), '10 min + 30 s grace, rounded up, plus one');
  assert.ok(args.includes('--job-name=ocid1.run'));
  assert.equal(args.at(-1), '--qos=ml');
  const plain = sbatchOptions(plan(), { ...shape, extraArgs: [] }, 'r', { graceMs: 0, runDir: '/s/r' });
  assert.ok(!plain.some((a) => a.startsWith('--partition') || a.startsWith('--gres')));
});

test("squeue's lines are read; anything else is ignored", () => {
  assert.deepEqual(parseQueue('12|PENDING|Resources|ocid1.a\nnoise\n13|RUNNING|None|ocid1.b|x\n'), [
    { jobId: '12', state: 'PENDING', reason: 'Resources', name: 'ocid1.a' },
    { jobId: '13', state: 'RUNNING', reason: 'None', name: 'ocid1.b|x' },
  ]);
});

test('a Slurm handle is read with its version, job id and run directory checked', () => {
  const ok = { v: 1, jobId: '42', cluster: 'c', runDir: '/shared/runs/r' };
  assert.deepEqual(decodeSlurmHandle(ok, '/shared/runs'), ok);
  assert.throws(() => decodeSlurmHandle({ ...ok, v: 2 }, '/shared/runs'), /format version 2/);
  assert.throws(() => decodeSlurmHandle({ ...ok, jobId: '42; rm -rf /' }, '/shared/runs'), /jobId/);
  assert.throws(() => decodeSlurmHandle({ ...ok, runDir: '/shared/runs/../../etc' }, '/shared/runs'), /not under/);
  assert.throws(() => decodeSlurmHandle({ ...ok, cluster: '' }, '/shared/runs'), /cluster/);
});

test('a run its engine admits starts at once, also behind a queue head that does not fit the server', async () => {
  const started: string[] = [];
  const s = new Scheduler(() => ({ cpus: 1, memoryInGBs: 1, gpus: 0 }), { now: () => Date.now() }, { error: () => {} });
  await s.start({ start: async (id) => void started.push(id), onDeadline: async () => {}, onKillTimer: async () => {}, recover: async () => {} });
  s.enqueue({ id: 'local-running', needs: { cpus: 1, memoryInGBs: 1, gpus: 0 } });
  s.enqueue({ id: 'local-blocked', needs: { cpus: 1, memoryInGBs: 1, gpus: 0 } });
  s.enqueue({ id: 'on-cluster', needs: { cpus: 0, memoryInGBs: 0, gpus: 0 }, ownAdmission: true });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(started.sort(), ['local-running', 'on-cluster']);
  assert.equal(s.waitInfo('on-cluster'), null);
  assert.match(s.waitInfo('local-blocked') ?? '', /Position 1 of 1/);
  s.stop();
});

test("the home engine owns handles naming no engine and gives the server's capacity, wherever it is in the order", async () => {
  const calls: string[] = [];
  const engine = (name: string, cpus: number) =>
    ({ name, capacity: () => ({ cpus, memoryInGBs: 1, gpus: 0 }), recover: async () => (calls.push(name), { state: 'running' }) }) as unknown as Executor;
  const set = new ExecutorSet([
    { executor: engine('slurm', 0), serves: (p) => p.shapeName === 'S', admitsItself: true },
    { executor: engine('local', 4), serves: () => true, home: true },
  ]);
  assert.equal(set.capacity().cpus, 4);
  await set.recover({ v: 1 });
  assert.deepEqual(calls, ['local']);
  assert.equal(set.admittedHere(plan()), false);
  assert.equal(set.admittedHere(plan({ shapeName: 'Other' })), true);
});

test('only an engine with untilRunning queues runs; for the others the set answers at once that the run runs', async () => {
  const plain = { name: 'local', capacity: () => ({ cpus: 1, memoryInGBs: 1, gpus: 0 }) } as unknown as Executor;
  const queuing = { name: 'slurm', capacity: () => ({ cpus: 0, memoryInGBs: 0, gpus: 0 }), untilRunning: async () => false } as unknown as Executor;
  const set = new ExecutorSet([
    { executor: queuing, serves: (p) => p.shapeName === 'S', admitsItself: true },
    { executor: plain, serves: () => true, home: true },
  ]);
  assert.equal(set.queuesRuns({ v: 1, engine: 'slurm' }), true);
  assert.equal(set.queuesRuns({ v: 1 }), false);
  assert.equal(set.queuesRuns({ v: 1, engine: 'gone' }), false);
  assert.equal(await set.untilRunning({ v: 1 }, () => {}), true);
  assert.equal(await set.untilRunning({ v: 1, engine: 'slurm' }, () => {}), false);
});
