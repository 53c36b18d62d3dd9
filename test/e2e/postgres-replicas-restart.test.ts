/**
 * PostgreSQL itself restarts (fast shutdown: every connection is cut; started again on the same port) while two
 * replicas have runs in flight and queued: both answer GET /readyz 503 while it is away and 200 after, creates during
 * the outage fail with a retryable 503 and succeed after it, every run created before ends SUCCEEDED having started
 * once, and an events consumer that follows through a replica (resuming with `after=` when its stream breaks) misses
 * no event the database holds. And the embedded Object Storage on one directory both replicas share
 * (`objectStorageDir`): an object written through one is read, listed and deleted through the other, a multipart
 * upload's parts go through either.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Readable } from 'node:stream';
import { createJob, killRunProcesses, startServer, waitForRun, type TestServer } from '../support/server.js';
import { makeObjectStorageClient } from '../support/oci-sdk-client.js';
import { freshDatabase, postgresCluster, postgresMissing, replicaDataDir } from '../support/postgres.js';
import { until } from '../support/until.js';

const OCI = 'com.oraclecloud.datascience';
const missing = postgresMissing();

let database: string;
let artifacts: string;
let objects: string;
let a: TestServer;
let b: TestServer;
let db: pg.Client | null = null;
let consumer: ReturnType<typeof consume> | null = null;
const dirs: string[] = [];

function env(extra: Record<string, string> = {}): Record<string, string> {
  // Lost only after a minute (the default): the outage must not make the replicas lose each other.
  return { DSJOBS_DATABASE: database, DSJOBS_ARTIFACTS_DIR: artifacts, DSJOBS_OBJECT_STORAGE_DIR: objects, ...extra };
}

const ready = (s: TestServer) => fetch(`${s.url}/readyz`).then((r) => r.status, () => 0);

/**
 * A consumer of the event log through replica `s`: follows it, and when its stream breaks resumes right after the
 * last event it saw (docs/events.md), as a client is told to. Every event it saw, in order.
 */
