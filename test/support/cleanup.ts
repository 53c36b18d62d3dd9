/**
 * Removing a test's (or benchmark's) data dir after its server is gone: the runs it left behind may still be alive
 * (their server was SIGKILLed on purpose), hold cgroups and have block storage volumes mounted in it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { killRunCgroups, removeRunCgroups, type RunCgroups } from '../../src/executors/local/cgroups.js';

function handleOf(runDir: string): { cgroups?: RunCgroups | null } | null {
  try {
    return JSON.parse(readFileSync(path.join(runDir, 'handle.json'), 'utf8'));
  } catch {
    return null;
  }
}

/** Kills every run process under a data dir (process groups and cgroups), unmounts volumes, removes cgroups. */
export function killRunProcesses(dataDir: string): void {
  const runs = path.join(dataDir, 'runs');
  let ids: string[] = [];
  try {
    ids = readdirSync(runs);
  } catch {
    return;
  }
  const cgroups: RunCgroups[] = [];
  for (const id of ids) {
    try {
      const pid = Number(readFileSync(path.join(runs, id, 'child.pid'), 'utf8').trim());
      if (pid > 0) process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    const cg = handleOf(path.join(runs, id))?.cgroups;
    if (cg?.dirs) {
      killRunCgroups(cg);
      cgroups.push(cg);
    }
  }
  // A cgroup can be removed once its last process has been reaped.
  for (const cg of cgroups) {
    for (let i = 0; i < 50 && !removeRunCgroups(cg); i++) execFileSync('sleep', ['0.02']);
  }
}

/** Unmounts whatever is mounted under `dir` (deepest first). */
export function unmountUnder(dir: string): void {
  let mounts: string[] = [];
  try {
    mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => typeof m === 'string' && m.startsWith(dir + '/'));
  } catch {
    return;
  }
  for (const m of mounts.sort((a, b) => b.length - a.length)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
}

export function removeDataDir(dataDir: string): void {
  killRunProcesses(dataDir);
  unmountUnder(dataDir);
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
}
