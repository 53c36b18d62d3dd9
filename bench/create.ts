/**
 * 3. Run creation through the API with durable state: autocannon, 32 connections POSTing CreateJobRun for ~10 s.
 * The server has capacity for one Local.Light run at a time (DSJOBS_CAPACITY_CPUS=0.25): the rest queue in
 * ACCEPTED. Afterwards the runs are counted via the list API, and again after a SIGKILL + restart (durability).
 * Baseline: the same autocannon load on GET /serverInfo (same HTTP stack, no database write).
 */
import autocannon, { type Options, type Result } from 'autocannon';
import { BenchServer } from './lib/server.js';
import { cpuDiff, cpuSnapshot, describeCpu } from './lib/cpu.js';
import { fmt, type Report } from './lib/report.js';

export interface CreateOptions {
  connections: number;
  seconds: number;
  nodeArgs: string[];
  /** The artifact of the created runs: 'exit' (exit 0, so the one admitted run at a time executes and finishes) or
   * 'sleep' (the first run sleeps, so nothing else executes during the measurement). */
  artifact: 'exit' | 'sleep';
  durable: boolean;
  /** The variant that carries the target (the other one is reported only). */
  primary: boolean;
  /**
   * Authentication on: every CreateJobRun carries an OCI signature the server verifies. The request is signed once
   * per phase (a signature is good for 5 minutes), so the client's RSA signing stays out of the shared CPUs.
   */
  authentication?: boolean;
  /** A PostgreSQL URL: the server keeps its state there (--database) instead of SQLite. */
  database?: string;
  /** The figures' number in the report (default 3, or 3' when not primary). */
  figure?: string;
}

/** One autocannon load, stopped at `hardLimitMs` if it has not ended by then. */
export function cannon(opts: Options, hardLimitMs: number): Promise<Result & { stopped: boolean }> {
  return new Promise((resolve, reject) => {
    let stopped = false;
    const inst = autocannon({ timeout: 30, ...opts }, (err, res) => {
      clearTimeout(t);
      if (err) reject(err);
      else resolve({ ...res, stopped });
    });
    const t = setTimeout(() => {
      stopped = true;
      inst.stop();
    }, hardLimitMs);
  });
}

async function countRuns(s: BenchServer, jobId: string | null, state?: string, maxPages = 10_000): Promise<{ count: number; unique: number; ms: number }> {
  const t0 = performance.now();
  const ids = new Set<string>();
  let count = 0;
  let page: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const q = `compartmentId=${encodeURIComponent(s.compartmentId)}${jobId ? `&jobId=${encodeURIComponent(jobId)}` : ''}&limit=100${state ? `&lifecycleState=${state}` : ''}${page ? `&page=${encodeURIComponent(page)}` : ''}`;
    const r = await s.http.request('GET', `/jobRuns?${q}`);
    if (r.status !== 200) throw new Error(`list: HTTP ${r.status} ${r.body.toString().slice(0, 300)}`);
    const items = JSON.parse(r.body.toString('utf8')) as { id: string }[];
    count += items.length;
    for (const it of items) ids.add(it.id);
    const next = r.headers['opc-next-page'];
    page = typeof next === 'string' && next ? next : undefined;
    if (!page) break;
  }
  return { count, unique: ids.size, ms: performance.now() - t0 };
}

