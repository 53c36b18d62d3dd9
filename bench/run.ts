/**
 * dsjobs benchmark suite: `npm run bench` (full sizes) or `npm run bench -- --quick` (small sizes, for development).
 *
 *   --quick            small sizes (seconds instead of minutes)
 *   --only=1,3         run only these benchmarks (1 throughput, 2 start latency, 3 creation, 4 logs,
 *                      5 start latency by isolation, 6 sampling cost, 7 console first paint,
 *                      8 webhook latency, 9 sweep overhead, 10 control plane under saturation,
 *                      11 run creation on PostgreSQL against SQLite, 12 container start latency beside
 *                      docker run, 13 Slurm: bare sbatch vs dsjobs on a two-node cluster, default and tuned,
 *                      14 object storage put/get beside cp)
 *   --no-build         do not run `npm run build` first (the server runs from dist/)
 *   --profile          run each server with node --cpu-prof; profiles and summaries go to bench/results/profiles/
 *
 * Every figure is printed beside a baseline measured in the same run; the table at the end is also written to
 * bench/results/latest.md. Servers listen on 127.0.0.1 only and each gets its own temporary data dir, removed after.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeStoppedDataDirs, ROOT } from './lib/server.js';
import { fmt, Report } from './lib/report.js';
import { summarizeProfile } from './lib/profile.js';
import { benchThroughput } from './throughput.js';
import { benchStartLatency } from './start-latency.js';
import { benchCreate } from './create.js';
import { benchAuthCreate } from './auth-create.js';
import { benchLogs } from './logs.js';
import { benchIsolationLatency, benchSamplingCost } from './isolation.js';
import { benchConsole } from './console.js';
import { benchSweep, benchWebhookLatency } from './automation.js';
import { benchSaturation } from './saturation.js';
import { benchPostgres } from './postgres.js';
import { benchContainerLatency } from './containers.js';
import { benchSlurm } from './slurm.js';
import { slurmMissing } from '../test/support/slurm.js';
import { benchObjectStorage } from './object-storage.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
for (const a of argv) {
  if (!/^--(quick|no-build|profile|only=[\d,]+|create-artifact=(exit|sleep))$/.test(a)) {
    console.error(`unknown argument ${a}\nusage: npm run bench -- [--quick] [--only=1,2,...,14] [--no-build] [--profile] [--create-artifact=exit|sleep]`);
    process.exit(2);
  }
}
const quick = flag('quick') || process.env.BENCH_QUICK === '1';
const only = new Set((value('only') ?? '1,2,3,4,5,6,7,8,9,10,11,12,13,14').split(',').map(Number));
const resultsDir = path.join(ROOT, 'bench', 'results');
const profileDir = path.join(resultsDir, 'profiles');

function nodeArgs(name: string): string[] {
  if (!flag('profile')) return [];
  mkdirSync(profileDir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`];
}

/** The real python interpreter (not a pyenv-style shim script that would add its own start-up time). */
/**
 * The python3 runs use: the system's where there is one, since runs execute as an unprivileged user who cannot
 * reach an interpreter under root's home (pyenv's), else the first on the PATH.
 */
function python(): string {
  if (existsSync('/usr/bin/python3')) return '/usr/bin/python3';
  try {
    return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim() || 'python3';
  } catch {
    return 'python3';
  }
}

