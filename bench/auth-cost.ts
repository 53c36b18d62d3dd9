/**
 * What authentication costs one CreateJobRun, in server CPU: servers with authentication off and on, the same
 * CreateJobRun load on each in turns (interleaved rounds, so the host's load moves all alike), and per create the
 * server's CPU time (utime+stime, all threads) and its main thread's (the event loop, which bounds requests/s: the
 * ratio benchmark 3a judges), read from /proc. CPU per request moves much less with the host's load than
 * requests/s, so this is the figure to judge a change of the authentication or authorization path by.
 *
 *   node --import tsx bench/auth-cost.ts [--creates=3000] [--rounds=5] [--connections=16] [--fresh] [--profile]
 *                                        [--profile-interval=US] [--base=DIR[,DIR2...]] [--signed-off]
 *
 * --fresh signs every request anew (as the OCI SDKs do: a new date, so a new signature each time) instead of
 * replaying one signed request; the signing is the client's CPU, not the server's. --base=DIR adds a server with
 * authentication on run from another checkout's build (DIR/bin/dsjobs.js), one per DIR: an A/B of a change in the
 * same rounds. --signed-off adds a server with authentication off sent the same signed requests (what the bigger
 * request costs apart from checking it). --profile runs the servers with node --cpu-prof (profiles under
 * bench/results/profiles/auth-cost-*).
 */
import path from 'node:path';
import { BenchServer, removeStoppedDataDirs } from './lib/server.js';
import { cpuDiff, cpuSnapshot, mainThreadMs } from './lib/cpu.js';
import { cannon } from './create.js';

const value = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const creates = Number(value('creates') ?? 3000);
const rounds = Number(value('rounds') ?? 5);
const connections = Number(value('connections') ?? 16);
const base = value('base');
const fresh = process.argv.includes('--fresh');
const profile = process.argv.includes('--profile');
/** --profile's sampling interval in microseconds (node's default: 1000). */
const profileInterval = value('profile-interval');
const profileDir = path.resolve('bench/results/profiles');

type Signer = NonNullable<BenchServer['sign']>;

/** `signer`: sign the requests though the server does not check them (authentication off): what the bigger request costs. */
async function variant(name: string, authentication: boolean, bin?: string, signer?: Signer) {
  const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=auth-cost-${name}.cpuprofile`, ...(profileInterval ? [`--cpu-prof-interval=${profileInterval}`] : [])] : [];
  const s = await BenchServer.start({ env: { DSJOBS_CAPACITY_CPUS: '0.25', DSJOBS_AUTHENTICATION: authentication ? 'on' : 'off' }, nodeArgs, bin });
  const job = await s.createJob('sleep.sh', 'sleep 600\n');
  const url = `${s.url}/20190101/jobRuns`;
  const body = JSON.stringify(s.runBody(job));
  const sign = s.sign ?? signer;
  const signed = () => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (sign) {
      Object.assign(headers, sign({ method: 'POST', url, headers, body }));
      // autocannon sends content-length itself (the same byte count the signature covers); twice is a 400.
      delete headers['content-length'];
    }
    return headers;
  };
  const all: number[] = [];
  const loop: number[] = [];
  const load = async (amount: number, counted = true) => {
    const before = cpuSnapshot(s.pid);
    const loopBefore = mainThreadMs(s.pid);
    const res = await cannon(
      {
        url,
        connections,
        amount,
        requests: [{ method: 'POST', body, headers: signed(), ...(fresh && sign ? { setupRequest: (r: object) => ({ ...r, headers: signed() }) } : {}) }],
      },
      300_000,
    );
    const cpu = cpuDiff(before, cpuSnapshot(s.pid));
    const loopMs = mainThreadMs(s.pid) - loopBefore;
    if (res.non2xx > 0 || res.errors > 0) throw new Error(`${name}: ${res.non2xx} non-2xx, ${res.errors} errors: ${JSON.stringify(res.statusCodeStats)}`);
    if (counted) {
      all.push((cpu.serverMs * 1000) / res['2xx']);
      loop.push((loopMs * 1000) / res['2xx']);
    }
    return cpu.machineBusy;
  };
  return { name, s, load, all, loop };
}

const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
const variants = [await variant('off', false), await variant('on', true)];
// Authentication off, the same signed requests: the cost of the request's size alone (its parsing, the audit event
// that records its key id), apart from verifying and authorizing it.
if (process.argv.includes('--signed-off')) variants.splice(1, 0, await variant('off-signed', false, undefined, variants[1].s.sign));
for (const [i, dir] of (base ? base.split(',') : []).entries()) {
  variants.push(await variant(`on-base${i || ''}`, true, path.join(path.resolve(dir), 'bin', 'dsjobs.js')));
}
try {
  // Warm every server (JIT, caches, the SQLite page cache) before anything is counted.
  for (const v of variants) await v.load(2000, false);
  for (const v of variants) v.s.beginMeasure();
  for (let i = 0; i < rounds; i++) {
    const line = [];
    for (const v of variants) {
      const busy = await v.load(creates);
      line.push(`${v.name} ${v.all.at(-1)!.toFixed(0)} us/create (event loop ${v.loop.at(-1)!.toFixed(0)}, machine ${(busy * 100).toFixed(0)}% busy)`);
    }
    console.log(`round ${i + 1}: ${line.join('; ')}`);
  }
  for (const v of variants) v.s.endMeasure();
  const off = variants[0];
  console.log(`medians over ${rounds} rounds of ${creates} creates, ${connections} connections${fresh ? ', every request signed anew' : ', one signed request replayed'}:`);
  for (const v of variants) {
    const [a, l] = [median(v.all), median(v.loop)];
    const extra = v === off ? '' : `: +${(a - median(off.all)).toFixed(0)} us, event loop +${(l - median(off.loop)).toFixed(0)} us (${((1 - median(off.loop) / l) * 100).toFixed(1)}% fewer creates/s where the event loop bounds them)`;
    console.log(`  ${v.name}: ${a.toFixed(0)} us/create, event loop ${l.toFixed(0)} us/create${extra}`);
  }
} finally {
  for (const v of variants) await v.s.close();
  removeStoppedDataDirs();
}
