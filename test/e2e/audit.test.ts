/**
 * Audit end to end: a real server with authentication on; requests made with the official OCI SDKs, dsjobs' SDK,
 * raw fetch (unsigned, badly signed, console session) and the CLI; the trail read back with the official oci-audit
 * SDK (ListEvents), raw signed requests (the dsjobs extensions) and `dsjobs audit list`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AuditClient, models } from 'oci-audit';
import type { IdentityClient } from 'oci-identity';
import { configFileSigner, readOciProfile } from '../../src/sdk/signer.js';
import { DsJobsClient, type Job } from '../../src/sdk/client.js';
import { signedFetch, startServer, type TestServer } from '../support/server.js';
import { expectOciError, makeAuditClient, makeIdentityClient, makeOciClient } from '../support/oci-sdk-client.js';
import { runCli } from '../support/cli.js';
import { makeUser } from '../support/users.js';

let s: TestServer;
let admin: { client: IdentityClient; close(): void };
let audit: { client: AuditClient; close(): void };
let tenancy: string;
let adminId: string;
let t0: Date;
let job: Job;
const closers: (() => void)[] = [];

interface Person {
  id: string;
  configFile: string;
  api: DsJobsClient;
  audit: AuditClient;
  fetch: (url: string, init?: { method?: string; body?: string }) => Promise<Response>;
}
const people: Record<string, Person> = {};

/** A user in a group of its own, with an API key and an OCI config file naming them. */
async function makePerson(name: string): Promise<Person> {
  const { userId, configFile } = await makeUser(admin.client, tenancy, s.dataDir, name);
  const a = makeAuditClient(s.url, configFile);
  closers.push(a.close);
  const sign = configFileSigner(configFile);
  return { id: userId, configFile, api: new DsJobsClient({ endpoint: s.url, signer: sign }), audit: a.client, fetch: (u, init) => signedFetch(sign, u, init) };
}

/** Every event of the compartment since the test began, through the official SDK (its pages followed). */
async function events(compartmentId: string, client: AuditClient = audit.client): Promise<models.AuditEvent[]> {
  const out: models.AuditEvent[] = [];
  // The SDK sends whole seconds: an end a minute ahead covers the last second.
  const request = { compartmentId, startTime: t0, endTime: new Date(Date.now() + 60_000) };
  for await (const e of client.listEventsRecordIterator(request)) out.push(e);
  return out;
}

const find = (list: models.AuditEvent[], pred: (d: models.Data) => boolean) => list.find((e) => pred(e.data));

before(async () => {
  t0 = new Date(Date.now() - 2000);
  s = await startServer();
  admin = makeIdentityClient(s.url, s.configFile);
  audit = makeAuditClient(s.url, s.configFile);
  tenancy = (await s.api.serverInfo()).tenancyId;
  adminId = readOciProfile(s.configFile).user;
  people.alice = await makePerson('alice');
  people.auditor = await makePerson('auditor');
  await admin.client.createPolicy({
    createPolicyDetails: { compartmentId: tenancy, name: 'auditors', description: 'auditors', statements: ['Allow group auditor-group to read audit-events in tenancy'] },
  });
  const project = await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'audited' });
  job = await s.api.createJob({
    projectId: project.id,
    compartmentId: s.compartmentId,
    displayName: 'audited-job',
    jobConfigurationDetails: { jobType: 'DEFAULT' },
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
  });
});

after(async () => {
  for (const c of closers) c();
  admin?.close();
  audit?.close();
  await s?.close();
});

test('a create is audited with principal, operation, resource, result and source address (read with the official oci-audit SDK)', async () => {
  const ds = makeOciClient(s.url, s.configFile);
  closers.push(ds.close);
  const project = (await ds.client.createProject({ createProjectDetails: { compartmentId: s.compartmentId, displayName: 'sdk-made' } })).project;
  const e = find(await events(s.compartmentId), (d) => d.resourceId === project.id && d.eventName === 'CreateProject');
  assert.ok(e, 'the create is in the trail');
  assert.equal(e.source, 'DataScience');
  assert.equal(e.eventType, 'com.oraclecloud.DataScience.CreateProject');
  assert.equal(e.cloudEventsVersion, '0.1');
  assert.ok(Date.parse(String(e.eventTime)) >= t0.getTime());
  const d = e.data;
  assert.equal(d.compartmentId, s.compartmentId);
  assert.equal(d.resourceName, 'sdk-made');
  assert.equal(d.identity?.principalId, adminId);
  assert.equal(d.identity?.principalName, 'admin');
  assert.equal(d.identity?.authType, 'natv');
  assert.equal(d.identity?.tenantId, tenancy);
  assert.match(d.identity?.credentials ?? '', new RegExp(`^${tenancy}/${adminId}/`));
  assert.match(d.identity?.ipAddress ?? '', /127\.0\.0\.1|::1/);
  assert.match(d.identity?.userAgent ?? '', /Oracle-TypeScriptSDK/i);
  assert.equal(d.request?.action, 'POST');
  assert.equal(d.request?.path, '/20190101/projects');
  assert.equal(d.response?.status, '200');
  assert.equal(d.additionalDetails?.result, 'SUCCEEDED');
  assert.equal(d.additionalDetails?.principalType, 'user');
});

