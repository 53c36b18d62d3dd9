/**
 * 11. Run creation on PostgreSQL beside SQLite, in the same benchmark run: benchmark 3's load (autocannon, 32
 * connections POSTing CreateJobRun, durable: counted again after a SIGKILL + restart) against a server on a
 * throwaway PostgreSQL 15 cluster (scripts/postgres.sh: fsync on, default settings otherwise, on this machine) and
 * against one on SQLite. Then 11c: the same load spread over two server replicas sharing that database, beside one
 * replica alone, in the same run (each measured the same way: a fixed time, the 2xx counted).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchCreate, cannon } from './create.js';
import { BenchServer, ROOT } from './lib/server.js';
import { cpuDiff, cpuSnapshot } from './lib/cpu.js';
import { fmt, type Report } from './lib/report.js';

export async function benchPostgres(report: Report, o: { connections: number; seconds: number; nodeArgs: (name: string) => string[] }): Promise<void> {
  const script = path.join(ROOT, 'scripts', 'postgres.sh');
  const [dir, , url] = execFileSync('bash', [script, 'start'], { encoding: 'utf8' }).trim().split(' ');
  try {
    const common = { connections: o.connections, seconds: o.seconds, artifact: 'exit' as const, durable: true };
    const sqlite = await benchCreate(report, { ...common, nodeArgs: o.nodeArgs('create-sqlite'), primary: false, figure: '11a' });
    const postgres = await benchCreate(report, { ...common, nodeArgs: o.nodeArgs('create-postgres'), primary: true, figure: '11b', database: url });
    report.add({
      figure: '11. PostgreSQL against SQLite, same run (CreateJobRun, durable)',
      value: `${fmt(postgres)} runs/s on PostgreSQL`,
      baseline: `${fmt(sqlite)} runs/s on SQLite`,
      target: `PostgreSQL >= 2,000 runs/s: ${((postgres / sqlite) * 100).toFixed(0)}% of SQLite's`,
      pass: postgres >= 2000,
    });
    const one = await replicasRate(url, 1, o);
    const two = await replicasRate(url, 2, o);
    report.add({
      figure: '11c. two replicas against one, same PostgreSQL (CreateJobRun, 32 connections in all)',
      value: `${fmt(two.rate)} runs/s with two replicas (server CPU ${two.cpu})`,
      baseline: `${fmt(one.rate)} runs/s with one (server CPU ${one.cpu})`,
      target: `two >= 1.5x one where the database is not the bottleneck: ${(two.rate / one.rate).toFixed(2)}x`,
      pass: two.rate >= 1.5 * one.rate,
    });
  } finally {
    execFileSync('bash', [script, 'stop', dir], { stdio: 'ignore' });
  }
}

/**
 * Creates/s through `n` replicas on one database: each replica gets its share of the connections, all at once, for
 * the same time; the 2xx of all are summed. Replicas share the artifacts directory (docs/deployment.md).
 */
async function replicasRate(url: string, n: number, o: { connections: number; seconds: number; nodeArgs: (name: string) => string[] }): Promise<{ rate: number; cpu: string }> {
  console.log(`\n## 11c. Run creation through ${n} replica(s) on one PostgreSQL database, ${o.connections} connections in all, ${o.seconds} s`);
  const artifacts = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-bench-artifacts-'));
  const env = { DSJOBS_CAPACITY_CPUS: '0.25', DSJOBS_AUTHENTICATION: 'off', DSJOBS_DATABASE: url, DSJOBS_ARTIFACTS_DIR: artifacts };
  const servers: BenchServer[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await BenchServer.start({ env, nodeArgs: o.nodeArgs(`replicas-${n}-${i}`) }));
    const job = await servers[0]!.createJob('replicas.sh', 'exit 0\n');
    const body = JSON.stringify(servers[0]!.runBody(job));
    const load = (s: BenchServer, seconds: number) =>
      cannon(
        {
          url: `${s.url}/20190101/jobRuns`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          connections: Math.max(1, Math.round(o.connections / n)),
          duration: seconds,
        },
        (seconds + 20) * 1000,
      );
    await Promise.all(servers.map((s) => load(s, 1)));
    const before = servers.map((s) => cpuSnapshot(s.pid));
    const results = await Promise.all(servers.map((s) => load(s, o.seconds)));
    const cpu = servers.map((s, i) => cpuDiff(before[i]!, cpuSnapshot(s.pid)));
    const ok = results.reduce((a, r) => a + r['2xx'], 0);
    const rate = ok / Math.max(...results.map((r) => r.duration));
    const non2xx = results.reduce((a, r) => a + r.non2xx, 0);
    const busy = cpu.map((c) => `${(c.serverMs / c.wallMs * 100).toFixed(0)}%`).join(' + ');
    console.log(`  ${ok} 2xx, ${non2xx} non-2xx = ${fmt(rate)} creates/s; server CPU ${busy} of a core; machine ${(cpu[0]!.machineBusy * 100).toFixed(0)}% busy`);
    return { rate, cpu: `${busy} of a core, machine ${(cpu[0]!.machineBusy * 100).toFixed(0)}% busy` };
  } finally {
    for (const s of servers) await s.close();
  }
}
