/**
 * A volume the server unmounts is released everywhere, also from the sandboxes of runs still running.
 *
 * Every sandbox starts with a copy of the host's mount tree, hidden volumes of other runs included. On a host
 * whose `/` is private (no systemd, as on this project's machines), an unmount on the host reached none of those
 * copies: a discarded volume's loop device and blocks stayed held until every run that had started while it was
 * mounted had ended. The server now makes its volumes directory a shared mount, so unmounts propagate into the
 * sandboxes (whose copies are slaves). Real server, real sandbox, real loop-mounted volumes; root only.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startServer, createJob, startRun, waitForRun, removeDataDir, type TestServer } from '../support/server.js';
import { processArgv } from '../support/procs.js';
import { until as pollUntil } from '../support/until.js';

const root = process.getuid?.() === 0;

/** Names of the volumes (vol-<hex>) mounted in the mount namespace of `pid`. */
function volumesSeenBy(pid: number | 'self'): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
    const m = /\/volumes\/(vol-[0-9a-f]+)(?: |$)/.exec(line.split(' ')[4] ?? '');
    if (m) out.add(m[1]!);
  }
  return out;
}

/** This file's bound and polling interval for the shared until(). */
const until = <T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 20_000) =>
  pollUntil(what, fn, ms, 50);

describe('volumes unmounted on the host are unmounted in running sandboxes', { skip: root ? false : 'needs root (loop-mounted volumes)' }, () => {
  let s: TestServer;
  before(async () => {
    // No warm sandboxes: the long run's sandbox is made at its start, after the other runs' volumes were mounted.
    // Capacity for 19 runs at once.
    s = await startServer({ env: { DSJOBS_WARM_SANDBOXES: '0', DSJOBS_CAPACITY_CPUS: '64', DSJOBS_CAPACITY_MEMORY_IN_GBS: '256' } });
  });
  after(async () => {
    await s?.close();
  });

  test('volumes discarded while a run goes on (past the 16 kept free per size) leave its sandbox too', async (t) => {
    const info = await s.api.serverInfo();
    const enforced: string[] = (info as any).protections.enforced;
    if (!enforced.some((l) => l.startsWith('block storage: a loop-mounted'))) return t.skip('no loop-mounted volumes here');
    assert.ok(enforced.some((l) => l.startsWith('sandbox: ')), enforced.join('; '));
    assert.deepEqual((info as any).protections.off.filter((l: string) => l.startsWith('block storage')), []);

    // 18 runs at once: 18 volumes mounted. When they end, 16 are emptied and kept for the next runs, 2 unmounted.
    const brief = await createJob(s, 'brief.sh', 'sleep 4\n');
    const briefRuns = await Promise.all(Array.from({ length: 18 }, () => startRun(s, brief)));
    for (const r of briefRuns) await waitForRun(s.api, r.id, (x) => x.lifecycleState !== 'ACCEPTED');
    const mountedForBrief = volumesSeenBy('self');

    const long = await createJob(s, 'long.sh', 'exec sleep 300\n', { projectId: brief.projectId });
    const run = await startRun(s, long);
    await waitForRun(s.api, run.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    // The run's sleep, found by its working directory (its volume's work/, under the data dir).
    const sleeper = await until("the long run's sleep", () =>
      processArgv().find(({ pid, argv }) => {
        try {
          return argv[0]?.endsWith('sleep') && argv[1] === '300' && readlinkSync(`/proc/${pid}/cwd`).startsWith(s.dataDir + '/');
        } catch {
          return false;
        }
      }),
    );
    const ownVolume = path.basename(path.dirname(readlinkSync(`/proc/${sleeper.pid}/cwd`)));
    const copies = volumesSeenBy(sleeper.pid);
    // What the test is about: the sandbox holds copies of the other runs' volumes (hidden with the data directory).
    assert.ok([...mountedForBrief].filter((v) => v !== ownVolume && copies.has(v)).length >= 18, `copies in the sandbox: ${copies.size}`);

    for (const r of briefRuns) assert.equal((await waitForRun(s.api, r.id)).lifecycleState, 'SUCCEEDED');
    const discarded = await until('volumes unmounted on the host', () => {
      const host = volumesSeenBy('self');
      const gone = [...mountedForBrief].filter((v) => !host.has(v));
      return gone.length >= 2 ? gone : null;
    });
    const held = [...volumesSeenBy(sleeper.pid)].filter((v) => discarded.includes(v));
    assert.deepEqual(held, [], 'volumes unmounted on the host are still mounted in the running sandbox');
    assert.ok(volumesSeenBy(sleeper.pid).has(ownVolume), 'the run lost its own volume');
    assert.equal((await s.api.getJobRun(run.id)).lifecycleState, 'IN_PROGRESS');
  });
});

const mountInfoLine = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === dir);

describe('the volumes directory as a mount of its own', { skip: root ? false : 'needs root (mount)' }, () => {
  test('made at start (shared), removed at a stop that leaves nothing under it, so the data directory can be removed', async (t) => {
    const s = await startServer();
    const volumesDir = path.join(s.dataDir, 'volumes');
    try {
      const info = await s.api.serverInfo();
      if (!(info as any).protections.enforced.some((l: string) => l.startsWith('block storage: a loop-mounted'))) return t.skip('no loop-mounted volumes here');
      const line = mountInfoLine(volumesDir);
      assert.ok(line, 'the volumes directory is not a mount point');
      assert.match(line!, / shared:\d+ /);
      assert.ok(existsSync(`${volumesDir}.bind`));
      await s.kill('SIGTERM');
      assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${s.dataDir}/`), 'something is still mounted in the data directory');
      assert.ok(!existsSync(`${volumesDir}.bind`));
    } finally {
      await s.kill('SIGKILL');
      removeDataDir(s.dataDir);
    }
  });

  test('not over volumes already mounted in it (runs of a server that did not share it): those stay reachable', async (t) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-test-'));
    const old = path.join(dataDir, 'volumes', 'vol-0123456789abcdef');
    mkdirSync(old, { recursive: true });
    // A tmpfs stands in for an earlier server's volume (a bind mount over the directory would hide it).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', old]);
    writeFileSync(path.join(old, 'marker'), 'still here');
    const s = await startServer({ dataDir });
    try {
      const info = await s.api.serverInfo();
      if (!(info as any).protections.enforced.some((l: string) => l.startsWith('block storage: a loop-mounted'))) return t.skip('no loop-mounted volumes here');
      assert.ok((info as any).protections.off.some((l: string) => /still mounted in the volumes directory/.test(l)), JSON.stringify((info as any).protections.off));
      assert.equal(readFileSync(path.join(old, 'marker'), 'utf8'), 'still here');
      assert.equal(mountInfoLine(path.join(dataDir, 'volumes')), undefined);
    } finally {
      await s.kill('SIGTERM');
      execFileSync('umount', [old]);
      removeDataDir(dataDir);
    }
  });
});

