import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  pgid: number;
  session: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  startTime: number;
  rssPages: number;
}

/** Fields of /proc/<pid>/stat we use; null when the process is gone or a zombie (it has exited). */
export function procStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'. rest[0] is field 3.
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    if (rest[0] === 'Z') return null;
    return {
      pid,
      comm: stat.slice(stat.indexOf('(') + 1, close),
      ppid: Number(rest[1]), // field 4
      pgid: Number(rest[2]), // 5
      session: Number(rest[3]), // 6
      cpuTicks: Number(rest[11]) + Number(rest[12]), // 14, 15
      startTime: Number(rest[19]), // 22
      rssPages: Number(rest[21]), // 24
    };
  } catch {
    return null;
  }
}

/** Every live process of the host (this pid namespace). */
export function scanProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const st = procStat(Number(name));
    if (st) out.push(st);
  }
  return out;
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
