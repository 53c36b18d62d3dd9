import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planAdmission, describeWait } from '../../src/domain/admission.js';
import { resolveShape, DEFAULT_SHAPES } from '../../src/domain/shapes.js';
import { mergeConfig, checkJobConfiguration, MAX_RUNTIME_MINUTES } from '../../src/domain/job-config.js';
import { checkEnv, checkEnvSize } from '../../src/domain/env-policy.js';
import { assertTransition, canTransition, sourcesOf } from '../../src/domain/run-states.js';
import { isOcid, newOcid, timeOrderedUuid } from '../../src/domain/ids.js';
import { loadConfig } from '../../src/config/config.js';
import { DsError } from '../../src/domain/errors.js';

const r = (id: string, cpus: number, mem = 1, gpus = 0) => ({ id, needs: { cpus, memoryInGBs: mem, gpus } });

test('admission is strict FIFO: the first run that does not fit blocks the rest', () => {
  const plan = planAdmission([r('a', 1), r('b', 2), r('c', 0.5)], { cpus: 2, memoryInGBs: 8, gpus: 0 });
  assert.deepEqual(plan.start, ['a']);
  assert.equal(plan.blocker?.id, 'b');
  assert.match(plan.blocker!.short.join(), /CPU \(needs 2, 1 free\)/);
  assert.match(describeWait(r('b', 2), 1, 2, plan.blocker), /short of CPU .* Position 1 of 2 in the queue\./);
  assert.match(describeWait(r('c', 0.5), 2, 2, plan.blocker), /queued behind 1 earlier job run .* Position 2 of 2/);
  assert.deepEqual(planAdmission([r('a', 0.25), r('b', 0.25), r('c', 0.25)], { cpus: 0.75, memoryInGBs: 8, gpus: 0 }).start, ['a', 'b', 'c']);
  assert.deepEqual(planAdmission([r('g', 1, 1, 1)], { cpus: 4, memoryInGBs: 8, gpus: 0 }).start, []);
});

test('shapes: flex bounds, fixed shapes refuse shape config, unknown names are listed', () => {
  assert.deepEqual(resolveShape(DEFAULT_SHAPES, 'VM.Standard.E4.Flex', { ocpus: 2, memoryInGBs: 8 }, 'infra'), { cpus: 2, memoryInGBs: 8, gpus: 0 });
  assert.deepEqual(resolveShape(DEFAULT_SHAPES, 'VM.Standard2.1', null, 'infra'), { cpus: 1, memoryInGBs: 15, gpus: 0 });
  assert.deepEqual(resolveShape(DEFAULT_SHAPES, 'VM.GPU.A10.1', null, 'infra').gpus, 1);
  assert.throws(() => resolveShape(DEFAULT_SHAPES, 'VM.Standard2.1', { ocpus: 2 }, 'infra'), /infra\.jobShapeConfigDetails: .*fixed shape/);
  assert.throws(() => resolveShape(DEFAULT_SHAPES, 'VM.Standard.E4.Flex', { ocpus: 1000 }, 'infra'), /infra\.jobShapeConfigDetails\.ocpus/);
  assert.throws(() => resolveShape(DEFAULT_SHAPES, 'VM.Standard.E4.Flex', { ocpus: 1, memoryInGBs: 100 }, 'infra'), /per OCPU/);
  assert.throws(() => resolveShape(DEFAULT_SHAPES, 'Nope', null, 'infra'), /infra\.shapeName: unknown shape 'Nope'.*Local\.Light/);
});

test('run overrides: env merged (run wins), arguments and runtime replaced, 30 days by default', () => {
  const m = mergeConfig(
    { jobType: 'DEFAULT', environmentVariables: { A: 'job', B: 'job' }, commandLineArguments: 'x', maximumRuntimeInMinutes: 10 },
    { jobType: 'DEFAULT', environmentVariables: { B: 'run' }, commandLineArguments: '' },
  );
  assert.deepEqual(m, { environmentVariables: { A: 'job', B: 'run' }, commandLineArguments: '', maximumRuntimeInMinutes: 10 });
  assert.equal(mergeConfig(null, null).maximumRuntimeInMinutes, MAX_RUNTIME_MINUTES);
  assert.throws(() => checkJobConfiguration({ jobType: 'DEFAULT', maximumRuntimeInMinutes: MAX_RUNTIME_MINUTES + 1 }, 'c'), /c\.maximumRuntimeInMinutes: must be at most/);
  assert.throws(() => checkJobConfiguration({ jobType: 'EMPTY' }, 'c'), /c\.jobType/);
});

test('env policy: runtime-hijacking and service names refused, OCI size limit enforced', () => {
  for (const name of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'NODE_OPTIONS', 'BASH_ENV', 'PYTHONSTARTUP', 'JAVA_TOOL_OPTIONS', 'BASH_FUNC_x%%']) {
    assert.throws(() => checkEnv({ [name]: 'x' }, 'env'), (e: DsError) => e.code === 'InvalidParameter' && e.message.includes(name), name);
  }
  assert.throws(() => checkEnv({ JOB_OCID: 'x' }, 'env'), /set by the service/);
  assert.throws(() => checkEnv({ 'A=B': 'x' }, 'env'), /names must start/);
  checkEnv({ PATH: '/x', PYTHONPATH: '/y', MY_VAR: 'z' }, 'env');
  checkEnvSize({ A: 'x'.repeat(19_999) }, 'env');
  assert.throws(() => checkEnvSize({ A: 'x'.repeat(20_000) }, 'env'), /20001 characters.*20000/);
});

