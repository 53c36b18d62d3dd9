/**
 * 3a. What authentication costs CreateJobRun: two servers, authentication off and on, the same autocannon load
 * (32 connections, the same run body) on each in interleaved rounds, off and on back to back and the order swapped
 * every round (off on, on off, off on, ...), so that a change of the host's load reaches both sides alike and a
 * trend does not favour either. Each round's figure is one pair: 1 - on/off creates/s. The result is the median
 * pair and the spread (lowest..highest); beside it the server's CPU per create (all threads, /proc/<pid>/stat) and
 * its event loop's (the main thread's), which the host's load moves much less than requests/s.
 *
 * The signed side's request is signed once per round (a signature is good for 5 minutes) and replayed: the client's
 * RSA signing (~0.27 ms per request) would otherwise take a core of this 2-core host from the server. The server
 * keeps nothing per signature: every request is parsed, dated and verified anew (docs/benchmarks.md, 3a).
 */
import { loadavg } from 'node:os';
import { BenchServer } from './lib/server.js';
import { cpuDiff, cpuSnapshot, mainThreadMs } from './lib/cpu.js';
import { fmt, type Report } from './lib/report.js';
import { cannon } from './create.js';

export interface AuthCreateOptions {
  connections: number;
  /** Pairs of rounds (one off, one on each). */
  rounds: number;
  /** How long one side's round lasts (whole seconds). */
  roundSeconds: number;
  artifact: 'exit' | 'sleep';
  nodeArgs: (name: string) => string[];
  /** The servers' bin/dsjobs.js (default: this checkout's build): an A/B of another build. */
  bin?: string;
}

interface Side {
  name: 'off' | 'on';
  s: BenchServer;
  rates: number[];
  cpuUs: number[];
  loopUs: number[];
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function benchAuthCreate(report: Report, o: AuthCreateOptions): Promise<void> {
  console.log(`\n## 3a. Cost of authentication on CreateJobRun: off and on interleaved, ${o.rounds} rounds, ${o.connections} connections (artifact: ${o.artifact})`);
  const script = o.artifact === 'sleep' ? 'sleep 600\n' : 'exit 0\n';
  const sides: Side[] = [];
  try {
    for (const name of ['off', 'on'] as const) {
      const s = await BenchServer.start({ env: { DSJOBS_CAPACITY_CPUS: '0.25', DSJOBS_AUTHENTICATION: name }, nodeArgs: o.nodeArgs(`create-auth-${name}`), bin: o.bin });
      sides.push({ name, s, rates: [], cpuUs: [], loopUs: [] });
    }
    const jobs = await Promise.all(sides.map((side) => side.s.createJob('create.sh', script)));
    const request = (side: Side, i: number) => {
      const url = `${side.s.url}/20190101/jobRuns`;
      const body = JSON.stringify(side.s.runBody(jobs[i]));
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (side.s.sign) {
        Object.assign(headers, side.s.sign({ method: 'POST', url, headers, body }));
        // autocannon sends content-length itself (the same byte count the signature covers); twice is a 400.
        delete headers['content-length'];
      }
      return { url, method: 'POST' as const, headers, body, connections: o.connections };
    };
    // Timed rounds, not a number of creates: autocannon ends a load at its next one-second tick, so the creates/s
    // of a load of N creates would be N over a whole number of seconds.
    const load = async (side: Side, seconds: number, counted: boolean) => {
      const i = sides.indexOf(side);
      const before = cpuSnapshot(side.s.pid);
      const loopBefore = mainThreadMs(side.s.pid);
      const res = await cannon({ ...request(side, i), duration: seconds }, seconds * 1000 + 30_000);
      const cpu = cpuDiff(before, cpuSnapshot(side.s.pid));
      const loopMs = mainThreadMs(side.s.pid) - loopBefore;
      if (res.non2xx > 0 || res.errors > 0) throw new Error(`authentication ${side.name}: ${res.non2xx} non-2xx, ${res.errors} errors: ${JSON.stringify(res.statusCodeStats)}`);
      const rate = res['2xx'] / res.duration;
      if (counted) {
        side.rates.push(rate);
        side.cpuUs.push((cpu.serverMs * 1000) / res['2xx']);
        side.loopUs.push((loopMs * 1000) / res['2xx']);
      }
      return { rate, busy: cpu.machineBusy, p50: res.latency.p50 };
    };

    // Warm both (JIT, caches, SQLite's page cache).
    for (const side of sides) await load(side, 2, false);
    for (const side of sides) side.s.beginMeasure();
    const pairs: number[] = [];
    const load1 = loadavg()[0];
    for (let r = 0; r < o.rounds; r++) {
      const order = r % 2 === 0 ? sides : [sides[1], sides[0]];
      const line: string[] = [];
      for (const side of order) {
        const { rate, busy, p50 } = await load(side, o.roundSeconds, true);
        line.push(`${side.name} ${fmt(rate)}/s, p50 ${p50} ms (${side.cpuUs.at(-1)!.toFixed(0)} us CPU, event loop ${side.loopUs.at(-1)!.toFixed(0)} us per create; machine ${(busy * 100).toFixed(0)}% busy)`);
      }
      pairs.push((1 - sides[1].rates.at(-1)! / sides[0].rates.at(-1)!) * 100);
      console.log(`  round ${r + 1}: ${line.join('; ')}: ${pairs.at(-1)!.toFixed(1)}% fewer`);
    }
    for (const side of sides) side.s.endMeasure();
    const [off, on] = sides;
    const cost = median(pairs);
    const spread = `${Math.min(...pairs).toFixed(1)}..${Math.max(...pairs).toFixed(1)}%`;
    const load2 = loadavg()[0];
    report.add({
      figure: `3a. cost of authentication on CreateJobRun (${o.artifact}), ${o.connections} connections, ${o.rounds} interleaved rounds of ${o.roundSeconds} s a side`,
      value: `${fmt(median(on.rates))} runs/s signed (median)`,
      baseline: `${fmt(median(off.rates))} runs/s unsigned (median, same rounds)`,
      target: `at most 10% fewer (median of the rounds' pairs): ${cost.toFixed(1)}% fewer, rounds ${spread}`,
      pass: Number.isFinite(cost) ? cost <= 10 : null,
    });
    report.add({
      figure: '3a. server CPU per create, authentication on / off (medians)',
      value: `${(median(on.cpuUs) / 1000).toFixed(3)} / ${(median(off.cpuUs) / 1000).toFixed(3)} ms (+${(median(on.cpuUs) - median(off.cpuUs)).toFixed(0)} us)`,
      baseline: `event loop ${(median(on.loopUs) / 1000).toFixed(3)} / ${(median(off.loopUs) / 1000).toFixed(3)} ms (+${(median(on.loopUs) - median(off.loopUs)).toFixed(0)} us)`,
      target: `load average ${load1.toFixed(1)} -> ${load2.toFixed(1)}`,
      pass: null,
    });
  } finally {
    for (const side of sides) await side.s.close();
  }
}
