/**
 * 10. The control plane while runs saturate the machine (issue 25). 64 CPU-bound runs (each spinning for `spinSeconds`
 * on a quarter CPU of a Local.Light shape; admission is given 16.5 CPUs so all 64 run at once on this host's few
 * cores) while a client measures GET /jobRuns/{id}, POST /jobRuns (of a job that cannot start while they run: it
 * waits ACCEPTED, so only the create is measured) and a log follow's latency (a run printing its clock every 100 ms);
 * then one of the 64 is canceled. The same on the idle server first, in the same run. Done twice: with dsjobs'
 * default (runs weighted 10 against the server's 100) and with runs level with the server (runsCpuWeight 100, the
 * behaviour before the weight existed), as the baseline.
 * Also the burst case: 16 clients creating 500 trivial runs as fast as they can; create latency p50/p99.
 */
import { BenchServer, TERMINAL } from './lib/server.js';
import { fmt, percentile, sleep, wallNow, type Report } from './lib/report.js';
import { ndjsonLines } from './lib/http.js';

export interface SaturationOptions {
  runs: number;
  spinSeconds: number;
  sampleSeconds: number;
  burstRuns: number;
  burstClients: number;
  gracePeriodMs: number;
  nodeArgs: string[];
}

const SPIN = 'end=$((SECONDS+$1)); while [ $SECONDS -lt $end ]; do :; done\n';
const TICK = 'while :; do echo "$EPOCHREALTIME"; sleep 0.1; done\n';

