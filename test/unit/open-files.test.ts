/**
 * The open-files ceiling of all runs together (issue 23, item 5): which runs are stopped, and how files are counted
 * (real /proc: this process's own descriptors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { hostFileMax, hostOpenFiles, openFilesOf, runsOverCeiling } from '../../src/executors/local/open-files.js';

test('the runs holding the most are stopped first, as few as bring the rest under the ceiling', () => {
  const cases: [Record<string, number>, number, string[]][] = [
    [{ a: 100, b: 200 }, 300, []],
    [{ a: 100, b: 200 }, 299, ['b']],
    [{ a: 100, b: 200, c: 150 }, 120, ['b', 'c']],
    [{ a: 100, b: 200, c: 150 }, 99, ['b', 'c', 'a']],
    [{}, 10, []],
  ];
  for (const [counts, ceiling, expected] of cases) {
    assert.deepEqual(runsOverCeiling(new Map(Object.entries(counts)), ceiling), expected, JSON.stringify({ counts, ceiling }));
  }
});

test("a process's descriptors are counted from /proc; a process gone counts 0", async () => {
  // Two quiet child processes, one given 50 descriptors more than the other: this test process's own descriptors
  // come and go with the test runner's work, a sleeping child's do not.
  const fds = Array.from({ length: 50 }, () => openSync('/dev/null', 'r'));
  const plain = spawn('sleep', ['30'], { stdio: 'ignore' });
  const holding = spawn('sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore', ...fds] });
  try {
    await Promise.all([once(plain, 'spawn'), once(holding, 'spawn')]);
    await new Promise((resolve) => setTimeout(resolve, 100)); // past sleep's own start-up (locale files)
    const base = openFilesOf([plain.pid!]);
    assert.ok(base >= 3, `a child has at least its standard streams (${base})`);
    assert.equal(openFilesOf([holding.pid!]) - base, 50);
    assert.equal(openFilesOf([holding.pid!, 2 ** 22 + 7]), base + 50, 'a pid that does not exist adds nothing');
  } finally {
    plain.kill('SIGKILL');
    holding.kill('SIGKILL');
    for (const fd of fds) closeSync(fd);
  }
});

test("the host's counts are read from /proc/sys/fs", () => {
  const max = hostFileMax();
  const open = hostOpenFiles();
  assert.ok(max !== null && max > 0);
  assert.ok(open !== null && open > 0 && open < max);
  assert.equal(hostFileMax('/nonexistent'), null);
});
