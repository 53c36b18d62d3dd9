/**
 * The open-files ceiling of all runs together (issue 23, item 5): which runs are stopped, and how files are counted
 * (real /proc: this process's own descriptors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test("a process's descriptors are counted from /proc; a process gone counts 0", () => {
  const before = openFilesOf([process.pid]);
  const fds = Array.from({ length: 50 }, () => openSync('/dev/null', 'r'));
  try {
    assert.equal(openFilesOf([process.pid]) - before, 50);
    assert.equal(openFilesOf([process.pid, 2 ** 22 + 7]), before + 50, 'a pid that does not exist adds nothing');
  } finally {
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