test('a denied request is audited: another user without a policy reading a job gets 404, recorded as DENIED', async () => {
  const r = await people.alice.fetch(`${s.url}/20190101/jobs/${job.id}`);
  assert.equal(r.status, 404);
  const e = find(await events(s.compartmentId), (d) => d.identity?.principalId === people.alice.id && d.eventName === 'GetJob');
  assert.ok(e, 'the denied GET is in the trail, in the job\'s compartment');
  assert.equal(e.data.resourceId, job.id);
  assert.equal(e.data.identity?.principalName, 'alice');
  assert.equal(e.data.request?.action, 'GET');
  assert.equal(e.data.response?.status, '404');
  assert.equal(e.data.additionalDetails?.result, 'DENIED');
  assert.equal(e.data.additionalDetails?.errorCode, 'NotAuthorizedOrNotFound');
  // A GET that is allowed, or of something that is not there, is not a change and not a denial: not recorded.
  assert.equal((await s.fetch(`${s.url}/20190101/jobs/${job.id}`)).status, 200);
  assert.equal((await s.fetch(`${s.url}/20190101/jobs/${job.id.replace(/.{6}$/, 'zzzzzz')}`)).status, 404);
  const gets = (await events(s.compartmentId)).filter((x) => x.data.eventName === 'GetJob');
  assert.deepEqual(gets.map((x) => x.data.identity?.principalId), [people.alice.id]);
});

test('unsigned and badly signed requests (401) are audited, in the tenancy, without their credentials', async () => {
  const unsigned = await fetch(`${s.url}/20190101/jobs/${job.id}`, { headers: { 'user-agent': 'audit-test-unsigned' } });
  assert.equal(unsigned.status, 401);
  const keyId = `${tenancy}/${people.alice.id}/00:11:22`;
  const forged = await fetch(`${s.url}/20190101/jobs/${job.id}`, {
    method: 'DELETE',
    headers: {
      'user-agent': 'audit-test-forged',
      date: new Date().toUTCString(),
      authorization: `Signature version="1",keyId="${keyId}",algorithm="rsa-sha256",headers="(request-target) host date",signature="c2VjcmV0LXNpZ25hdHVyZQ=="`,
    },
  });
  assert.equal(forged.status, 401);
  const list = await events(tenancy);
  const a = find(list, (d) => d.identity?.userAgent === 'audit-test-unsigned');
  const b = find(list, (d) => d.identity?.userAgent === 'audit-test-forged');
  assert.ok(a && b, 'both 401s are in the tenancy\'s trail');
  for (const e of [a, b]) {
    assert.equal(e.data.response?.status, '401');
    assert.equal(e.data.additionalDetails?.result, 'DENIED');
    assert.equal(e.data.additionalDetails?.errorCode, 'NotAuthenticated');
    assert.equal(e.data.identity?.principalId, undefined);
    assert.equal(e.data.resourceId, job.id);
    assert.equal(e.data.request?.headers?.authorization, undefined);
  }
  assert.equal(a.data.eventName, 'GetJob');
  assert.equal(b.data.eventName, 'DeleteJob');
  assert.equal(b.data.identity?.credentials, keyId, 'the key id the request claimed');
  assert.doesNotMatch(JSON.stringify(b), /c2VjcmV0LXNpZ25hdHVyZQ/);
});

test('a request that fails validation (400) is audited', async () => {
  const r = await s.fetch(`${s.url}/20190101/projects`, { method: 'POST', body: JSON.stringify({ compartmentId: s.compartmentId, displayName: 'x', bogus: 1 }) });
  assert.equal(r.status, 400);
  const requestId = r.headers.get('opc-request-id');
  const e = find(await events(s.compartmentId), (d) => d.request?.id === requestId);
  assert.ok(e, 'the refused create is in the trail');
  assert.equal(e.data.eventName, 'CreateProject');
  assert.equal(e.data.response?.status, '400');
  assert.equal(e.data.additionalDetails?.result, 'FAILED');
  assert.equal(e.data.additionalDetails?.errorCode, 'InvalidParameter');
  assert.match(e.data.response?.message ?? '', /bogus/);
});

