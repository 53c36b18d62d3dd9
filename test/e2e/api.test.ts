/**
 * End-to-end API tests against a real server process: OCI wire conventions (headers, statuses, error bodies),
 * validation, optimistic concurrency, retry tokens, artifacts, list filters and pagination, run lifecycle rules.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DsJobsError, type Job } from '../../src/sdk/client.js';
import { startServer, createJob, startRun, waitForRun, type TestServer } from '../support/server.js';

let s: TestServer;
let tmp: string;
const OTHER_COMPARTMENT = 'ocid1.compartment.oc1..other';

before(async () => {
  s = await startServer();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-api-test-'));
});
after(async () => {
  await s.close();
  rmSync(tmp, { recursive: true, force: true });
});

// ------------------------------------------------------------------ helpers

interface Res {
  status: number;
  headers: Headers;
  body: any;
  bytes: Buffer;
}

async function call(
  method: string,
  p: string,
  o: { json?: unknown; raw?: Buffer | string; headers?: Record<string, string>; query?: Record<string, string | number | boolean> } = {},
): Promise<Res> {
  const u = new URL(`${s.url}/20190101${p}`);
  for (const [k, v] of Object.entries(o.query ?? {})) u.searchParams.set(k, String(v));
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  let body: BodyInit | undefined;
  if (o.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(o.json);
  } else if (o.raw !== undefined) {
    body = o.raw as unknown as BodyInit;
  }
  // Signed as the administrator; an artifact upload (streamed) without the body headers, as the OCI SDKs sign it.
  if (o.headers?.authorization === undefined) {
    const streamed = p.endsWith('/artifact') && method === 'POST';
    Object.assign(headers, s.sign({ method, url: u.toString(), headers, body: streamed ? null : (body as string | Buffer | undefined), excludeBody: streamed }));
  }
  const res = await fetch(u, { method, headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  let parsed: any = undefined;
  if (bytes.length > 0 && (res.headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      parsed = undefined;
    }
  }
  return { status: res.status, headers: res.headers, body: parsed, bytes };
}

/** Asserts an OCI error response: status, code, and that the message mentions each of `mentions`. */
function assertError(r: Res, status: number, code: string | null, ...mentions: string[]): void {
  const ctx = `${r.status} ${r.bytes.toString('utf8')}`;
  assert.equal(r.status, status, ctx);
  assert.equal(typeof r.body?.code, 'string', ctx);
  assert.equal(typeof r.body?.message, 'string', ctx);
  if (code) assert.equal(r.body.code, code, ctx);
  for (const m of mentions) assert.ok(r.body.message.includes(m), `message should mention ${JSON.stringify(m)}: ${ctx}`);
}

/** Asserts an SDK call fails with an OCI error (status, code, mentions). */
async function rejectsWith(p: Promise<unknown>, status: number, code: string | null, ...mentions: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DsJobsError, `expected DsJobsError, got ${e}`);
    const ctx = `${e.status} ${e.code}: ${e.message}`;
    assert.equal(e.status, status, ctx);
    if (code) assert.equal(e.code, code, ctx);
    for (const m of mentions) assert.ok(e.message.includes(m), `message should mention ${JSON.stringify(m)}: ${ctx}`);
    return true;
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function newProject(name = 'api-test'): Promise<string> {
  return (await s.api.createProject({ compartmentId: s.compartmentId, displayName: name })).id;
}

function jobBody(projectId: string, displayName: string, extra: Record<string, unknown> = {}) {
  return {
    projectId,
    compartmentId: s.compartmentId,
    displayName,
    jobConfigurationDetails: { jobType: 'DEFAULT' },
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
    ...extra,
  };
}

/** A job without an artifact (CREATING). */
async function bareJob(projectId: string, displayName: string, extra: Record<string, unknown> = {}): Promise<Job> {
  return s.api.createJob(jobBody(projectId, displayName, extra) as any);
}

function upload(jobId: string, content: Buffer | string, headers: Record<string, string>): Promise<Res> {
  return call('POST', `/jobs/${jobId}/artifact`, {
    raw: typeof content === 'string' ? Buffer.from(content) : content,
    headers: { 'content-type': 'application/octet-stream', ...headers },
  });
}

const disposition = (name: string) => ({ 'content-disposition': `attachment; filename="${name}"` });

function runBody(job: { id: string; projectId: string }, extra: Record<string, unknown> = {}) {
  return { projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id, ...extra };
}

async function listAll(p: string, query: Record<string, string | number>): Promise<any[]> {
  const r = await call('GET', p, { query: { compartmentId: s.compartmentId, ...query } });
  assert.equal(r.status, 200, r.bytes.toString());
  return r.body;
}

// ------------------------------------------------------------------ 1. projects

test('projects: create/get/list/update/delete with OCI headers and errors', async () => {
  const created = await call('POST', '/projects', {
    json: { compartmentId: s.compartmentId, displayName: 'proj-1', description: 'first' },
    headers: { 'opc-request-id': 'my-request-id-42' },
  });
  assert.equal(created.status, 200, created.bytes.toString());
  assert.ok(created.headers.get('etag'), 'create returns an etag');
  assert.equal(created.headers.get('opc-request-id'), 'my-request-id-42', 'incoming opc-request-id is echoed');
  const p = created.body;
  assert.match(p.id, /^ocid1\.datascienceproject\./);
  assert.equal(p.displayName, 'proj-1');
  assert.equal(p.compartmentId, s.compartmentId);
  assert.equal(p.lifecycleState, 'ACTIVE');

  // opc-request-id is generated when not given
  const got = await call('GET', `/projects/${p.id}`);
  assert.equal(got.status, 200);
  assert.ok((got.headers.get('opc-request-id') ?? '').length > 0, 'a request id is always returned');
  assert.equal(got.headers.get('etag'), created.headers.get('etag'));
  assert.equal(got.body.id, p.id);
  assert.equal(got.body.description, 'first');

  const mine = await listAll('/projects', {});
  assert.ok(mine.some((x) => x.id === p.id), 'listed in its compartment');
  const other = await call('GET', '/projects', { query: { compartmentId: OTHER_COMPARTMENT } });
  assert.equal(other.status, 200);
  assert.deepEqual(other.body, [], 'another compartment sees none');

  const upd = await call('PUT', `/projects/${p.id}`, { json: { displayName: 'proj-1b', description: 'second', freeformTags: { a: 'b' } } });
  assert.equal(upd.status, 200, upd.bytes.toString());
  assert.equal(upd.body.displayName, 'proj-1b');
  assert.notEqual(upd.headers.get('etag'), created.headers.get('etag'));
  const afterUpd = await s.api.getProject(p.id);
  assert.equal(afterUpd.displayName, 'proj-1b');
  assert.equal(afterUpd.description, 'second');
  assert.deepEqual(afterUpd.freeformTags, { a: 'b' });

  const del = await call('DELETE', `/projects/${p.id}`);
  assert.ok(del.status === 204 || del.status === 200 || del.status === 202, `delete status ${del.status}`);
  assert.equal((await s.api.getProject(p.id)).lifecycleState, 'DELETED');

  const bad = await call('POST', '/projects', { json: { compartmentId: 'not-an-ocid', displayName: 'x' } });
  assertError(bad, 400, 'InvalidParameter', 'compartmentId');

  const missing = await call('GET', '/projects/ocid1.datascienceproject.dsjobs.local.doesnotexist');
  assertError(missing, 404, 'NotAuthorizedOrNotFound');
});