test('run state machine: OCI transitions only', () => {
  assert.ok(canTransition('ACCEPTED', 'IN_PROGRESS'));
  assert.ok(canTransition('CANCELING', 'CANCELED'));
  assert.ok(!canTransition('SUCCEEDED', 'FAILED'));
  assert.ok(!canTransition('CANCELED', 'IN_PROGRESS'));
  assert.throws(() => assertTransition('FAILED', 'SUCCEEDED'), /FAILED cannot move to SUCCEEDED/);
  assert.deepEqual(sourcesOf('DELETED').sort(), ['CANCELED', 'FAILED', 'SUCCEEDED']);
});

test('ids are OCID-shaped and unique', () => {
  const a = newOcid('datasciencejob', 'local');
  assert.match(a, /^ocid1\.datasciencejob\.dsjobs\.local\.[a-z0-9]{30}$/);
  assert.notEqual(a, newOcid('datasciencejob', 'local'));
  assert.ok(isOcid('ocid1.tenancy.oc1..aaaa'));
  assert.ok(!isOcid('compartment-1'));
});

test('ids and event ids are time-ordered: one made later sorts after, as text', async () => {
  const first = [newOcid('datasciencejobrun', 'local'), timeOrderedUuid()];
  await new Promise((r) => setTimeout(r, 5));
  const later = [newOcid('datasciencejobrun', 'local'), timeOrderedUuid()];
  assert.ok(first[0] < later[0], `${first[0]} < ${later[0]}`);
  assert.ok(first[1] < later[1], `${first[1]} < ${later[1]}`);
  const u = timeOrderedUuid();
  assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // The first 48 bits are the time in milliseconds.
  assert.ok(Math.abs(parseInt(u.replace('-', '').slice(0, 12), 16) - Date.now()) < 5_000);
  const many = new Set(Array.from({ length: 10_000 }, () => newOcid('datasciencejobrun', 'local')));
  assert.equal(many.size, 10_000);
});

test('config: defaults, DSJOBS_* overrides, unknown keys and bad values refused by name', () => {
  const c = loadConfig({ env: { DSJOBS_PORT: '9999', DSJOBS_CAPACITY_CPUS: '3', DSJOBS_KEEP_WORK_DIRS: 'true' } });
  assert.equal(c.port, 9999);
  assert.equal(c.capacity.cpus, 3);
  assert.equal(c.keepWorkDirs, true);
  assert.equal(c.gracePeriodMs, 10_000);
  assert.throws(() => loadConfig({ env: {}, overrides: { portt: 1 } }), /config portt/);
  assert.throws(() => loadConfig({ env: { DSJOBS_GRACE_PERIOD_MS: 'soon' } }), /config gracePeriodMs/);
  assert.throws(() => loadConfig({ env: { DSJOBS_SANDBOX: 'maybe' } }), (e: Error) => e.name === 'ConfigError' && e.message === 'config sandbox: must be one of ["auto","native","bwrap","off"]');
  assert.throws(
    () => loadConfig({ env: {}, overrides: { storage: { buckets: [{ namespace: 'n', bucket: 'b', path: 'rel' }] } } }),
    (e: Error) => e.name === 'ConfigError' && e.message === 'config storage.buckets.0.path: must be an absolute path',
  );
});

test('config: capacity env names read naturally', () => {
  const c = loadConfig({ env: { DSJOBS_CAPACITY_MEMORY_IN_GBS: '12', DSJOBS_CAPACITY_GPUS: '1' } });
  assert.equal(c.capacity.memoryInGBs, 12);
  assert.equal(c.capacity.gpus, 1);
});

test("shapes: what a shape lists as coreCount and memoryInGBs is whole (OCI's SDKs type them as integers)", () => {
  for (const shape of DEFAULT_SHAPES) {
    const listed = shape.flex ? [shape.flex.maxOcpus, shape.flex.maxMemoryInGBs] : [shape.ocpus, shape.memoryInGBs];
    assert.ok(listed.every(Number.isInteger), shape.name);
  }
  // Local.Light keeps its small default form through jobShapeConfigDetails' defaults, and may ask for up to 1 OCPU.
  assert.deepEqual(resolveShape(DEFAULT_SHAPES, 'Local.Light', null, 'infra'), { cpus: 0.25, memoryInGBs: 0.5, gpus: 0 });
  assert.deepEqual(resolveShape(DEFAULT_SHAPES, 'Local.Light', { ocpus: 1 }, 'infra'), { cpus: 1, memoryInGBs: 2, gpus: 0 });
  const fractional = { name: 'Tiny', series: 'GENERIC', ocpus: 0.5, memoryInGBs: 1, gpus: 0 };
  assert.throws(() => loadConfig({ env: {}, overrides: { shapes: [fractional] } }), /config shapes\.0\.ocpus: must be a whole number, got 0\.5/);
  const flexTiny = { ...fractional, flex: { minOcpus: 0.25, maxOcpus: 1.5, minMemoryInGBs: 0.5, maxMemoryInGBs: 4, maxMemoryPerOcpuInGBs: 8 } };
  assert.throws(() => loadConfig({ env: {}, overrides: { shapes: [flexTiny] } }), /config shapes\.0\.flex\.maxOcpus: must be a whole number/);
});
