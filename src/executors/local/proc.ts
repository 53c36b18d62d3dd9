import { readFileSync } from 'node:fs';

/**
 * Process start time in clock ticks since boot (/proc/<pid>/stat field 22). A pid is only "ours" if its start
 * time matches the one recorded at spawn: pids are reused, and a recycled pid must never be taken for a live run.
 */
export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); field 22 is rest[19]. A zombie has exited: treat it as gone.
    if (rest[0] === 'Z') return null;
    return Number(rest[19]);
  } catch {
    return null;
  }
}

export function isSameProcessAlive(pid: number, startTime: number): boolean {
  return processStartTime(pid) === startTime;
}

export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone already.
  }
}

/** Whether a process exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  return processStartTime(pid) !== null;
}

/**
 * Whether `pgid` still names the session a run's supervisor started: a live session leader with that pid whose
 * start time is within `windowTicks` of the supervisor's own (it was forked and exec'd right after it). A pid
 * reused later by an unrelated process starts much later, so it fails the check.
 */
export function isRunSessionLeader(pgid: number, supervisorStart: number, windowTicks = 1000): boolean {
  try {
    const stat = readFileSync(`/proc/${pgid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') return false;
    const session = Number(rest[3]); // field 6
    const start = Number(rest[19]); // field 22
    return session === pgid && start >= supervisorStart && start - supervisorStart <= windowTicks;
  } catch {
    return false;
  }
}
