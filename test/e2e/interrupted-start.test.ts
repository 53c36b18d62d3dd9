/**
 * A run's start makes things before its process exists: cgroups named after the run, a block storage volume taken
 * from the pool and mounted. A server that stops or dies in the middle of that must not leave them behind with no
 * process to account for them. End to end on a real server with real cgroups and loop-mounted volumes (skipped
 * where the host has neither).
 *
 * - A graceful stop waits for the starts in flight: afterwards every run either has its handle recorded (it runs
 *   on, and a restart re-attaches it) or left no cgroup.
 * - A run that ended while its cleanup was cut short (simulated: its cgroups, made by hand, with a process in
 *   them) has them emptied and removed at the restart; a cgroup named after a run the database does not know stays.
 * - A server killed mid-start (simulated: the store's state of such a run, a cancel that came while it was being
 *   started with no process recorded, written into a stopped server's database, and the run's processes and handle
 *   file removed) is settled at the restart, and what the start had made goes: its cgroups, and its volume, which is
 *   unmounted and deleted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startServer, createJob, startRun, waitForRun, removeDataDir, type TestServer } from '../support/server.js';
import { alive } from '../support/procs.js';
import { until as pollUntil } from '../support/until.js';

interface Handle {
  pid: number;
  cgroups: { dirs: Record<string, string> } | null;
  volume: { image: string; mountPoint: string } | null;
}

const handleOf = (s: TestServer, runId: string): Handle | null => {
  try {
    return JSON.parse(readFileSync(path.join(s.dataDir, 'runs', runId, 'handle.json'), 'utf8'));
  } catch {
    return null;
  }
};

/** The host's cgroup bases, from a run's handle (the parents of its cgroups). */
const cgroupBases = (s: TestServer, runId: string): string[] => Object.values(handleOf(s, runId)!.cgroups!.dirs).map((d) => path.dirname(d));

function mounted(mountPoint: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === mountPoint);
}

/** This file's bound and polling interval for the shared until(). */
const until = <T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 15_000) =>
  pollUntil(what, fn, ms, 25);

async function protectedServer(t: { skip(m: string): void }, dataDir?: string): Promise<TestServer | null> {
  const s = await startServer(dataDir ? { dataDir } : {});
  const enforced = (await s.api.serverInfo()).protections.enforced.join('\n');
  if (!/CPU, memory and process limits: cgroups/.test(enforced) || !/block storage: a loop-mounted/.test(enforced)) {
    await s.close();
    t.skip('this host lacks cgroups or loop volumes');
    return null;
  }
  return s;
}