// ------------------------------------------------------------------ 2. jobs: lifecycle, list filters, sort, pages

test('jobs: CREATING until the artifact is uploaded, then ACTIVE', async () => {
  const projectId = await newProject();
  const res = await call('POST', '/jobs', { json: jobBody(projectId, 'lifecycle') });
  assert.equal(res.status, 200, res.bytes.toString());
  assert.ok(res.headers.get('etag'));
  assert.equal(res.body.lifecycleState, 'CREATING');
  assert.equal((await s.api.getJob(res.body.id)).lifecycleState, 'CREATING');
  const up = await upload(res.body.id, 'echo hi\n', disposition('hi.sh'));
  assert.equal(up.status, 200, up.bytes.toString());
  assert.ok(up.headers.get('etag'), 'artifact upload returns an etag');
  const job = await s.api.getJob(res.body.id);
  assert.equal(job.lifecycleState, 'ACTIVE');
  assert.equal(job.artifactFileName, 'hi.sh');
});

test('jobs: list filters, sorting and pagination', async () => {
  const projectId = await newProject('list-project');
  const names = ['c', 'a', 'e', 'b', 'd'];
  const ids: Record<string, string> = {};
  for (const n of names) {
    ids[n] = (await bareJob(projectId, n)).id;
    await sleep(5); // distinct timeCreated
  }
  for (const n of ['a', 'b']) {
    const up = await upload(ids[n], 'echo hi\n', disposition('x.sh'));
    assert.equal(up.status, 200, up.bytes.toString());
  }

  const all = await listAll('/jobs', { projectId });
  assert.equal(all.length, 5);
  assert.ok(all.every((j) => j.projectId === projectId));

  const otherProject = await newProject('other');
  assert.deepEqual(await listAll('/jobs', { projectId: otherProject }), []);

  const active = await listAll('/jobs', { projectId, lifecycleState: 'ACTIVE' });
  assert.deepEqual(active.map((j) => j.id).sort(), [ids.a, ids.b].sort());
  const creating = await listAll('/jobs', { projectId, lifecycleState: 'CREATING' });
  assert.deepEqual(creating.map((j) => j.displayName).sort(), ['c', 'd', 'e']);

  const byName = await listAll('/jobs', { projectId, displayName: 'e' });
  assert.deepEqual(byName.map((j) => j.id), [ids.e]);

  const nameAsc = await listAll('/jobs', { projectId, sortBy: 'displayName' });
  assert.deepEqual(nameAsc.map((j) => j.displayName), ['a', 'b', 'c', 'd', 'e'], 'displayName sorts ASC by default');
  const nameDesc = await listAll('/jobs', { projectId, sortBy: 'displayName', sortOrder: 'DESC' });
  assert.deepEqual(nameDesc.map((j) => j.displayName), ['e', 'd', 'c', 'b', 'a']);
  const timeDesc = await listAll('/jobs', { projectId, sortBy: 'timeCreated' });
  assert.deepEqual(timeDesc.map((j) => j.displayName), ['d', 'b', 'e', 'a', 'c'], 'timeCreated sorts DESC by default');
  const dflt = await listAll('/jobs', { projectId });
  assert.deepEqual(dflt.map((j) => j.displayName), ['d', 'b', 'e', 'a', 'c'], 'default sort is timeCreated DESC');
  const timeAsc = await listAll('/jobs', { projectId, sortOrder: 'ASC' });
  assert.deepEqual(timeAsc.map((j) => j.displayName), names);

  // pagination: limit=2 over 5 → 2, 2, 1 and no opc-next-page on the last page
  const seen: string[] = [];
  const sizes: number[] = [];
  let page: string | undefined;
  for (let i = 0; i < 10; i++) {
    const r = await call('GET', '/jobs', { query: { compartmentId: s.compartmentId, projectId, limit: 2, ...(page ? { page } : {}) } });
    assert.equal(r.status, 200, r.bytes.toString());
    sizes.push(r.body.length);
    seen.push(...r.body.map((j: any) => j.id));
    page = r.headers.get('opc-next-page') ?? undefined;
    if (!page) break;
  }
  assert.deepEqual(sizes, [2, 2, 1]);
  assert.equal(new Set(seen).size, 5, 'every id exactly once');
  assert.deepEqual([...seen].sort(), Object.values(ids).sort());
  assert.deepEqual(seen, dflt.map((j) => j.id), 'pages follow the sort order');

  // pagination with a displayName sort too
  const seenByName: string[] = [];
  page = undefined;
  do {
    const r = await call('GET', '/jobs', {
      query: { compartmentId: s.compartmentId, projectId, limit: 2, sortBy: 'displayName', ...(page ? { page } : {}) },
    });
    assert.equal(r.status, 200);
    seenByName.push(...r.body.map((j: any) => j.displayName));
    page = r.headers.get('opc-next-page') ?? undefined;
  } while (page && seenByName.length < 20);
  assert.deepEqual(seenByName, ['a', 'b', 'c', 'd', 'e']);

  const garbage = await call('GET', '/jobs', { query: { compartmentId: s.compartmentId, page: 'garbage-token' } });
  assertError(garbage, 400, 'InvalidParameter', 'page');

  const noCompartment = await call('GET', '/jobs', { query: { projectId } });
  assertError(noCompartment, 400, 'InvalidParameter', 'compartmentId');

  const badState = await call('GET', '/jobs', { query: { compartmentId: s.compartmentId, lifecycleState: 'BOGUS' } });
  assertError(badState, 400, 'InvalidParameter', 'lifecycleState');
});