interface Latencies {
  get: number[];
  create: number[];
  follow: number[];
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Samples the three latencies for `seconds`: a GET and a create every 100 ms, and every line the ticker prints. */
async function sample(s: BenchServer, runId: string, waiter: { id: string; projectId: string }, tickerId: string, seconds: number): Promise<Latencies> {
  const out: Latencies = { get: [], create: [], follow: [] };
  const end = performance.now() + seconds * 1000;
  const follow = (async () => {
    const from = wallNow();
    const res = await s.http.stream('GET', `/jobRuns/${tickerId}/logs?follow=true`, undefined, seconds * 1000 + 30_000);
    for await (const line of ndjsonLines(res)) {
      const rec = JSON.parse(line.toString('utf8')) as { message: string };
      const printed = Number(rec.message.replace(',', '.')) * 1000;
      // The backlog printed before sampling began is not a latency.
      if (Number.isFinite(printed) && printed >= from) out.follow.push(wallNow() - printed);
      if (performance.now() > end) break;
    }
  })();
  while (performance.now() < end) {
    out.get.push(await timed(() => s.http.json('GET', `/jobRuns/${runId}`)));
    out.create.push(await timed(() => s.http.json('POST', '/jobRuns', s.runBody(waiter))));
    await sleep(100);
  }
  await Promise.race([follow, sleep(5_000)]);
  return out;
}

async function waitState(s: BenchServer, id: string, pred: (state: string) => boolean, ms: number): Promise<string> {
  const end = performance.now() + ms;
  for (;;) {
    const r = await s.http.json<{ lifecycleState: string }>('GET', `/jobRuns/${id}`);
    if (pred(r.lifecycleState) || performance.now() > end) return r.lifecycleState;
    await sleep(50);
  }
}

async function phase(o: SaturationOptions, weight: number): Promise<{ idle: Latencies; busy: Latencies; cancelMs: number; report: string }> {
  const s = await BenchServer.start({
    env: { DSJOBS_CAPACITY_CPUS: '16.5', DSJOBS_CAPACITY_MEMORY_IN_GBS: '64', DSJOBS_RUNS_CPU_WEIGHT: String(weight), DSJOBS_GRACE_PERIOD_MS: String(o.gracePeriodMs) },
    nodeArgs: o.nodeArgs,
  });
  try {
    const report = /the server ahead of runs: [^\n]*/.exec(s.output())?.[0] ?? 'no report line';
    const spin = await s.createJob('spin.sh', SPIN, { args: String(o.spinSeconds) });
    const ticker = await s.createJob('tick.sh', TICK);
    // A whole CPU: it cannot start while the 64 hold 16 of the 16.5, so its creates are measured alone.
    const waiter = await s.createJob('wait.sh', 'exit 0\n', { ocpus: 1 });
    const done = await s.http.json<{ id: string }>('POST', '/jobRuns', s.runBody(await s.createJob('done.sh', 'exit 0\n')));
    await waitState(s, done.id, (st) => TERMINAL.has(st), 30_000);
    const tick = await s.http.json<{ id: string }>('POST', '/jobRuns', s.runBody(ticker));
    await waitState(s, tick.id, (st) => st === 'IN_PROGRESS', 30_000);
    const idle = await sample(s, done.id, waiter, tick.id, o.sampleSeconds);
    // Let the idle phase's creates finish before the spinners take the capacity.
    await sleep(2_000);
    const spinners: string[] = [];
    for (let i = 0; i < o.runs; i++) spinners.push((await s.http.json<{ id: string }>('POST', '/jobRuns', s.runBody(spin))).id);
    for (const id of spinners) await waitState(s, id, (st) => st !== 'ACCEPTED', 60_000);
    await sleep(1_000);
    const busy = await sample(s, done.id, waiter, tick.id, o.sampleSeconds);
    const victim = spinners[spinners.length - 1];
    const t0 = performance.now();
    await s.http.request('POST', `/jobRuns/${victim}/actions/cancelJobRun`);
    const final = await waitState(s, victim, (st) => TERMINAL.has(st), 60_000);
    const cancelMs = final === 'CANCELED' ? performance.now() - t0 : NaN;
    for (const id of [...spinners, tick.id]) await s.http.request('POST', `/jobRuns/${id}/actions/cancelJobRun`);
    return { idle, busy, cancelMs, report };
  } finally {
    await s.close();
  }
}

/** Every create's latency, and apart those of each client's first request (the one that opens its connection). */
async function burst(o: SaturationOptions): Promise<{ all: number[]; first: number[]; rest: number[] }> {
  const s = await BenchServer.start({ nodeArgs: o.nodeArgs });
  try {
    const job = await s.createJob('trivial.sh', 'exit 0\n');
    const out = { all: [] as number[], first: [] as number[], rest: [] as number[] };
    let left = o.burstRuns;
    await Promise.all(
      Array.from({ length: o.burstClients }, async (_, client) => {
        let n = 0;
        while (left > 0) {
          left--;
          const t0 = performance.now();
          const r = await s.http.request('POST', '/jobRuns', s.runBody(job));
          if (r.status !== 200) throw new Error(`create: HTTP ${r.status} ${r.body.toString().slice(0, 200)}`);
          const ms = performance.now() - t0;
          out.all.push(ms);
          // Client 0's connection is the one createJob opened, before the burst.
          (n++ === 0 && client > 0 ? out.first : out.rest).push(ms);
        }
      }),
    );
    return out;
  } finally {
    await s.close();
  }
}

export async function benchSaturation(report: Report, o: SaturationOptions): Promise<void> {
  console.log(`\n## 10. Control plane under saturation: ${o.runs} CPU-bound runs, ${o.sampleSeconds} s of samples; burst ${o.burstClients} clients x ${o.burstRuns} runs`);
  const weighted = await phase(o, 10);
  const level = await phase(o, 100);
  report.note(`start-up report: ${weighted.report}`);
  const p = (v: number[], q: number) => percentile(v, q);
  for (const [name, key] of [['GET /jobRuns/{id}', 'get'], ['POST /jobRuns', 'create'], ['log follow', 'follow']] as const) {
    const idle = weighted.idle[key];
    const busy = weighted.busy[key];
    const base = level.busy[key];
    const p99 = p(busy, 99);
    const ok = p99 <= Math.max(3 * p(idle, 99), 1) && p99 < 50;
    report.add({
      figure: `10. ${name} p50/p99 with ${o.runs} CPU-bound runs (${busy.length} samples)`,
      value: `${fmt(p(busy, 50))} / ${fmt(p99)} ms`,
      baseline: `idle ${fmt(p(idle, 50))} / ${fmt(p(idle, 99))} ms; runs level with the server ${fmt(p(base, 50))} / ${fmt(p(base, 99))} ms`,
      target: `p99 <= 3x idle and < 50 ms`,
      pass: ok,
    });
  }
  const bound = o.gracePeriodMs + 1000;
  report.add({
    figure: `10. cancel of one of ${o.runs} CPU-bound runs, request to CANCELED`,
    value: `${fmt(weighted.cancelMs)} ms`,
    baseline: `runs level with the server ${fmt(level.cancelMs)} ms`,
    target: `<= grace period + 1 s (${bound} ms)`,
    pass: weighted.cancelMs <= bound,
  });
  const b = await burst(o);
  report.add({
    figure: `10. burst: ${o.burstClients} clients creating ${o.burstRuns} trivial runs, create latency p50/p99`,
    value: `${fmt(p(b.all, 50))} / ${fmt(p(b.all, 99))} ms`,
    baseline: '-',
    target: 'p99 < 100 ms',
    pass: p(b.all, 99) < 100,
  });
  // The first request of a client opens its connection, which the server accepts in its own time (docs/benchmarks.md,
  // "Where the time goes"): the two kinds apart show which one sets the p99.
  report.note(
    `burst: first request of each new connection p50 ${fmt(p(b.first, 50))} ms, max ${fmt(Math.max(...b.first))} ms (${b.first.length}); ` +
      `the other creates p50 ${fmt(p(b.rest, 50))} ms, p99 ${fmt(p(b.rest, 99))} ms (${b.rest.length})`,
  );
}
