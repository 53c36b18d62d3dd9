/**
 * 11. Container start latency on an idle server: a container job of the bash test image whose command prints
 * $EPOCHREALTIME first (a builtin: no fork); latency = that time - the run's timeAccepted. One run at a time.
 * Baseline, measured in the same run: `docker run --rm` of the same image and command with the same settings
 * (docker-init, no-new-privileges, read-only root, pids/CPU/memory limits, network none), from the spawn of the
 * docker CLI to the printed time.
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { BenchServer, ROOT, TERMINAL } from './lib/server.js';
import { fmt, percentile, sleep, wallNow, type Report } from './lib/report.js';
import { ndjsonLines } from './lib/http.js';

const IMAGE = 'dsjobs-test/tools:1';
const COMMAND = ['bash', '-c', 'echo "$EPOCHREALTIME"'];

const epochMs = (text: string): number => {
  const m = /^(\d+)[.,](\d{6})/.exec(text.trim());
  if (!m) throw new Error(`not an $EPOCHREALTIME: ${JSON.stringify(text)}`);
  return Number(m[1]) * 1000 + Number(m[2]) / 1000;
};

async function dockerRunBaseline(runs: number, deadline: number): Promise<number[]> {
  const out: number[] = [];
  const args = ['run', '--rm', '--init', '--network', 'none', '--read-only', '--security-opt', 'no-new-privileges', '--pids-limit', '256', '--cpus', '0.25', '--memory', '2g', '--memory-swap', '2g', IMAGE, ...COMMAND];
  for (let i = 0; i < runs && performance.now() < deadline; i++) {
    const r = await new Promise<{ t0: number; text: string }>((resolve, reject) => {
      const t0 = wallNow();
      const c = spawn('docker', args, { stdio: ['ignore', 'pipe', 'ignore'] });
      let text = '';
      c.stdout.on('data', (d) => (text += d));
      c.once('error', reject);
      c.once('close', () => resolve({ t0, text }));
    });
    out.push(epochMs(r.text) - r.t0);
    await sleep(20);
  }
  return out;
}

export async function benchContainerLatency(report: Report, o: { runs: number; maxSeconds: number; nodeArgs: string[] }): Promise<void> {
  console.log(`\n## 11. Container start latency: ${o.runs} container runs one at a time, beside docker run`);
  for (const script of ['docker-engine.sh', 'docker-test-images.sh']) execFileSync('bash', [path.join(ROOT, 'scripts', script)], { stdio: 'inherit' });
  const s = await BenchServer.start({ nodeArgs: o.nodeArgs });
  try {
    const project = await s.http.json<{ id: string }>('POST', '/projects', { compartmentId: s.compartmentId, displayName: 'bench' });
    const job = await s.http.json<{ id: string }>('POST', '/jobs', {
      projectId: project.id,
      compartmentId: s.compartmentId,
      jobConfigurationDetails: { jobType: 'DEFAULT' },
      jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50, networking: 'NONE' },
      jobEnvironmentConfigurationDetails: { jobEnvironmentType: 'OCIR_CONTAINER', image: IMAGE, cmd: COMMAND },
    });
    const body = { projectId: project.id, compartmentId: s.compartmentId, jobId: job.id };
    const deadline = performance.now() + o.maxSeconds * 1000;
    // Alternating the two keeps a slow stretch of the machine from landing on one side only.
    const lat: number[] = [];
    const base: number[] = [];
    const warm = 3;
    for (let i = 0; i < o.runs + warm && performance.now() < deadline; i++) {
      const run = await s.http.json<{ id: string; timeAccepted: string }>('POST', '/jobRuns', body);
      const res = await s.http.stream('GET', `/jobRuns/${run.id}/logs?follow=true`);
      let first: string | null = null;
      for await (const line of ndjsonLines(res)) if (first === null) first = JSON.parse(line.toString('utf8')).message;
      let r: { lifecycleState: string; lifecycleDetails?: string };
      for (const until = performance.now() + 30_000; ; ) {
        r = await s.http.json('GET', `/jobRuns/${run.id}`);
        if (TERMINAL.has(r.lifecycleState) || performance.now() > until) break;
        await sleep(5);
      }
      if (r.lifecycleState !== 'SUCCEEDED' || first === null) throw new Error(`container run ended ${r.lifecycleState} (${r.lifecycleDetails}) with output ${first}`);
      const b = await dockerRunBaseline(1, Infinity);
      if (i < warm) continue;
      lat.push(epochMs(first) - Date.parse(run.timeAccepted));
      base.push(b[0]!);
      await sleep(20);
    }
    const p50 = percentile(lat, 50);
    const b50 = percentile(base, 50);
    console.log(`  docker run (spawn -> bash prints): p50 ${fmt(b50, 1)} ms p99 ${fmt(percentile(base, 99), 1)} ms (${base.length} runs)`);
    console.log(`  dsjobs (timeAccepted -> bash prints): p50 ${fmt(p50, 1)} ms p99 ${fmt(percentile(lat, 99), 1)} ms (${lat.length} runs)`);
    report.add({
      figure: `12. container start latency p50, ACCEPTED -> process running (${lat.length} runs, idle server)`,
      value: `${fmt(p50, 1)} ms`,
      baseline: `${fmt(b50, 1)} ms (docker run, same image and settings)`,
      target: `at most 25% over docker run: ${((p50 / b50 - 1) * 100).toFixed(0)}%`,
      pass: p50 <= b50 * 1.25,
    });
  } finally {
    await s.close();
  }
}