// ------------------------------------------------------------------ 3. UpdateJob

test('lists: a compartmentId filter that is not a compartment id is a 400 naming it, not an empty list', async () => {
  for (const path of ['/projects', '/jobs', '/jobRuns']) {
    const r = await call('GET', path, { query: { compartmentId: 'ocid1.compartmnt-typo' } });
    assertError(r, 400, 'InvalidParameter', 'compartmentId', 'must be an OCID');
    const ok = await call('GET', path, { query: { compartmentId: 'ocid1.compartment.oc1..elsewhere' } });
    assert.equal(ok.status, 200, `${path}: ${ok.bytes.toString()}`);
    assert.deepEqual(ok.body, []);
  }
});

test('automation lists (trigger rules, schedules, webhook subscriptions, sweeps): pages with opc-next-page; the SDK follows them', async () => {
  // A compartment of this test's own, so the lists hold exactly what it makes.
  const compartmentId = `ocid1.compartment.oc1..pages${Date.now().toString(36)}`;
  const job = await createJob(s, 'p.sh', 'true\n');
  const made: Record<string, string[]> = { '/triggerRules': [], '/schedules': [], '/webhookSubscriptions': [], '/sweeps': [] };
  for (let i = 0; i < 3; i++) {
    made['/triggerRules'].push((await s.api.createTriggerRule({ compartmentId, jobId: job.id, displayName: `r${i}` })).id);
    made['/schedules'].push((await s.api.createSchedule({ compartmentId, jobId: job.id, cron: '0 0 1 1 *', displayName: `c${i}` })).id);
    const sub = await s.api.createWebhookSubscription({ compartmentId, url: 'https://example.com/hook', filter: { compartmentId, eventTypes: ['com.oraclecloud.datascience.createproject'] } });
    made['/webhookSubscriptions'].push(sub.id);
    // i + 1 trials: the list's per-sweep counts come from one query over the whole page.
    const values = Array.from({ length: i + 1 }, (_, k) => String(k));
    const sweep = await s.api.createSweep({ compartmentId, jobId: job.id, displayName: `w${i}`, parameters: { environmentVariables: { X: values } }, maxParallel: 1, metric: { name: 'score', goal: 'MAXIMIZE' } });
    made['/sweeps'].unshift(sweep.id); // newest first
    await sleep(5); // distinct creation times
  }
  for (const [path, ids] of Object.entries(made)) {
    const first = await call('GET', path, { query: { compartmentId, limit: 2 } });
    assert.equal(first.status, 200, `${path}: ${first.bytes.toString()}`);
    assert.deepEqual(first.body.map((x: { id: string }) => x.id), ids.slice(0, 2), path);
    const next = first.headers.get('opc-next-page');
    assert.ok(next, `${path}: opc-next-page`);
    const second = await call('GET', path, { query: { compartmentId, limit: 2, page: next! } });
    assert.deepEqual(second.body.map((x: { id: string }) => x.id), ids.slice(2), path);
    assert.equal(second.headers.get('opc-next-page'), null, path);
    assertError(await call('GET', path, { query: { compartmentId, page: 'garbage' } }), 400, 'InvalidParameter', 'page');
    assertError(await call('GET', path, { query: { compartmentId, limit: 0 } }), 400, 'InvalidParameter', 'limit');
  }
  assert.deepEqual((await s.api.listTriggerRules({ compartmentId })).map((r) => r.id), made['/triggerRules']);
  const sweeps = await s.api.listSweeps({ compartmentId });
  assert.deepEqual(sweeps.map((r) => r.id), made['/sweeps']);
  assert.deepEqual(sweeps.map((r) => r.trialCount), [3, 2, 1]);
  for (const sw of sweeps) assert.equal(Object.values(sw.trialCounts).reduce((a, b) => a + b, 0), sw.trialCount);
  for (const id of made['/webhookSubscriptions']) await s.api.deleteWebhookSubscription(id);
});

test('UpdateJob: allowed fields change, other fields and bad shapes are refused by name', async () => {
  const projectId = await newProject();
  const job = await bareJob(projectId, 'to-update', { freeformTags: { old: '1' } });

  const ok = await call('PUT', `/jobs/${job.id}`, {
    json: {
      displayName: 'updated',
      description: 'new description',
      jobInfrastructureConfigurationDetails: {
        jobInfrastructureType: 'ME_STANDALONE',
        shapeName: 'VM.Standard.E4.Flex',
        blockStorageSizeInGBs: 100,
        jobShapeConfigDetails: { ocpus: 1, memoryInGBs: 2 },
      },
      freeformTags: { team: 'ml' },
    },
  });
  assert.equal(ok.status, 200, ok.bytes.toString());
  const j = await s.api.getJob(job.id);
  assert.equal(j.displayName, 'updated');
  assert.equal(j.description, 'new description');
  assert.equal(j.jobInfrastructureConfigurationDetails.shapeName, 'VM.Standard.E4.Flex');
  assert.equal(j.jobInfrastructureConfigurationDetails.blockStorageSizeInGBs, 100);
  assert.deepEqual(j.jobInfrastructureConfigurationDetails.jobShapeConfigDetails, { ocpus: 1, memoryInGBs: 2 });
  assert.deepEqual(j.freeformTags, { team: 'ml' });
  assert.equal(j.projectId, projectId);

  const cfg = await call('PUT', `/jobs/${job.id}`, { json: { jobConfigurationDetails: { jobType: 'DEFAULT', commandLineArguments: 'x' } } });
  assertError(cfg, 400, 'InvalidParameter', 'jobConfigurationDetails');
  const proj = await call('PUT', `/jobs/${job.id}`, { json: { projectId: await newProject() } });
  assertError(proj, 400, 'InvalidParameter', 'projectId');
  const cmp = await call('PUT', `/jobs/${job.id}`, { json: { displayName: 'ok', compartmentId: OTHER_COMPARTMENT } });
  assertError(cmp, 400, 'InvalidParameter', 'compartmentId');

  const infra = (shapeName: string, extra: Record<string, unknown> = {}) => ({
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName, blockStorageSizeInGBs: 50, ...extra },
  });
  assertError(await call('PUT', `/jobs/${job.id}`, { json: infra('VM.NoSuch.Shape') }), 400, 'InvalidParameter', 'shapeName', 'VM.NoSuch.Shape');
  assertError(
    await call('PUT', `/jobs/${job.id}`, { json: infra('VM.Standard2.1', { jobShapeConfigDetails: { ocpus: 1, memoryInGBs: 15 } }) }),
    400,
    'InvalidParameter',
    'jobShapeConfigDetails',
  );
  const gpu = await call('PUT', `/jobs/${job.id}`, { json: infra('VM.GPU.A10.1') });
  assertError(gpu, 400, 'InvalidParameter', 'shapeName');
  assert.match(gpu.body.message, /could never run/);

  // nothing of the refused updates stuck
  const still = await s.api.getJob(job.id);
  assert.equal(still.displayName, 'updated');
  assert.equal(still.jobInfrastructureConfigurationDetails.shapeName, 'VM.Standard.E4.Flex');
  assert.equal(still.jobConfigurationDetails.commandLineArguments ?? null, null);
});

