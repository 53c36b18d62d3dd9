import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Scheduler } from './scheduler/scheduler.js';
import type { RunMonitor } from './service/monitor.js';
import type { Telemetry } from './service/telemetry.js';
import type { Store } from './store/store.js';

/**
 * The Prometheus registry behind GET /metrics: counts come from the database and the scheduler when scraped,
 * latencies are observed as runs start, and each active run's resource use is its latest sample.
 */
export function buildRegistry(deps: { store: Store; monitor: RunMonitor; scheduler: Scheduler }): {
  telemetry: Telemetry;
  text(): Promise<string>;
} {
  const registry = new Registry();
  new Gauge({
    name: 'dsjobs_job_runs',
    help: 'Job runs by lifecycle state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [state, n] of Object.entries(await deps.store.countRunsByState())) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'dsjobs_queue_length',
    help: 'Job runs accepted and waiting for capacity',
    registers: [registry],
    collect() {
      this.set(deps.scheduler.stats().queued);
    },
  });
  new Gauge({
    name: 'dsjobs_capacity_in_use',
    help: 'Capacity held by running job runs',
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      const u = deps.scheduler.stats().inUse;
      this.set({ resource: 'cpus' }, u.cpus);
      this.set({ resource: 'memory_gbs' }, u.memoryInGBs);
      this.set({ resource: 'gpus' }, u.gpus);
    },
  });
  const admissionWait = new Histogram({
    name: 'dsjobs_admission_wait_seconds',
    help: 'Time from a run being accepted to its admission (waiting for capacity)',
    buckets: [0.001, 0.01, 0.1, 1, 10, 60, 300, 1800, 7200],
    registers: [registry],
  });
  const startLatency = new Histogram({
    name: 'dsjobs_start_latency_seconds',
    help: 'Time from admission to the run process running (unpacking, sandbox, volume, spawn)',
    buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  const executorErrors = new Counter({
    name: 'dsjobs_executor_errors_total',
    help: 'Runs the executor could not start, or whose outcome was lost',
    labelNames: ['kind'],
    registers: [registry],
  });
  new Counter({
    name: 'dsjobs_metrics_sampling_errors_total',
    help: 'Resource sampling rounds that failed',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(deps.monitor.errors);
    },
  });
  const runGauge = (name: string, help: string, pick: (s: RunMonitor['latest'] extends Map<string, infer V> ? V : never) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['job_run_id'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [id, v] of deps.monitor.latest) {
          const x = pick(v);
          if (x !== null) this.set({ job_run_id: id }, x);
        }
      },
    });
  runGauge('dsjobs_job_run_cpu_utilization_percent', "Active run's CPU use, percent of its shape's CPUs", (v) => v.sample.cpuPercent);
  runGauge('dsjobs_job_run_memory_utilization_percent', "Active run's memory use, percent of its shape's memory", (v) => v.sample.memoryPercent);
  runGauge('dsjobs_job_run_memory_bytes', "Active run's memory use", (v) => v.sample.memoryBytes);
  runGauge('dsjobs_job_run_disk_utilization_percent', "Active run's block storage use, percent", (v) => v.sample.diskPercent);
  runGauge('dsjobs_job_run_disk_bytes', "Active run's bytes on its block storage", (v) => v.sample.diskBytes);
  runGauge('dsjobs_job_run_gpu_utilization_percent', "Active run's GPU use, percent", (v) => v.sample.gpuPercent);
  runGauge('dsjobs_job_run_gpu_memory_utilization_percent', "Active run's GPU memory use, percent", (v) => v.sample.gpuMemoryPercent);
  return {
    telemetry: {
      admissionWait: (s) => admissionWait.observe(s),
      startLatency: (s) => startLatency.observe(s),
      executorError: (kind) => executorErrors.inc({ kind }),
    },
    text: () => registry.metrics(),
  };
}
