/**
 * 2. Start latency on an idle server: a bash .sh artifact prints $EPOCHREALTIME (a builtin: no fork) first; start
 * latency = that time - the run's timeAccepted. One run at a time. Baseline: Node spawn() of the same script
 * directly, from the spawn() call to the printed time.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BenchServer, TERMINAL } from './lib/server.js';
import { cpuDiff, cpuSnapshot, describeCpu } from './lib/cpu.js';
import { fmt, percentile, sleep, wallNow, type Report } from './lib/report.js';
import { ndjsonLines } from './lib/http.js';

export interface LatencyOptions {
  runs: number;
  maxSeconds: number;
  nodeArgs: string[];
  /** DSJOBS_* settings of the server (e.g. the isolation it runs with). */
  env?: Record<string, string>;
}

const SCRIPT = 'echo "$EPOCHREALTIME"\n';

/** $EPOCHREALTIME ("1700000000.123456") to ms. */
const epochMs = (text: string): number => {
  const m = /^(\d+)[.,](\d{6})/.exec(text.trim());
  if (!m) throw new Error(`not an $EPOCHREALTIME: ${JSON.stringify(text)}`);
  return Number(m[1]) * 1000 + Number(m[2]) / 1000;
};

export async function baseline(runs: number, maxSeconds: number): Promise<number[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-bench-start-'));
  const file = path.join(dir, 'start.sh');
  writeFileSync(file, SCRIPT);
  const out: number[] = [];
  const deadline = performance.now() + maxSeconds * 1000;
  try {
    for (let i = 0; i < runs && performance.now() < deadline; i++) {
      const text = await new Promise<{ t0: number; text: string }>((resolve, reject) => {
        const t0 = wallNow();
        const c = spawn('bash', [file], { stdio: ['ignore', 'pipe', 'ignore'] });
        let text = '';
        c.stdout.on('data', (d) => (text += d));
        c.once('error', reject);
        c.once('close', () => resolve({ t0, text }));
      });
      out.push(epochMs(text.text) - text.t0);
      await sleep(5);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/**
 * One run at a time: ACCEPTED (the server's timeAccepted) -> the script prints its first line. Returns that and
 * ACCEPTED -> timeStarted, both in ms, after `warm` unmeasured runs.
 */
export async function measureStartLatency(
  s: BenchServer,
  runs: number,
  maxSeconds: number,
  warm = 5,
): Promise<{ lat: number[]; toStarted: number[]; clientToAccepted: number[]; warmStarts: number }> {
  const job = await s.createJob('start.sh', SCRIPT);
  const body = s.runBody(job);
  const lat: number[] = [];
  const toStarted: number[] = [];
  const clientToAccepted: number[] = [];
  let warmStarts = 0;
  const deadline = performance.now() + maxSeconds * 1000;
  for (let i = 0; i < runs + warm && performance.now() < deadline; i++) {
    const sent = wallNow();
    const run = await s.http.json<{ id: string; timeAccepted: string }>('POST', '/jobRuns', body);
    const res = await s.http.stream('GET', `/jobRuns/${run.id}/logs?follow=true`);
    let first: string | null = null;
    for await (const line of ndjsonLines(res)) if (first === null) first = JSON.parse(line.toString('utf8')).message;
    let r: { lifecycleState: string; timeAccepted: string; timeStarted: string | null; lifecycleDetails?: string };
    const until = performance.now() + 10_000;
    for (;;) {
      r = await s.http.json('GET', `/jobRuns/${run.id}`);
      if (TERMINAL.has(r.lifecycleState) || performance.now() > until) break;
      await sleep(2);
    }
    if (r.lifecycleState !== 'SUCCEEDED' || first === null) {
      throw new Error(`start-latency run ended ${r.lifecycleState} (${r.lifecycleDetails}) with output ${first}`);
    }
    if (i < warm) continue;
    const accepted = Date.parse(run.timeAccepted);
    lat.push(epochMs(first) - accepted);
    if (r.timeStarted) toStarted.push(Date.parse(r.timeStarted) - accepted);
    clientToAccepted.push(accepted - sent);
    if (startedWarm(s.dataDir, run.id)) warmStarts++;
    await sleep(20); // idle between runs: the server has finished the previous run's bookkeeping
  }
  return { lat, toStarted, clientToAccepted, warmStarts };
}

/** Whether a run started in a warm sandbox: its cgroups are the sandbox's (`warm-...`), not named after the run. */
function startedWarm(dataDir: string, runId: string): boolean {
  try {
    const h = JSON.parse(readFileSync(path.join(dataDir, 'runs', runId, 'handle.json'), 'utf8')) as { cgroups?: { dirs?: Record<string, string> } | null };
    return Object.values(h.cgroups?.dirs ?? {}).some((d) => path.basename(d).startsWith('warm-'));
  } catch {
    return false;
  }
}

export async function benchStartLatency(report: Report, o: LatencyOptions): Promise<void> {
  console.log(`\n## 2. Start latency: ${o.runs} runs one at a time on an idle server`);
  const base = await baseline(o.runs, o.maxSeconds);
  console.log(`  baseline (spawn -> bash prints): p50 ${fmt(percentile(base, 50), 2)} ms p99 ${fmt(percentile(base, 99), 2)} ms (${base.length} spawns)`);

  const s = await BenchServer.start({ nodeArgs: o.nodeArgs, env: o.env });
  try {
    const before = cpuSnapshot(s.pid);
    s.beginMeasure();
    const { lat, toStarted, warmStarts } = await measureStartLatency(s, o.runs, o.maxSeconds);
    s.endMeasure();
    const cpu = cpuDiff(before, cpuSnapshot(s.pid));
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    console.log(`  dsjobs (timeAccepted -> script prints): p50 ${fmt(p50, 2)} ms p99 ${fmt(p99, 2)} ms max ${fmt(Math.max(...lat), 2)} ms (${lat.length} runs)`);
    console.log(`  timeAccepted -> timeStarted (server's own record): p50 ${fmt(percentile(toStarted, 50), 2)} ms p99 ${fmt(percentile(toStarted, 99), 2)} ms`);
    console.log(`  ${describeCpu(cpu, { n: lat.length, unit: 'run' })}`);
    console.log(`  runs that started in a warm sandbox: ${warmStarts} of ${lat.length}`);
    report.add({
      figure: `2. start latency p50, ACCEPTED -> process running (${lat.length} runs, idle server)`,
      value: `${fmt(p50, 2)} ms`,
      baseline: `${fmt(percentile(base, 50), 2)} ms (node spawn -> bash prints)`,
      target: `${(p50 / percentile(base, 50)).toFixed(1)}x baseline (target < 10 ms)`,
      pass: p50 < 10,
    });
    report.add({
      figure: '2. start latency p99',
      value: `${fmt(p99, 2)} ms`,
      baseline: `${fmt(percentile(base, 99), 2)} ms`,
      target: `${(p99 / percentile(base, 99)).toFixed(1)}x baseline (target < 50 ms)`,
      pass: p99 < 50,
    });
    report.add({
      figure: '2. timeAccepted -> timeStarted as recorded by the server',
      value: `p50 ${fmt(percentile(toStarted, 50), 1)} ms, p99 ${fmt(percentile(toStarted, 99), 1)} ms`,
      baseline: '-',
      target: 'reported only (ms resolution)',
      pass: null,
    });
  } finally {
    await s.close();
  }
}