// ------------------------------------------------------------------ 4. if-match

test('if-match: a current etag updates and yields a new etag; a stale one is 412', async () => {
  const projectId = await newProject();
  const job = await bareJob(projectId, 'etag-job');
  const g = await call('GET', `/jobs/${job.id}`);
  const e1 = g.headers.get('etag')!;
  assert.ok(e1);

  const put = await call('PUT', `/jobs/${job.id}`, { json: { displayName: 'etag-2' }, headers: { 'if-match': e1 } });
  assert.equal(put.status, 200, put.bytes.toString());
  const e2 = put.headers.get('etag')!;
  assert.ok(e2);
  assert.notEqual(e2, e1, 'an update changes the etag');
  assert.equal((await call('GET', `/jobs/${job.id}`)).headers.get('etag'), e2);

  const stale = await call('PUT', `/jobs/${job.id}`, { json: { displayName: 'etag-3' }, headers: { 'if-match': e1 } });
  assertError(stale, 412, 'NoEtagMatch');
  assert.equal((await s.api.getJob(job.id)).displayName, 'etag-2', 'a refused update changes nothing');

  // quoted and weak forms of the current etag are accepted
  const quoted = await call('PUT', `/jobs/${job.id}`, { json: { description: 'q' }, headers: { 'if-match': `"${e2}"` } });
  assert.equal(quoted.status, 200, quoted.bytes.toString());
  const e3 = quoted.headers.get('etag')!;
  assert.notEqual(e3, e2);

  // concurrent writers with the same etag: exactly one wins
  const racers = await Promise.all(
    [1, 2, 3, 4].map((i) => call('PUT', `/jobs/${job.id}`, { json: { displayName: `racer-${i}` }, headers: { 'if-match': e3 } })),
  );
  const statuses = racers.map((r) => r.status);
  assert.equal(statuses.filter((x) => x === 200).length, 1, statuses.join(','));
  assert.ok(statuses.every((x) => x === 200 || x === 412 || x === 409), statuses.join(','));
  const winner = racers.find((r) => r.status === 200)!;
  assert.equal((await s.api.getJob(job.id)).displayName, winner.body.displayName);
  const e4 = winner.headers.get('etag')!;

  const badDelete = await call('DELETE', `/jobs/${job.id}`, { headers: { 'if-match': 'not-the-etag' } });
  assertError(badDelete, 412, 'NoEtagMatch');
  assert.equal((await s.api.getJob(job.id)).lifecycleState, 'CREATING');
  assertError(await call('DELETE', `/jobs/${job.id}`, { headers: { 'if-match': e2 } }), 412, 'NoEtagMatch');

  const goodDelete = await call('DELETE', `/jobs/${job.id}`, { headers: { 'if-match': e4 } });
  assert.equal(goodDelete.status, 202, goodDelete.bytes.toString());
  assert.ok(goodDelete.headers.get('opc-work-request-id'));
  assert.equal((await s.api.getJob(job.id)).lifecycleState, 'DELETED');
});

// ------------------------------------------------------------------ 5. opc-retry-token

test('opc-retry-token: CreateJob and CreateJobRun are idempotent; a different body is 409 InvalidatedRetryToken', async () => {
  const projectId = await newProject('retry');
  const body = jobBody(projectId, 'retry-job');
  const token = `tok-${Date.now()}-job`;
  const a = await call('POST', '/jobs', { json: body, headers: { 'opc-retry-token': token } });
  const b = await call('POST', '/jobs', { json: body, headers: { 'opc-retry-token': token } });
  assert.equal(a.status, 200, a.bytes.toString());
  assert.equal(b.status, 200, b.bytes.toString());
  assert.equal(b.body.id, a.body.id, 'same token + same body → same job');
  assert.equal((await listAll('/jobs', { projectId })).length, 1, 'only one job exists');
  const c = await call('POST', '/jobs', { json: { ...body, displayName: 'different' }, headers: { 'opc-retry-token': token } });
  assertError(c, 409, 'InvalidatedRetryToken');
  assert.equal((await listAll('/jobs', { projectId })).length, 1);
  // the same body with its keys in another order is the same request
  const reordered = Object.fromEntries(Object.entries(body).reverse());
  const e = await call('POST', '/jobs', { json: reordered, headers: { 'opc-retry-token': token } });
  assert.equal(e.status, 200, e.bytes.toString());
  assert.equal(e.body.id, a.body.id);
  // concurrent requests with one token create one job
  const ctoken = `${token}-concurrent`;
  const conc = await Promise.all([1, 2, 3, 4, 5].map(() => call('POST', '/jobs', { json: body, headers: { 'opc-retry-token': ctoken } })));
  assert.deepEqual(conc.map((r) => r.status), [200, 200, 200, 200, 200]);
  assert.equal(new Set(conc.map((r) => r.body.id)).size, 1, 'one job for concurrent retries');
  assert.notEqual(conc[0].body.id, a.body.id, 'a different token makes a new job');
  assert.equal((await listAll('/jobs', { projectId })).length, 2);

  const job = await createJob(s, 'retry.sh', 'echo retry\n', { projectId });
  const rb = runBody(job, { displayName: 'retry-run' });
  const rtoken = `tok-${Date.now()}-run`;
  const r1 = await call('POST', '/jobRuns', { json: rb, headers: { 'opc-retry-token': rtoken } });
  const r2 = await call('POST', '/jobRuns', { json: rb, headers: { 'opc-retry-token': rtoken } });
  assert.equal(r1.status, 200, r1.bytes.toString());
  assert.equal(r2.status, 200, r2.bytes.toString());
  assert.equal(r2.body.id, r1.body.id, 'same token + same body → same run');
  const r3 = await call('POST', '/jobRuns', { json: { ...rb, displayName: 'other-run' }, headers: { 'opc-retry-token': rtoken } });
  assertError(r3, 409, 'InvalidatedRetryToken');
  const r4 = await call('POST', '/jobRuns', { json: Object.fromEntries(Object.entries(rb).reverse()), headers: { 'opc-retry-token': rtoken } });
  assert.equal(r4.status, 200, r4.bytes.toString());
  assert.equal(r4.body.id, r1.body.id);
  const runs = await listAll('/jobRuns', { jobId: job.id });
  assert.deepEqual(runs.map((r) => r.id), [r1.body.id], 'only one run exists');
  const done = await waitForRun(s.api, r1.body.id);
  assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
});

