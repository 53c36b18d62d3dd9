/** The one rule for how a run ends (domain/run-outcome.ts), as a table: state and exit status in, outcome out. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOutcome, type EndingRun, type ExitStatus } from '../../src/domain/run-outcome.js';

const running: EndingRun = { lifecycleState: 'IN_PROGRESS', stopReason: null, maximumRuntimeInMinutes: 90, memoryInGBs: 16, blockStorageSizeInGBs: 50 };
const exit = (exitCode: number | null, signal: string | null = null, exhausted?: ExitStatus['exhausted']): ExitStatus => ({ exitCode, signal, exhausted });

test('each state and exit status ends the run one way', () => {
  const rows: [string, EndingRun, ExitStatus, string, string, RegExp][] = [
    ['exit 0', running, exit(0), 'SUCCEEDED', 'exit', /succeeded/i],
    ['exit 3', running, exit(3), 'FAILED', 'exit', /exit code 3/],
    ['killed by a signal', running, exit(null, 'SIGSEGV'), 'FAILED', 'exit', /signal SIGSEGV/],
    ['nothing known', running, exit(null), 'FAILED', 'lost', /could not be determined/],
    ['out of memory', running, exit(null, 'SIGKILL', 'memory'), 'FAILED', 'oom', /out of memory.*16 GB/],
    ['volume full', running, exit(1, null, 'blockStorage'), 'FAILED', 'block_storage_full', /50 GB volume is full/],
    ['open files', running, exit(null, 'SIGKILL', 'openFiles'), 'FAILED', 'open_files', /too many open files/],
    // A cancel asked for wins over whatever the process returned, even success.
    ['canceled, exit 0', { ...running, lifecycleState: 'CANCELING', stopReason: 'cancel' }, exit(0), 'CANCELED', 'canceled', /canceled/],
    ['canceled, SIGTERM', { ...running, lifecycleState: 'CANCELING', stopReason: 'cancel' }, exit(null, 'SIGTERM'), 'CANCELED', 'canceled', /canceled/],
    ['maximum runtime', { ...running, lifecycleState: 'CANCELING', stopReason: 'timeout' }, exit(null, 'SIGTERM'), 'FAILED', 'timeout', /maximum runtime of 90 minutes/],
    ['maximum runtime, in seconds', { ...running, lifecycleState: 'CANCELING', stopReason: 'timeout', maximumRuntimeInMinutes: 0.75 }, exit(0), 'FAILED', 'timeout', /45 seconds/],
    // Exhaustion beats the exit code it caused (a process killed for memory often exits 137 through its shell).
    ['oom, exit 137', running, exit(137, null, 'memory'), 'FAILED', 'oom', /out of memory/],
  ];
  for (const [name, run, status, to, reason, details] of rows) {
    const o = runOutcome(run, status);
    assert.equal(o.to, to, name);
    assert.equal(o.reason, reason, name);
    assert.match(o.details, details, name);
    assert.equal(o.event, to === 'SUCCEEDED' ? 'succeeded' : to === 'CANCELED' ? 'canceled' : reason === 'timeout' ? 'timeout' : 'failed', name);
  }
});

test('a lost run says why, when something knows', () => {
  assert.match(runOutcome(running, exit(null), 'the supervisor vanished').details, /\(the supervisor vanished\)$/);
});
