/**
 * Two `dsjobs server` replicas (real processes, their own ports and data directories) on one PostgreSQL database
 * (docs/deployment.md#several-replicas): a run created through replica A (the official OCI SDK) is read and its log
 * followed through replica B, and canceled through B; SIGKILL the lease holder: the other takes the coordinator's
 * lease within 10 s, the killed one's queued runs start exactly once on the survivor, a schedule keeps firing exactly
 * once per fire time, webhooks are delivered, and the killed replica's started run ends FAILED saying its replica was
 * lost; a holder paused (SIGSTOP) past its lease finds it taken when it resumes and stops. Identity and policy
 * writes, and a project moved, through A apply on B within about a second (B's caches are dropped every second).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { apiKeySigner, readOciProfile } from '../../src/sdk/signer.js';
import { createJob, killRunProcesses, signedFetch, startServer, waitForRun, type TestServer } from '../support/server.js';
import { freshDatabase, postgresMissing, replicaDataDir } from '../support/postgres.js';
import { makeIdentityClient, makeOciClient } from '../support/oci-sdk-client.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { until } from '../support/until.js';

const OCI = 'com.oraclecloud.datascience';
const missing = postgresMissing();
/** A replica silent this long is lost (the default is 60 s): long enough that a busy test machine does not lose a live one. */
const LOST_AFTER_MS = 8_000;

let database: string;
let artifacts: string;
let a: TestServer;
let b: TestServer | null = null;
let db: pg.Client;
const dirs: string[] = [];

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DSJOBS_DATABASE: database,
    DSJOBS_REPLICA_LOST_AFTER_MS: String(LOST_AFTER_MS),
    // Every replica reads the artifacts of every job: one shared directory.
    DSJOBS_ARTIFACTS_DIR: artifacts,
    DSJOBS_WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    DSJOBS_WEBHOOK_RETRY_BASE_MS: '100',
    ...extra,
  };
}

/** A second replica: its own data dir, with the keys and the administrator's OCI config of the first (docs/deployment.md). */
async function startReplica(first: TestServer, extra: Record<string, string> = {}): Promise<TestServer> {
  return startServer({ dataDir: replicaDataDir(first.dataDir), env: env(extra) });
}

const replicaId = (s: TestServer) => readFileSync(path.join(s.dataDir, 'replica-id'), 'utf8').trim();

async function leaseHolder(): Promise<string | null> {
  const r = await db.query(`select holder from leases where name = 'coordinator' and expires_ms > (extract(epoch from clock_timestamp()) * 1000)::bigint`);
  return r.rows[0]?.holder ?? null;
}

before(async () => {
  if (missing) return;
  database = await freshDatabase();
  artifacts = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-artifacts-'));
  db = new pg.Client({ connectionString: database });
  await db.connect();
  // One Local.Light run at a time on A: later ones queue there.
  a = await startServer({ env: env({ DSJOBS_CAPACITY_CPUS: '0.25' }) });
  dirs.push(a.dataDir);
  b = await startReplica(a);
  dirs.push(b.dataDir);
});

after(async () => {
  for (const d of dirs) killRunProcesses(d);
  await b?.close();
  await a?.close();
  await db?.end();
  if (artifacts) rmSync(artifacts, { recursive: true, force: true });
});

