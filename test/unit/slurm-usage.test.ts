/** How the Slurm executor reads its node-side supervisors' usage records and combines a multi-node run's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineUsage, parseUsage } from '../../src/executors/slurm/slurm-executor.js';

const GB = 1024 ** 3;

test('a usage record of one node: all fields, "-" for none, and the three fields of earlier supervisors', () => {
  assert.deepEqual(parseUsage('50.00 536870912 1073741824 1073741824 53687091200 37.00 25.00 2\n'), {
    cpu: 50, rss: 0.5 * GB, limit: GB, disk: GB, diskLimit: 50 * GB, gpu: 37, gpuMemory: 25, cpus: 2,
  });
  assert.deepEqual(parseUsage('12.5 100 0\n'), { cpu: 12.5, rss: 100, limit: 0, disk: null, diskLimit: 0, gpu: null, gpuMemory: null, cpus: 1 });
  assert.equal(parseUsage(''), null);
  assert.equal(parseUsage('x 1 2'), null);
  const one = combineUsage([parseUsage('50.00 536870912 1073741824 1073741824 53687091200 - - 2')!], 8 * GB);
  assert.deepEqual(one, { cpuPercent: 50, memoryPercent: 50, memoryBytes: 0.5 * GB, diskPercent: 2, diskBytes: GB, gpuPercent: null, gpuMemoryPercent: null });
});

test("a multi-node run's usage: CPU and memory summed (used over allotted), disk the largest node's, GPUs averaged", () => {
  const nodes = [
    parseUsage(`100.00 ${0.75 * GB} ${GB} ${2 * GB} ${50 * GB} 40 20 1`)!,
    parseUsage(`25.00 ${0.25 * GB} ${3 * GB} ${GB} ${50 * GB} 60 30 3`)!,
  ];
  assert.deepEqual(combineUsage(nodes, 8 * GB), {
    // (1 CPU at 100% + 3 CPUs at 25%) of 4 CPUs; 1 GB resident of 4 GB given.
    cpuPercent: 43.75,
    memoryPercent: 25,
    memoryBytes: GB,
    diskPercent: 4,
    diskBytes: 2 * GB,
    gpuPercent: 50,
    gpuMemoryPercent: 25,
  });
});