test('a server killed while a run was being started: the restart settles it and frees its cgroups and volume', async (t) => {
  let s = await protectedServer(t);
  if (!s) return;
  const dataDir = s.dataDir;
  try {
    const job = await createJob(s, 'wait.sh', 'sleep 60\n');
    const run = await startRun(s, job);
    await waitForRun(s.api, run.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    const h = handleOf(s, run.id);
    assert.ok(h?.cgroups && h.volume, `a handle with cgroups and a volume: ${JSON.stringify(h)}`);
    const cgroupDirs = Object.values(h.cgroups.dirs);

    await s.kill('SIGKILL');
    // What a start interrupted before its process existed leaves: cgroups and a mounted volume, no process, no
    // handle file; in the store the run is being started (here: canceled meanwhile), its handle not yet recorded.
    const unified = h.cgroups.dirs.unified;
    if (unified && existsSync(path.join(unified, 'cgroup.kill'))) writeFileSync(path.join(unified, 'cgroup.kill'), '1');
    else process.kill(-Number(readFileSync(path.join(dataDir, 'runs', run.id, 'child.pid'), 'utf8')), 'SIGKILL');
    await until('the run and its supervisor gone', () => !alive(h.pid));
    for (const f of ['handle.json', 'child.pid', 'exit.status']) rmSync(path.join(dataDir, 'runs', run.id, f), { force: true });
    const db = new Database(path.join(dataDir, 'dsjobs.db'));
    db.prepare(`UPDATE job_runs SET lifecycle_state = 'CANCELING', handle = ? WHERE id = ?`).run(JSON.stringify({ pending: true }), run.id);
    db.close();
    await until('its cgroups emptied', () => cgroupDirs.every((d) => readFileSync(path.join(d, 'cgroup.procs'), 'utf8').trim() === ''));
    assert.ok(mounted(h.volume.mountPoint), 'the volume is still mounted before the restart');

    s = await startServer({ dataDir });
    const done = await waitForRun(s.api, run.id);
    assert.notEqual(done.lifecycleState, 'SUCCEEDED');
    await until('its cgroups removed', () => cgroupDirs.every((d) => !existsSync(d)));
    await until('its volume unmounted and deleted', () => !mounted(h.volume!.mountPoint) && !existsSync(h.volume!.image));
    assert.ok(!existsSync(`${h.volume.mountPoint}.used`), 'no marker of a volume in use is left');

    // The server goes on working, on the same pool.
    const next = await waitForRun(s.api, (await startRun(s, await createJob(s, 'ok.sh', 'echo fine\n'))).id);
    assert.equal(next.lifecycleState, 'SUCCEEDED');
  } finally {
    await s.close();
    removeDataDir(dataDir);
  }
});

test('a graceful stop while runs are being started leaves each one started or without cgroups', async (t) => {
  let s = await protectedServer(t);
  if (!s) return;
  const dataDir = s.dataDir;
  try {
    const job = await createJob(s, 'short.sh', 'sleep 0.5\n');
    // The cgroup bases, from a first run's handle.
    const first = await startRun(s, job);
    await waitForRun(s.api, first.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    const bases = cgroupBases(s, first.id);
    await waitForRun(s.api, first.id);

    const runs = await Promise.all(Array.from({ length: 8 }, () => startRun(s!, job)));
    await s.kill('SIGTERM');
    for (const r of runs) {
      if (handleOf(s, r.id)) continue;
      for (const b of bases) assert.ok(!existsSync(path.join(b, r.id)), `run ${r.id} has no handle but its cgroup ${b}/${r.id} is left`);
    }

    s = await startServer({ dataDir });
    for (const r of runs) await waitForRun(s.api, r.id);
    for (const r of [first, ...runs]) {
      for (const b of bases) await until(`cgroup ${b}/${r.id} removed`, () => !existsSync(path.join(b, r.id)));
    }
    // Every volume is back in the pool: none is marked as held by a run.
    await until('no volume held', () => readdirSync(path.join(dataDir, 'volumes')).every((n) => !n.endsWith('.used')));
  } finally {
    await s.close();
    removeDataDir(dataDir);
  }
});

test("a run whose cleanup a kill cut short: the restart removes its cgroups and what it left in them, and only its", async (t) => {
  let s = await protectedServer(t);
  if (!s) return;
  const dataDir = s.dataDir;
  const bystanderName = 'ocid1.datasciencejobrun.dsjobs.elsewhere.another-servers-run';
  let bases: string[] = [];
  let straggler: ChildProcess | null = null;
  try {
    const job = await createJob(s, 'done.sh', 'sleep 0.5\n');
    const run = await startRun(s, job);
    await waitForRun(s.api, run.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    bases = cgroupBases(s, run.id);
    assert.equal((await waitForRun(s.api, run.id)).lifecycleState, 'SUCCEEDED');
    await s.kill('SIGKILL');

    // What a server killed between the run's end (committed) and its cleanup leaves: cgroups named after the run
    // (a run that did not start in a warm sandbox has those), with a process the run left behind still in them.
    // Made here by hand, as that moment cannot be hit on purpose. Beside them, a cgroup named after a run this
    // server's database does not know (another server's, sharing the host's cgroups): it must stay.
    const runDirs = bases.map((b) => path.join(b, run.id));
    const bystander = bases.map((b) => path.join(b, bystanderName));
    for (const d of [...runDirs, ...bystander]) mkdirSync(d);
    const left = spawn('sleep', ['600'], { stdio: 'ignore' });
    straggler = left;
    for (const d of runDirs) writeFileSync(path.join(d, 'cgroup.procs'), String(left.pid));

    s = await startServer({ dataDir });
    await until('the ended run\'s cgroups removed', () => runDirs.every((d) => !existsSync(d)));
    // Our child: it counts as gone once Node has reaped it.
    await until('the process it left killed', () => left.exitCode !== null || left.signalCode !== null, 5000);
    for (const d of bystander) assert.ok(existsSync(d), `${d}, named after a run this server does not know, stays`);
    assert.equal((await s.api.getJobRun(run.id)).lifecycleState, 'SUCCEEDED', 'the run itself is unchanged');
  } finally {
    if (straggler && straggler.exitCode === null && straggler.signalCode === null) straggler.kill('SIGKILL');
    for (const b of bases) if (existsSync(path.join(b, bystanderName))) rmdirSync(path.join(b, bystanderName));
    await s.close();
    removeDataDir(dataDir);
  }
});
