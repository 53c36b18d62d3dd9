import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLocalHandle, LOCAL_HANDLE_VERSION } from '../../src/executors/local/handle.js';
import type { ExecutorHandle } from '../../src/executors/executor.js';

const RUNS = '/data/runs';
const base = { runDir: '/data/runs/ocid1.datasciencejobrun.oc1..x', pid: 4242, startTime: 123456 };
const full = {
  ...base,
  space: '/data/volumes/v1/mnt',
  sandboxed: true,
  cgroups: { mode: 'v2', dirs: { unified: '/sys/fs/cgroup/dsjobs/ocid1.datasciencejobrun.oc1..x' } },
  volume: { image: '/data/volumes/v1.img', mountPoint: '/data/volumes/v1/mnt' },
  gpus: ['GPU-1'],
};

test('local handles of the current format and those written before versions are read as version 1', () => {
  const cases: [string, object][] = [
    ['current, every field', { v: LOCAL_HANDLE_VERSION, ...full }],
    ['without v (an earlier dsjobs), every field', full],
    ['without v, the fewest fields (before spaces, cgroups and volumes existed)', base],
    ['without v, cgroups and volume null', { ...base, cgroups: null, volume: null }],
  ];
  for (const [name, h] of cases) {
    assert.deepEqual(decodeLocalHandle(h as ExecutorHandle, RUNS), { ...h, v: 1 }, name);
  }
});

test('a local handle of another version, or one that is malformed, is refused saying why, never misread', () => {
  const cases: [string, object, RegExp][] = [
    ['a newer version', { v: 2, ...full }, /format version 2, which this dsjobs does not read \(it reads version 1/],
    ['version 0', { v: 0, ...full }, /format version 0/],
    ['a version that is not a number', { v: '1', ...full }, /format version "1"/],
    ['a run directory outside runsDir', { ...base, runDir: '/etc' }, /run directory '\/etc' is not under \/data\/runs/],
    ['a run directory that climbs out', { ...base, runDir: '/data/runs/../etc' }, /is not under/],
    ['runsDir itself', { ...base, runDir: '/data/runs' }, /is not under/],
    ['no run directory', { pid: 1, startTime: 1 }, /run directory 'undefined'/],
    ['no pid', { runDir: base.runDir, startTime: 1 }, /pid is missing/],
    ['a negative pid', { ...base, pid: -1 }, /pid is -1/],
    ['a start time that is text', { ...base, startTime: '5' }, /startTime is "5"/],
    ['a space that is not text', { ...base, space: 5 }, /space is 5/],
    ['sandboxed that is not a boolean', { ...base, sandboxed: 'yes' }, /sandboxed is "yes"/],
    ['cgroups without dirs', { ...base, cgroups: { mode: 'v2' } }, /cgroups is/],
    ['a volume without its mount point', { ...base, volume: { image: '/x.img' } }, /volume is/],
    ['gpus that are not a list of ids', { ...base, gpus: [0] }, /gpus is \[0\]/],
  ];
  for (const [name, h, message] of cases) {
    assert.throws(() => decodeLocalHandle(h as ExecutorHandle, RUNS), message, name);
  }
});

test("a run's handle column: the executor's handle only once the executor returned one", async () => {
  const { launchedHandle } = await import('../../src/service/run-execution.js');
  const cases: [string, { handle: Parameters<typeof launchedHandle>[0]['handle'] }, unknown][] = [
    ['queued: no handle', { handle: null }, null],
    ['its start claimed, no process yet', { handle: { pending: true } }, null],
    ['started', { handle: { v: 1, ...base } }, { v: 1, ...base }],
    ['started by an earlier dsjobs (no v)', { handle: base }, base],
  ];
  for (const [name, run, expected] of cases) assert.deepEqual(launchedHandle(run), expected, name);
});
