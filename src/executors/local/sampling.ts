import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Resources } from '../../domain/resources.js';
import type { ResourceSample } from '../executor.js';
import { readUsage, runPids, type RunCgroups } from './cgroups.js';
import { markOpenFilesKill, readChildPid } from './exit-status.js';
import { readGpus } from './gpus.js';
import type { LocalHandle } from './handle.js';
import { hostOpenFiles, openFilesOf, runsOverCeiling } from './open-files.js';
import { scanProcesses } from './proc.js';
import { spaceUsage } from './volume.js';

export interface SampledRun {
  runId: string;
  handle: LocalHandle;
  resources: Resources;
}

export interface SamplerOptions {
  /** The run's cgroups, checked against the host's (null: it has none). */
  cgroupsOf: (handle: LocalHandle) => RunCgroups | null;
  /** Kills every process of a run. */
  kill: (handle: LocalHandle) => Promise<void>;
  /** Open files of all runs together (open-files.ts); null: not kept. */
  openFilesMaxAllRuns: number | null;
  nvidiaSmiCommand?: string;
  /** Told when a run is killed for the open files of all runs. */
  onOpenFilesKill?: (runId: string, files: number, ceiling: number) => void;
}

const CLOCK_TICKS = 100; // USER_HZ: 100 on every Linux architecture Node supports

/**
 * Reads what each run uses (CPU since the previous round, memory, disk, GPUs) as percentages of its shape, and keeps
 * the open files of all runs under their ceiling in the same round.
 */
export class Sampler {
  private readonly lastCpu = new Map<string, { cpuNs: number; atNs: bigint }>();

  constructor(private readonly opts: SamplerOptions) {}

  async sample(runs: SampledRun[]): Promise<Map<string, ResourceSample>> {
    // The round that sees every active run also keeps their open files under the ceiling (see open-files.ts).
    await this.keepOpenFilesCeiling(runs);
    const out = new Map<string, ResourceSample>();
    const needGpus = runs.some((r) => (r.handle.gpus ?? []).length > 0);
    const gpuReadings = needGpus ? new Map((await readGpus(this.opts.nvidiaSmiCommand)).map((g) => [g.uuid, g])) : new Map();
    // Runs without a cgroup are measured from /proc: one scan for all of them, grouped by session.
    let bySession: Map<number, { cpuTicks: number; rssBytes: number }> | null = null;
    const seen = new Set<string>();
    for (const r of runs) {
      const handle = r.handle;
      seen.add(r.runId);
      const cg = this.opts.cgroupsOf(handle);
      let cpuNs: number | null = null;
      let memoryBytes: number | null = null;
      if (cg) {
        const u = readUsage(cg);
        cpuNs = u.cpuNs;
        memoryBytes = u.memoryBytes;
      } else {
        const pgid = readChildPid(handle.runDir);
        if (pgid !== null) {
          bySession ??= sessionTotals();
          const t = bySession.get(pgid);
          cpuNs = t ? (t.cpuTicks * 1e9) / CLOCK_TICKS : 0;
          memoryBytes = t ? t.rssBytes : 0;
        }
      }
      const now = process.hrtime.bigint();
      let cpuPercent: number | null = null;
      const prev = this.lastCpu.get(r.runId);
      if (cpuNs !== null) {
        if (prev && r.resources.cpus > 0) {
          const wallNs = Number(now - prev.atNs);
          if (wallNs > 0) cpuPercent = round2((100 * Math.max(0, cpuNs - prev.cpuNs)) / (wallNs * r.resources.cpus));
        }
        this.lastCpu.set(r.runId, { cpuNs, atNs: now });
      }
      const memLimit = r.resources.memoryInGBs * 1024 ** 3;
      let diskBytes: number | null = null;
      let diskPercent: number | null = null;
      if (handle.volume) {
        const u = spaceUsage(handle.volume.mountPoint);
        if (u && u.totalBytes > 0) {
          diskBytes = u.usedBytes;
          diskPercent = round2((100 * u.usedBytes) / u.totalBytes);
        }
      } else {
        diskBytes = await directoryBytes(handle.space ?? path.join(handle.runDir, 'work'));
      }
      let gpuPercent: number | null = null;
      let gpuMemoryPercent: number | null = null;
      const mine = (handle.gpus ?? []).map((u) => gpuReadings.get(u)).filter((g) => g !== undefined);
      if (mine.length > 0) {
        gpuPercent = round2(avg(mine.map((g) => g.utilizationPercent)));
        gpuMemoryPercent = round2(
          avg(mine.map((g) => (g.memoryUsedMiB !== null && g.memoryTotalMiB ? (100 * g.memoryUsedMiB) / g.memoryTotalMiB : null))),
        );
      }
      out.set(r.runId, {
        cpuPercent,
        memoryBytes,
        memoryPercent: memoryBytes !== null && memLimit > 0 ? round2((100 * memoryBytes) / memLimit) : null,
        diskBytes,
        diskPercent,
        gpuPercent: Number.isNaN(gpuPercent) ? null : gpuPercent,
        gpuMemoryPercent: Number.isNaN(gpuMemoryPercent) ? null : gpuMemoryPercent,
      });
    }
    for (const id of this.lastCpu.keys()) if (!seen.has(id)) this.lastCpu.delete(id);
    return out;
  }

  /** Kills the runs holding the most open files while all runs together hold more than openFilesMaxAllRuns. */
  private async keepOpenFilesCeiling(runs: SampledRun[]): Promise<void> {
    const ceiling = this.opts.openFilesMaxAllRuns;
    if (ceiling === null) return;
    const host = hostOpenFiles();
    if (host !== null && host <= ceiling) return;
    const counts = new Map<string, number>();
    const handles = new Map<string, LocalHandle>();
    for (const r of runs) {
      const cg = this.opts.cgroupsOf(r.handle);
      if (!cg) continue;
      counts.set(r.runId, openFilesOf(runPids(cg)));
      handles.set(r.runId, r.handle);
    }
    for (const runId of runsOverCeiling(counts, ceiling)) {
      const handle = handles.get(runId)!;
      markOpenFilesKill(handle.runDir, `${counts.get(runId)} of ${ceiling}`);
      this.opts.onOpenFilesKill?.(runId, counts.get(runId)!, ceiling);
      await this.opts.kill(handle);
    }
  }
}

/** CPU ticks and resident memory of every process, summed per session (a run's session is its supervisor child). */
function sessionTotals(): Map<number, { cpuTicks: number; rssBytes: number }> {
  const out = new Map<number, { cpuTicks: number; rssBytes: number }>();
  const page = 4096;
  for (const p of scanProcesses()) {
    const t = out.get(p.session) ?? { cpuTicks: 0, rssBytes: 0 };
    t.cpuTicks += p.cpuTicks;
    t.rssBytes += p.rssPages * page;
    out.set(p.session, t);
  }
  return out;
}

/** Bytes under a directory, or null past 20,000 entries (a run's space without a volume is not worth a long walk). */
export async function directoryBytes(dir: string): Promise<number | null> {
  let total = 0;
  let entries = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let list;
    try {
      list = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of list) {
      if (++entries > 20_000) return null;
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) total += (await fsp.lstat(p).catch(() => null))?.blocks ?? 0;
    }
  }
  return total * 512;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
function avg(xs: (number | null)[]): number {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
}
