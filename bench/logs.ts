/**
 * 4. Log capture.
 * a) Ingest throughput: one run writes numbered fixed-width lines to stdout as fast as it can (mawk/awk, 4 KB
 *    writes); the whole log is then read back through GET /jobRuns/{id}/logs and every line is checked once, in
 *    order, byte for byte. Baseline: the same generator writing to /dev/null. While the run writes, a probe measures
 *    the API's response time (GET /serverInfo every 50 ms).
 * b) Follow latency: a run prints a line with its write time every ~10 ms for ~5 s while a reader follows
 *    ?follow=true; latency = receive time - embedded time. Baseline: the same script spawned by Node, read from a
 *    pipe.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BenchServer, TERMINAL } from './lib/server.js';
import { ndjsonLines } from './lib/http.js';
import { cpuDiff, cpuSnapshot, describeCpu } from './lib/cpu.js';
import { fmt, percentile, sleep, wallNow, type Report } from './lib/report.js';

export interface LogOptions {
  /** Bytes to write (rounded to whole lines). */
  bytes: number;
  /** Line length including the newline. */
  lineBytes: number;
  followLines: number;
  followEveryMs: number;
  python: string;
  maxSeconds: number;
  nodeArgs: string[];
}

/** Numbered lines: "%09d " then 'x' padding to lineBytes-1, then "\n". */
const GEN = `#!/usr/bin/env bash
n=$1; w=$2
exec awk -v n="$n" -v w="$w" 'BEGIN { p = sprintf("%" (w - 11) "s", ""); gsub(/ /, "x", p); for (i = 1; i <= n; i++) printf "%09d %s\\n", i, p }'
`;

const TICK = `import sys, time
n = int(sys.argv[1]); every = float(sys.argv[2]) / 1000
out = sys.stdout
for i in range(n):
    out.write(f"{i} {time.time():.6f}\\n")
    out.flush()
    time.sleep(every)
`;

const MB = 1e6;

async function generatorBaseline(dir: string, lines: number, width: number): Promise<{ devNull: number; file: number }> {
  const gen = path.join(dir, 'gen.sh');
  writeFileSync(gen, GEN);
  const time = async (target: string) => {
    const fd = openSync(target, 'w');
    try {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const c = spawn('bash', [gen, String(lines), String(width)], { stdio: ['ignore', fd, 'inherit'] });
        c.once('error', reject);
        c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`generator exited ${code}`))));
      });
      return (lines * width) / MB / ((performance.now() - t0) / 1000);
    } finally {
      closeSync(fd);
    }
  };
  const devNull = await time('/dev/null');
  const file = await time(path.join(dir, 'out.log'));
  rmSync(path.join(dir, 'out.log'), { force: true });
  return { devNull, file };
}