test('a run created through replica A is read, followed (every line, in order) and canceled through replica B', { skip: missing ?? undefined }, async () => {
  const job = await createJob(a, 'count.py', 'import time\nfor i in range(60):\n    print(f"line {i}", flush=True)\n    time.sleep(0.05)\n');
  const sdkA = makeOciClient(a.url, a.configFile);
  const sdkB = makeOciClient(b!.url, b!.configFile);
  try {
    const created = await sdkA.client.createJobRun({ createJobRunDetails: { projectId: job.projectId, compartmentId: a.compartmentId, jobId: job.id } });
    const id = created.jobRun.id;
    // Read through B while it runs on A: B answers from the shared database.
    const seen = await sdkB.client.getJobRun({ jobRunId: id });
    assert.equal(seen.jobRun.id, id);
    // follow=true through B, begun before the run has printed everything: B streams A's log to the end.
    const res = await b!.fetch(`${b!.url}/20190101/jobRuns/${id}/logs?follow=true`);
    assert.equal(res.status, 200);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l).message);
    assert.deepEqual(lines, Array.from({ length: 60 }, (_, i) => `line ${i}`));
    // The log ends when the process has; the run's state follows a moment later.
    assert.equal((await waitForRun(b!.api, id)).lifecycleState, 'SUCCEEDED');
    const owner = (await db.query('select owner_replica from job_runs where id = $1', [id])).rows[0].owner_replica;
    assert.equal(owner, replicaId(a), 'the run ran on the replica it was created through');

    // A cancel through B reaches the process on A.
    const sleeper = await createJob(a, 'sleep.sh', 'echo started\nsleep 60\n');
    const long = await sdkA.client.createJobRun({ createJobRunDetails: { projectId: sleeper.projectId, compartmentId: a.compartmentId, jobId: sleeper.id } });
    await waitForRun(b!.api, long.jobRun.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    // A run still queued on A (A's one slot is taken), canceled through B: A drops it, and a follow through B ends.
    const waiting = await sdkA.client.createJobRun({ createJobRunDetails: { projectId: sleeper.projectId, compartmentId: a.compartmentId, jobId: sleeper.id } });
    await sdkB.client.cancelJobRun({ jobRunId: waiting.jobRun.id });
    assert.equal((await b!.api.getJobRun(waiting.jobRun.id)).lifecycleState, 'CANCELED');
    const followed = await b!.fetch(`${b!.url}/20190101/jobRuns/${waiting.jobRun.id}/logs?follow=true`);
    assert.equal((await followed.text()).trim(), '');
    await sdkB.client.cancelJobRun({ jobRunId: long.jobRun.id });
    const canceled = await waitForRun(b!.api, long.jobRun.id, undefined, 30_000);
    assert.equal(canceled.lifecycleState, 'CANCELED', canceled.lifecycleDetails ?? '');
    assert.deepEqual((await b!.api.logs(long.jobRun.id).next()).value?.message, 'started');

    // A holds the lease (it started first), so it dispatches webhooks: it hears of the events B's runs commit.
    assert.equal(await leaseHolder(), replicaId(a));
    const receiver = await WebhookReceiver.start();
    try {
      const sub = await a.api.createWebhookSubscription({ compartmentId: a.compartmentId, url: receiver.url, filter: { jobId: job.id, eventTypes: [`${OCI}.succeededjobrun`] } });
      receiver.secret = sub.secret!;
      const onB = await b!.api.createJobRun({ projectId: job.projectId, compartmentId: a.compartmentId, jobId: job.id });
      assert.equal((await waitForRun(b!.api, onB.id)).lifecycleState, 'SUCCEEDED');
      assert.equal((await db.query('select owner_replica from job_runs where id = $1', [onB.id])).rows[0].owner_replica, replicaId(b!));
      await receiver.waitFor((rs) => rs.some((x) => x.event.subject === onB.id), 30_000);
      await a.api.deleteWebhookSubscription(sub.id);
    } finally {
      await receiver.close();
    }
  } finally {
    sdkA.close();
    sdkB.close();
  }
});

