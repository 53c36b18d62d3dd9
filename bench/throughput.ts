/**
 * 1. End-to-end throughput of trivial runs at concurrency 16: API create -> SUCCEEDED, with 16 runs in flight at
 * all times (16 workers: create a run, follow its log until it ends, GET it once). Baseline: a node process of
 * its own spawning and reaping `sh -c true` with 16 in flight. Measured with the default configuration (judged), then again with the
 * bubblewrap sandbox engine instead of the native one (1', reported only), against the same baseline.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killRunProcesses, removeDataDir, unmountUnder } from '../test/support/cleanup.js';
import { BenchServer, TERMINAL } from './lib/server.js';
import { cpuDiff, cpuSnapshot, describeCpu } from './lib/cpu.js';
import { fmt, mean, percentile, sleep, type Report } from './lib/report.js';

export interface ThroughputOptions {
  runs: number;
  concurrency: number;
  maxSeconds: number;
  warmup: number;
  nodeArgs: string[];
}

export interface SpawnBaseline {
  rate: number;
  n: number;
  seconds: number;
  /** How long the synchronous spawn() call blocked, on average (fork + wait for exec). */
  spawnCallMs: number;
  /** Resident memory of the process that spawned: fork's cost grows with it. */
  rssMb: number;
}

const BASELINE_SCRIPT = fileURLToPath(new URL('./lib/spawn-baseline.mjs', import.meta.url));
const ISOLATED_SCRIPT = fileURLToPath(new URL('./lib/isolated-baseline.mjs', import.meta.url));

export interface IsolatedBaseline {
  rate: number;
  n: number;
  seconds: number;
  isolation: { sandbox: string; cpuLimit: string; memoryLimit: string; blockStorage: string; processTree: string } | null;
}

/**
 * The same trivial script through the same isolation path as a run, without the service: the local executor made as
 * the server makes it and driven directly (lib/isolated-baseline.mjs, a node process of its own), `concurrency` in
 * flight. What dsjobs adds on top of it is the service itself: HTTP, durable state, logs, events.
 */
