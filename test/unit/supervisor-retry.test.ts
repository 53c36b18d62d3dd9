/**
 * The native supervisor (supervisor.c, built by `npm run build`) tries a sandbox again when it failed to come up:
 * bwrap exits 1 before the inner supervisor started (it reports "+" once it has). A stand-in for bwrap that fails a
 * given number of times and then runs its command makes the failures; the real bwrap failure this is for (a mount
 * point removed on the host while bwrap re-mounts its copy of the tree) depends on timing and is not made here. The
 * supervisor, the inner supervisor and the runs are real processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../support/server.js';

const SUPERVISOR = path.join(ROOT, 'dist', 'executors', 'local', 'dsjobs-supervisor');

/** Runs `dsjobs-supervisor -R RUNDIR fake-bwrap -- SUPERVISOR -r 63 sh -c SCRIPT`; the fake fails `failures` times. */
function supervise(failures: number, script: string): { status: string; stderr: string; attempts: number } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-sup-retry-'));
  try {
    const fake = path.join(dir, 'fake-bwrap');
    // Counts its calls; fails (exit 1, as bwrap does when it cannot set a sandbox up) until `failures` is reached.
    writeFileSync(
      fake,
      `#!/bin/sh\nn=$(cat "${dir}/calls" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "${dir}/calls"\n` +
        `if [ $n -le ${failures} ]; then echo "bwrap: fake failure $n" >&2; exit 1; fi\nshift\nexec "$@"\n`,
    );
    chmodSync(fake, 0o755);
    const stderrFile = path.join(dir, 'stderr');
    execFileSync('sh', ['-c', `"$@" 2>"${stderrFile}"`, 'sh', SUPERVISOR, '-R', dir, fake, '--', SUPERVISOR, '-r', '63', 'sh', '-c', script]);
    return {
      status: readFileSync(path.join(dir, 'exit.status'), 'utf8'),
      stderr: readFileSync(stderrFile, 'utf8'),
      attempts: Number(readFileSync(path.join(dir, 'calls'), 'utf8').trim()),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a sandbox that fails to come up is tried again, and the run then ends as it really did', { skip: !existsSync(SUPERVISOR) && 'no native supervisor (no C compiler)' }, () => {
  const r = supervise(2, 'exit 7');
  assert.equal(r.attempts, 3);
  assert.equal(r.status, '7\n');
  assert.match(r.stderr, /bwrap: fake failure 1\n.*attempt 1 of 3\); trying again\n/s);
  assert.match(r.stderr, /attempt 2 of 3/);
});

test('three failures in a row: the run ends with the sandbox failure (exit 1), after three attempts', { skip: !existsSync(SUPERVISOR) && 'no native supervisor' }, () => {
  const r = supervise(5, 'exit 0');
  assert.equal(r.attempts, 3);
  assert.equal(r.status, '1\n');
  assert.equal((r.stderr.match(/trying again/g) ?? []).length, 2);
});

test('a run that itself exits 1 is not started again (the inner supervisor had reported the sandbox up)', { skip: !existsSync(SUPERVISOR) && 'no native supervisor' }, () => {
  const r = supervise(0, 'exit 1');
  assert.equal(r.attempts, 1);
  assert.equal(r.status, '1\n');
  assert.doesNotMatch(r.stderr, /trying again/);
  const s = supervise(0, 'kill -TERM $$');
  assert.equal(s.status, 'signal 15\n');
});
