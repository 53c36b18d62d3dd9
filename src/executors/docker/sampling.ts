import type { Resources } from '../../domain/resources.js';
import type { ResourceSample } from '../executor.js';

/** The parts of Docker's container stats (GET /containers/{id}/stats, one-shot) a sample reads. */
export interface DockerStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: {
    usage?: number;
    /** cgroup v2: inactive_file; cgroup v1: total_inactive_file. */
    stats?: { inactive_file?: number; total_inactive_file?: number };
  };
}

/** CPU time (ns) a container had used at a moment (process.hrtime, ns). */
export interface CpuReading {
  cpuNs: number;
  atNs: bigint;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * A container's CPU and memory use from one stats reading, as percentages of its shape, measured as a local run's
 * are (local/sampling.ts): CPU since the previous reading over the shape's CPUs (a one-shot reading carries no
 * previous one of its own: the caller keeps it), memory as usage less the inactive page cache the kernel reclaims
 * before an OOM kill (what `docker stats` shows). Returns the sample and the CPU reading to keep for the next round.
 */
export function containerReading(
  stats: DockerStats,
  resources: Resources,
  atNs: bigint,
  previous: CpuReading | undefined,
): { sample: Pick<ResourceSample, 'cpuPercent' | 'memoryPercent' | 'memoryBytes'>; cpu: CpuReading | null } {
  const total = stats.cpu_stats?.cpu_usage?.total_usage;
  const cpu = typeof total === 'number' ? { cpuNs: total, atNs } : null;
  let cpuPercent: number | null = null;
  if (cpu && previous && resources.cpus > 0) {
    const wallNs = Number(atNs - previous.atNs);
    if (wallNs > 0) cpuPercent = round2((100 * Math.max(0, cpu.cpuNs - previous.cpuNs)) / (wallNs * resources.cpus));
  }
  const usage = stats.memory_stats?.usage;
  const inactive = stats.memory_stats?.stats?.inactive_file ?? stats.memory_stats?.stats?.total_inactive_file ?? 0;
  const memoryBytes = typeof usage === 'number' ? Math.max(0, usage - inactive) : null;
  const limit = resources.memoryInGBs * 1024 ** 3;
  return {
    sample: { cpuPercent, memoryBytes, memoryPercent: memoryBytes !== null && limit > 0 ? round2((100 * memoryBytes) / limit) : null },
    cpu,
  };
}
