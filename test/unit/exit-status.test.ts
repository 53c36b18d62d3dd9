import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExitStatus } from '../../src/executors/local/exit-status.js';

test('exit status files: codes, signals, and anything partial or odd is unknown (never success)', () => {
  assert.deepEqual(parseExitStatus('0\n'), { exitCode: 0, signal: null });
  assert.deepEqual(parseExitStatus('137\n'), { exitCode: 137, signal: null });
  assert.deepEqual(parseExitStatus('signal 9\n'), { exitCode: null, signal: 'SIGKILL' });
  assert.deepEqual(parseExitStatus('signal 15\n'), { exitCode: null, signal: 'SIGTERM' });
  for (const bad of ['', '0', 'signal 9', 'x\n', '0\n0\n', '-1\n']) {
    assert.deepEqual(parseExitStatus(bad), { exitCode: null, signal: null }, JSON.stringify(bad));
  }
});

test('the local executor refuses handles whose run directory is not under its runs dir', async () => {
  const { LocalExecutor } = await import('../../src/executors/local/local-executor.js');
  const { defaultArchiveLimits } = await import('../../src/archive/archive.js');
  const ex = new LocalExecutor({
    runsDir: '/tmp/dsjobs-unit-runs',
    capacity: { cpus: 1, memoryInGBs: 1, gpus: 0 },
    pythonCommand: 'python3',
    bashCommand: 'bash',
    javaCommand: 'java',
    archiveLimits: defaultArchiveLimits,
    keepWorkDirs: false,
    dataDir: '/tmp/dsjobs-unit',
    sandbox: { engine: null, program: null, note: 'off in this test' },
    cgroups: { mode: 'none', bases: {}, notes: ['off in this test'] },
    volumes: { available: false, note: 'off in this test' },
    gpus: [],
    pidsMax: 1024,
    pidsPerCpu: 512,
    pidsMaxAllRuns: null,
    openFilesMaxAllRuns: null,
    runUser: { uid: null, gid: null, name: 'test', openFilesMax: 1024 },
  });
  for (const runDir of ['', '.', '/tmp', '/tmp/dsjobs-unit-runs', '/tmp/dsjobs-unit-runs/../etc']) {
    await assert.rejects(ex.cleanup({ runDir, pid: 1, startTime: 0 }), /not under/, runDir);
    assert.throws(() => ex.logFiles({ runDir }), /not under/, runDir);
  }
  await ex.close();
});
