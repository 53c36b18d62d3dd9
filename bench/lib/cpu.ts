/** CPU accounting from /proc: where the machine's CPU time went during a benchmark phase. */
import { readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

export interface CpuSnapshot {
  at: number;
  /** The server process itself (utime+stime), ms. */
  server: number;
  /** Reaped descendants of the server (supervisors and the runs under them: cutime+cstime), ms. */
  serverChildren: number;
  /** This benchmark process (client side), ms. */
  bench: number;
  /** Reaped children of this process (baseline spawns), ms. */
  benchChildren: number;
  /** Whole machine: busy and total jiffies, ms. */
  busy: number;
  total: number;
}

function procTimes(pid: number): [number, number] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14..17 (utime, stime, cutime, cstime) are rest[11..14]
    return [(Number(f[11]) + Number(f[12])) * TICK_MS, (Number(f[13]) + Number(f[14])) * TICK_MS];
  } catch {
    return [0, 0];
  }
}

function machine(): [number, number] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return [(total - idle) * TICK_MS, total * TICK_MS];
}

/**
 * The CPU time (ms) of a process's main thread, its event loop: what bounds a Node server's requests/s, apart from
 * its worker threads'. From the scheduler's own count (schedstat, ns), not utime+stime, which the kernel samples at
 * each 10 ms tick and so charges to whichever thread a tick finds running.
 */
export function mainThreadMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) * TICK_MS;
    } catch {
      return 0;
    }
  }
}

export function cpuSnapshot(serverPid: number | null): CpuSnapshot {
  const [server, serverChildren] = serverPid ? procTimes(serverPid) : [0, 0];
  const [bench, benchChildren] = procTimes(process.pid);
  const [busy, total] = machine();
  return { at: performance.now(), server, serverChildren, bench, benchChildren, busy, total };
}

export interface CpuUse {
  wallMs: number;
  serverMs: number;
  serverChildrenMs: number;
  benchMs: number;
  benchChildrenMs: number;
  /** Busy share of all CPUs, 0..1. */
  machineBusy: number;
}

export function cpuDiff(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  return {
    wallMs: b.at - a.at,
    serverMs: b.server - a.server,
    serverChildrenMs: b.serverChildren - a.serverChildren,
    benchMs: b.bench - a.bench,
    benchChildrenMs: b.benchChildren - a.benchChildren,
    machineBusy: b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0,
  };
}

export function describeCpu(u: CpuUse, perUnit?: { n: number; unit: string }): string {
  const per = (ms: number) => (perUnit && perUnit.n > 0 ? ` (${(ms / perUnit.n).toFixed(2)} ms/${perUnit.unit})` : '');
  return (
    `CPU over ${(u.wallMs / 1000).toFixed(1)} s: server ${(u.serverMs / 1000).toFixed(1)} s${per(u.serverMs)}, ` +
    `run processes ${(u.serverChildrenMs / 1000).toFixed(1)} s${per(u.serverChildrenMs)}, ` +
    `bench client ${(u.benchMs / 1000).toFixed(1)} s${per(u.benchMs)}` +
    (u.benchChildrenMs > 0 ? `, bench children ${(u.benchChildrenMs / 1000).toFixed(1)} s${per(u.benchChildrenMs)}` : '') +
    `; machine ${(u.machineBusy * 100).toFixed(0)}% busy`
  );
}
