/**
 * Removing a test's (or benchmark's) data dir after its server is gone: the runs it left behind may still be alive
 * (their server was SIGKILLed on purpose), hold cgroups and have block storage volumes mounted in it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function handleOf(runDir: string): { cgroups?: { dirs?: Record<string, string> } } | null {
  try {
    return JSON.parse(readFileSync(path.join(runDir, 'handle.json'), 'utf8'));
  } catch {
    return null;
  }
}

function killCgroup(dirs: string[]): void {
  for (const d of dirs) {
    try {
      writeFileSync(path.join(d, 'cgroup.kill'), '1');
      return;
    } catch {
      /* v1 below */
    }
  }
  for (let round = 0; round < 10; round++) {
    let any = false;
    for (const d of dirs) {
      let pids: number[] = [];
      try {
        pids = readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').map(Number).filter((n) => n > 0);
      } catch {
        continue;
      }
      for (const p of pids) {
        any = true;
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    if (!any) return;
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
  const cgroupDirs: string[] = [];
  for (const id of ids) {
    try {
      const pid = Number(readFileSync(path.join(runs, id, 'child.pid'), 'utf8').trim());
      if (pid > 0) process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    const dirs = Object.values(handleOf(path.join(runs, id))?.cgroups?.dirs ?? {});
    killCgroup(dirs);
    cgroupDirs.push(...dirs);
  }
  for (const d of cgroupDirs) {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(d);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EBUSY') break;
        execFileSync('sleep', ['0.02']);
      }
    }
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
