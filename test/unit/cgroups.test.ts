/**
 * cgroup layout and limits against fake cgroup trees (plain directories and files standing in for cgroupfs), for
 * the layout this machine does not have (v2 only) and the one it has (v1). The real kernel interface is exercised
 * by test/e2e/isolation.test.ts on this machine's v1 hierarchy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { countingSyncCalls } from '../support/sync-calls.js';
import os from 'node:os';
import path from 'node:path';
import { checkRunCgroups, createRunCgroups, createRunCgroupsAsync, detectCgroups, emptyAndRemoveCgroups, parseProcCgroup, readUsage, removeLeftoverCgroups } from '../../src/executors/local/cgroups.js';

const GB = 1024 ** 3;

function fakeRoot(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'dsjobs-cgroup-unit-'));
}

/** v1 controller mounts (and `unified` for the v2 tree), as directories holding a cgroup.procs each. */
function fakeControllers(root: string, names: string[]): void {
  for (const c of names) {
    mkdirSync(path.join(root, c), { recursive: true });
    writeFileSync(path.join(root, c, 'cgroup.procs'), '');
  }
}

test('/proc/self/cgroup lines map controllers (comma-joined too) and the unified tree to paths', () => {
  const p = parseProcCgroup('12:cpu,cpuacct:/a\n4:memory:/process_api/x\n1:name=systemd:/\n0::/user.slice/s\n');
  assert.equal(p.cpu, '/a');
  assert.equal(p.cpuacct, '/a');
  assert.equal(p.memory, '/process_api/x');
  assert.equal(p.unified, '/user.slice/s');
});

