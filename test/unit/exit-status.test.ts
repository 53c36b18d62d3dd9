import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExitStatus } from '../../src/executors/local/local-executor.js';

test('exit status files: codes, signals, and anything partial or odd is unknown (never success)', () => {
  assert.deepEqual(parseExitStatus('0\n'), { exitCode: 0, signal: null });
  assert.deepEqual(parseExitStatus('137\n'), { exitCode: 137, signal: null });
  assert.deepEqual(parseExitStatus('signal 9\n'), { exitCode: null, signal: 'SIGKILL' });
  assert.deepEqual(parseExitStatus('signal 15\n'), { exitCode: null, signal: 'SIGTERM' });
  for (const bad of ['', '0', 'signal 9', 'x\n', '0\n0\n', '-1\n']) {
    assert.deepEqual(parseExitStatus(bad), { exitCode: null, signal: null }, JSON.stringify(bad));
  }
});
