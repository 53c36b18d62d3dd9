/**
 * Two `dsjobs server` replicas on one PostgreSQL database and one Docker Engine they share (`containers.sharedEngine`,
 * docs/deployment.md#executors). A container run in flight, started by replica A, outlives A's SIGKILL: once A is
 * declared lost, B re-attaches to the container, copies its log from the engine's (the whole of it, nothing doubled)
 * and settles the run with its real outcome; a local run of A, whose process was on A's machine, ends FAILED as
 * before. Then a paused replica: A (restarted) is SIGSTOPped with a container run in flight, B adopts it, and A, resumed,
 * leaves it alone (its container goes on, A copies no more of its log, writes no state) and says that it lost it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createJob, killRunProcesses, readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';
import { freshDatabase, postgresMissing, replicaDataDir } from '../support/postgres.js';
import { BUSYBOX_IMAGE, containersOf, dockerReady } from '../support/docker.js';
import { until } from '../support/until.js';

const missing = postgresMissing() ?? dockerReady();
/** A replica silent this long is lost: long enough that a busy test machine does not lose a live one. */
const LOST_AFTER_MS = 8_000;
/** The container prints this many lines, one every half second: it is still running when its replica is declared lost. */
const LINES = 50;

let database: string;
let a: TestServer | null = null;
let b: TestServer | null = null;
let db: pg.Client;
const dirs: string[] = [];

function env(): Record<string, string> {
  return { DSJOBS_DATABASE: database, DSJOBS_REPLICA_LOST_AFTER_MS: String(LOST_AFTER_MS), DSJOBS_CONTAINERS_SHARED_ENGINE: 'true' };
}

const replicaId = (s: TestServer) => readFileSync(path.join(s.dataDir, 'replica-id'), 'utf8').trim();
const ownerOf = async (id: string) => (await db.query('select owner_replica from job_runs where id = $1', [id])).rows[0]?.owner_replica;
const stdout = async (s: TestServer, id: string) => (await readLogs(s, id)).filter((l) => l.stream === 'stdout').map((l) => l.message);
const expected = Array.from({ length: LINES }, (_, i) => `line ${i}`);
/** The number of end events of the run: it was settled once. */
const ends = async (id: string) =>
  (await db.query("select count(*)::int as n from events where resource_id = $1 and type similar to '%(succeeded|failed|canceled)jobrun'", [id])).rows[0].n;

async function containerRun(s: TestServer) {
  const job = await createJob(s, 'unused.sh', 'true\n', {
    environment: { jobEnvironmentType: 'OCIR_CONTAINER', image: BUSYBOX_IMAGE, cmd: ['sh', '-c', `for i in $(seq 0 ${LINES - 1}); do echo "line $i"; sleep 0.5; done`] },
  });
  return s.api.createJobRun({ projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id });
}

before(async () => {
  if (missing) return;
  database = await freshDatabase();
  db = new pg.Client({ connectionString: database });
  await db.connect();
  a = await startServer({ env: env() });
  dirs.push(a.dataDir);
  b = await startServer({ dataDir: replicaDataDir(a.dataDir), env: env() });
  dirs.push(b.dataDir);
});

after(async () => {
  for (const d of dirs) killRunProcesses(d);
  if (a) a.proc.kill('SIGCONT');
  await b?.close();
  await a?.close();
  await db?.end();
});

