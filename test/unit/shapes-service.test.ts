/** What a host can run of each shape, and the default shape (issue 24.8): ShapesService against fixed capacities. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SHAPES } from '../../src/domain/shapes.js';
import { ShapesService } from '../../src/service/shapes-service.js';

const on = (cpus: number, memoryInGBs: number, gpus = 0) => new ShapesService(DEFAULT_SHAPES, () => ({ cpus, memoryInGBs, gpus }));
const shape = (name: string) => DEFAULT_SHAPES.find((s) => s.name === name)!;

test("the default shape is VM.Standard.E4.Flex where its default form fits, else Local.Light", () => {
  assert.equal(on(2, 23.5).defaultShape(), 'VM.Standard.E4.Flex');
  assert.equal(on(1, 16).defaultShape(), 'VM.Standard.E4.Flex');
  assert.equal(on(2, 8).defaultShape(), 'Local.Light');
  assert.equal(on(0.5, 1).defaultShape(), 'Local.Light');
  assert.equal(on(0.1, 0.1).defaultShape(), null, 'nothing runs on a host this small');
});

test('a fixed shape larger than the host is not runnable and says what it needs against what there is', () => {
  assert.deepEqual(on(2, 23.5).here(shape('BM.GPU.A10.4')), {
    runnable: false,
    reason: 'needs 64 CPU, 1024 GB memory, 4 GPU; this server has 2 CPU, 23.5 GB memory in all',
  });
  assert.deepEqual(on(2, 23.5).here(shape('VM.Standard2.1')), { runnable: true });
  assert.ok(!on(2, 23.5).runnable().some((s) => s.name === 'BM.GPU.A10.4'));
});

test("a flex shape runs here up to the host's CPUs and memory (and its own per-OCPU memory bound)", () => {
  assert.deepEqual(on(2, 23.54).here(shape('VM.Standard.E4.Flex')), { runnable: true, maxOcpus: 2, maxMemoryInGBs: 23.54 });
  assert.deepEqual(on(96, 2048).here(shape('VM.Standard.E4.Flex')), { runnable: true, maxOcpus: 64, maxMemoryInGBs: 1024 });
  // 0.125 OCPU may have at most 8 GB (64 GB per OCPU).
  assert.deepEqual(on(0.125, 100).here(shape('VM.Standard.E4.Flex')), { runnable: true, maxOcpus: 0.125, maxMemoryInGBs: 8 });
});