/** Returns the measured creates/s. */
export async function benchCreate(report: Report, o: CreateOptions): Promise<number> {
  const auth = o.authentication ? ', authentication on' : '';
  const store = o.database ? ', PostgreSQL' : '';
  const n = o.figure ?? `3${o.primary ? '' : "'"}`;
  console.log(`\n## ${n}. Run creation: autocannon, ${o.connections} connections, ${o.seconds} s (artifact: ${o.artifact}${auth}${store})`);
  const env: Record<string, string> = { DSJOBS_CAPACITY_CPUS: '0.25', DSJOBS_AUTHENTICATION: o.authentication ? 'on' : 'off' };
  if (o.database) env.DSJOBS_DATABASE = o.database;
  let s = await BenchServer.start({ env, nodeArgs: o.nodeArgs });
  let rate = 0;
  try {
    const script = o.artifact === 'sleep' ? 'sleep 600\n' : 'exit 0\n';
    const warmJob = await s.createJob('warm.sh', script);
    const job = await s.createJob('create.sh', script);
    const base = `${s.url}/20190101`;
    const post = (j: { id: string; projectId: string }) => {
      const body = JSON.stringify(s.runBody(j));
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (s.sign) {
        Object.assign(headers, s.sign({ method: 'POST', url: `${base}/jobRuns`, headers, body }));
        // autocannon sends content-length itself (the same byte count the signature covers); twice is a 400.
        delete headers['content-length'];
      }
      return { url: `${base}/jobRuns`, method: 'POST' as const, headers, body, connections: o.connections };
    };

    // Baseline: the same HTTP stack, no database.
    const info = await cannon({ url: `${base}/serverInfo`, connections: o.connections, duration: o.seconds }, (o.seconds + 20) * 1000);
    const infoRate = info['2xx'] / info.duration;
    console.log(`  baseline GET /serverInfo: ${fmt(infoRate)} req/s, p99 ${info.latency.p99} ms (${info['2xx']} 2xx, ${info.non2xx} non-2xx)`);

    // Warm-up POSTs on another job (not counted), also the rate estimate that sizes the measured run.
    const warmSeconds = Math.max(1, Math.min(3, o.seconds / 4));
    const warm = await cannon({ ...post(warmJob), duration: warmSeconds }, (warmSeconds + 20) * 1000);
    const warmRate = warm['2xx'] / warm.duration;
    console.log(`  warm-up: ${fmt(warmRate)} creates/s over ${warmSeconds} s (${warm.non2xx} non-2xx)`);

    // Measured: a fixed amount (~o.seconds at the warm-up rate) so every response is counted and the database
    // count must equal the 2xx count exactly.
    const amount = Math.max(500, Math.min(200_000, Math.round(warmRate * o.seconds)));
    const before = cpuSnapshot(s.pid);
    s.beginMeasure();
    const res = await cannon({ ...post(job), amount }, o.seconds * 3 * 1000 + 20_000);
    s.endMeasure();
    const cpu = cpuDiff(before, cpuSnapshot(s.pid));
    const ok = res['2xx'];
    rate = ok / res.duration;
    console.log(
      `  POST /jobRuns: ${ok} 2xx, ${res.non2xx} non-2xx, ${res.errors} errors in ${res.duration.toFixed(2)} s = ${fmt(rate)} creates/s; ` +
        `latency p50 ${res.latency.p50} ms p99 ${res.latency.p99} ms max ${res.latency.max} ms${res.stopped ? ' (stopped at the time limit)' : ''}`,
    );
    console.log(`  ${describeCpu(cpu, { n: ok, unit: 'create' })}`);
    if (res.non2xx > 0) console.log(`  status codes: ${JSON.stringify(res.statusCodeStats)}`);

    // Runs that executed meanwhile (the warm-up's runs are ahead in the FIFO queue, so count all jobs').
    const executed = (await countRuns(s, null, 'SUCCEEDED')).unique;
    const listed = await countRuns(s, job.id);
    console.log(`  list API: ${listed.count} runs (${listed.unique} unique) in ${fmt(listed.ms)} ms; ${executed} of them have run (SUCCEEDED) by now`);
    // Exact when every request got its response; a stop at the time limit leaves up to `connections` unanswered.
    const countOk = res.stopped ? listed.unique >= ok && listed.unique <= ok + o.connections : listed.unique === ok && listed.count === ok;
    let durable = '';
    let durableOk = true;
    if (o.durable) {
      // SIGKILL: nothing is flushed on the way out. (With --profile, SIGTERM, so that the profile gets written.)
      const sig = o.nodeArgs.some((a) => a.startsWith('--cpu-prof')) ? 'SIGTERM' : 'SIGKILL';
      await s.stop(sig);
      s = await s.restart();
      const again = await countRuns(s, job.id);
      durableOk = again.unique === listed.unique;
      durable = `; after ${sig} + restart: ${again.unique}`;
      console.log(`  after ${sig} + restart: ${again.unique} runs listed`);
    }
    const variant =
      o.artifact === 'exit'
        ? `queue drains one trivial run at a time (${executed} ran meanwhile)`
        : 'first run sleeps, nothing else executes';
    report.add({
      figure: `${n}. CreateJobRun via API, ${o.connections} connections, ${ok} runs; ${variant}${auth}${store}`,
      value: `${fmt(rate)} runs/s, p99 ${res.latency.p99} ms`,
      baseline: `${fmt(infoRate)} req/s GET /serverInfo (p99 ${info.latency.p99} ms)`,
      target: `${((rate / infoRate) * 100).toFixed(0)}% of baseline; target >= 2,000 runs/s${o.primary ? '' : ' (reported only)'}`,
      pass: o.primary ? rate >= 2000 && res.non2xx === 0 && res.errors === 0 && countOk && durableOk : null,
    });
    report.add({
      figure: `${n}. durable count check (list API vs 2xx)${store}`,
      value: `listed ${listed.unique}${durable}`,
      baseline: `${ok} 2xx, ${res.non2xx} non-2xx, ${res.errors} errors`,
      target: 'equal',
      pass: countOk && durableOk,
    });
    report.add({
      figure: `${n}. CPU per create${store}`,
      value: `server ${(cpu.serverMs / Math.max(1, ok)).toFixed(3)} ms/create`,
      baseline: '-',
      target: `bench client (autocannon) ${(cpu.benchMs / Math.max(1, ok)).toFixed(3)} ms/create, machine ${(cpu.machineBusy * 100).toFixed(0)}% busy`,
      pass: null,
    });
  } finally {
    await s.close();
  }
  return rate;
}