test("another replica's identity and policy writes apply within about a second: a new or deleted policy, a moved project, a deleted key", { skip: missing ?? undefined }, async () => {
  const { client: id, close } = makeIdentityClient(a.url, a.configFile);
  const sdkA = makeOciClient(a.url, a.configFile);
  const tenancy = readOciProfile(a.configFile).tenancy;
  try {
    // B has served the administrator already (its policies are compiled): everything here is written through A.
    assert.equal((await b!.fetch(`${b!.url}/20190101/projects?compartmentId=${encodeURIComponent(a.compartmentId)}`)).status, 200);
    const user = (await id.createUser({ createUserDetails: { compartmentId: tenancy, name: 'replica-user', description: 'x' } })).user;
    const group = (await id.createGroup({ createGroupDetails: { compartmentId: tenancy, name: 'replica-group', description: 'x' } })).group;
    await id.addUserToGroup({ addUserToGroupDetails: { userId: user.id, groupId: group.id } });
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const key = (await id.uploadApiKey({ userId: user.id, createApiKeyDetails: { key: pair.publicKey } })).apiKey;
    const sign = apiKeySigner({ tenancy, user: user.id, fingerprint: key.fingerprint!, privateKey: createPrivateKey(pair.privateKey) });
    const listOnB = async () => (await signedFetch(sign, `${b!.url}/20190101/projects?compartmentId=${encodeURIComponent(a.compartmentId)}`)).status;
    const policyDetails = { compartmentId: tenancy, name: 'replica-lists', description: 'x', statements: ['Allow group replica-group to inspect data-science-projects in tenancy'] };
    let policy = (await id.createPolicy({ createPolicyDetails: policyDetails })).policy;
    // Bounds far above the one-second refresh: the host is shared.
    await until('B to apply the policy made through A', async () => (await listOnB()) === 200, 15_000);
    await id.deletePolicy({ policyId: policy.id });
    await until('B to apply the policy deleted through A', async () => (await listOnB()) === 404, 15_000);
    policy = (await id.createPolicy({ createPolicyDetails: policyDetails })).policy;
    await until('B to apply the policy made again through A', async () => (await listOnB()) === 200, 15_000);
    // A project the user may read only in its compartment, read through B (which caches it), then moved through A.
    const team = (await id.createCompartment({ createCompartmentDetails: { compartmentId: tenancy, name: 'replica-team', description: 'x' } })).compartment;
    await id.createPolicy({ createPolicyDetails: { compartmentId: tenancy, name: 'replica-team-reads', description: 'x', statements: ['Allow group replica-group to read data-science-projects in compartment replica-team'] } });
    const project = (await sdkA.client.createProject({ createProjectDetails: { compartmentId: team.id, displayName: 'moved' } })).project;
    const getOnB = async () => (await signedFetch(sign, `${b!.url}/20190101/projects/${project.id}`)).status;
    await until('B to let the user read the project in replica-team', async () => (await getOnB()) === 200, 15_000);
    await sdkA.client.changeProjectCompartment({ projectId: project.id, changeProjectCompartmentDetails: { compartmentId: a.compartmentId } });
    await until('B to decide the project moved through A in its new compartment', async () => (await getOnB()) === 404, 15_000);
    await id.deleteApiKey({ userId: user.id, fingerprint: key.fingerprint! });
    await until('B to refuse the key deleted through A', async () => (await listOnB()) === 401, 15_000);
    await id.deletePolicy({ policyId: policy.id });
  } finally {
    close();
    sdkA.close();
  }
});

