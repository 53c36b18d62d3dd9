import type { Executor, ResourceSample } from '../executors/executor.js';
import type { MetricSample } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { Clock } from './common.js';
import { launchedHandle } from './run-execution.js';

/** OCI's metric names for job runs, with the sample field each reads. */
export const METRIC_NAMES = {
  CpuUtilization: 'cpu',
  MemoryUtilization: 'memory',
  DiskUtilization: 'disk',
  GpuUtilization: 'gpu',
  GpuMemoryUtilization: 'gpuMemory',
} as const;

export interface MetricSeries {
  name: keyof typeof METRIC_NAMES;
  unit: 'percent';
  datapoints: { timestamp: string; value: number }[];
}

/**
 * Samples every active run's resource use at a fixed interval (5 s by default) and keeps the series with the run.
 * One database query and one executor call per round for all runs, then one insert transaction: at 100 runs that
 * is the cost of a few hundred small file reads every 5 s (see docs/benchmarks.md).
 */
export class RunMonitor {
  /** The latest reading of each active run, for /metrics gauges. */
  readonly latest = new Map<string, { sample: ResourceSample; timeMs: number }>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  /** Rounds that failed, for /metrics. */
  errors = 0;

  constructor(
    private readonly store: Store,
    private readonly executor: Executor,
    private readonly clock: Clock,
    private readonly opts: {
      intervalMs: number;
      log?: { error(obj: unknown, msg: string): void };
      /** Several replicas: only the runs of this one (the others' processes are on their machines). */
      replicaId?: string;
    },
  ) {}

  get intervalMs(): number {
    return this.opts.intervalMs;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sampling round; a round still going when the next is due makes that one skip. */
  async tick(): Promise<number> {
    if (this.busy) return 0;
    this.busy = true;
    try {
      const runs = await this.store.runsInStates(['IN_PROGRESS', 'CANCELING'], this.opts.replicaId);
      const live = runs.flatMap((r) => {
        const handle = launchedHandle(r);
        return handle ? [{ runId: r.id, handle, resources: r.launch.resources }] : [];
      });
      const readings = await this.executor.sample(live);
      const timeMs = this.clock.now();
      const rows: MetricSample[] = [];
      for (const [runId, s] of readings) {
        this.latest.set(runId, { sample: s, timeMs });
        rows.push({
          runId,
          timeMs,
          cpu: s.cpuPercent,
          memory: s.memoryPercent,
          memoryBytes: s.memoryBytes,
          disk: s.diskPercent,
          diskBytes: s.diskBytes,
          gpu: s.gpuPercent,
          gpuMemory: s.gpuMemoryPercent,
        });
      }
      for (const id of this.latest.keys()) if (!readings.has(id)) this.latest.delete(id);
      await this.store.insertMetrics(rows);
      return rows.length;
    } catch (e) {
      this.errors++;
      this.opts.log?.error({ err: e }, 'sampling run metrics failed');
      return 0;
    } finally {
      this.busy = false;
    }
  }

  /** A run's series since a time, under OCI's metric names. */
  async series(runId: string, sinceMs: number, limit = 10_000): Promise<MetricSeries[]> {
    const rows = await this.store.listMetrics(runId, sinceMs, limit);
    return (Object.keys(METRIC_NAMES) as (keyof typeof METRIC_NAMES)[]).map((name) => {
      const field = METRIC_NAMES[name];
      return {
        name,
        unit: 'percent' as const,
        datapoints: rows
          .filter((r) => r[field] !== null)
          .map((r) => ({ timestamp: new Date(r.timeMs).toISOString(), value: r[field] as number })),
      };
    });
  }
}
