/**
 * 5. What isolation costs at start: the same one-at-a-time start latency as benchmark 2, on servers configured
 * as plain local processes (the baseline), with the sandbox only (each engine: native and bubblewrap), with sandbox
 * and cgroups, and with everything on (sandbox, cgroups, a loop-mounted block storage volume per run), without
 * warm sandboxes (each engine) and with them (the default).
 *
 * 6. What watching costs: 100 runs alive at once (each sleeping), the server's CPU time over the same window with
 * resource sampling every 5 s (the default) and, as the baseline, with sampling effectively off (every hour).
 */
import { BenchServer, TERMINAL } from './lib/server.js';
import { cpuDiff, cpuSnapshot } from './lib/cpu.js';
import { fmt, percentile, sleep, type Report } from './lib/report.js';
import { measureStartLatency } from './start-latency.js';

export const PLAIN = { DSJOBS_SANDBOX: 'off', DSJOBS_CGROUPS: 'off', DSJOBS_BLOCK_STORAGE: 'directory' };
const CONFIGS: { name: string; env: Record<string, string> }[] = [
  { name: 'plain processes (baseline)', env: PLAIN },
  { name: 'sandbox (native)', env: { DSJOBS_SANDBOX: 'native', DSJOBS_CGROUPS: 'off', DSJOBS_BLOCK_STORAGE: 'directory' } },
  { name: 'sandbox (bubblewrap)', env: { DSJOBS_SANDBOX: 'bwrap', DSJOBS_CGROUPS: 'off', DSJOBS_BLOCK_STORAGE: 'directory' } },
  { name: 'sandbox + cgroups', env: { DSJOBS_BLOCK_STORAGE: 'directory' } },
  { name: 'sandbox + cgroups + 50 GB volume, no warm sandboxes', env: { DSJOBS_WARM_SANDBOXES: '0' } },
  { name: 'sandbox + cgroups + 50 GB volume, no warm sandboxes, bubblewrap', env: { DSJOBS_WARM_SANDBOXES: '0', DSJOBS_SANDBOX: 'bwrap' } },
  { name: 'sandbox + cgroups + 50 GB volume (default: warm sandboxes)', env: {} },
];

export async function benchIsolationLatency(report: Report, o: { runs: number; maxSeconds: number }): Promise<void> {
  console.log(`\n## 5. Start latency by isolation: ${o.runs} runs one at a time per configuration`);
  const p50: number[] = [];
  for (const c of CONFIGS) {
    const s = await BenchServer.start({ env: c.env });
    try {
      const protections = (await s.http.json<{ protections: { off: string[] } }>('GET', '/serverInfo')).protections;
      const { lat, warmStarts } = await measureStartLatency(s, o.runs, o.maxSeconds);
      p50.push(percentile(lat, 50));
      console.log(`  ${c.name}: p50 ${fmt(percentile(lat, 50), 2)} ms p99 ${fmt(percentile(lat, 99), 2)} ms (${lat.length} runs, ${warmStarts} in a warm sandbox; off here: ${protections.off.length})`);
      report.add({
        figure: `5. start latency p50, ${c.name}`,
        value: `${fmt(percentile(lat, 50), 2)} ms (p99 ${fmt(percentile(lat, 99), 1)} ms)`,
        baseline: p50.length === 1 ? '-' : `${fmt(p50[0], 2)} ms (plain processes)`,
        target: p50.length === 1 ? 'baseline' : `+${fmt(percentile(lat, 50) - p50[0], 1)} ms${c.name.startsWith('sandbox (') ? ' (target: sandbox adds <= 20 ms)' : ' (reported)'}`,
        pass: c.name.startsWith('sandbox (') ? percentile(lat, 50) - p50[0] <= 20 : null,
      });
    } finally {
      await s.close();
    }
  }
}

async function serverCpuWithRunsAlive(intervalMs: number, runs: number, windowSeconds: number): Promise<{ cpuMs: number; wallMs: number; samples: number }> {
  const s = await BenchServer.start({
    env: {
      DSJOBS_METRICS_INTERVAL_MS: String(intervalMs),
      // Room for every run at once: 100 x Local.Light (0.25 CPU, 0.5 GB); the runs only sleep.
      DSJOBS_CAPACITY_CPUS: String(runs),
      DSJOBS_CAPACITY_MEMORY_IN_GBS: String(runs),
    },
  });
  try {
    const job = await s.createJob('sleep.sh', 'exec sleep 600\n');
    const body = s.runBody(job);
    const ids: string[] = [];
    for (let i = 0; i < runs; i++) ids.push((await s.http.json<{ id: string }>('POST', '/jobRuns', body)).id);
    const until = performance.now() + 120_000;
    for (;;) {
      const states = await Promise.all(ids.map((id) => s.http.json<{ lifecycleState: string }>('GET', `/jobRuns/${id}`)));
      const inProgress = states.filter((r) => r.lifecycleState === 'IN_PROGRESS').length;
      if (states.some((r) => TERMINAL.has(r.lifecycleState))) throw new Error('a sleeping run ended early');
      if (inProgress === runs) break;
      if (performance.now() > until) throw new Error(`only ${inProgress} of ${runs} runs started in 120 s`);
      await sleep(200);
    }
    await sleep(2000); // start-up bookkeeping settles
    const before = cpuSnapshot(s.pid);
    await sleep(windowSeconds * 1000);
    const u = cpuDiff(before, cpuSnapshot(s.pid));
    const m = await s.http.json<{ items: { name: string; datapoints: unknown[] }[] }>('GET', `/jobRuns/${ids[0]}/metrics`);
    const samples = m.items.find((i) => i.name === 'MemoryUtilization')?.datapoints.length ?? 0;
    return { cpuMs: u.serverMs, wallMs: u.wallMs, samples };
  } finally {
    await s.close();
  }
}

export async function benchSamplingCost(report: Report, o: { runs: number; windowSeconds: number }): Promise<void> {
  console.log(`\n## 6. Sampling cost: ${o.runs} runs alive, server CPU over ${o.windowSeconds} s`);
  const off = await serverCpuWithRunsAlive(3_600_000, o.runs, o.windowSeconds);
  const on = await serverCpuWithRunsAlive(5_000, o.runs, o.windowSeconds);
  const core = (x: { cpuMs: number; wallMs: number }) => (100 * x.cpuMs) / x.wallMs;
  console.log(`  sampling every hour (baseline): server ${fmt(core(off), 2)}% of one core`);
  console.log(`  sampling every 5 s: server ${fmt(core(on), 2)}% of one core (${on.samples} samples of the first run kept)`);
  const cost = core(on) - core(off);
  report.add({
    figure: `6. sampling ${o.runs} running runs every 5 s: server CPU`,
    value: `${fmt(core(on), 2)}% of one core (+${fmt(cost, 2)} points)`,
    baseline: `${fmt(core(off), 2)}% (same runs, sampling off)`,
    target: 'sampling costs < 2% of one core',
    pass: cost < 2 && on.samples > 0,
  });
}
