/**
 * 8. Webhook latency: a state change (PUT /projects/{id}) to the signed webhook received by a receiver on loopback,
 *    one change at a time; p50/p99. Baseline: the PUT's own round trip, measured in the same loop.
 * 9. Sweep overhead: 1,000 trivial runs as one sweep with maxParallel 50, against the same 1,000 runs started
 *    directly by the client with 50 in flight (each worker creates a run and follows its log to the end), each on a
 *    fresh server with the same settings.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BenchServer, TERMINAL } from './lib/server.js';
import { fmt, percentile, sleep, type Report } from './lib/report.js';
import { verifyWebhook } from '../src/sdk/webhooks.js';

export interface WebhookBenchOptions {
  changes: number;
  maxSeconds: number;
  nodeArgs: string[];
}

export async function benchWebhookLatency(report: Report, o: WebhookBenchOptions): Promise<void> {
  console.log(`\n## 8. Webhook latency: ${o.changes} state changes, one at a time, to a signed webhook on loopback`);
  let secret = '';
  const waiting = new Map<string, (t: number) => void>();
  let refused = 0;
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      try {
        const e = verifyWebhook<{ data: { description?: string } }>(secret, req.headers, Buffer.concat(chunks));
        waiting.get(String(e.data.description))?.(at);
        res.writeHead(204).end();
      } catch {
        refused++;
        res.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const s = await BenchServer.start({ nodeArgs: o.nodeArgs, env: { DSJOBS_WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' } });
  try {
    const project = await s.http.json<{ id: string }>('POST', '/projects', { compartmentId: s.compartmentId, displayName: 'bench-webhooks' });
    const sub = await s.http.json<{ secret: string }>('POST', '/webhookSubscriptions', {
      compartmentId: s.compartmentId,
      url,
      filter: { eventTypes: ['com.oraclecloud.datascience.updateproject'] },
    });
    secret = sub.secret;
    const lat: number[] = [];
    const put: number[] = [];
    const deadline = performance.now() + o.maxSeconds * 1000;
    const warm = 10;
    s.beginMeasure();
    for (let i = 0; i < o.changes + warm && performance.now() < deadline; i++) {
      const key = `change-${i}`;
      const received = new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`webhook for ${key} not received in 10 s`)), 10_000);
        waiting.set(key, (at) => {
          clearTimeout(t);
          resolve(at);
        });
      });
      const t0 = performance.now();
      const r = await s.http.request('PUT', `/projects/${project.id}`, { description: key });
      const t1 = performance.now();
      if (r.status !== 200) throw new Error(`PUT: HTTP ${r.status}`);
      const at = await received;
      waiting.delete(key);
      if (i >= warm) {
        lat.push(at - t0);
        put.push(t1 - t0);
      }
      await sleep(10);
    }
    s.endMeasure();
    if (refused) throw new Error(`${refused} deliveries failed signature verification`);
    const p99 = percentile(lat, 99);
    console.log(`  change -> webhook received: p50 ${fmt(percentile(lat, 50), 2)} ms, p99 ${fmt(p99, 2)} ms, max ${fmt(Math.max(...lat), 2)} ms (${lat.length} changes)`);
    report.add({
      figure: '8. state change -> webhook received (p99)',
      value: `${fmt(p99, 1)} ms (p50 ${fmt(percentile(lat, 50), 1)} ms)`,
      baseline: `PUT round trip p99 ${fmt(percentile(put, 99), 1)} ms (p50 ${fmt(percentile(put, 50), 1)} ms)`,
      target: 'p99 < 200 ms',
      pass: p99 < 200,
    });
  } finally {
    await s.close();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  }
}

export interface SweepBenchOptions {
  runs: number;
  maxParallel: number;
  maxSeconds: number;
  nodeArgs: string[];
}

const SERVER_ENV = { DSJOBS_CAPACITY_CPUS: '64', DSJOBS_CAPACITY_MEMORY_IN_GBS: '1024' };
const SCRIPT = 'echo "DSJOBS_METRIC v=$I"\n';

async function direct(o: SweepBenchOptions): Promise<number> {
  const s = await BenchServer.start({ nodeArgs: o.nodeArgs, env: SERVER_ENV });
  try {
    const job = await s.createJob('trivial.sh', SCRIPT);
    let next = 0;
    let failed = 0;
    const failures: string[] = [];
    const deadline = performance.now() + o.maxSeconds * 1000;
    const t0 = performance.now();
    const worker = async () => {
      while (next < o.runs && performance.now() < deadline) {
        const i = next++;
        const run = await s.http.json<{ id: string }>('POST', '/jobRuns', {
          ...s.runBody(job),
          jobConfigurationOverrideDetails: { jobType: 'DEFAULT', environmentVariables: { I: String(i) } },
        });
        const res = await s.http.stream('GET', `/jobRuns/${run.id}/logs?follow=true`);
        for await (const _ of res) {
          /* drain until the run has ended */
        }
        // The log ends when it is sealed, a moment before the final state commits: GET again until it is terminal.
        type Run = { lifecycleState: string; lifecycleDetails?: string };
        let r = await s.http.json<Run>('GET', `/jobRuns/${run.id}`);
        for (let k = 0; k < 2000 && !TERMINAL.has(r.lifecycleState); k++) {
          await sleep(5);
          r = await s.http.json<Run>('GET', `/jobRuns/${run.id}`);
        }
        if (r.lifecycleState !== 'SUCCEEDED') {
          failed++;
          if (failures.length < 3) failures.push(`${run.id} ${r.lifecycleState}: ${r.lifecycleDetails ?? ''}`);
        }
      }
    };
    await Promise.all(Array.from({ length: o.maxParallel }, worker));
    if (next < o.runs) throw new Error(`direct runs: only ${next} of ${o.runs} in ${o.maxSeconds} s`);
    if (failed) throw new Error(`direct runs: ${failed} did not succeed (${failures.join('; ')})`);
    return (performance.now() - t0) / 1000;
  } finally {
    await s.close();
  }
}