// ------------------------------------------------------------------ 6. artifacts

test('artifact: upload validation, HEAD/GET headers, ranges, immutability', async () => {
  const projectId = await newProject();
  const job = await bareJob(projectId, 'artifact-job');

  assertError(await upload(job.id, 'print(1)\n', {}), 400, 'InvalidParameter', 'content-disposition');
  assertError(await upload(job.id, 'MZ', disposition('evil.exe')), 400, 'InvalidParameter', 'evil.exe');
  assert.equal((await s.api.getJob(job.id)).lifecycleState, 'CREATING');
  const noArtifact = await call('GET', `/jobs/${job.id}/artifact/content`);
  assertError(noArtifact, 404, 'NotAuthorizedOrNotFound');

  const content = Buffer.from('print("hello, artifact")\n# 0123456789\n');
  const md5 = createHash('md5').update(content).digest('base64');
  const up = await upload(job.id, content, disposition('main.py'));
  assert.equal(up.status, 200, up.bytes.toString());
  const j = await s.api.getJob(job.id);
  assert.equal(j.lifecycleState, 'ACTIVE');
  assert.equal(j.artifactContentLength, content.length);
  assert.equal(j.artifactContentMd5, md5);

  const head = await call('HEAD', `/jobs/${job.id}/artifact/content`);
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(content.length));
  assert.equal(head.headers.get('content-md5'), md5);
  assert.ok(head.headers.get('etag'));
  assert.match(head.headers.get('content-disposition') ?? '', /main\.py/);
  const lm = head.headers.get('last-modified');
  assert.ok(lm && !Number.isNaN(Date.parse(lm)), `last-modified: ${lm}`);
  assert.equal(head.bytes.length, 0, 'HEAD has no body');

  const get = await call('GET', `/jobs/${job.id}/artifact/content`);
  assert.equal(get.status, 200);
  assert.deepEqual(get.bytes, content);
  assert.equal(get.headers.get('content-md5'), md5);
  assert.equal(get.headers.get('etag'), head.headers.get('etag'));
  assert.match(get.headers.get('content-disposition') ?? '', /main\.py/);

  const part = await call('GET', `/jobs/${job.id}/artifact/content`, { headers: { range: 'bytes=2-5' } });
  assert.equal(part.status, 206);
  assert.deepEqual(part.bytes, content.subarray(2, 6));
  assert.equal(part.headers.get('content-range'), `bytes 2-5/${content.length}`);
  assert.equal(part.headers.get('content-length'), '4');

  const suffix = await call('GET', `/jobs/${job.id}/artifact/content`, { headers: { range: 'bytes=-3' } });
  assert.equal(suffix.status, 206);
  assert.deepEqual(suffix.bytes, content.subarray(content.length - 3));
  assert.equal(suffix.headers.get('content-range'), `bytes ${content.length - 3}-${content.length - 1}/${content.length}`);

  const open = await call('GET', `/jobs/${job.id}/artifact/content`, { headers: { range: `bytes=${content.length - 4}-` } });
  assert.equal(open.status, 206);
  assert.deepEqual(open.bytes, content.subarray(content.length - 4));

  const unsat = await call('GET', `/jobs/${job.id}/artifact/content`, { headers: { range: `bytes=${content.length + 10}-${content.length + 20}` } });
  assert.equal(unsat.status, 416);
  assert.equal(unsat.headers.get('content-range'), `bytes */${content.length}`);

  const again = await upload(job.id, 'print("replaced")\n', disposition('main.py'));
  assertError(again, 409, 'Conflict');
  const other = await upload(job.id, 'echo replaced\n', disposition('other.sh'));
  assertError(other, 409, null);
  const after2 = await call('GET', `/jobs/${job.id}/artifact/content`);
  assert.deepEqual(after2.bytes, content, 'artifact unchanged after a refused upload');
  assert.equal(after2.headers.get('content-md5'), md5);
  assert.equal((await s.api.getJob(job.id)).artifactFileName, 'main.py');
});

for (const sameName of [false, true]) test(`artifact: concurrent uploads store exactly one artifact (${sameName ? 'same' : 'different'} file names)`, async () => {
  const projectId = await newProject();
  const job = await bareJob(projectId, 'race-job');
  const contents = ['a', 'b', 'c'].map((n) => Buffer.from(`echo ${n}\n`.repeat(20_000)));
  const name = (i: number) => (sameName ? 'race.sh' : `race-${i}.sh`);
  const res = await Promise.all(contents.map((c, i) => upload(job.id, c, disposition(name(i)))));
  const winners = res.map((r, i) => (r.status === 200 ? i : -1)).filter((i) => i >= 0);
  assert.equal(winners.length, 1, res.map((r) => `${r.status} ${r.bytes.toString()}`).join(' | '));
  for (const r of res) if (r.status !== 200) assertError(r, 409, 'Conflict');
  const w = winners[0];
  const j = await s.api.getJob(job.id);
  assert.equal(j.lifecycleState, 'ACTIVE');
  assert.equal(j.artifactFileName, name(w));
  const got = await call('GET', `/jobs/${job.id}/artifact/content`);
  assert.deepEqual(got.bytes, contents[w], 'the stored bytes are the winner\'s');
  assert.equal(got.headers.get('content-md5'), createHash('md5').update(contents[w]).digest('base64'));
});