async function ingest(report: Report, s: BenchServer, o: LogOptions, base: { devNull: number; file: number }): Promise<void> {
  const lines = Math.max(1, Math.floor(o.bytes / o.lineBytes));
  const rawBytes = lines * o.lineBytes;
  // A whole CPU: the generator must not be throttled by its shape's CPU limit (the baseline is not).
  const job = await s.createJob('gen.sh', GEN, { ocpus: 1 });
  const before = cpuSnapshot(s.pid);
  s.beginMeasure();
  const run = await s.http.json<{ id: string }>('POST', '/jobRuns', s.runBody(job, `${lines} ${o.lineBytes}`));
  // Probe the API while the run writes: how long does a trivial request wait?
  const probe: number[] = [];
  let state = 'ACCEPTED';
  let r: { lifecycleState: string; timeStarted: string | null; timeFinished: string | null } | null = null;
  const deadline = performance.now() + o.maxSeconds * 1000;
  while (!TERMINAL.has(state) && performance.now() < deadline) {
    const t0 = performance.now();
    await s.http.request('GET', '/serverInfo');
    probe.push(performance.now() - t0);
    r = await s.http.json('GET', `/jobRuns/${run.id}`);
    state = r!.lifecycleState;
    if (!TERMINAL.has(state)) await sleep(50);
  }
  s.endMeasure();
  const cpu = cpuDiff(before, cpuSnapshot(s.pid));
  if (state !== 'SUCCEEDED') throw new Error(`log generator run ended ${state}`);

  // Read the whole log back twice: once timed (bytes only), once checking every line once, in order.
  const t0 = performance.now();
  const ndjsonBytes = await s.http.drain(await s.http.stream('GET', `/jobRuns/${run.id}/logs`, undefined, o.maxSeconds * 1000));
  const readSeconds = (performance.now() - t0) / 1000;
  const res = await s.http.stream('GET', `/jobRuns/${run.id}/logs`, undefined, o.maxSeconds * 1000);
  const pad = 'x'.repeat(o.lineBytes - 11);
  let expect = 1;
  let bad = 0;
  let firstBad = '';
  let msgBytes = 0;
  let firstTime = '';
  let lastTime = '';
  for await (const line of ndjsonLines(res)) {
    const rec = JSON.parse(line.toString('utf8')) as { seq: number; time: string; stream: string; message: string };
    if (!firstTime) firstTime = rec.time;
    lastTime = rec.time;
    msgBytes += Buffer.byteLength(rec.message) + 1;
    const want = `${String(expect).padStart(9, '0')} ${pad}`;
    if (rec.seq !== expect || rec.stream !== 'stdout' || rec.message !== want) {
      if (!bad) firstBad = `record ${expect}: ${line.toString('utf8').slice(0, 200)}`;
      bad++;
    }
    expect++;
  }
  const got = expect - 1;
  const lost = rawBytes - msgBytes;
  const window = (Date.parse(lastTime) - Date.parse(firstTime)) / 1000;
  const ingestRate = msgBytes / MB / window;
  const runWindow = (Date.parse(r!.timeFinished!) - Date.parse(r!.timeStarted!)) / 1000;
  const e2eRate = rawBytes / MB / runWindow;
  console.log(
    `  ${fmt(rawBytes / MB)} MB in ${lines} lines of ${o.lineBytes} B: ${got} records read back, ${bad} wrong, ${lost} bytes lost${firstBad ? ` (first: ${firstBad})` : ''}`,
  );
  console.log(
    `  ingest: first->last record ${window.toFixed(3)} s = ${fmt(ingestRate)} MB/s; timeStarted->timeFinished ${runWindow.toFixed(3)} s = ${fmt(e2eRate)} MB/s`,
  );
  console.log(`  timeline: timeStarted ${r!.timeStarted}, first record ${firstTime}, last record ${lastTime}, timeFinished ${r!.timeFinished}`);
  console.log(`  read back: ${fmt(ndjsonBytes / MB)} MB of NDJSON in ${readSeconds.toFixed(2)} s = ${fmt(ndjsonBytes / MB / readSeconds)} MB/s`);
  console.log(`  API probe while logging: p50 ${fmt(percentile(probe, 50))} ms, max ${fmt(Math.max(...probe))} ms (${probe.length} probes)`);
  console.log(`  ${describeCpu(cpu)}`);
  const intact = bad === 0 && got === lines && lost === 0;
  report.add({
    figure: `4a. log ingest throughput (${fmt(rawBytes / MB, 0)} MB, ${o.lineBytes}-byte lines), first->last record`,
    value: `${fmt(ingestRate)} MB/s`,
    baseline: `${fmt(base.devNull)} MB/s (generator -> /dev/null); ${fmt(base.file)} MB/s to a file`,
    target: `${((ingestRate / base.devNull) * 100).toFixed(0)}% of baseline; target >= 100 MB/s`,
    pass: ingestRate >= 100 && intact,
  });
  report.add({
    figure: '4a. same run, raw bytes / (timeFinished - timeStarted)',
    value: `${fmt(e2eRate)} MB/s`,
    baseline: `${fmt(base.file)} MB/s (generator -> file)`,
    target: 'reported only',
    pass: null,
  });
  report.add({
    figure: '4a. zero bytes lost (every line once, in order, via GET logs)',
    value: `${got}/${lines} lines, ${bad} wrong, ${lost} bytes missing`,
    baseline: '-',
    target: 'all lines, 0 lost',
    pass: intact,
  });
  report.add({
    figure: '4a. API response time while the run floods its log (GET /serverInfo)',
    value: `p50 ${fmt(percentile(probe, 50))} ms, max ${fmt(Math.max(...probe))} ms`,
    baseline: '-',
    target: 'reported only',
    pass: null,
  });
  report.add({
    figure: '4a. full log read back via GET logs',
    value: `${fmt(ndjsonBytes / MB / readSeconds)} MB/s of NDJSON`,
    baseline: '-',
    target: 'reported only',
    pass: null,
  });
}

