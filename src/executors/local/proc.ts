import { readFileSync } from 'node:fs';

/** Fields of /proc/<pid>/stat we use; null when the process is gone or a zombie (it has exited). */
function procStat(pid: number): { session: number; startTime: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'. rest[0] is field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') return null;
    return { session: Number(rest[3]), startTime: Number(rest[19]) }; // fields 6 and 22
  } catch {
    return null;
  }
}

/**
 * Process start time in clock ticks since boot (/proc/<pid>/stat field 22). A pid is only "ours" if its start
 * time matches the one recorded at spawn: pids are reused, and a recycled pid must never be taken for a live run.
 */
export function processStartTime(pid: number): number | null {
  return procStat(pid)?.startTime ?? null;
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
  const st = procStat(pgid);
  return st !== null && st.session === pgid && st.startTime >= supervisorStart && st.startTime - supervisorStart <= windowTicks;
}