export async function isolatedBaseline(total: number, concurrency: number, maxSeconds: number): Promise<IsolatedBaseline> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-bench-isolated-'));
  try {
    const child = spawn(process.execPath, [ISOLATED_SCRIPT, dataDir, String(total), String(concurrency), String(maxSeconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) throw new Error(`the isolated baseline (${ISOLATED_SCRIPT}) exited with ${code}`);
    return JSON.parse(out) as IsolatedBaseline;
  } finally {
    killRunProcesses(dataDir);
    unmountUnder(dataDir);
    removeDataDir(dataDir);
  }
}

/**
 * Spawns `sh -c true` `total` times with `concurrency` in flight from a `node` process of its own that loads nothing
 * else (lib/spawn-baseline.mjs): the rate at which Node itself spawns and reaps. `inThisProcess`: the same loop here,
 * in the benchmark process, whose every loaded module makes each fork slower (reported for comparison only).
 */
export async function spawnBaseline(total: number, concurrency: number, maxSeconds: number, inThisProcess = false): Promise<SpawnBaseline> {
  if (inThisProcess) {
    const { spawnLoop } = (await import(BASELINE_SCRIPT)) as { spawnLoop: (t: number, c: number, s: number) => Promise<SpawnBaseline> };
    return spawnLoop(total, concurrency, maxSeconds);
  }
  const child = spawn(process.execPath, [BASELINE_SCRIPT, String(total), String(concurrency), String(maxSeconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`the spawn baseline (${BASELINE_SCRIPT}) exited with ${code}`);
  return JSON.parse(out) as SpawnBaseline;
}

interface RunResult {
  ok: boolean;
  state: string;
  /** For a run that did not succeed: its id, lifecycleDetails and the tail of its log. */
  failure?: string;
  e2eMs: number;
  /** GETs needed after the follow ended (1 = it was terminal at once). */
  gets: number;
  acceptedToStartedMs: number;
  startedToFinishedMs: number;
}

async function oneRun(s: BenchServer, body: unknown): Promise<RunResult> {
  const t0 = performance.now();
  const run = await s.http.json<{ id: string }>('POST', '/jobRuns', body);
  const follow = await s.http.stream('GET', `/jobRuns/${run.id}/logs?follow=true`);
  if (follow.statusCode !== 200) throw new Error(`follow: HTTP ${follow.statusCode}`);
  await s.http.drain(follow);
  let gets = 0;
  let r: { lifecycleState: string; lifecycleDetails?: string; timeAccepted: string; timeStarted: string | null; timeFinished: string | null };
  const until = performance.now() + 30_000;
  for (;;) {
    r = await s.http.json('GET', `/jobRuns/${run.id}`);
    gets++;
    if (TERMINAL.has(r.lifecycleState) || performance.now() > until) break;
    await sleep(5);
  }
  const e2eMs = performance.now() - t0;
  const acc = Date.parse(r.timeAccepted);
  const st = r.timeStarted ? Date.parse(r.timeStarted) : NaN;
  const fin = r.timeFinished ? Date.parse(r.timeFinished) : NaN;
  const ok = r.lifecycleState === 'SUCCEEDED';
  let failure: string | undefined;
  if (!ok) {
    const logs = await s.http.request('GET', `/jobRuns/${run.id}/logs`);
    const lines = logs.body.toString('utf8').trim().split('\n').slice(-3).join(' | ');
    failure = `${run.id} ${r.lifecycleState}: ${r.lifecycleDetails ?? ''} log: ${lines}`;
  }
  return { ok, state: r.lifecycleState, failure, e2eMs, gets, acceptedToStartedMs: st - acc, startedToFinishedMs: fin - st };
}

export async function benchThroughput(report: Report, o: ThroughputOptions): Promise<void> {
  console.log(`\n## 1. End-to-end throughput: ${o.runs} trivial runs, ${o.concurrency} in flight`);
  // The baseline's child process is not the server's: the machine-wide figure is what shows its cost.
  const b0 = cpuSnapshot(null);
  const base = await spawnBaseline(o.runs, o.concurrency, o.maxSeconds);
  const baseCpu = cpuDiff(b0, cpuSnapshot(null));
  console.log(
    `  baseline: ${base.n} x sh -c true in ${base.seconds.toFixed(2)} s = ${fmt(base.rate)} spawns/s from a node process of its own ` +
      `(${base.rssMb.toFixed(0)} MB resident); spawn() call blocks ${base.spawnCallMs.toFixed(2)} ms on average`,
  );
  console.log(`  ${describeCpu(baseCpu, { n: base.n, unit: 'spawn' })}`);
  // For comparison with figures recorded before the baseline had a process of its own (up to 2026-11-22).
  const heavy = await spawnBaseline(o.runs, o.concurrency, o.maxSeconds, true);
  console.log(
    `  the same loop inside this benchmark process (${heavy.rssMb.toFixed(0)} MB resident): ${fmt(heavy.rate)} spawns/s; ` +
      `spawn() call blocks ${heavy.spawnCallMs.toFixed(2)} ms on average`,
  );
  report.add({
    figure: `1. baseline: node spawn sh -c true, ${o.concurrency} in flight, inside the benchmark process (${heavy.rssMb.toFixed(0)} MB resident)`,
    value: `${fmt(heavy.rate)} spawns/s`,
    baseline: `${fmt(base.rate)} spawns/s from a node process of its own (${base.rssMb.toFixed(0)} MB)`,
    target: 'reported only: fork costs more in a bigger process',
    pass: null,
  });
  const i0 = cpuSnapshot(null);
  const iso = await isolatedBaseline(o.runs, o.concurrency, o.maxSeconds);
  const isoCpu = cpuDiff(i0, cpuSnapshot(null));
  console.log(
    `  isolated baseline: ${iso.n} x the same .sh through the local executor alone (sandbox ${iso.isolation?.sandbox}, ` +
      `cgroups ${iso.isolation?.cpuLimit}, volume ${iso.isolation?.blockStorage}) in ${iso.seconds.toFixed(2)} s = ${fmt(iso.rate)} runs/s`,
  );
  console.log(`  ${describeCpu(isoCpu, { n: iso.n, unit: 'run' })}`);
  report.add({
    figure: `1. isolated baseline: the same .sh through the executor alone (sandbox, cgroups, run user, seccomp, pooled volume), ${o.concurrency} in flight`,
    value: `${fmt(iso.rate)} runs/s`,
    baseline: `${fmt(base.rate)} spawns/s (node spawn sh -c true)`,
    target: `${((iso.rate / base.rate) * 100).toFixed(0)}% of the spawn baseline: what isolation itself costs (reported only)`,
    pass: null,
  });
  // The default configuration (pass/fail), then the same with the bubblewrap sandbox engine (reported only): the
  // native engine is picked as root, and this shows what it changes, against the same baseline.
  const variants: { label: string; env: Record<string, string>; judged: boolean }[] = [
    { label: '', env: {}, judged: true },
    { label: ', sandbox: bwrap', env: { DSJOBS_SANDBOX: 'bwrap' }, judged: false },
  ];
  for (const variant of variants) await throughputOf(report, o, base, iso, variant);
}

async function throughputOf(
  report: Report,
  o: ThroughputOptions,
  base: SpawnBaseline,
  iso: IsolatedBaseline,
  variant: { label: string; env: Record<string, string>; judged: boolean },
): Promise<void> {
  const s = await BenchServer.start({
    env: { DSJOBS_CAPACITY_CPUS: String(Math.max(16, o.concurrency)), DSJOBS_CAPACITY_MEMORY_IN_GBS: '1024', ...variant.env },
    nodeArgs: o.nodeArgs,
  });
  try {
    const job = await s.createJob('true.sh', 'exit 0\n');
    const body = s.runBody(job);
    // Warm-up (not measured): JIT, SQLite page cache, first-run directory creation.
    await Promise.all(Array.from({ length: Math.min(o.concurrency, o.warmup) }, async (_, i) => {
      for (let k = i; k < o.warmup; k += o.concurrency) await oneRun(s, body);
    }));

    const results: RunResult[] = [];
    let started = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const t0 = performance.now();
    const deadline = t0 + o.maxSeconds * 1000;
    const before = cpuSnapshot(s.pid);
    s.beginMeasure();
    const worker = async () => {
      while (started < o.runs && performance.now() < deadline) {
        started++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          results.push(await oneRun(s, body));
        } finally {
          inFlight--;
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
    const seconds = (performance.now() - t0) / 1000;
    s.endMeasure();
    const cpu = cpuDiff(before, cpuSnapshot(s.pid));
    const ok = results.filter((r) => r.ok).length;
    const rate = ok / seconds;
    const ratio = rate / base.rate;
    const failed = results.filter((r) => !r.ok);
    const sandbox = (await s.http.json<{ protections: { enforced: string[] } }>('GET', '/serverInfo')).protections.enforced.find((l) => l.startsWith('sandbox: '));
    console.log(`  dsjobs${variant.label}: ${sandbox?.split(' (/')[0] ?? 'not sandboxed'}`);
    console.log(`  dsjobs${variant.label}: ${ok}/${results.length} SUCCEEDED in ${seconds.toFixed(2)} s = ${fmt(rate)} runs/s (max in flight ${maxInFlight})`);
    if (failed.length) {
      console.log(`  not SUCCEEDED: ${failed.length} (${[...new Set(failed.map((f) => f.state))].join(', ')})`);
      for (const f of failed.slice(0, 3)) console.log(`    ${f.failure}`);
    }
    const lateGets = results.filter((r) => r.gets > 1).length;
    console.log(
      `  per run: e2e p50 ${fmt(percentile(results.map((r) => r.e2eMs), 50))} ms p99 ${fmt(percentile(results.map((r) => r.e2eMs), 99))} ms; ` +
        `accepted->started mean ${fmt(mean(results.map((r) => r.acceptedToStartedMs)))} ms, started->finished mean ${fmt(mean(results.map((r) => r.startedToFinishedMs)))} ms; ` +
        `follow ended before the run was terminal: ${lateGets}/${results.length}`,
    );
    console.log(`  ${describeCpu(cpu, { n: results.length, unit: 'run' })}`);
    const isoRatio = rate / iso.rate;
    report.add({
      figure: `1${variant.judged ? '' : "'"}. e2e throughput, trivial .sh runs, ${o.concurrency} in flight (${results.length} runs)${variant.label}`,
      value: `${fmt(rate)} runs/s`,
      baseline: `${fmt(iso.rate)} runs/s isolated baseline (executor alone); ${fmt(base.rate)} spawns/s (node spawn sh -c true)`,
      target:
        `${(isoRatio * 100).toFixed(0)}% of the isolated baseline${variant.judged ? ' (target >= 50%)' : ' (reported only)'}, ` +
        `${(ratio * 100).toFixed(0)}% of the spawn baseline`,
      pass: variant.judged ? isoRatio >= 0.5 && failed.length === 0 : null,
    });
    report.add({
      figure: `1${variant.judged ? '' : "'"}. e2e latency per run at that load (create -> follow end -> GET)${variant.label}`,
      value: `p50 ${fmt(percentile(results.map((r) => r.e2eMs), 50))} ms, p99 ${fmt(percentile(results.map((r) => r.e2eMs), 99))} ms`,
      baseline: '-',
      target: `server CPU ${(cpu.serverMs / results.length).toFixed(2)} ms/run, run processes ${(cpu.serverChildrenMs / results.length).toFixed(2)} ms/run, machine ${(cpu.machineBusy * 100).toFixed(0)}% busy`,
      pass: null,
    });
    if (lateGets > 0) {
      report.note(
        `1: for ${lateGets} of ${results.length} runs the ?follow=true log stream ended while GET jobRun still said non-terminal (the log is sealed before the state transition commits); the bench polls GET until terminal.`,
      );
    }
  } finally {
    await s.close();
  }
}