test('SIGKILL the lease holder: the other replica takes over within 10 s; queued runs start once, a schedule fires once per time, webhooks arrive, a lost run ends FAILED', { skip: missing ?? undefined }, async () => {
  const idA = replicaId(a);
  const idB = replicaId(b!);
  await until('replica A to hold the lease (it started first)', async () => (await leaseHolder()) === idA, 30_000);
  const receiver = await WebhookReceiver.start();
  try {
    const sub = await b!.api.createWebhookSubscription({ compartmentId: b!.compartmentId, url: receiver.url, filter: { eventTypes: [`${OCI}.succeededjobrun`] } });
    receiver.secret = sub.secret!;
    const sleeper = await createJob(a, 'hold.sh', 'echo holding\nsleep 90\n');
    const quick = await createJob(a, 'quick.sh', 'echo "ran $JOB_RUN_OCID"\n');
    const ticker = await createJob(a, 'tick.sh', 'echo tick\n');
    // The long run holds A's one slot; three more queue behind it, on A.
    const held = await a.api.createJobRun({ projectId: sleeper.projectId, compartmentId: a.compartmentId, jobId: sleeper.id });
    await waitForRun(a.api, held.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    const queued: { id: string }[] = [];
    for (let i = 0; i < 3; i++) queued.push(await a.api.createJobRun({ projectId: quick.projectId, compartmentId: a.compartmentId, jobId: quick.id, displayName: `queued-${i}` }));
    for (const q of queued) assert.equal((await b!.api.getJobRun(q.id)).lifecycleState, 'ACCEPTED');
    const schedule = await b!.api.createSchedule({ compartmentId: b!.compartmentId, jobId: ticker.id, cron: '* * * * *' });

    const killedAt = Date.now();
    await a.kill('SIGKILL');
    await until('replica B to take the lease', async () => (await leaseHolder()) === idB, 30_000);
    const takeover = Date.now() - killedAt;
    assert.ok(takeover <= 10_000, `B took the lease ${takeover} ms after A was killed`);

    // A is lost after LOST_AFTER_MS: its queued runs move to B and start there, once each; its started run fails.
    for (const q of queued) {
      const done = await waitForRun(b!.api, q.id, undefined, 90_000);
      assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
      const started = await db.query('select count(*)::int as n from events where resource_id = $1 and type = $2', [q.id, `${OCI}.createjobrun.end`]);
      assert.equal(started.rows[0].n, 1, `${q.id} started once`);
      assert.equal((await db.query('select owner_replica from job_runs where id = $1', [q.id])).rows[0].owner_replica, idB);
      assert.deepEqual((await b!.api.logs(q.id).next()).value?.message, `ran ${q.id}`);
    }
    const lost = await waitForRun(b!.api, held.id, undefined, 30_000);
    assert.equal(lost.lifecycleState, 'FAILED');
    assert.match(lost.lifecycleDetails ?? '', new RegExp(`the server replica ${idA} that ran it was lost`));

    // The survivor delivers the webhooks of what happened after the kill.
    await receiver.waitFor((rs) => queued.every((q) => rs.some((x) => x.event.subject === q.id)));
    // One delivery per event: webhooks are at least once, so a delivery may be retried (same webhook-id, for the
    // receiver to de-duplicate on; docs/events.md), but a second delivery of the same event would be a double fan-out.
    for (const q of queued) {
      const ids = new Set(receiver.received.filter((x) => x.event.subject === q.id).map((x) => x.webhookId));
      assert.equal(ids.size, 1, `deliveries of ${q.id}'s succeededjobrun: ${[...ids].join(', ')}`);
    }

    // The schedule fires after the kill (on B), and every fire time started exactly one run.
    await until(
      'a schedule fire after the kill',
      async () => {
        const r = await db.query('select count(*)::int as n from job_runs where job_id = $1 and time_accepted > $2', [ticker.id, new Date(killedAt).toISOString()]);
        return r.rows[0].n > 0;
      },
      90_000,
    );
    await b!.api.deleteSchedule(schedule.id);
    // Before the kill only A, the holder, fired it (the create went through B, which must not fire schedules).
    const early = await db.query('select distinct owner_replica from job_runs where job_id = $1 and time_accepted < $2', [ticker.id, new Date(killedAt).toISOString()]);
    for (const r of early.rows) assert.equal(r.owner_replica, idA);
    const fires = await db.query('select display_name, count(*)::int as n from job_runs where job_id = $1 group by display_name', [ticker.id]);
    for (const f of fires.rows) assert.equal(f.n, 1, `fire ${f.display_name}: ${f.n} runs`);
  } finally {
    await receiver.close();
  }
});

test('a lease holder paused (SIGSTOP) past its lease finds it taken when it resumes, and stops instead of acting', { skip: missing ?? undefined }, async () => {
  // A comes back (same data dir, same replica id) while B holds the lease.
  a = await startServer({ dataDir: a.dataDir, adminPassword: a.adminPassword, env: env({ DSJOBS_CAPACITY_CPUS: '0.25' }) });
  const idA = replicaId(a);
  const idB = replicaId(b!);
  assert.equal(await leaseHolder(), idB);
  b!.proc.kill('SIGSTOP');
  try {
    await until('replica A to take the lease from the paused B', async () => (await leaseHolder()) === idA, 30_000);
  } finally {
    b!.proc.kill('SIGCONT');
  }
  const exited = await until('the resumed B to stop', async () => b!.proc.exitCode !== null || b!.proc.signalCode !== null, 30_000);
  assert.ok(exited);
  assert.match(b!.output(), /another server replica took the coordinator's lease over/);
  assert.equal(await leaseHolder(), idA);
  // The survivor serves on.
  const job = await createJob(a, 'after.sh', 'echo after\n');
  const run = await a.api.createJobRun({ projectId: job.projectId, compartmentId: a.compartmentId, jobId: job.id });
  assert.equal((await waitForRun(a.api, run.id, undefined, 60_000)).lifecycleState, 'SUCCEEDED');
});
