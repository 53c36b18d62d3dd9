import { readdirSync, readFileSync } from 'node:fs';

/**
 * The open files of all runs together. The kernel has no control that counts files per group of processes (cgroups
 * count processes and memory, not files), and RLIMIT_NOFILE is per process: 8,192 processes of one run times 16,384
 * files each is far beyond the host's fs.file-max (2.4 million here). So the ceiling is kept by watching: the host's
 * count of open files (/proc/sys/fs/file-nr, one small read) is checked each sampling round, and only when it is
 * above the ceiling — the runs cannot then be below it by much — are the runs' own descriptors counted
 * (/proc/PID/fd of each process in a run's cgroup), and the runs holding the most are killed until the rest are
 * under it. Between two rounds a run can open more; what it can reach then is bounded by its processes, their
 * RLIMIT_NOFILE and its memory (each open file's kernel memory is charged to the run's memory cgroup).
 */

/** The host's allocated file handles (first field of fs.file-nr), or null where /proc does not say. */
export function hostOpenFiles(procRoot = '/proc'): number | null {
  try {
    const n = Number(readFileSync(`${procRoot}/sys/fs/file-nr`, 'utf8').split(/\s+/)[0]);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** The host's fs.file-max, or null where /proc does not say. */
export function hostFileMax(procRoot = '/proc'): number | null {
  try {
    const n = Number(readFileSync(`${procRoot}/sys/fs/file-max`, 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * The file descriptors the processes hold (a process gone meanwhile counts 0). Descriptors a process shares with
 * another (after fork) are counted once per process: the count errs high, never low.
 */
export function openFilesOf(pids: readonly number[], procRoot = '/proc'): number {
  let n = 0;
  for (const pid of pids) {
    try {
      n += readdirSync(`${procRoot}/${pid}/fd`).length;
    } catch {
      // ended between listing and counting
    }
  }
  return n;
}

/** The runs to stop so the rest hold at most `ceiling` files: the largest first, as few as possible. */
export function runsOverCeiling(counts: ReadonlyMap<string, number>, ceiling: number): string[] {
  let total = 0;
  for (const n of counts.values()) total += n;
  const out: string[] = [];
  for (const [runId, n] of [...counts].sort((a, b) => b[1] - a[1])) {
    if (total <= ceiling) break;
    out.push(runId);
    total -= n;
  }
  return out;
}