function machine(): string {
  const cpu = os.cpus();
  return `${cpu.length} x ${cpu[0]?.model ?? 'CPU'}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${os.release()}, Node ${process.version}, load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

async function main(): Promise<void> {
  if (!flag('no-build')) {
    console.log('building (npm run build) ...');
    const b = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (b.status !== 0) throw new Error('the build failed: the benchmarks run the server from dist/');
    if (only.has(7)) {
      // Benchmark 7 loads the web console, built by Vite into dist/console.
      const v = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'], {
        cwd: ROOT,
        stdio: 'inherit',
      });
      if (v.status !== 0) throw new Error('the console build failed');
    }
  }
  const started = new Date();
  console.log(`dsjobs benchmarks (${quick ? 'quick' : 'full'}) on ${machine()}`);
  const report = new Report();
  const failures: string[] = [];
  const step = async (n: number, name: string, fn: () => Promise<void>) => {
    if (!only.has(n)) return;
    try {
      await fn();
    } catch (e) {
      failures.push(`${n}. ${name}: ${(e as Error).stack ?? e}`);
      report.add({ figure: `${n}. ${name}`, value: 'ERROR', baseline: '-', target: (e as Error).message.split('\n')[0].slice(0, 200), pass: false });
    }
  };

  await step(1, 'e2e throughput', () =>
    benchThroughput(report, {
      runs: quick ? 200 : 2000,
      concurrency: 16,
      maxSeconds: quick ? 60 : 240,
      warmup: quick ? 16 : 64,
      nodeArgs: nodeArgs('throughput'),
    }),
  );
  await step(2, 'start latency', () =>
    benchStartLatency(report, { runs: quick ? 40 : 200, maxSeconds: quick ? 30 : 120, nodeArgs: nodeArgs('start-latency') }),
  );
  // The runs' artifact: `exit 0` (the primary figure: the one admitted run at a time executes while runs are
  // created) and `sleep 600` (nothing executes: the cost of creation alone), unless --create-artifact picks one.
  const artifacts = value('create-artifact') ? [value('create-artifact') as 'exit' | 'sleep'] : (['exit', 'sleep'] as const);
  for (const artifact of artifacts) {
    await step(3, `run creation (${artifact})`, async () => {
      await benchCreate(report, {
        connections: 32,
        seconds: quick ? 3 : 10,
        nodeArgs: nodeArgs(`create-${artifact}`),
        artifact,
        durable: true,
        primary: artifact === 'exit',
      });
    });
  }
  // The same creation with every request signed and verified, beside authentication off: interleaved rounds.
  const signedArtifact = artifacts[artifacts.length - 1];
  await step(3, `run creation (${signedArtifact}), authentication off and on`, () =>
    benchAuthCreate(report, { connections: 32, rounds: quick ? 3 : 7, roundSeconds: quick ? 1 : 3, artifact: signedArtifact, nodeArgs }),
  );
  await step(4, 'log capture', () =>
    benchLogs(report, {
      bytes: quick ? 20e6 : 200e6,
      lineBytes: 100,
      followLines: quick ? 150 : 500,
      followEveryMs: 10,
      python: python(),
      maxSeconds: quick ? 60 : 180,
      nodeArgs: nodeArgs('logs'),
    }),
  );

  await step(5, 'start latency by isolation', () => benchIsolationLatency(report, { runs: quick ? 30 : 100, maxSeconds: quick ? 30 : 90 }));
  await step(6, 'sampling cost', () => benchSamplingCost(report, { runs: 100, windowSeconds: quick ? 20 : 60 }));
  await step(7, 'console first paint', () =>
    benchConsole(report, { runs: quick ? 10_000 : 100_000, baselineRuns: 10, samples: quick ? 3 : 7, nodeArgs: nodeArgs('console') }),
  );
  await step(8, 'webhook latency', () =>
    benchWebhookLatency(report, { changes: quick ? 50 : 300, maxSeconds: quick ? 30 : 120, nodeArgs: nodeArgs('webhooks') }),
  );
  await step(9, 'sweep overhead', () =>
    benchSweep(report, { runs: quick ? 200 : 1000, maxParallel: 50, maxSeconds: quick ? 120 : 300, nodeArgs: nodeArgs('sweep') }),
  );
  await step(10, 'control plane under saturation', () =>
    benchSaturation(report, {
      runs: 64,
      spinSeconds: quick ? 40 : 60,
      sampleSeconds: quick ? 10 : 20,
      burstRuns: quick ? 200 : 500,
      burstClients: 16,
      gracePeriodMs: 2000,
      nodeArgs: nodeArgs('saturation'),
    }),
  );
  await step(11, 'run creation on PostgreSQL', () => benchPostgres(report, { connections: 32, seconds: quick ? 3 : 10, nodeArgs }));
  await step(12, 'container start latency', () =>
    benchContainerLatency(report, { runs: quick ? 20 : 100, maxSeconds: quick ? 60 : 300, nodeArgs: nodeArgs('containers') }),
  );

  await step(13, 'Slurm', async () => {
    const missing = await slurmMissing();
    if (missing) {
      report.note(`13. Slurm: not run (${missing})`);
      return;
    }
    await benchSlurm(report, { jobs: quick ? 40 : 500, latencyJobs: quick ? 10 : 30, followLines: quick ? 40 : 200, maxSeconds: quick ? 120 : 900, nodeArgs: nodeArgs('slurm') });
  });
  await step(14, 'object storage', () => benchObjectStorage(report, { quick, nodeArgs: nodeArgs('object-storage') }));

  const header = [
    `## dsjobs benchmark results (${quick ? 'quick sizes' : 'full sizes'})`,
    '',
    `${started.toISOString()} on ${machine()}.`,
  ].join('\n');
  const md = report.markdown(header);
  console.log('\n' + md);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, 'latest.md'), md);
  console.log(`(written to ${path.relative(ROOT, path.join(resultsDir, 'latest.md'))})`);
  if (flag('profile') && existsSync(profileDir)) {
    for (const f of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
      const summary = summarizeProfile(path.join(profileDir, f), ROOT);
      writeFileSync(path.join(profileDir, f.replace(/\.cpuprofile$/, '.txt')), summary + '\n');
      console.log('\n' + summary);
    }
  }
  for (const f of failures) console.error(`\nbenchmark error: ${f}`);
  process.exitCode = failures.length ? 1 : 0;
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(removeStoppedDataDirs);