test('SIGKILL replica A: its container run on the shared engine is adopted by B and ends SUCCEEDED with its whole log; its local run ends FAILED', { skip: missing ?? undefined }, async () => {
  const idA = replicaId(a!);
  const idB = replicaId(b!);
  const inContainer = await containerRun(a!);
  const sleeper = await createJob(a!, 'hold.sh', 'echo holding\nsleep 120\n');
  const local = await a!.api.createJobRun({ projectId: sleeper.projectId, compartmentId: a!.compartmentId, jobId: sleeper.id });
  await waitForRun(a!.api, inContainer.id, (r) => r.lifecycleState === 'IN_PROGRESS', 60_000);
  await waitForRun(a!.api, local.id, (r) => r.lifecycleState === 'IN_PROGRESS');
  // A few lines are out before A goes: the log B gives must hold them, copied by A, and all that follow.
  await until('the container to print', async () => (await stdout(b!, inContainer.id)).length >= 2);
  assert.equal(await ownerOf(inContainer.id), idA);

  const killedAt = Date.now();
  await a!.kill('SIGKILL');
  await until('B to adopt the container run', async () => (await ownerOf(inContainer.id)) === idB, LOST_AFTER_MS + 30_000);
  const adoptedAfter = Date.now() - killedAt;

  const done = await waitForRun(b!.api, inContainer.id, undefined, 90_000);
  assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
  assert.deepEqual(await stdout(b!, inContainer.id), expected);
  assert.equal(await ends(inContainer.id), 1, 'the run was settled once');
  assert.ok(adoptedAfter >= LOST_AFTER_MS - 1_000, `adopted ${adoptedAfter} ms after the kill: not before A was lost`);
  await until("B to remove the ended run's container", async () => containersOf(inContainer.id).length === 0);

  const lost = await waitForRun(b!.api, local.id, undefined, 30_000);
  assert.equal(lost.lifecycleState, 'FAILED');
  assert.match(lost.lifecycleDetails ?? '', new RegExp(`the server replica ${idA} that ran it was lost`));
  assert.equal(await ownerOf(local.id), idA, 'a run whose process was on the lost machine is not adopted');
});

test('a paused replica whose container run was adopted meanwhile resumes and leaves it alone: the run ends as the adopter decides', { skip: missing ?? undefined }, async () => {
  // A comes back (the previous test killed it); B holds the coordinator's lease since, so A resumes as a plain replica.
  a = await startServer({ dataDir: a!.dataDir, env: env() });
  const idA = replicaId(a);
  const idB = replicaId(b!);
  const run = await containerRun(a);
  await waitForRun(a.api, run.id, (r) => r.lifecycleState === 'IN_PROGRESS', 60_000);
  await until('the container to print', async () => (await stdout(b!, run.id)).length >= 2);
  assert.equal(await ownerOf(run.id), idA);

  a.proc.kill('SIGSTOP');
  await until('B to adopt the container run of the paused A', async () => (await ownerOf(run.id)) === idB, LOST_AFTER_MS + 30_000);
  a.proc.kill('SIGCONT');
  const lostLine = new RegExp(`this server replica lost job run ${run.id}: replica ${idB} took it over`);
  await until('A to say that it lost the run', async () => lostLine.test(a!.output()), 30_000);
  // A's copy of the container's output and its captured log of the run: they grow no more once A let the run go.
  const copied = (dir: string) => ['stdout.log', 'stderr.log', 'log.ndjson'].map((f) => (existsSync(path.join(dir, f)) ? statSync(path.join(dir, f)).size : -1));
  const runDirA = path.join(a.dataDir, 'runs', run.id);
  const atLoss = copied(runDirA);
  assert.ok(atLoss[0]! > 0, 'A had copied some output before it was paused');
  // A let the run go without touching it: the container it started goes on, under B.
  assert.equal((await b!.api.getJobRun(run.id)).lifecycleState, 'IN_PROGRESS', 'still running: A ended nothing');
  assert.equal(containersOf(run.id).length, 1, "A did not remove the run's container");

  const done = await waitForRun(b!.api, run.id, undefined, 90_000);
  assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
  assert.deepEqual(await stdout(b!, run.id), expected);
  assert.equal(await ends(run.id), 1, 'the run was settled once');
  assert.equal(await ownerOf(run.id), idB);
  assert.deepEqual(copied(runDirA), atLoss, 'A appended nothing to its copy of the log after it let the run go');
});