test('v2: run cgroups go beside the server cgroup, controllers enabled on the way, limits in memory.max / cpu.max / pids.max', () => {
  const root = fakeRoot();
  try {
    writeFileSync(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    mkdirSync(path.join(root, 'system.slice', 'dsjobs.service'), { recursive: true });
    writeFileSync(path.join(root, 'system.slice', 'cgroup.controllers'), 'cpu io memory pids\n');
    writeFileSync(path.join(root, 'system.slice', 'cgroup.subtree_control'), 'memory\n');
    const host = detectCgroups({ root, procSelfCgroup: '0::/system.slice/dsjobs.service\n' });
    assert.equal(host.mode, 'v2', host.notes.join('; '));
    const base = path.join(root, 'system.slice', 'dsjobs');
    assert.deepEqual(host.bases, { unified: base });
    // Only what was missing is enabled, in the parent and in the base.
    assert.equal(readFileSync(path.join(root, 'system.slice', 'cgroup.subtree_control'), 'utf8'), '+cpu +pids');
    assert.equal(readFileSync(path.join(base, 'cgroup.subtree_control'), 'utf8'), '+memory +cpu +pids');

    const cg = createRunCgroups(host, 'run1', { cpus: 0.5, memoryBytes: 2 * GB, pidsMax: 100 });
    const dir = path.join(base, 'run1');
    assert.deepEqual(cg, { mode: 'v2', dirs: { unified: dir } });
    assert.equal(readFileSync(path.join(dir, 'memory.max'), 'utf8'), String(2 * GB));
    assert.equal(readFileSync(path.join(dir, 'cpu.max'), 'utf8'), '50000 100000');
    assert.equal(readFileSync(path.join(dir, 'pids.max'), 'utf8'), '100');

    writeFileSync(path.join(dir, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\n');
    writeFileSync(path.join(dir, 'memory.current'), '3000000\n');
    writeFileSync(path.join(dir, 'memory.stat'), 'anon 1\ninactive_file 1000000\n');
    writeFileSync(path.join(dir, 'memory.events'), 'low 0\noom 1\noom_kill 2\n');
    assert.deepEqual(readUsage(cg), { cpuNs: 1_500_000, memoryBytes: 2_000_000, oomKills: 2 });

    // Handles are data: directories that are not a run's under the base are refused.
    assert.equal(checkRunCgroups(host, { mode: 'v2', dirs: { unified: '/sys/fs/cgroup' } }), null);
    assert.equal(checkRunCgroups(host, { mode: 'v2', dirs: { unified: path.join(base, 'run1', '..', '..') } }), null);
    assert.deepEqual(checkRunCgroups(host, cg), cg);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('v2: a missing controller turns limits off with the reason', () => {
  const root = fakeRoot();
  try {
    writeFileSync(path.join(root, 'cgroup.controllers'), 'cpu io pids\n');
    const host = detectCgroups({ root, procSelfCgroup: '0::/\n' });
    assert.equal(host.mode, 'none');
    assert.match(host.notes.join(' '), /memory controller is not available/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('v1: one directory per controller under the server cgroup of that controller; limits in the v1 files', () => {
  const root = fakeRoot();
  try {
    fakeControllers(root, ['memory', 'cpu', 'cpuacct', 'pids']);
    const host = detectCgroups({ root, procSelfCgroup: '4:memory:/srv\n3:cpu:/\n' });
    assert.equal(host.mode, 'v1', host.notes.join('; '));
    assert.equal(host.bases.memory, path.join(root, 'memory', 'srv', 'dsjobs'));
    assert.equal(host.bases.cpu, path.join(root, 'cpu', 'dsjobs'));
    assert.match(host.notes.join(' '), /freezer cgroup controller is not mounted/);
    const cg = createRunCgroups(host, 'r', { cpus: 2, memoryBytes: GB, pidsMax: 64 });
    assert.equal(readFileSync(path.join(cg.dirs.memory!, 'memory.limit_in_bytes'), 'utf8'), String(GB));
    assert.equal(readFileSync(path.join(cg.dirs.cpu!, 'cpu.cfs_quota_us'), 'utf8'), '200000');
    assert.equal(readFileSync(path.join(cg.dirs.pids!, 'pids.max'), 'utf8'), '64');
    writeFileSync(path.join(cg.dirs.memory!, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    assert.equal(readUsage(cg).oomKills, 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cgroups: "off" in the config is reported as such', () => {
  const host = detectCgroups({ enabled: false });
  assert.equal(host.mode, 'none');
  assert.match(host.notes[0], /turned off/);
});

test("leftover warm cgroups: only the data directory's own prefix, never the ones named as this server's (made a moment ago, not joined yet)", () => {
  const root = fakeRoot();
  try {
    fakeControllers(root, ['memory', 'cpu', 'cpuacct', 'pids']);
    const host = detectCgroups({ root, procSelfCgroup: '4:memory:/\n3:cpu:/\n' });
    assert.equal(host.mode, 'v1', host.notes.join('; '));
    // Empty directories stand in for empty cgroups (rmdir removes both).
    const names = ['warm-aaaa1111-own', 'warm-aaaa1111-left', 'warm-bbbb2222-other', 'ocid1.datasciencejobrun.x'];
    for (const n of names) for (const base of Object.values(host.bases)) mkdirSync(path.join(base, n));
    removeLeftoverCgroups(host, 'warm-aaaa1111-', new Set(['warm-aaaa1111-own']));
    for (const base of Object.values(host.bases)) {
      assert.ok(existsSync(path.join(base, 'warm-aaaa1111-own')), 'this server\'s own warm cgroup stays');
      assert.ok(!existsSync(path.join(base, 'warm-aaaa1111-left')), 'a leftover of this data directory goes');
      assert.ok(existsSync(path.join(base, 'warm-bbbb2222-other')), "another data directory's warm cgroup stays");
      assert.ok(existsSync(path.join(base, 'ocid1.datasciencejobrun.x')), "a run's cgroup stays");
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('v1 beside a v2 tree that kills and counts CPU (hybrid): no freezer or cpuacct cgroups; CPU time from the v2 cpu.stat', () => {
  const root = fakeRoot();
  try {
    fakeControllers(root, ['memory', 'cpu', 'cpuacct', 'pids', 'freezer', 'unified']);
    // What the kernel shows in every non-root v2 cgroup (5.14+).
    mkdirSync(path.join(root, 'unified', 'dsjobs'));
    writeFileSync(path.join(root, 'unified', 'dsjobs', 'cgroup.kill'), '');
    writeFileSync(path.join(root, 'unified', 'dsjobs', 'cpu.stat'), 'usage_usec 5\nuser_usec 3\nsystem_usec 2\n');
    const host = detectCgroups({ root, procSelfCgroup: '4:memory:/\n0::/\n' });
    assert.equal(host.mode, 'v1', host.notes.join('; '));
    assert.deepEqual(Object.keys(host.bases).sort(), ['cpu', 'memory', 'pids', 'unified']);
    const cg = createRunCgroups(host, 'r', { cpus: 1, memoryBytes: GB, pidsMax: 64 });
    writeFileSync(path.join(cg.dirs.unified!, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n');
    assert.equal(readUsage(cg).cpuNs, 1_500_000);
    // A handle of an earlier version, with freezer and cpuacct directories: those are left alone, the rest used.
    const old = { mode: 'v1', dirs: { ...cg.dirs, freezer: path.join(root, 'freezer', 'dsjobs', 'r'), cpuacct: path.join(root, 'cpuacct', 'dsjobs', 'r') } };
    assert.deepEqual(checkRunCgroups(host, old), cg);
    // Anything else outside the bases makes the handle unusable.
    assert.equal(checkRunCgroups(host, { mode: 'v1', dirs: { ...cg.dirs, memory: '/etc' } }), null);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a run's cgroups are made, limited and removed off the event loop: no synchronous file-system call, the same files as the synchronous way", async () => {
  for (const v of ['v1', 'v2'] as const) {
    const root = fakeRoot();
    try {
      if (v === 'v2') writeFileSync(path.join(root, 'cgroup.controllers'), 'cpu memory pids\n');
      else fakeControllers(root, ['memory', 'cpu', 'pids']);
      const host = detectCgroups({ root, procSelfCgroup: v === 'v2' ? '0::/\n' : '4:memory:/\n3:cpu:/\n2:pids:/\n' });
      assert.equal(host.mode, v, host.notes.join('; '));
      const limits = { cpus: 0.5, memoryBytes: 2 * GB, pidsMax: 100 };
      const sync = createRunCgroups(host, 'sync', limits);
      // The limits of a cgroup whose controller files are not there yet (a fake tree) are read back as they are.
      const { value: cg, calls } = await countingSyncCalls(() => createRunCgroupsAsync(host, 'async', limits));
      assert.deepEqual(calls.filter((c) => c !== 'existsSync'), [], `creation, ${v}: ${calls.join(', ')}`);
      const files = (c: typeof cg) => Object.values(c.dirs).flatMap((d) => fs.readdirSync(d!).sort().map((f) => [f, readFileSync(path.join(d!, f), 'utf8')]));
      assert.deepEqual(files(cg), files(sync), v);
      // A fake cgroup's directory holds plain files (a real one's go with it): emptied here as the kernel would.
      for (const d of Object.values(cg.dirs)) for (const f of fs.readdirSync(d!)) rmSync(path.join(d!, f));
      const removed = await countingSyncCalls(() => emptyAndRemoveCgroups(cg));
      // Without cgroup.kill (v1, and this fake v2 tree) the kills one by one stay synchronous (small control files
      // read and written); the removal itself (rmdir, which waits for the kernel's cgroup lock) does not.
      const allowed = ['existsSync', 'readFileSync', 'writeFileSync'];
      assert.deepEqual(removed.calls.filter((c) => !allowed.includes(c)), [], `removal, ${v}: ${removed.calls.join(', ')}`);
      for (const d of Object.values(cg.dirs)) assert.equal(existsSync(d!), false, d);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
});