function consume(s: TestServer, after: string) {
  const seen: { id: string; sequence: number; type: string; subject: string }[] = [];
  const ac = new AbortController();
  const done = (async () => {
    let last = after;
    while (!ac.signal.aborted) {
      try {
        const res = await s.fetch(`${s.url}/20190101/events?follow=true&after=${encodeURIComponent(last)}`, { signal: ac.signal });
        if (res.status !== 200) throw new Error(`follow answered ${res.status}`);
        let carry = '';
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          carry += Buffer.from(chunk).toString('utf8');
          let nl: number;
          while ((nl = carry.indexOf('\n')) >= 0) {
            const line = carry.slice(0, nl).trim();
            carry = carry.slice(nl + 1);
            if (!line) continue;
            const e = JSON.parse(line);
            seen.push({ id: e.id, sequence: Number(e.sequence), type: e.type, subject: e.subject });
            last = e.id;
          }
        }
      } catch {
        if (ac.signal.aborted) return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return { seen, stop: async () => (ac.abort(), done) };
}

before(async () => {
  if (missing) return;
  database = await freshDatabase();
  artifacts = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-artifacts-'));
  objects = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-objects-'));
  // One Local.Light run at a time on each: later ones queue on their replica.
  a = await startServer({ env: env({ DSJOBS_CAPACITY_CPUS: '0.25' }) });
  dirs.push(a.dataDir);
  b = await startServer({ dataDir: replicaDataDir(a.dataDir), env: env({ DSJOBS_CAPACITY_CPUS: '0.25' }) });
  dirs.push(b.dataDir);
});

after(async () => {
  await consumer?.stop();
  for (const d of dirs) killRunProcesses(d);
  await db?.end();
  await b?.close();
  await a?.close();
  if (artifacts) rmSync(artifacts, { recursive: true, force: true });
  if (objects) rmSync(objects, { recursive: true, force: true });
});

test('PostgreSQL restarts under two replicas with runs in flight: both reconnect, creates meanwhile fail retryably, nothing is lost or run twice, no event is skipped', { skip: missing ?? undefined }, async () => {
  const job = await createJob(a, 'steps.sh', 'for i in 1 2 3 4 5 6; do echo "step $i"; sleep 0.5; done\n');
  // The consumer starts after the job's events: everything from the runs on must reach it.
  const first = (await (await a.fetch(`${a.url}/20190101/events?resourceId=${encodeURIComponent(job.id)}`)).json()) as { id: string }[];
  consumer = consume(b, first.at(-1)!.id);
  const create = (s: TestServer) =>
    s.fetch(`${s.url}/20190101/jobRuns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ projectId: job.projectId, compartmentId: a.compartmentId, jobId: job.id }),
    });
  const runs: string[] = [];
  for (const s of [a, b, a, b, a, b]) {
    const res = await create(s);
    assert.equal(res.status, 200, await res.clone().text());
    runs.push(((await res.json()) as { id: string }).id);
  }
  await waitForRun(a.api, runs[0]!, (r) => r.lifecycleState === 'IN_PROGRESS');
  await waitForRun(b.api, runs[1]!, (r) => r.lifecycleState === 'IN_PROGRESS');

  const dir = postgresCluster().dir;
  execFileSync('bash', ['scripts/postgres.sh', 'halt', dir], { stdio: 'ignore' });
  try {
    await until('both replicas to answer /readyz 503', async () => (await ready(a)) === 503 && (await ready(b)) === 503).catch(async (e) => {
      throw new Error(`${e.message} (A: ${await ready(a)}, B: ${await ready(b)}; A's output: ${a.output().slice(-3000)}; B's output: ${b.output().slice(-3000)})`);
    });
    // A create meets the dead database: a retryable 503 that says so, never a 500 or a half-made run.
    for (const s of [a, b]) {
      const res = await create(s);
      const body = await res.text();
      assert.equal(res.status, 503, body);
      assert.equal(JSON.parse(body).code, 'ServiceUnavailable', body);
    }
    // Runs end meanwhile (each about 3 s): their ends and the queued runs' starts meet the dead database.
    await new Promise((r) => setTimeout(r, 3_500));
  } finally {
    execFileSync('bash', ['scripts/postgres.sh', 'start', dir], { stdio: 'ignore' });
  }
  await until('both replicas to answer /readyz 200', async () => (await ready(a)) === 200 && (await ready(b)) === 200);
  for (const s of [a, b]) {
    const res = await create(s);
    assert.equal(res.status, 200, await res.clone().text());
    runs.push(((await res.json()) as { id: string }).id);
  }

  db = new pg.Client({ connectionString: database });
  await db.connect();
  for (const id of runs) {
    const done = await waitForRun(a.api, id, undefined, 120_000);
    assert.equal(done.lifecycleState, 'SUCCEEDED', `${id}: ${done.lifecycleDetails}`);
    const started: pg.QueryResult = await db.query('select count(*)::int as n from events where resource_id = $1 and type = $2', [id, `${OCI}.createjobrun.end`]);
    assert.equal(started.rows[0].n, 1, `${id} started once`);
    const lines = [];
    for await (const rec of b.api.logs(id)) lines.push(rec.message);
    assert.deepEqual(lines, [1, 2, 3, 4, 5, 6].map((i) => `step ${i}`), `${id}'s log through B`);
  }
  // Only the runs created while the database was up exist: the refused creates left nothing.
  assert.equal((await db.query('select count(*)::int as n from job_runs where job_id = $1', [job.id])).rows[0].n, runs.length);

  // The consumer got every event the database holds after its starting point, each once, in sequence order.
  const stored = (await db.query('select id from events where seq > (select seq from events where id = $1) order by seq', [first.at(-1)!.id])).rows.map((r) => r.id as string);
  const seen = consumer.seen;
  await until('the consumer to catch up', async () => seen.length >= stored.length, 30_000).catch(() => null);
  await consumer.stop();
  assert.deepEqual(seen.map((e) => e.id), stored);
});

test('Object Storage on a shared directory: written through one replica, read, listed and deleted through the other', { skip: missing ?? undefined }, async () => {
  const osA = makeObjectStorageClient(a.url, a.configFile);
  const osB = makeObjectStorageClient(b.url, b.configFile);
  const bytes = async (body: unknown) => {
    const chunks: Buffer[] = [];
    for await (const c of body as Readable) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  };
  try {
    const ns = (await osA.client.getNamespace({})).value;
    assert.equal((await osB.client.getNamespace({})).value, ns);
    const bucketName = 'shared';
    await osA.client.createBucket({ namespaceName: ns, createBucketDetails: { name: bucketName, compartmentId: a.compartmentId } });
    const body = Buffer.from('written through A\n');
    await osA.client.putObject({ namespaceName: ns, bucketName, objectName: 'a.txt', putObjectBody: body, contentLength: body.length });
    const got = await osB.client.getObject({ namespaceName: ns, bucketName, objectName: 'a.txt' });
    assert.ok((await bytes(got.value)).equals(body));
    const listed = await osB.client.listObjects({ namespaceName: ns, bucketName });
    assert.deepEqual(listed.listObjects.objects.map((o) => o.name), ['a.txt']);

    // A multipart upload begun through A, its parts through either, committed through B, read through A.
    const p1 = Buffer.alloc(1000, 'a');
    const p2 = Buffer.alloc(500, 'b');
    const uploadId = (await osA.client.createMultipartUpload({ namespaceName: ns, bucketName, createMultipartUploadDetails: { object: 'm.bin' } })).multipartUpload.uploadId;
    const e1 = (await osA.client.uploadPart({ namespaceName: ns, bucketName, objectName: 'm.bin', uploadId, uploadPartNum: 1, uploadPartBody: p1, contentLength: p1.length })).eTag;
    const e2 = (await osB.client.uploadPart({ namespaceName: ns, bucketName, objectName: 'm.bin', uploadId, uploadPartNum: 2, uploadPartBody: p2, contentLength: p2.length })).eTag;
    await osB.client.commitMultipartUpload({
      namespaceName: ns,
      bucketName,
      objectName: 'm.bin',
      uploadId,
      commitMultipartUploadDetails: { partsToCommit: [{ partNum: 1, etag: e1! }, { partNum: 2, etag: e2! }] },
    });
    assert.ok((await bytes((await osA.client.getObject({ namespaceName: ns, bucketName, objectName: 'm.bin' })).value)).equals(Buffer.concat([p1, p2])));

    await osB.client.deleteObject({ namespaceName: ns, bucketName, objectName: 'a.txt' });
    await assert.rejects(osA.client.getObject({ namespaceName: ns, bucketName, objectName: 'a.txt' }), (e: { statusCode?: number }) => e.statusCode === 404);
  } finally {
    osA.close();
    osB.close();
  }
});
