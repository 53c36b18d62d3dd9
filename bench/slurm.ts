/**
 * 13. Runs on a Slurm cluster: on the same two-node cluster (scripts/slurm-cluster.sh; 2 CPUs, 4000 MB a node), with
 * Slurm's default scheduling and with its high-throughput settings:
 * - throughput: `jobs` trivial jobs submitted with bare `sbatch` (1 CPU, 1 GB, 8 submitters) until the last has
 *   ended, against `jobs` trivial dsjobs runs of a Slurm shape of the same size (create to SUCCEEDED);
 * - start latency, one job at a time: bare sbatch (just before sbatch is spawned -> the batch script prints
 *   $EPOCHREALTIME) against dsjobs (the run's timeAccepted -> the run's script prints it).
 * - live logs: a run printing its clock every 50 ms, followed through the API, against `tail -F` of a bare job's
 *   --output file on the shared directory.
 * Target (issue 17): dsjobs reaches at least 90% of bare sbatch's throughput and adds at most 10% (or 100 ms,
 * whichever is larger) to its p50 start latency; a following reader sees each line within 1 s (p99).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BenchServer, TERMINAL } from './lib/server.js';
import { fmt, percentile, sleep, wallNow, type Report } from './lib/report.js';
import { ndjsonLines } from './lib/http.js';
import { slurmServerConfig, startSlurmCluster, type SlurmCluster } from '../test/support/slurm.js';

const run = promisify(execFile);

export interface SlurmBenchOptions {
  jobs: number;
  latencyJobs: number;
  /** Lines of the followed run (50 ms apart). */
  followLines: number;
  maxSeconds: number;
  nodeArgs: string[];
}

const epochMs = (text: string): number => {
  const m = /(\d+)[.,](\d{6})/.exec(text);
  if (!m) throw new Error(`not an $EPOCHREALTIME: ${JSON.stringify(text)}`);
  return Number(m[1]) * 1000 + Number(m[2]) / 1000;
};

/** Runs `fn(i)` for i < n with `width` at a time. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
}

async function bareThroughput(c: SlurmCluster, jobs: number, maxSeconds: number): Promise<number> {
  const env = { ...process.env, SLURM_CONF: c.slurmConf };
  const t0 = performance.now();
  await pool(jobs, 8, async () => {
    await run('sbatch', ['--parsable', '--output=/dev/null', '--cpus-per-task=1', '--mem=1024M', '--wrap', 'true'], { env });
  });
  const deadline = t0 + maxSeconds * 1000;
  for (;;) {
    const { stdout } = await run('squeue', ['-h', '-o', '%i'], { env });
    if (stdout.trim() === '') break;
    if (performance.now() > deadline) throw new Error(`bare sbatch: jobs left after ${maxSeconds} s`);
    await sleep(100);
  }
  return jobs / ((performance.now() - t0) / 1000);
}

async function bareLatency(c: SlurmCluster, n: number): Promise<number[]> {
  const env = { ...process.env, SLURM_CONF: c.slurmConf };
  const dir = path.join(c.dir, 'bench-latency');
  mkdirSync(dir, { recursive: true });
  const script = path.join(dir, 'start.sh');
  writeFileSync(script, '#!/bin/bash\necho "$EPOCHREALTIME"\n');
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `out-${i}`);
    const sent = wallNow();
    await run('sbatch', ['--parsable', `--output=${file}`, '--cpus-per-task=1', '--mem=1024M', script], { env });
    const until = performance.now() + 60_000;
    while (!(existsSync(file) && readFileSync(file, 'utf8').includes('\n'))) {
      if (performance.now() > until) throw new Error('bare sbatch: a latency job did not print in 60 s');
      await sleep(5);
    }
    out.push(epochMs(readFileSync(file, 'utf8')) - sent);
  }
  return out;
}

/** A script that prints its clock `lines` times, 50 ms apart: what a following reader's latency is measured on. */
const tickScript = (lines: number) => `#!/bin/bash\nfor i in $(seq 1 ${lines}); do echo "$EPOCHREALTIME"; sleep 0.05; done\n`;

/**
 * Bare Slurm's way to watch a job's output live: `tail -F` of its --output file (on the shared directory, where the
 * submit host sees it). Latency = the time tail's line reaches us - the time the job printed it.
 */
async function bareFollow(c: SlurmCluster, lines: number): Promise<number[]> {
  const env = { ...process.env, SLURM_CONF: c.slurmConf };
  const dir = path.join(c.sharedDir, 'bench-follow');
  mkdirSync(dir, { recursive: true });
  const script = path.join(dir, 'tick.sh');
  writeFileSync(script, tickScript(lines));
  const file = path.join(dir, 'out');
  writeFileSync(file, '');
  const tail = spawn('tail', ['-F', '-n', '+1', '-s', '0.01', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  const out: number[] = [];
  try {
    await run('sbatch', ['--parsable', `--output=${file}`, '--open-mode=append', '--cpus-per-task=1', '--mem=1024M', script], { env });
    let buf = '';
    const until = performance.now() + 120_000;
    for await (const chunk of tail.stdout) {
      const now = wallNow();
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() !== '') out.push(now - epochMs(line));
      }
      if (out.length >= lines || performance.now() > until) break;
    }
  } finally {
    tail.kill();
  }
  if (out.length < lines) throw new Error(`bare sbatch: tail -F saw ${out.length} of ${lines} lines`);
  return out;
}