async function followBaseline(dir: string, o: LogOptions): Promise<number[]> {
  const file = path.join(dir, 'tick.py');
  writeFileSync(file, TICK);
  const lat: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const c = spawn(o.python, [file, String(o.followLines), String(o.followEveryMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let carry = '';
    c.stdout.on('data', (d: Buffer) => {
      const now = wallNow();
      carry += d.toString();
      let nl: number;
      while ((nl = carry.indexOf('\n')) !== -1) {
        const t = Number(carry.slice(0, nl).split(' ')[1]) * 1000;
        lat.push(now - t);
        carry = carry.slice(nl + 1);
      }
    });
    c.once('error', reject);
    c.once('close', () => resolve());
  });
  return lat;
}

async function follow(report: Report, s: BenchServer, o: LogOptions, dir: string): Promise<void> {
  const base = await followBaseline(dir, o);
  const job = await s.createJob('tick.py', TICK, { ocpus: 1 });
  const run = await s.http.json<{ id: string }>('POST', '/jobRuns', s.runBody(job, `${o.followLines} ${o.followEveryMs}`));
  const res = await s.http.stream('GET', `/jobRuns/${run.id}/logs?follow=true`, undefined, o.maxSeconds * 1000);
  const lat: number[] = [];
  let expect = 0;
  let wrong = 0;
  for await (const line of ndjsonLines(res)) {
    const now = wallNow();
    const rec = JSON.parse(line.toString('utf8')) as { message: string };
    const [i, t] = rec.message.split(' ');
    if (Number(i) !== expect) wrong++;
    expect++;
    lat.push(now - Number(t) * 1000);
  }
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  console.log(
    `  follow: ${lat.length}/${o.followLines} lines (${wrong} out of order), latency p50 ${fmt(p50, 2)} ms p99 ${fmt(p99, 2)} ms max ${fmt(Math.max(...lat), 2)} ms; ` +
      `baseline pipe p50 ${fmt(percentile(base, 50), 2)} ms p99 ${fmt(percentile(base, 99), 2)} ms`,
  );
  report.add({
    figure: `4b. follow latency p99 (line every ${o.followEveryMs} ms, ${lat.length} lines)`,
    value: `p50 ${fmt(p50, 2)} ms, p99 ${fmt(p99, 2)} ms`,
    baseline: `p50 ${fmt(percentile(base, 50), 2)} ms, p99 ${fmt(percentile(base, 99), 2)} ms (same script, node reads a pipe)`,
    target: 'target p99 < 100 ms',
    pass: p99 < 100 && lat.length === o.followLines && wrong === 0,
  });
}

export async function benchLogs(report: Report, o: LogOptions): Promise<void> {
  const lines = Math.max(1, Math.floor(o.bytes / o.lineBytes));
  console.log(`\n## 4. Log capture: ${fmt(o.bytes / MB)} MB burst, then follow latency (${o.followLines} lines every ${o.followEveryMs} ms)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-bench-logs-'));
  try {
    const base = await generatorBaseline(dir, lines, o.lineBytes);
    console.log(`  baseline generator: ${fmt(base.devNull)} MB/s to /dev/null, ${fmt(base.file)} MB/s to a file`);
    const s = await BenchServer.start({ env: { DSJOBS_PYTHON_COMMAND: o.python }, nodeArgs: o.nodeArgs });
    try {
      await ingest(report, s, o, base);
      await follow(report, s, o, dir);
    } finally {
      await s.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