test('artifact: a zip with a ../ entry is refused and the job stays CREATING', async () => {
  const zip = path.join(tmp, 'evil.zip');
  execFileSync('python3', [
    '-c',
    'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], "w")\nz.writestr("main.py", "print(1)\\n")\nz.writestr("../evil", "pwned\\n")\nz.close()',
    zip,
  ]);
  const projectId = await newProject();
  const job = await bareJob(projectId, 'zip-job');
  const r = await upload(job.id, readFileSync(zip), disposition('bundle.zip'));
  assertError(r, 400, 'InvalidParameter', '../evil');
  const j = await s.api.getJob(job.id);
  assert.equal(j.lifecycleState, 'CREATING');
  assert.equal(j.artifactFileName ?? null, null);
  assert.equal((await call('HEAD', `/jobs/${job.id}/artifact/content`)).status, 404, 'no artifact stored');
  // a clean zip is accepted afterwards (the refused upload left nothing behind)
  const good = path.join(tmp, 'good.zip');
  execFileSync('python3', ['-c', 'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], "w")\nz.writestr("main.py", "print(1)\\n")\nz.close()', good]);
  const ok = await upload(job.id, readFileSync(good), disposition('bundle.zip'));
  assert.equal(ok.status, 200, ok.bytes.toString());
  assert.equal((await s.api.getJob(job.id)).lifecycleState, 'ACTIVE');
});

test('artifact: a tar.gz must contain the JOB_RUN_ENTRYPOINT file', async () => {
  const tgz = path.join(tmp, 'app.tar.gz');
  execFileSync('python3', [
    '-c',
    [
      'import io, sys, tarfile',
      't = tarfile.open(sys.argv[1], "w:gz")',
      'data = b"print(1)\\n"',
      'info = tarfile.TarInfo("src/main.py"); info.size = len(data); info.mode = 0o644',
      't.addfile(info, io.BytesIO(data))',
      't.close()',
    ].join('\n'),
    tgz,
  ]);
  const projectId = await newProject();
  const bad = await bareJob(projectId, 'tgz-bad', {
    jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { JOB_RUN_ENTRYPOINT: 'src/missing.py' } },
  });
  const r = await upload(bad.id, readFileSync(tgz), disposition('app.tar.gz'));
  assertError(r, 400, 'InvalidParameter', 'JOB_RUN_ENTRYPOINT');
  assert.equal((await s.api.getJob(bad.id)).lifecycleState, 'CREATING');

  const good = await bareJob(projectId, 'tgz-good', {
    jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { JOB_RUN_ENTRYPOINT: 'src/main.py' } },
  });
  const ok = await upload(good.id, readFileSync(tgz), disposition('app.tar.gz'));
  assert.equal(ok.status, 200, ok.bytes.toString());
  assert.equal((await s.api.getJob(good.id)).lifecycleState, 'ACTIVE');
});

// ------------------------------------------------------------------ 7. env / args validation on run create

test('CreateJobRun: env and argument validation, and no runs from a CREATING job', async () => {
  const projectId = await newProject();
  const job = await createJob(s, 'ok.sh', 'echo ok\n', { projectId });
  const before = (await listAll('/jobRuns', { jobId: job.id })).length;

  await rejectsWith(startRun(s, job, { env: { LD_PRELOAD: '/tmp/x.so' } }), 400, 'InvalidParameter', 'LD_PRELOAD');
  await rejectsWith(startRun(s, job, { env: { JOB_OCID: 'ocid1.datasciencejob.oc1..fake' } }), 400, 'InvalidParameter', 'JOB_OCID');
  await rejectsWith(startRun(s, job, { env: { BIG: 'x'.repeat(20_001) } }), 400, 'InvalidParameter', 'environmentVariables');
  const many: Record<string, string> = {};
  for (let i = 0; i < 10; i++) many[`V${i}`] = 'y'.repeat(2_000); // 10 × (2 + 2000) > 20,000 in total
  await rejectsWith(startRun(s, job, { env: many }), 400, 'InvalidParameter', 'environmentVariables');
  await rejectsWith(startRun(s, job, { args: 'a'.repeat(4_001) }), 400, 'InvalidParameter', 'commandLineArguments');
  await rejectsWith(startRun(s, job, { args: `one "two three` }), 400, 'InvalidParameter', 'commandLineArguments');
  await rejectsWith(startRun(s, job, { args: `it's` }), 400, 'InvalidParameter', 'commandLineArguments');
  assert.equal((await listAll('/jobRuns', { jobId: job.id })).length, before, 'refused runs were not created');

  // limits are inclusive: exactly 4,000 characters of args is fine
  const okRun = await startRun(s, job, { args: 'a'.repeat(4_000) });
  assert.equal((await waitForRun(s.api, okRun.id)).lifecycleState, 'SUCCEEDED');

  const creating = await bareJob(projectId, 'no-artifact');
  await rejectsWith(startRun(s, creating), 409, 'IncorrectState');
});

// ------------------------------------------------------------------ 8. job runs

