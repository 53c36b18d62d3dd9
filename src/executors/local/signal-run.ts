import { killRunCgroups, runPids, type RunCgroups } from './cgroups.js';
import { readChildPid } from './exit-status.js';
import type { LocalHandle } from './handle.js';
import { isAlive, isSameProcessAlive, killGroup, procStat, scanProcesses } from './proc.js';

/**
 * Sends a signal to every process of a run: SIGKILL to its process group and cgroup; SIGTERM to each of its processes
 * but the sandbox's own (so the run gets its grace period), or to its process group. Never throws for a run that is
 * already gone.
 */
export async function signalRun(handle: LocalHandle, cg: RunCgroups | null, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  let pgid = readChildPid(handle.runDir);
  // The supervisor writes the pid a moment after it starts the run: give it up to ~200 ms.
  for (let i = 0; pgid === null && i < 40 && isSameProcessAlive(handle.pid, handle.startTime); i++) {
    await new Promise((r) => setTimeout(r, 5));
    pgid = readChildPid(handle.runDir);
  }
  if (signal === 'SIGKILL') {
    // The group first: in a sandbox that kills bwrap, and the kernel then kills everything in the pid namespace.
    if (pgid !== null) killGroup(pgid, 'SIGKILL');
    if (cg) killRunCgroups(cg);
    return;
  }
  if (handle.sandboxed && pgid !== null) {
    // Not to bwrap itself: it would die of SIGTERM at once and take the run down without its grace period.
    // Every process of the run instead (setsid or double-forked ones included, when the cgroup lists them).
    const pids = cg ? runPids(cg) : scanProcesses().filter((p) => p.pgid === pgid).map((p) => p.pid);
    for (const pid of pids) {
      const st = procStat(pid);
      // comm is cut at 15 characters: 'dsjobs-supervis' is the inner supervisor.
      if (!st || st.comm === 'bwrap' || st.comm.startsWith('dsjobs-supervis')) continue;
      kill(pid, 'SIGTERM');
    }
    return;
  }
  if (pgid === null) return;
  if (cg) {
    for (const pid of runPids(cg)) kill(pid, signal);
    return;
  }
  // The pid is recorded just before the child's setsid() has made its process group: for that instant the
  // group does not exist yet (ESRCH) though the process does. Retry briefly, then signal the process itself.
  for (let i = 0; i < 40; i++) {
    if (killGroup(pgid, signal)) return;
    if (!isAlive(pgid)) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  kill(pgid, signal);
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}
