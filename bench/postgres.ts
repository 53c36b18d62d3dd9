/**
 * 11. Run creation on PostgreSQL beside SQLite, in the same benchmark run: benchmark 3's load (autocannon, 32
 * connections POSTing CreateJobRun, durable: counted again after a SIGKILL + restart) against a server on a
 * throwaway PostgreSQL 15 cluster (scripts/postgres.sh: fsync on, default settings otherwise, on this machine) and
 * against one on SQLite.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { benchCreate } from './create.js';
import { ROOT } from './lib/server.js';
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
  } finally {
    execFileSync('bash', [script, 'stop', dir], { stdio: 'ignore' });
  }
}