test('job runs: update, delete, cancel rules and list filters', async () => {
  const projectId = await newProject('runs');
  const quick = await createJob(s, 'quick.sh', 'echo done\n', { projectId });
  const slow = await createJob(s, 'slow.sh', 'sleep 30\n', { projectId });

  const active = await startRun(s, slow, { displayName: 'slow-run' });
  const r1 = await startRun(s, quick, { displayName: 'quick-1' });
  const r2 = await startRun(s, quick, { displayName: 'quick-2' });
  assert.equal((await waitForRun(s.api, r1.id)).lifecycleState, 'SUCCEEDED');
  assert.equal((await waitForRun(s.api, r2.id)).lifecycleState, 'SUCCEEDED');

  // UpdateJobRun
  const upd = await call('PUT', `/jobRuns/${r1.id}`, { json: { displayName: 'renamed', freeformTags: { k: 'v' } } });
  assert.equal(upd.status, 200, upd.bytes.toString());
  assert.ok(upd.headers.get('etag'));
  const g1 = await s.api.getJobRun(r1.id);
  assert.equal(g1.displayName, 'renamed');
  assert.deepEqual(g1.freeformTags, { k: 'v' });
  assert.equal(g1.lifecycleState, 'SUCCEEDED');
  assertError(await call('PUT', `/jobRuns/${r1.id}`, { json: { lifecycleState: 'FAILED' } }), 400, 'InvalidParameter', 'lifecycleState');
  assertError(
    await call('PUT', `/jobRuns/${r1.id}`, { json: { jobConfigurationOverrideDetails: { jobType: 'DEFAULT' } } }),
    400,
    'InvalidParameter',
    'jobConfigurationOverrideDetails',
  );
  assert.equal((await s.api.getJobRun(r1.id)).lifecycleState, 'SUCCEEDED');

  // DELETE of an active run is refused
  assertError(await call('DELETE', `/jobRuns/${active.id}`), 409, 'IncorrectState');
  assert.notEqual((await s.api.getJobRun(active.id)).lifecycleState, 'DELETED');

  // cancel of a finished run is refused
  assertError(await call('POST', `/jobRuns/${r2.id}/actions/cancelJobRun`), 409, 'IncorrectState');
  assert.equal((await s.api.getJobRun(r2.id)).lifecycleState, 'SUCCEEDED');

  // DELETE of a finished run
  const del = await call('DELETE', `/jobRuns/${r1.id}`);
  assert.equal(del.status, 204, del.bytes.toString());
  assert.equal((await s.api.getJobRun(r1.id)).lifecycleState, 'DELETED');

  // list filters
  const quickRuns = await listAll('/jobRuns', { jobId: quick.id });
  assert.deepEqual(quickRuns.map((r) => r.id).sort(), [r1.id, r2.id].sort());
  const slowRuns = await listAll('/jobRuns', { jobId: slow.id });
  assert.deepEqual(slowRuns.map((r) => r.id), [active.id]);
  const succeeded = await listAll('/jobRuns', { jobId: quick.id, lifecycleState: 'SUCCEEDED' });
  assert.deepEqual(succeeded.map((r) => r.id), [r2.id]);
  const deleted = await listAll('/jobRuns', { jobId: quick.id, lifecycleState: 'DELETED' });
  assert.deepEqual(deleted.map((r) => r.id), [r1.id]);
  const named = await listAll('/jobRuns', { jobId: quick.id, displayName: 'quick-2' });
  assert.deepEqual(named.map((r) => r.id), [r2.id]);
  assertError(
    await call('GET', '/jobRuns', { query: { compartmentId: s.compartmentId, lifecycleState: 'BOGUS' } }),
    400,
    'InvalidParameter',
    'lifecycleState',
  );

  // cancel the active run: 200 and it ends CANCELED
  const cancel = await call('POST', `/jobRuns/${active.id}/actions/cancelJobRun`);
  assert.equal(cancel.status, 200, cancel.bytes.toString());
  const canceled = await waitForRun(s.api, active.id);
  assert.equal(canceled.lifecycleState, 'CANCELED', canceled.lifecycleDetails ?? '');

  assertError(await call('GET', '/jobRuns/ocid1.datasciencejobrun.dsjobs.local.doesnotexist'), 404, 'NotAuthorizedOrNotFound');
});

// ------------------------------------------------------------------ 9. DeleteJob with active runs

test('DeleteJob with an active run is 409 unless deleteRelatedJobRuns=true', async () => {
  const projectId = await newProject();
  const job = await createJob(s, 'sleepy.sh', 'sleep "${1:-30}"\n', { projectId });
  const finished = await startRun(s, job, { args: '0' });
  assert.equal((await waitForRun(s.api, finished.id)).lifecycleState, 'SUCCEEDED');
  const run = await startRun(s, job);
  await waitForRun(s.api, run.id, (r) => r.lifecycleState === 'IN_PROGRESS', 15_000);

  assertError(await call('DELETE', `/jobs/${job.id}`), 409, 'IncorrectState');
  assert.equal((await s.api.getJob(job.id)).lifecycleState, 'ACTIVE');
  assert.equal((await s.api.getJobRun(run.id)).lifecycleState, 'IN_PROGRESS');

  const del = await call('DELETE', `/jobs/${job.id}`, { query: { deleteRelatedJobRuns: true } });
  assert.equal(del.status, 202, del.bytes.toString());
  assert.equal((await s.api.getJob(job.id)).lifecycleState, 'DELETED');
  const ended = await waitForRun(s.api, run.id, (r) => r.lifecycleState === 'CANCELED' || r.lifecycleState === 'DELETED', 15_000);
  assert.ok(['CANCELED', 'DELETED'].includes(ended.lifecycleState));
  assert.equal((await s.api.getJobRun(finished.id)).lifecycleState, 'DELETED', 'finished runs of the job are deleted with it');
  // a DELETED job takes no new runs
  await rejectsWith(startRun(s, job), 409, 'IncorrectState');
});

// ------------------------------------------------------------------ 10. shapes, server info, OpenAPI

test('jobShapes, serverInfo and the OpenAPI document', async () => {
  const shapes = await call('GET', '/jobShapes');
  assert.equal(shapes.status, 200);
  const names = shapes.body.map((x: any) => x.name);
  assert.ok(names.includes('Local.Light'), names.join(','));
  assert.ok(names.includes('VM.Standard.E4.Flex'), names.join(','));
  assert.ok(!names.includes('VM.GPU.A10.1'), 'no GPU shapes on a GPU-less server');
  assert.ok(shapes.body.every((x: any) => !x.gpuCount), 'no listed shape needs a GPU');
  const flex = shapes.body.find((x: any) => x.name === 'VM.Standard.E4.Flex');
  assert.equal(flex.isFlex, true);
  assert.equal(typeof flex.coreCount, 'number');
  assert.equal(typeof flex.memoryInGBs, 'number');

  const info = await call('GET', '/serverInfo');
  assert.equal(info.status, 200);
  for (const k of ['version', 'region', 'tenancyId', 'defaultCompartmentId']) {
    assert.equal(typeof info.body[k], 'string', k);
    assert.ok(info.body[k].length > 0, k);
  }
  assert.equal(info.body.defaultCompartmentId, s.compartmentId);
  assert.match(info.body.tenancyId, /^ocid1\.tenancy\./);

  const oa = await call('GET', '/openapi.json');
  assert.equal(oa.status, 200);
  assert.ok(String(oa.body.openapi).startsWith('3.1'), `openapi: ${oa.body.openapi}`);
  assert.ok(oa.body.paths['/20190101/jobs'], Object.keys(oa.body.paths).join(','));
  assert.ok(oa.body.paths['/20190101/jobRuns/{jobRunId}/logs'], Object.keys(oa.body.paths).join(','));
  assert.ok(oa.body.paths['/20190101/jobs'].post, 'CreateJob is documented');
});

