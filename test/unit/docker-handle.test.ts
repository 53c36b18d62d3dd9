/**
 * The Docker executor's handle (executors/docker/handle.ts) is data from the database: read back with its version
 * and every field checked, so a handle written by a newer dsjobs or damaged is reported, never misread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDockerHandle, encodeDockerHandle } from '../../src/executors/docker/handle.js';

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
