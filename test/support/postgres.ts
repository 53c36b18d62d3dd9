/**
 * PostgreSQL for tests: one throwaway cluster per test process, started by scripts/postgres.sh (initdb + pg_ctl on a
 * free port in a temp dir) the first time a test asks, stopped when the process exits. Each store or server gets a
 * database of its own in it (`freshDatabase`), so tests do not see each other's rows.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'postgres.sh');
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PostgresCluster {
  dir: string;
  port: number;
  /** The `dsjobs` database's URL; `freshDatabase()` gives others. */
  url: string;
}

let cluster: PostgresCluster | null = null;
let made = 0;

/**
 * Why PostgreSQL cannot be had here, or null when it can. Under CI it must be there (scripts/setup-host.sh installs
 * postgresql-15): callers skip on a reason only outside CI.
 */
export function postgresMissing(): string | null {
  if (existsSync(path.join(PG_BIN, 'initdb'))) return null;
  const why = `no PostgreSQL binaries in ${PG_BIN} (install postgresql-15: scripts/setup-host.sh)`;
  if (process.env.CI === 'true') throw new Error(`${why}; under CI=true this is a failure, not a skip`);
  return why;
}

/** The cluster of this test process, started on first use. */
export function postgresCluster(): PostgresCluster {
  if (cluster) return cluster;
  const [dir, port, url] = execFileSync('bash', [SCRIPT, 'start'], { encoding: 'utf8' }).trim().split(' ');
  cluster = { dir, port: Number(port), url };
  const stop = () => {
    try {
      execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'ignore' });
    } catch {
      /* the process is leaving; a cluster that would not stop is in its temp dir for the post-mortem */
    }
  };
  process.once('exit', stop);
  // 'exit' does not come when a signal ends the process (the test runner's timeout, Ctrl-C): stop it then too.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stop();
      process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
    });
  }
  return cluster;
}

/** A new, empty database in the test process's cluster: its URL. */
export async function freshDatabase(): Promise<string> {
  const c = postgresCluster();
  const name = `dsjobs_t${process.pid}_${++made}`;
  const client = new pg.Client({ connectionString: c.url });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  return c.url.replace(/\/dsjobs$/, `/${name}`);
}

/** Stops PostgreSQL (fast shutdown: every connection is cut) and starts it again on the same port, data kept. */
export function restartPostgres(): void {
  if (!cluster) throw new Error('restartPostgres: no cluster was started');
  execFileSync('bash', [SCRIPT, 'restart', cluster.dir], { stdio: 'ignore' });
}

/**
 * A fresh data directory for another replica of `firstDataDir`'s server on the same database, holding what every
 * replica must share (docs/deployment.md): the key that seals secrets, the run principals' signing key, and the OCI
 * config with the administrator's API key.
 */
export function replicaDataDir(firstDataDir: string): string {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-test-'));
  for (const f of ['secrets.key', 'run-principal.key', 'oci']) {
    if (existsSync(path.join(firstDataDir, f))) cpSync(path.join(firstDataDir, f), path.join(dataDir, f), { recursive: true });
  }
  return dataDir;
}

/**
 * Counts the queries every `pg` client of this process sends from now on (each is a round trip) until `restore()`.
 * `around`, when given, may hold a query back: it gets the query's arguments and the call that sends it.
 */
export function countQueries(around?: (args: unknown[], send: () => unknown) => unknown): { count: number; restore(): void } {
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const query = proto.query;
  const counter = {
    count: 0,
    restore: () => {
      proto.query = query;
    },
  };
  proto.query = function (this: unknown, ...a: unknown[]) {
    counter.count++;
    return around ? around(a, () => query.apply(this, a)) : query.apply(this, a);
  };
  return counter;
}