export async function benchSweep(report: Report, o: SweepBenchOptions): Promise<void> {
  console.log(`\n## 9. Sweep of ${o.runs} trivial runs, maxParallel ${o.maxParallel}, against the same runs started directly`);
  const base = await direct(o);
  console.log(`  direct: ${o.runs} runs with ${o.maxParallel} in flight in ${fmt(base, 2)} s (${fmt(o.runs / base)} runs/s)`);
  const s = await BenchServer.start({ nodeArgs: o.nodeArgs, env: SERVER_ENV });
  try {
    const job = await s.createJob('trivial.sh', SCRIPT);
    s.beginMeasure();
    const t0 = performance.now();
    const sweep = await s.http.json<{ id: string }>('POST', '/sweeps', {
      compartmentId: s.compartmentId,
      jobId: job.id,
      parameters: { environmentVariables: { I: Array.from({ length: o.runs }, (_, i) => String(i)) } },
      maxParallel: o.maxParallel,
      metric: { name: 'v', goal: 'MAXIMIZE' },
    });
    const deadline = t0 + o.maxSeconds * 1000;
    let state = 'IN_PROGRESS';
    let details = '';
    while (performance.now() < deadline) {
      const x = await s.http.json<{ lifecycleState: string; lifecycleDetails: string; trialCounts: Record<string, number> }>('GET', `/sweeps/${sweep.id}`);
      state = x.lifecycleState;
      details = x.lifecycleDetails;
      if (state !== 'IN_PROGRESS') break;
      await sleep(50);
    }
    const secs = (performance.now() - t0) / 1000;
    s.endMeasure();
    if (state !== 'SUCCEEDED') throw new Error(`sweep ended ${state} (${details}) after ${fmt(secs, 1)} s`);
    if (!details.includes(`v=${o.runs - 1}`)) throw new Error(`sweep best is wrong: ${details}`);
    const ratio = secs / base;
    console.log(`  sweep: ${o.runs} runs in ${fmt(secs, 2)} s (${fmt(o.runs / secs)} runs/s), ${fmt(ratio, 2)}x the direct time`);
    report.add({
      figure: `9. sweep of ${o.runs} trivial runs, maxParallel ${o.maxParallel}`,
      value: `${fmt(secs, 2)} s`,
      baseline: `${fmt(base, 2)} s started directly, ${o.maxParallel} in flight`,
      target: `${fmt(ratio, 2)}x (target <= 1.5x)`,
      pass: ratio <= 1.5,
    });
  } finally {
    await s.close();
  }
}