// ------------------------------------------------------------------ 11. generic errors

test('unknown routes, malformed JSON and wrongly typed fields give OCI error bodies', async () => {
  const unknown = await call('GET', '/noSuchThing');
  assertError(unknown, 404, null);
  const unknownMethod = await call('PATCH', '/jobs');
  assertError(unknownMethod, 404, null);
  const outside = await fetch(`${s.url}/definitely/not/here`);
  assert.equal(outside.status, 404);
  const ob = (await outside.json()) as any;
  assert.equal(typeof ob.code, 'string');
  assert.equal(typeof ob.message, 'string');

  const malformed = await call('POST', '/projects', { raw: '{"compartmentId": ', headers: { 'content-type': 'application/json' } });
  assertError(malformed, 400, 'InvalidParameter');

  const projectId = await newProject();
  const bad = (infra: Record<string, unknown>) =>
    call('POST', '/jobs', {
      json: { ...jobBody(projectId, 'typed'), jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', ...infra } },
    });
  assertError(await bad({ blockStorageSizeInGBs: 'ten' }), 400, 'InvalidParameter', 'jobInfrastructureConfigurationDetails.blockStorageSizeInGBs');
  assertError(await bad({ blockStorageSizeInGBs: 10 }), 400, 'InvalidParameter', 'jobInfrastructureConfigurationDetails.blockStorageSizeInGBs');
  assertError(await bad({ blockStorageSizeInGBs: 50.5 }), 400, 'InvalidParameter', 'jobInfrastructureConfigurationDetails.blockStorageSizeInGBs');
  assertError(await bad({ jobInfrastructureType: 'NOPE' }), 400, 'InvalidParameter', 'jobInfrastructureConfigurationDetails.jobInfrastructureType');
  const envType = await call('POST', '/jobs', {
    json: jobBody(projectId, 'typed', { jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { A: { nested: true } } } }),
  });
  assertError(envType, 400, 'InvalidParameter', 'jobConfigurationDetails.environmentVariables');
  const missing = await call('POST', '/jobs', { json: { compartmentId: s.compartmentId, jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light' } } });
  assertError(missing, 400, 'InvalidParameter', 'projectId');
  assert.deepEqual(await listAll('/jobs', { projectId }), [], 'no job was created by refused requests');
});

// ------------------------------------------------------------------ regressions found while writing these tests

test('CreateJobRun: an override without jobType is accepted and the run stays readable', async () => {
  // CreateJobRunDetails.jobConfigurationOverrideDetails is partial (jobType optional); the run must not be stored
  // in a form the JobRun response schema cannot serialize.
  const projectId = await newProject();
  const job = await createJob(s, 'envecho.sh', 'echo "A=$A"\n', { projectId });
  const res = await call('POST', '/jobRuns', { json: runBody(job, { jobConfigurationOverrideDetails: { environmentVariables: { A: 'x' } } }) });
  assert.equal(res.status, 200, `create: ${res.status} ${res.bytes.toString()}`);
  assert.equal(res.body.jobConfigurationOverrideDetails.jobType, 'DEFAULT');
  const got = await call('GET', `/jobRuns/${res.body.id}`);
  assert.equal(got.status, 200, `get: ${got.status} ${got.bytes.toString()}`);
  const done = await waitForRun(s.api, res.body.id);
  assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
});

test('enum validation errors list every allowed value', async () => {
  const sortBy = await call('GET', '/jobs', { query: { compartmentId: s.compartmentId, sortBy: 'size' } });
  assertError(sortBy, 400, 'InvalidParameter', 'sortBy', 'timeCreated', 'displayName');
  const sortOrder = await call('GET', '/jobRuns', { query: { compartmentId: s.compartmentId, sortOrder: 'UP' } });
  assertError(sortOrder, 400, 'InvalidParameter', 'sortOrder', 'ASC', 'DESC');
  const projectId = await newProject();
  const infraType = await call('POST', '/jobs', {
    json: jobBody(projectId, 'enum', { jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'NOPE', shapeName: 'Local.Light' } }),
  });
  assertError(infraType, 400, 'InvalidParameter', 'jobInfrastructureConfigurationDetails.jobInfrastructureType', 'ME_STANDALONE');
});

test('create bodies refuse unknown fields by name (typos are not silently ignored)', async () => {
  const projectId = await newProject('strict');
  assertError(await call('POST', '/jobs', { json: { ...jobBody(projectId, 'typo'), bogusField: 1 } }), 400, 'InvalidParameter', 'bogusField');
  const nested = jobBody(projectId, 'typo2');
  (nested as any).jobConfigurationDetails = { jobType: 'DEFAULT', enviromentVariables: { A: '1' } };
  assertError(await call('POST', '/jobs', { json: nested }), 400, 'InvalidParameter', 'jobConfigurationDetails.enviromentVariables');
  const job = await bareJob(projectId, 'strict-run');
  await upload(job.id, 'exit 0\n', disposition('ok.sh'));
  assertError(await call('POST', '/jobRuns', { json: { ...runBody(job), extra: true } }), 400, 'InvalidParameter', 'extra');
});

test('artifact names: non-ASCII names round-trip through content-disposition, control characters are refused', async () => {
  const projectId = await newProject('names');
  const job = await bareJob(projectId, 'unicode');
  const name = '训练 run.py';
  const up = await upload(job.id, 'print(1)\n', { 'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}` });
  assert.equal(up.status, 200, up.bytes.toString());
  for (const method of ['HEAD', 'GET']) {
    const r = await call(method, `/jobs/${job.id}/artifact/content`);
    assert.equal(r.status, 200);
    assert.ok(r.headers.get('content-disposition')!.includes(`filename*=UTF-8''${encodeURIComponent(name)}`));
  }
  const bad = await bareJob(projectId, 'ctl');
  const r = await upload(bad.id, 'x', { 'content-disposition': `attachment; filename*=UTF-8''a%0D%0Ab.py` });
  assertError(r, 400, 'InvalidParameter', 'content-disposition');
});