/** A dsjobs run on a Slurm shape printing the same lines, followed through `GET /logs?follow=true`. */
async function dsjobsFollow(s: BenchServer, lines: number): Promise<number[]> {
  const job = await s.createJob('tick.sh', tickScript(lines), { shape: 'Slurm.Small' });
  const r = await s.http.json<{ id: string }>('POST', '/jobRuns', s.runBody(job));
  const res = await s.http.stream('GET', `/jobRuns/${r.id}/logs?follow=true`);
  const out: number[] = [];
  for await (const line of ndjsonLines(res)) {
    const now = wallNow();
    out.push(now - epochMs(JSON.parse(line.toString('utf8')).message));
  }
  if (out.length < lines) throw new Error(`dsjobs: the follow saw ${out.length} of ${lines} lines`);
  return out;
}

async function dsjobsThroughput(s: BenchServer, jobs: number, maxSeconds: number): Promise<number> {
  const job = await s.createJob('true.sh', 'true\n', { shape: 'Slurm.Small' });
  const body = s.runBody(job);
  const ids: string[] = [];
  const t0 = performance.now();
  await pool(jobs, 8, async () => {
    ids.push((await s.http.json<{ id: string }>('POST', '/jobRuns', body)).id);
  });
  const deadline = t0 + maxSeconds * 1000;
  let pending = ids;
  while (pending.length > 0) {
    if (performance.now() > deadline) throw new Error(`dsjobs: ${pending.length} runs not ended after ${maxSeconds} s`);
    const states = await Promise.all(pending.map((id) => s.http.json<{ id: string; lifecycleState: string; lifecycleDetails?: string }>('GET', `/jobRuns/${id}`)));
    const bad = states.find((r) => TERMINAL.has(r.lifecycleState) && r.lifecycleState !== 'SUCCEEDED');
    if (bad) throw new Error(`dsjobs: a run ended ${bad.lifecycleState}: ${bad.lifecycleDetails}`);
    pending = states.filter((r) => !TERMINAL.has(r.lifecycleState)).map((r) => r.id);
    if (pending.length > 0) await sleep(200);
  }
  return jobs / ((performance.now() - t0) / 1000);
}

async function dsjobsLatency(s: BenchServer, n: number): Promise<number[]> {
  const job = await s.createJob('start.sh', 'echo "$EPOCHREALTIME"\n', { shape: 'Slurm.Small' });
  const body = s.runBody(job);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await s.http.json<{ id: string; timeAccepted: string }>('POST', '/jobRuns', body);
    const res = await s.http.stream('GET', `/jobRuns/${r.id}/logs?follow=true`);
    let first: string | null = null;
    for await (const line of ndjsonLines(res)) if (first === null) first = JSON.parse(line.toString('utf8')).message;
    if (first === null) throw new Error(`dsjobs: latency run ${r.id} printed nothing`);
    out.push(epochMs(first) - Date.parse(r.timeAccepted));
  }
  return out;
}

export async function benchSlurm(report: Report, o: SlurmBenchOptions): Promise<void> {
  console.log(`\n## 13. Slurm: ${o.jobs} trivial jobs and ${o.latencyJobs} single-job starts, bare sbatch vs dsjobs, default and tuned Slurm`);
  for (const mode of ['default', 'tuned'] as const) {
    const c = await startSlurmCluster(mode);
    let s: BenchServer | null = null;
    try {
      const bare = await bareThroughput(c, o.jobs, o.maxSeconds);
      const bareLat = await bareLatency(c, o.latencyJobs);
      s = await BenchServer.start({ config: slurmServerConfig(c), nodeArgs: o.nodeArgs });
      const ours = await dsjobsThroughput(s, o.jobs, o.maxSeconds);
      const ourLat = await dsjobsLatency(s, o.latencyJobs);
      const bareFol = await bareFollow(c, o.followLines);
      const ourFol = await dsjobsFollow(s, o.followLines);
      const b50 = percentile(bareLat, 50);
      const d50 = percentile(ourLat, 50);
      console.log(`  ${mode}: bare ${fmt(bare, 2)} jobs/s, dsjobs ${fmt(ours, 2)} runs/s; start p50 bare ${fmt(b50, 0)} ms, dsjobs ${fmt(d50, 0)} ms`);
      report.add({
        figure: `13. Slurm throughput, ${o.jobs} trivial jobs (${mode} Slurm settings)`,
        value: `${fmt(ours, 2)} runs/s`,
        baseline: `${fmt(bare, 2)} jobs/s (bare sbatch)`,
        target: `${((ours / bare) * 100).toFixed(0)}% of bare (target >= 90%)`,
        pass: ours >= 0.9 * bare,
      });
      report.add({
        figure: `13. Slurm start latency p50, one job at a time (${mode} Slurm settings)`,
        value: `${fmt(d50, 0)} ms (p99 ${fmt(percentile(ourLat, 99), 0)} ms)`,
        baseline: `${fmt(b50, 0)} ms (p99 ${fmt(percentile(bareLat, 99), 0)} ms, bare sbatch)`,
        target: `${d50 >= b50 ? '+' : '-'}${fmt(Math.abs(d50 - b50), 0)} ms (target <= +${fmt(Math.max(100, b50 * 0.1), 0)} ms)`,
        pass: d50 - b50 <= Math.max(100, b50 * 0.1),
      });
      const f99 = percentile(ourFol, 99);
      report.add({
        figure: `13. Slurm run's log followed live, ${o.followLines} lines 50 ms apart (${mode} Slurm settings)`,
        value: `p50 ${fmt(percentile(ourFol, 50), 0)} ms, p99 ${fmt(f99, 0)} ms`,
        baseline: `p50 ${fmt(percentile(bareFol, 50), 0)} ms, p99 ${fmt(percentile(bareFol, 99), 0)} ms (tail -F of sbatch's --output)`,
        target: 'p99 < 1,000 ms',
        pass: f99 < 1000,
      });
    } finally {
      await s?.stop();
      await c.stop();
    }
  }
}
