import { spawnSync } from 'node:child_process';
import { setPriority } from 'node:os';

/**
 * Where no cgroup CPU controller can weigh runs below the server (setAllRunsCpuWeight found none), the processes
 * that start runs are lowered instead: a nice value and the best-effort I/O class's lowest priority are inherited by
 * every process forked after them, so each run and what it starts get them without a step per run. The server keeps
 * nice 0, so its API, log capture and cancels come first when runs saturate the machine.
 */
export interface RunPriority {
  /** 1-19: the niceness of run processes (the server: 0). */
  nice: number;
}

/**
 * Lowers the CPU and I/O priority of process `pid` (the spawner, before it starts any run). Returns what could not be
 * applied, one line each (an unprivileged server cannot raise a priority back, but lowering is always allowed).
 */
export function lowerPriority(pid: number, p: RunPriority): string[] {
  const problems: string[] = [];
  try {
    setPriority(pid, p.nice);
  } catch (e) {
    problems.push(`nice ${p.nice}: ${(e as Error).message}`);
  }
  // util-linux's ionice: class 2 (best-effort), level 7 (the lowest); no Node API sets it.
  const r = spawnSync('ionice', ['-c', '2', '-n', '7', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
  if (r.error || r.status !== 0) problems.push(`ionice: ${r.error?.message ?? r.stderr.toString().trim()}`);
  return problems;
}
