/**
 * The Docker executor's handle (executors/docker/handle.ts) is data from the database: read back with its version
 * and every field checked, so a handle written by a newer dsjobs or damaged is reported, never misread. Also the
 * handle another replica wrote, adopted (a shared engine, docs/deployment.md#executors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeDockerHandle, encodeDockerHandle } from '../../src/executors/docker/handle.js';
import { DockerExecutor } from '../../src/executors/docker/docker-executor.js';

const runsDir = '/data/runs';
const id = 'a'.repeat(64);

test('a handle round-trips, with and without its volume', () => {
  const h = { v: 1 as const, runDir: '/data/runs/r1', containerId: id };
  assert.deepEqual(decodeDockerHandle(encodeDockerHandle(h), runsDir), h);
  const withVolume = { ...h, volume: { image: '/data/volumes/vol-1.img', mountPoint: '/data/volumes/vol-1' } };
  assert.deepEqual(decodeDockerHandle(encodeDockerHandle(withVolume), runsDir), withVolume);
  const withGpus = { ...h, gpus: ['GPU-0b1c2d3e-aaaa-bbbb-cccc-000000000001'] };
  assert.deepEqual(decodeDockerHandle(encodeDockerHandle(withGpus), runsDir), withGpus);
});

test('an unknown version, a run directory outside the runs, a bad container id or volume are refused, saying which', () => {
  assert.throws(() => decodeDockerHandle({ v: 2, runDir: '/data/runs/r1', containerId: id }, runsDir), /format version 2/);
  assert.throws(() => decodeDockerHandle({ runDir: '/data/runs/r1', containerId: id }, runsDir), /format version null/);
  assert.throws(() => decodeDockerHandle({ v: 1, runDir: '/data/runs/../../etc', containerId: id }, runsDir), /not under/);
  assert.throws(() => decodeDockerHandle({ v: 1, runDir: '/data/runs/r1', containerId: 'abc' }, runsDir), /containerId/);
  assert.throws(() => decodeDockerHandle({ v: 1, runDir: '/data/runs/r1', containerId: id, volume: { image: 3 } }, runsDir), /volume/);
  assert.throws(() => decodeDockerHandle({ v: 1, runDir: '/data/runs/r1', containerId: id, gpus: ['all', 'a b'] }, runsDir), /gpus/);
});

test("adopting another replica's handle (a shared engine): the container is kept, the run directory becomes this server's, the other's volume and GPUs are dropped", async () => {
  const ours = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-adopt-'));
  try {
    const executor = new DockerExecutor({ socketPath: '/nonexistent.sock', runsDir: ours } as ConstructorParameters<typeof DockerExecutor>[0]);
    const theirs = { v: 1, runDir: '/replica-a/runs/r1', containerId: id, volume: { image: '/replica-a/volumes/v.img', mountPoint: '/replica-a/volumes/v' }, gpus: ['GPU-1'] };
    const adopted = await executor.adopt(theirs, 'r1');
    assert.deepEqual(adopted, { v: 1, runDir: path.join(ours, 'r1'), containerId: id });
    // Its log copy starts empty, here: the engine's log is copied from its first message.
    assert.ok(existsSync(path.join(ours, 'r1', 'stdout.log')) && existsSync(path.join(ours, 'r1', 'stderr.log')));
    assert.deepEqual(executor.logFiles(adopted), { stdout: path.join(ours, 'r1', 'stdout.log'), stderr: path.join(ours, 'r1', 'stderr.log') });
    await assert.rejects(executor.adopt({ ...theirs, containerId: 'abc' }, 'r2'), /containerId/);
    await assert.rejects(executor.adopt({ ...theirs, v: 2 }, 'r2'), /format version 2/);
  } finally {
    rmSync(ours, { recursive: true, force: true });
  }
});