test('no credential is stored: signatures, private keys, passwords, session cookies and CSRF tokens stay out of the trail', async () => {
  // A console login (password in the body), a change through the session (cookie + CSRF token), a new password.
  const login = await fetch(`${s.url}/20190101/console/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userName: 'admin', password: s.adminPassword }),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const viaConsole = await fetch(`${s.url}/20190101/projects`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
    body: JSON.stringify({ compartmentId: s.compartmentId, displayName: 'console-made' }),
  });
  assert.equal(viaConsole.status, 200);
  const reset = (await admin.client.createOrResetUIPassword({ userId: people.alice.id })).uIPassword.password!;

  const all = [...(await events(s.compartmentId)), ...(await events(tenancy))];
  const e = find(all, (d) => d.eventName === 'CreateProject' && d.resourceName === 'console-made');
  assert.ok(e, 'the console create is in the trail');
  assert.equal(e.data.identity?.authType, 'console');
  assert.equal(e.data.identity?.principalName, 'admin');
  const loggedIn = find(all, (d) => d.eventName === 'ConsoleLogin' && d.response?.status === '200');
  assert.equal(loggedIn?.data.identity?.principalId, adminId, 'the login is in the trail, with the user it logged in');
  assert.equal(loggedIn?.data.identity?.authType, undefined);
  const wrong = await fetch(`${s.url}/20190101/console/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userName: 'alice', password: 'not-her-password' }),
  });
  assert.equal(wrong.status, 401);
  const failed = find(await events(tenancy), (d) => d.eventName === 'ConsoleLogin' && d.response?.status === '401');
  assert.equal(failed?.data.identity?.principalName, 'alice', 'a failed login names the user it tried');
  assert.equal(failed?.data.identity?.principalId, undefined);
  assert.doesNotMatch(JSON.stringify(await events(tenancy)), /not-her-password/);
  assert.ok(find(all, (d) => d.eventName === 'CreateOrResetUIPassword'), 'the password reset is in the trail');

  const text = JSON.stringify(all);
  const privateKey = readFileSync(path.join(s.dataDir, 'alice.pem'), 'utf8');
  for (const secret of [s.adminPassword!, reset, cookie.split('=')[1], csrfToken, privateKey.split('\n')[1], 'PRIVATE KEY', 'Signature version']) {
    assert.ok(!text.includes(secret), `the trail holds ${secret.slice(0, 12)}...`);
  }
  // The database file too: no request body or header was written anywhere in it.
  const db = readFileSync(path.join(s.dataDir, 'dsjobs.db')).toString('latin1') + readFileSync(path.join(s.dataDir, 'dsjobs.db-wal')).toString('latin1');
  assert.ok(!db.includes(s.adminPassword!), 'the console password is in the database file');
  assert.ok(!db.includes('Signature version'), 'a signature header is in the database file');
});

test('reading the trail needs read audit-events: a user without a policy is refused (and that is audited), one with it reads', async () => {
  const refused = await expectOciError(() => people.alice.audit.listEvents({ compartmentId: tenancy, startTime: t0, endTime: new Date(Date.now() + 60_000) }));
  assert.equal(refused.statusCode, 404);
  assert.equal(refused.serviceCode, 'NotAuthorizedOrNotFound');
  const read = await events(tenancy, people.auditor.audit);
  assert.ok(read.length > 0);
  assert.ok(find(read, (d) => d.eventName === 'ListAuditEvents' && d.identity?.principalId === people.alice.id && d.additionalDetails?.result === 'DENIED'));
  // A grant in the tenancy reaches the compartments below it, as OCI's policies do.
  assert.ok(find(await events(s.compartmentId, people.auditor.audit), (d) => d.eventName === 'GetJob'));
});

