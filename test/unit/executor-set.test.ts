/**
 * The executor set's dispatch: which engine starts a run, and that every later call on its handle (also a handle
 * read back after a restart, or one written before there were several engines) reaches that engine. The engines
 * here are recording stand-ins for the Executor interface: what is under test is only the routing between them
 * (each real engine passes the conformance suite on its own).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExecutorSet } from '../../src/executors/executor-set.js';
import type { Executor, ExecutorHandle, LaunchRequest } from '../../src/executors/executor.js';
import type { LaunchPlan } from '../../src/domain/launch.js';

function recorder(name: string, calls: string[]): Executor {
  const rec = (what: string) => calls.push(`${name}.${what}`);
  return {
    name,
    capacity: () => ({ cpus: name === 'local' ? 4 : 99, memoryInGBs: 8, gpus: 0 }),
    start: async (req: LaunchRequest) => {
      rec(`start ${req.runId}`);
      return {
        handle: { v: 1, id: req.runId },
        logFiles: { stdout: `/${name}/out`, stderr: `/${name}/err` },
        isolation: { sandbox: 'NONE', network: 'HOST', cpuLimit: 'NOT_ENFORCED', memoryLimit: 'NOT_ENFORCED', processTree: 'PROCESS_GROUP', blockStorage: 'NOT_ENFORCED', gpus: [], warnings: [] },
      };
    },
    wait: async (h: ExecutorHandle) => (rec(`wait ${String(h.id)}`), { exitCode: 0, signal: null }),
    signal: async (h: ExecutorHandle, s: string) => void rec(`signal ${String(h.id)} ${s}`),
    find: async (runId: string) => (name === 'docker' && runId === 'r-found' ? { v: 1, id: runId } : null),
    recover: async (h: ExecutorHandle) => (rec(`recover ${String(h.id)}`), { state: 'running' as const }),
    discard: async (runId: string) => void rec(`discard ${runId}`),
    afterRecovery: async () => void rec('afterRecovery'),
    cleanup: async (h: ExecutorHandle) => void rec(`cleanup ${String(h.id)}`),
    sample: async (hs: { runId: string }[]) => {
      rec(`sample ${hs.map((h) => h.runId).join(',')}`);
      return new Map(hs.map((h) => [h.runId, { cpuPercent: 1, memoryPercent: null, memoryBytes: null, diskPercent: null, diskBytes: null, gpuPercent: null, gpuMemoryPercent: null }]));
    },
    forget: async (runId: string) => void rec(`forget ${runId}`),
    protections: () => ({ enforced: [`${name} on`], off: [] }),
    logFiles: () => ({ stdout: `/${name}/out`, stderr: `/${name}/err` }),
    close: async () => void rec('close'),
  } as unknown as Executor;
}

const plan = (shapeName: string) => ({ shapeName }) as LaunchPlan;
const request = (runId: string, shapeName: string) => ({ runId, plan: plan(shapeName), artifactPath: '/a', pythonEnv: null }) as LaunchRequest;

function twoEngines() {
  const calls: string[] = [];
  const set = new ExecutorSet([
    { executor: recorder('local', calls), serves: (p) => p.shapeName !== 'Container' },
    { executor: recorder('docker', calls), serves: (p) => p.shapeName === 'Container' },
  ]);
  return { set, calls };
}

test('the first engine that serves a plan starts it, and its handle names that engine for every later call', async () => {
  const { set, calls } = twoEngines();
  const d = await set.start(request('r1', 'Container'));
  const l = await set.start(request('r2', 'VM.Standard2.1'));
  assert.equal(d.handle.engine, 'docker');
  assert.equal(l.handle.engine, 'local');
  assert.equal(set.nameOf(d.handle), 'docker');
  await set.wait(d.handle);
  await set.signal(d.handle, 'SIGTERM');
  await set.cleanup(l.handle);
  assert.deepEqual(set.logFiles(d.handle), { stdout: '/docker/out', stderr: '/docker/err' });
  assert.deepEqual(calls, ['docker.start r1', 'local.start r2', 'docker.wait r1', 'docker.signal r1 SIGTERM', 'local.cleanup r2']);
});

test('a handle written before there were several engines is the first engine\'s; one naming an unknown engine is lost', async () => {
  const { set, calls } = twoEngines();
  await set.recover({ v: 1, id: 'old' });
  assert.deepEqual(calls, ['local.recover old']);
  const lost = await set.recover({ v: 1, id: 'x', engine: 'slurm' });
  assert.equal(lost.state, 'lost');
  assert.match((lost as { reason: string }).reason, /executor "slurm", which this server does not have/);
  await set.signal({ v: 1, id: 'x', engine: 'slurm' }, 'SIGKILL'); // nothing to reach: no throw
});

test('a plan no engine serves is refused; capacity is the first engine\'s; samples are asked per engine', async () => {
  const calls: string[] = [];
  const set = new ExecutorSet([{ executor: recorder('local', calls), serves: (p) => p.shapeName === 'A' }]);
  assert.equal(set.route(plan('B')), null);
  await assert.rejects(set.start(request('r', 'B')), /no executor of this server runs this job \(shape B\)/);
  const { set: two, calls: c2 } = twoEngines();
  assert.equal(two.capacity().cpus, 4);
  const samples = await two.sample([
    { runId: 'a', handle: { id: 'a', engine: 'docker' }, resources: { cpus: 1, memoryInGBs: 1, gpus: 0 } },
    { runId: 'b', handle: { id: 'b' }, resources: { cpus: 1, memoryInGBs: 1, gpus: 0 } },
    { runId: 'c', handle: { id: 'c', engine: 'docker' }, resources: { cpus: 1, memoryInGBs: 1, gpus: 0 } },
  ]);
  assert.deepEqual([...samples.keys()].sort(), ['a', 'b', 'c']);
  assert.deepEqual(c2.sort(), ['docker.sample a,c', 'local.sample b']);
  const found = await two.find('r-found');
  assert.equal(found?.engine, 'docker');
  assert.deepEqual(two.protections().enforced, ['local: local on', 'docker: docker on']);
});
