/**
 * Two `dsjobs server` replicas on one PostgreSQL database and one Slurm cluster (docs/deployment.md#executors): a
 * Slurm run in flight, started by replica A, outlives A's SIGKILL. Once A is declared lost, B adopts the run (its
 * job and logs are on the cluster's shared disk), follows it and settles it with its real outcome (SUCCEEDED), its
 * whole log readable through B; a local run of A, whose process was on A's machine, ends FAILED as before.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createJob, killRunProcesses, readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';
import { freshDatabase, postgresMissing, replicaDataDir } from '../support/postgres.js';
import { slurmMissing, slurmServerConfig, startSlurmCluster, type SlurmCluster } from '../support/slurm.js';
import { until } from '../support/until.js';

const missing = postgresMissing() ?? (await slurmMissing());
/** A replica silent this long is lost: long enough that a busy test machine does not lose a live one. */
const LOST_AFTER_MS = 8_000;
/** The Slurm run prints this many lines, one every half second: it is still running when A is declared lost. */
const LINES = 60;

let database: string;
let artifacts: string;
let cluster: SlurmCluster;
let config: string;
let a: TestServer | null = null;
let b: TestServer | null = null;
let db: pg.Client;
const dirs: string[] = [];

function env(): Record<string, string> {
  return { DSJOBS_DATABASE: database, DSJOBS_REPLICA_LOST_AFTER_MS: String(LOST_AFTER_MS), DSJOBS_ARTIFACTS_DIR: artifacts };
}

const replicaId = (s: TestServer) => readFileSync(path.join(s.dataDir, 'replica-id'), 'utf8').trim();
const ownerOf = async (id: string) => (await db.query('select owner_replica from job_runs where id = $1', [id])).rows[0]?.owner_replica;

before(async () => {
  if (missing) return;
  database = await freshDatabase();
  artifacts = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-artifacts-'));
  db = new pg.Client({ connectionString: database });
  await db.connect();
  cluster = await startSlurmCluster();
  // Both replicas submit to the same cluster, with the same shared directory.
  config = slurmServerConfig(cluster);
  a = await startServer({ config, env: env() });
  dirs.push(a.dataDir);
  b = await startServer({ config, dataDir: replicaDataDir(a.dataDir), env: env() });
  dirs.push(b.dataDir);
});

after(async () => {
  for (const d of dirs) killRunProcesses(d);
  await b?.close();
  await a?.close();
  await db?.end();
  await cluster?.stop();
  if (artifacts) rmSync(artifacts, { recursive: true, force: true });
});

test("SIGKILL replica A: its Slurm run is adopted by B and ends SUCCEEDED with its whole log; its local run ends FAILED", { skip: missing ?? undefined }, async () => {
  const idA = replicaId(a!);
  const idB = replicaId(b!);
  const count = await createJob(a!, 'count.py', `import time\nfor i in range(${LINES}):\n    print(f"line {i}", flush=True)\n    time.sleep(0.5)\n`, { shape: 'Slurm.Small' });
  const sleeper = await createJob(a!, 'hold.sh', 'echo holding\nsleep 120\n');
  const onSlurm = await a!.api.createJobRun({ projectId: count.projectId, compartmentId: a!.compartmentId, jobId: count.id });
  const local = await a!.api.createJobRun({ projectId: sleeper.projectId, compartmentId: a!.compartmentId, jobId: sleeper.id });
  await waitForRun(a!.api, onSlurm.id, (r) => r.lifecycleState === 'IN_PROGRESS', 90_000);
  await waitForRun(a!.api, local.id, (r) => r.lifecycleState === 'IN_PROGRESS');
  // A few lines are out before A goes: the log B gives must hold them, captured by A, and all that follow.
  await until('the Slurm run to print', async () => (await readLogs(b!, onSlurm.id)).length >= 2);
  assert.equal(await ownerOf(onSlurm.id), idA);

  const killedAt = Date.now();
  await a!.kill('SIGKILL');
  await until('B to adopt the Slurm run', async () => (await ownerOf(onSlurm.id)) === idB, LOST_AFTER_MS + 30_000);
  const adoptedAfter = Date.now() - killedAt;

  const done = await waitForRun(b!.api, onSlurm.id, undefined, 90_000);
  assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
  const lines = (await readLogs(b!, onSlurm.id)).filter((l) => l.stream === 'stdout').map((l) => l.message);
  assert.deepEqual(lines, Array.from({ length: LINES }, (_, i) => `line ${i}`));
  const finished = await db.query('select count(*)::int as n from events where resource_id = $1 and type like $2', [onSlurm.id, '%succeededjobrun']);
  assert.equal(finished.rows[0].n, 1, 'the run was settled once');
  assert.ok(adoptedAfter >= LOST_AFTER_MS - 1_000, `adopted ${adoptedAfter} ms after the kill: not before A was lost`);

  const lost = await waitForRun(b!.api, local.id, undefined, 30_000);
  assert.equal(lost.lifecycleState, 'FAILED');
  assert.match(lost.lifecycleDetails ?? '', new RegExp(`the server replica ${idA} that ran it was lost`));
  assert.equal(await ownerOf(local.id), idA, 'a run whose process was on the lost machine is not adopted');
});