test('filters: the time window and the principal (a dsjobs extension); bad windows are refused naming the field', async () => {
  const url = (q: Record<string, string>) => `${s.url}/20190901/auditEvents?${new URLSearchParams({ compartmentId: s.compartmentId, ...q })}`;
  const get = async (q: Record<string, string>) => {
    const r = await s.fetch(url(q));
    return { status: r.status, body: (await r.json()) as any, next: r.headers.get('opc-next-page') };
  };
  const end = new Date(Date.now() + 60_000).toISOString();
  const all = (await get({ startTime: t0.toISOString(), endTime: end })).body as models.AuditEvent[];
  const alices = (await get({ startTime: t0.toISOString(), endTime: end, principalId: people.alice.id })).body as models.AuditEvent[];
  assert.ok(alices.length > 0 && alices.length < all.length);
  assert.ok(alices.every((e) => e.data.identity?.principalId === people.alice.id));
  // A window after the first events leaves them out.
  const middle = all[Math.floor(all.length / 2)];
  const later = (await get({ startTime: String(middle.eventTime), endTime: end })).body as models.AuditEvent[];
  assert.ok(later.length < all.length && later.every((e) => String(e.eventTime) >= String(middle.eventTime)));
  assert.ok(!later.some((e) => e.eventId === all[0].eventId));

  for (const [q, field] of [
    [{ endTime: end }, 'startTime'],
    [{ startTime: t0.toISOString() }, 'endTime'],
    [{ startTime: 'yesterday', endTime: end }, 'startTime'],
    [{ startTime: end, endTime: t0.toISOString() }, 'endTime'],
    [{ startTime: '2020-01-01T00:00:00Z', endTime: end }, 'endTime'],
  ] as const) {
    const r = await get(q);
    assert.equal(r.status, 400, JSON.stringify(q));
    assert.equal(r.body.code, 'InvalidParameter');
    assert.ok(r.body.message.startsWith(`${field}: `), r.body.message);
  }
});

test('paging: opc-next-page, followed by the official SDK over more than one page', async () => {
  // 105 unsigned requests: 105 denials in the tenancy, past the SDK's page of 100.
  for (let i = 0; i < 105; i++) assert.equal((await fetch(`${s.url}/20190101/projects/p${i}`, { headers: { 'user-agent': 'pager' } })).status, 401);
  const list = (await events(tenancy)).filter((e) => e.data.identity?.userAgent === 'pager');
  assert.equal(list.length, 105);
  assert.equal(new Set(list.map((e) => e.eventId)).size, 105);
  const paths = list.map((e) => e.data.request?.path);
  assert.deepEqual(paths, Array.from({ length: 105 }, (_, i) => `/20190101/projects/p${i}`), 'oldest first, each once');

  const first = await s.fetch(`${s.url}/20190901/auditEvents?${new URLSearchParams({ compartmentId: tenancy, startTime: t0.toISOString(), endTime: new Date(Date.now() + 60_000).toISOString(), limit: '2' })}`);
  assert.equal(first.status, 200);
  assert.equal(((await first.json()) as unknown[]).length, 2);
  assert.ok(first.headers.get('opc-next-page'));
  assert.ok(first.headers.get('opc-request-id'));
});

test('dsjobs audit list: a table of the trail, filtered by principal name, and JSON', async () => {
  const env = { DSJOBS_ENDPOINT: s.url };
  const table = await runCli(['audit', 'list', '--config-file', s.configFile, '--compartment-id', s.compartmentId, '--principal', 'alice', '--since', '1h'], { env });
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0], /^TIME\s+PRINCIPAL\s+OPERATION\s+RESOURCE\s+STATUS\s+RESULT\s+SOURCE$/);
  assert.ok(lines.some((l) => /alice\s+GetJob\s+\S+\s+404\s+DENIED/.test(l)), table.stdout);
  assert.ok(lines.every((l) => l.length <= 100));
  assert.ok(!lines.slice(1).some((l) => /\badmin\b/.test(l)), 'only alice\'s events');

  const json = await runCli(['audit', 'list', '--config-file', s.configFile, '--all', '--output', 'json'], { env });
  assert.equal(json.code, 0, json.stderr);
  const items = JSON.parse(json.stdout) as models.AuditEvent[];
  assert.ok(items.length >= 105, 'every page with --all');
  // By default the CLI's compartment (where the jobs are) and the tenancy (identity, unauthenticated), merged by time.
  assert.ok(items.every((e) => e.data.compartmentId === tenancy || e.data.compartmentId === s.compartmentId));
  assert.ok(items.some((e) => e.data.compartmentId === tenancy) && items.some((e) => e.data.compartmentId === s.compartmentId));
  assert.deepEqual(items.map((e) => e.eventTime), items.map((e) => e.eventTime).sort());

  const bad = await runCli(['audit', 'list', '--config-file', s.configFile, '--since', 'last tuesday'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--since last tuesday: expected a time/);
});
