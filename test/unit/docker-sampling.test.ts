/**
 * A container run's CPU and memory from Docker's one-shot stats, measured as a local run's are: CPU since the
 * previous reading over the shape's CPUs, memory less the inactive page cache, both as percentages of the shape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerReading } from '../../src/executors/docker/sampling.js';

const shape = { cpus: 2, memoryInGBs: 1, gpus: 0 };
const GiB = 1024 ** 3;

test('the first reading has no CPU figure; the next is CPU time over wall time and the shape’s CPUs', () => {
  const first = containerReading({ cpu_stats: { cpu_usage: { total_usage: 5e9 } } }, shape, 10_000_000_000n, undefined);
  assert.equal(first.sample.cpuPercent, null);
  assert.deepEqual(first.cpu, { cpuNs: 5e9, atNs: 10_000_000_000n });
  // 1.5 s of CPU in 1 s of wall time on a 2-CPU shape: 75 %.
  const next = containerReading({ cpu_stats: { cpu_usage: { total_usage: 6.5e9 } } }, shape, 11_000_000_000n, first.cpu!);
  assert.equal(next.sample.cpuPercent, 75);
  // A counter that went back (a restarted container) reads 0, never negative.
  assert.equal(containerReading({ cpu_stats: { cpu_usage: { total_usage: 1e9 } } }, shape, 12_000_000_000n, next.cpu!).sample.cpuPercent, 0);
});

test('memory is usage less the inactive page cache (cgroup v2 and v1 names), as a percentage of the shape', () => {
  const v2 = containerReading({ memory_stats: { usage: 0.5 * GiB, stats: { inactive_file: 0.25 * GiB } } }, shape, 1n, undefined);
  assert.deepEqual(v2.sample, { cpuPercent: null, memoryBytes: 0.25 * GiB, memoryPercent: 25 });
  const v1 = containerReading({ memory_stats: { usage: 0.5 * GiB, stats: { total_inactive_file: 0.4 * GiB } } }, shape, 1n, undefined);
  assert.equal(v1.sample.memoryPercent, 10);
  // An engine that gives no memory figure (a stopped container): none, not 0.
  assert.deepEqual(containerReading({}, shape, 1n, undefined), { sample: { cpuPercent: null, memoryBytes: null, memoryPercent: null }, cpu: null });
});
