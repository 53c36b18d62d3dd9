/**
 * Run logs through the OCI Logging subset, end to end: a real server with authentication on and the official
 * oci-logging (LoggingManagementClient and its waiters), oci-loggingsearch (LogSearchClient) and oci-loggingingestion
 * (LoggingClient) SDKs, unmodified. A job with enableAutoLogCreation gets a log per run whose lines the ADS query
 * finds in order; pushed entries are found too; other users see nothing without a grant.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as common from 'oci-common';
import type { IdentityClient } from 'oci-identity';
import type { LoggingManagementClient, LoggingManagementWaiter } from 'oci-logging';
import type { LogSearchClient } from 'oci-loggingsearch';
import type { LoggingClient } from 'oci-loggingingestion';
import { startServer, waitForRun, type TestServer } from '../support/server.js';
import { expectOciError, makeIdentityClient, makeLoggingClients } from '../support/oci-sdk-client.js';

let s: TestServer;
let identity: IdentityClient;
let management: LoggingManagementClient;
let waiters: LoggingManagementWaiter;
let search: LogSearchClient;
let ingestion: LoggingClient;
let tenancy: string;
let projectId: string;
const closers: (() => void)[] = [];

const waiterConfig = { terminationStrategy: new common.MaxTimeTerminationStrategy(30), delayStrategy: new common.FixedTimeDelayStrategy(1) };

before(async () => {
  s = await startServer();
  const id = makeIdentityClient(s.url, s.configFile);
  const l = makeLoggingClients(s.url, s.configFile);
  closers.push(id.close, l.close);
  identity = id.client;
  management = l.management;
  waiters = management.createWaiters(waiterConfig);
  search = l.search;
  ingestion = l.ingestion;
  tenancy = ((await s.api.serverInfo()) as { tenancyId: string }).tenancyId;
  projectId = (await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'logging' })).id;
});

after(async () => {
  for (const c of closers) c();
  await s?.close();
});

/** Creates a log group through the SDK and its work request waiter; returns the group's id. */
async function createGroup(displayName: string): Promise<string> {
  const r = await management.createLogGroup({ createLogGroupDetails: { compartmentId: s.compartmentId, displayName, description: 'test' } });
  assert.match(r.opcWorkRequestId, /^ocid1\./);
  const w = await waiters.forWorkRequest({ workRequestId: r.opcWorkRequestId });
  assert.equal(w!.workRequest.status, 'SUCCEEDED');
  assert.equal(w!.workRequest.operationType, 'CREATE_LOG_GROUP');
  return w!.workRequest.resources[0].identifier;
}

async function createLog(logGroupId: string, displayName: string, retentionDuration?: number): Promise<string> {
  const r = await management.createLog({ logGroupId, createLogDetails: { displayName, logType: 'CUSTOM' as never, retentionDuration } });
  const w = await waiters.forWorkRequest({ workRequestId: r.opcWorkRequestId });
  assert.equal(w!.workRequest.operationType, 'CREATE_LOG');
  return w!.workRequest.resources[0].identifier;
}

/** A job whose artifact is `script` (sh), with this log configuration; its run, finished. */
async function runWithLog(script: string, logConfig: Record<string, unknown>, timeoutMs = 60_000) {
  const job = await s.api.createJob({
    projectId,
    compartmentId: s.compartmentId,
    displayName: 'logged',
    jobConfigurationDetails: { jobType: 'DEFAULT' },
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
    jobLogConfigurationDetails: logConfig,
  } as never);
  const buf = Buffer.from(script);
  await s.api.uploadArtifact(job.id, 'run.sh', buf, buf.length);
  const run = await s.api.createJobRun({ projectId, compartmentId: s.compartmentId, jobId: job.id });
  const done = await waitForRun(s.api, run.id, undefined, timeoutMs);
  assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
  return done as typeof done & { logDetails?: { logGroupId: string; logId: string } };
}

const HOUR = 3_600_000;

/** Every record the ADS query finds for a run, page by page (as ADS and the SDK's paging do). */
async function searchAll(query: string, limit: number, window = { start: new Date(Date.now() - HOUR), end: new Date(Date.now() + HOUR) }) {
  const out: any[] = [];
  let page: string | undefined;
  let pages = 0;
  do {
    const r = await search.searchLogs({ searchLogsDetails: { timeStart: window.start, timeEnd: window.end, searchQuery: query }, limit, page });
    assert.ok((r.searchResponse.results ?? []).length <= limit);
    assert.equal(r.searchResponse.summary.resultCount, (r.searchResponse.results ?? []).length);
    out.push(...(r.searchResponse.results ?? []));
    page = r.opcNextPage;
    pages++;
  } while (page);
  return { records: out, pages };
}

test('log groups and logs through the oci-logging SDK: create (work requests and their waiter), get, list, update, delete; the waiters forLogGroup and forLog', async () => {
  const groupId = await createGroup('group-crud');
  const g = await waiters.forLogGroup({ logGroupId: groupId }, 'ACTIVE' as never);
  assert.equal(g!.logGroup.displayName, 'group-crud');
  assert.equal(g!.logGroup.compartmentId, s.compartmentId);
  assert.ok(g!.etag);
  const listed = (await management.listLogGroups({ compartmentId: s.compartmentId })).items;
  assert.ok(listed.some((x) => x.id === groupId));

  const logId = await createLog(groupId, 'custom-a');
  const l = await waiters.forLog({ logGroupId: groupId, logId }, 'ACTIVE' as never);
  assert.equal(l!.log.retentionDuration, 30, 'OCI default retention');
  assert.equal(l!.log.logType, 'CUSTOM');
  assert.equal(l!.log.logGroupId, groupId);
  assert.equal(l!.log.tenancyId, tenancy);
  assert.deepEqual((await management.listLogs({ logGroupId: groupId })).items.map((x) => x.id), [logId]);

  const upd = await management.updateLog({ logGroupId: groupId, logId, updateLogDetails: { retentionDuration: 90, displayName: 'custom-b' }, ifMatch: l!.etag });
  assert.equal((await waiters.forWorkRequest({ workRequestId: upd.opcWorkRequestId }))!.workRequest.operationType, 'UPDATE_LOG');
  const after = (await management.getLog({ logGroupId: groupId, logId })).log;
  assert.equal(after.retentionDuration, 90);
  assert.equal(after.displayName, 'custom-b');
  const stale = await expectOciError(() => management.updateLog({ logGroupId: groupId, logId, updateLogDetails: { displayName: 'x' }, ifMatch: l!.etag }));
  assert.equal(stale.statusCode, 412);
  const badRetention = await expectOciError(() => createLog(groupId, 'bad', 45));
  assert.equal(badRetention.statusCode, 400);
  assert.match(badRetention.message, /retentionDuration.*30, ?60, ?90, ?120, ?150, ?180/);

  await management.updateLogGroup({ logGroupId: groupId, updateLogGroupDetails: { description: 'changed' } });
  assert.equal((await management.getLogGroup({ logGroupId: groupId })).logGroup.description, 'changed');

  const notEmpty = await expectOciError(() => management.deleteLogGroup({ logGroupId: groupId }));
  assert.equal(notEmpty.statusCode, 409);
  const del = await management.deleteLog({ logGroupId: groupId, logId });
  assert.equal((await waiters.forWorkRequest({ workRequestId: del.opcWorkRequestId }))!.workRequest.operationType, 'DELETE_LOG');
  assert.equal((await expectOciError(() => management.getLog({ logGroupId: groupId, logId }))).statusCode, 404);
  const delGroup = await management.deleteLogGroup({ logGroupId: groupId });
  assert.equal((await waiters.forWorkRequest({ workRequestId: delGroup.opcWorkRequestId }))!.workRequest.resources[0].actionType, 'DELETED');
  assert.equal((await expectOciError(() => management.getLogGroup({ logGroupId: groupId }))).statusCode, 404);
  // Logging's work requests are listed by Logging only, not by Data Science's work request API.
  const ds = (await (await s.fetch(`${s.url}/20190101/workRequests?compartmentId=${s.compartmentId}`)).json()) as { operationType: string }[];
  assert.ok(ds.every((w) => !w.operationType.includes('LOG')), JSON.stringify(ds));
  assert.equal((await s.fetch(`${s.url}/20190101/workRequests/${delGroup.opcWorkRequestId}`)).status, 404);
  const lw = (await management.listWorkRequests({ compartmentId: s.compartmentId })).items;
  assert.ok(lw.some((w) => w.operationType === 'DELETE_LOG_GROUP'));
});

test('a job with enableAutoLogCreation: its run gets a log of its own (logDetails), and the ADS query finds every line in order, paged, both ways', async () => {
  const groupId = await createGroup('group-auto');
  const lines = 2500;
  const run = await runWithLog(`for i in $(seq 1 ${lines}); do echo "line $i"; done; echo "to stderr" >&2\n`, {
    enableLogging: true,
    enableAutoLogCreation: true,
    logGroupId: groupId,
  });
  assert.ok(run.logDetails, 'logDetails is filled in');
  assert.equal(run.logDetails!.logGroupId, groupId);
  const log = (await management.getLog({ logGroupId: groupId, logId: run.logDetails!.logId })).log;
  assert.equal(log.lifecycleState, 'ACTIVE');
  const query = `search "${s.compartmentId}/${groupId}/${run.logDetails!.logId}" | where source = '*${run.id}' | sort by datetime asc`;
  const { records, pages } = await searchAll(query, 1000);
  assert.equal(pages, 3);
  const stdout = records.filter((r) => r.data.logContent.type.endsWith('stdout')).map((r) => r.data.logContent.data.message);
  assert.deepEqual(stdout, Array.from({ length: lines }, (_, i) => `line ${i + 1}`));
  assert.equal(records.length, lines + 1);
  const first = records[0].data;
  assert.equal(first.logContent.source, run.id);
  assert.match(first.logContent.id, /^[0-9a-f]{8}-[0-9a-f]{4}-/);
  assert.equal(typeof first.datetime, 'number');
  assert.equal(first.logContent.oracle.logid, run.logDetails!.logId);
  assert.equal(new Set(records.map((r) => r.data.logContent.id)).size, records.length, 'ids are unique');
  // Sorted: datetime never goes back.
  for (let i = 1; i < records.length; i++) assert.ok(records[i].data.logContent.time >= records[i - 1].data.logContent.time);
  // Newest first (ADS's tail), with the ADS query as it is sent, without a sort stage (OCI's default: desc).
  const desc = await searchAll(`search "${s.compartmentId}/${groupId}/${run.logDetails!.logId}" | where source = '*${run.id}'`, 700);
  assert.deepEqual(
    desc.records.map((r) => r.data.logContent.id),
    records.map((r) => r.data.logContent.id).reverse(),
  );
  // Another run's source finds nothing; a time window past the run finds nothing.
  assert.equal((await searchAll(query.replace(run.id, 'ocid1.datasciencejobrun.other'), 100)).records.length, 0);
  const later = { start: new Date(Date.now() + HOUR), end: new Date(Date.now() + 2 * HOUR) };
  assert.equal((await searchAll(query, 100, later)).records.length, 0);
  // The run's own log endpoint still has it all: the log is a view of the same file.
  const own = [];
  for await (const rec of s.api.logs(run.id, {})) own.push(rec);
  assert.equal(own.length, lines + 1);
});

test('a large run log (over 100 MB on disk, 850,000 lines) is searched page by page, nothing missing, in order', async () => {
  const groupId = await createGroup('group-large');
  const lines = 850_000;
  const run = await runWithLog(`awk 'BEGIN { for (i = 1; i <= ${lines}; i++) printf "line %d abcdefghijklmnopqrstuvwxyz0123456789\\n", i }'\n`, {
    enableLogging: true,
    enableAutoLogCreation: true,
    logGroupId: groupId,
  }, 120_000);
  const query = `search "${s.compartmentId}/${groupId}/${run.logDetails!.logId}" | where source = '*${run.id}' | sort by datetime asc`;
  let expected = 1;
  let page: string | undefined;
  let pages = 0;
  let middle = '';
  const window = { timeStart: new Date(Date.now() - HOUR), timeEnd: new Date(Date.now() + HOUR), searchQuery: query };
  do {
    const r = await search.searchLogs({ searchLogsDetails: window, limit: 1000, page });
    for (const rec of r.searchResponse.results ?? []) {
      assert.equal(rec.data.logContent.data.message, `line ${expected} abcdefghijklmnopqrstuvwxyz0123456789`);
      if (expected === lines / 2) middle = rec.data.logContent.time;
      expected++;
    }
    page = r.opcNextPage;
    pages++;
  } while (page);
  assert.equal(expected - 1, lines);
  assert.equal(pages, lines / 1000);
  const size = statSync(path.join(s.dataDir, 'runs', run.id, 'log.ndjson')).size;
  assert.ok(size > 100e6, `the log holds ${size} bytes`);
  // Newest first: the last line comes first (the file is read from its end, not from its start).
  const desc = await search.searchLogs({ searchLogsDetails: { ...window, searchQuery: query.replace(' asc', ' desc') }, limit: 3 });
  assert.deepEqual(
    desc.searchResponse.results!.map((r) => r.data.logContent.data.message.split(' ')[1]),
    [String(lines), String(lines - 1), String(lines - 2)],
  );
  // A window starting inside the log: found by bisecting the file, the first record at or after timeStart first.
  const from = await search.searchLogs({ searchLogsDetails: { ...window, timeStart: new Date(middle) }, limit: 1 });
  assert.equal(from.searchResponse.results![0].data.logContent.time, middle);
  assert.ok(Number(from.searchResponse.results![0].data.logContent.data.message.split(' ')[1]) <= lines / 2);
});

test('runs sharing one given log (logGroupId and logId): each run found by its source, and all of them merged in time order, paged, nothing twice', async () => {
  const groupId = await createGroup('group-shared');
  const logId = await createLog(groupId, 'shared');
  const config = { enableLogging: true, enableAutoLogCreation: false, logGroupId: groupId, logId };
  const r1 = await runWithLog(`for i in $(seq 1 300); do echo "one $i"; done\n`, config);
  const r2 = await runWithLog(`for i in $(seq 1 200); do echo "two $i"; done\n`, config);
  assert.deepEqual(r1.logDetails, { logGroupId: groupId, logId });
  assert.deepEqual(r2.logDetails, { logGroupId: groupId, logId });
  const scope = `search "${s.compartmentId}/${groupId}/${logId}"`;
  const one = await searchAll(`${scope} | where source = '*${r1.id}' | sort by datetime asc`, 1000);
  assert.deepEqual(one.records.map((r) => r.data.logContent.data.message), Array.from({ length: 300 }, (_, i) => `one ${i + 1}`));
  for (const order of ['asc', 'desc']) {
    const all = await searchAll(`${scope} | sort by datetime ${order}`, 37);
    const ids = all.records.map((r) => r.data.logContent.id);
    assert.equal(ids.length, 500, order);
    assert.equal(new Set(ids).size, 500, `${order}: nothing twice`);
    const times = all.records.map((r) => r.data.logContent.time);
    for (let i = 1; i < times.length; i++) assert.ok(order === 'asc' ? times[i] >= times[i - 1] : times[i] <= times[i - 1], order);
    // Each run's own lines stay in their order.
    const twos = all.records.map((r) => r.data.logContent.data.message).filter((m: string) => m.startsWith('two '));
    const expected = Array.from({ length: 200 }, (_, i) => `two ${i + 1}`);
    assert.deepEqual(twos, order === 'asc' ? expected : expected.reverse());
  }
  // A log that does not exist: 400 naming the field.
  const wrong = await runWithLog('true\n', { ...config, logId: 'ocid1.log.dsjobs.local.nope' }).then(
    () => assert.fail('a job naming a log that does not exist was created'),
    (e: { status: number; message: string }) => e,
  );
  assert.equal(wrong.status, 400);
  assert.match(wrong.message, /^jobLogConfigurationDetails\.logId: /);
});

test('entries pushed with PutLogs are found by search, and in the run\'s log when their source names the run', async () => {
  const groupId = await createGroup('group-push');
  const logId = await createLog(groupId, 'results');
  const t0 = new Date(Date.now() - 60_000);
  await ingestion.putLogs({
    logId,
    putLogsDetails: {
      specversion: '1.0',
      logEntryBatches: [
        {
          source: 'model-a',
          type: 'metrics',
          subject: 'epoch',
          defaultlogentrytime: t0,
          entries: [
            { id: 'e1', data: 'accuracy 0.91', time: new Date(t0.getTime() + 1) },
            { id: 'e2', data: '{"accuracy":0.93}', time: new Date(t0.getTime() + 2) },
          ],
        },
        { source: 'model-b', type: 'metrics', defaultlogentrytime: t0, entries: [{ id: 'e3', data: 'other' }] },
      ],
    },
  });
  const all = await searchAll(`search "${s.compartmentId}/${groupId}/${logId}" | sort by datetime asc`, 100);
  assert.deepEqual(all.records.map((r) => r.data.logContent.id), ['e3', 'e1', 'e2']);
  const a = await searchAll(`search "${s.compartmentId}/${groupId}" | where source = 'model-a*' | sort by datetime asc`, 1);
  assert.equal(a.pages, 2);
  assert.deepEqual(a.records.map((r) => r.data.logContent.data), [{ message: 'accuracy 0.91' }, { accuracy: 0.93 }]);
  assert.equal(a.records[0].data.logContent.subject, 'epoch');
  assert.equal(a.records[0].data.logContent.type, 'metrics');

  // A run's log: the run's lines and what was pushed there naming the run, merged in time order.
  const run = await runWithLog(`echo first\n`, { enableLogging: true, enableAutoLogCreation: true, logGroupId: groupId });
  await ingestion.putLogs({
    logId: run.logDetails!.logId,
    putLogsDetails: { specversion: '1.0', logEntryBatches: [{ source: run.id, type: 'custom', defaultlogentrytime: new Date(), entries: [{ id: 'p1', data: 'pushed from the run' }] }] },
  });
  const view = await searchAll(`search "${s.compartmentId}/${groupId}/${run.logDetails!.logId}" | where source = '*${run.id}' | sort by datetime asc`, 100);
  assert.deepEqual(view.records.map((r) => r.data.logContent.data.message), ['first', 'pushed from the run']);

  const big = await expectOciError(() =>
    ingestion.putLogs({ logId, putLogsDetails: { specversion: '1.0', logEntryBatches: [{ source: 'x', type: 't', defaultlogentrytime: new Date(), entries: [{ id: 'big', data: 'x'.repeat(1024 * 1024) }] }] } }),
  );
  assert.equal(big.statusCode, 400);
  assert.match(big.message, /logEntryBatches\[0\]\.entries\[0\]\.data/);
});

test('a query outside the supported grammar is a 400 saying what is supported; a log that does not exist is a 404', async () => {
  const groupId = await createGroup('group-bad');
  for (const q of [`search "${s.compartmentId}"`, `search "${s.compartmentId}/${groupId}" | stats count`, `select * from logs`, `search "${s.compartmentId}/${groupId}" | where data.message = 'x'`]) {
    const e = await expectOciError(() => search.searchLogs({ searchLogsDetails: { timeStart: new Date(0), timeEnd: new Date(), searchQuery: q } }));
    assert.equal(e.statusCode, 400, q);
    assert.match(e.message, /searchQuery: .*the queries supported are: search "<compartmentId>\/<logGroupId>\/<logId>"/, q);
  }
  const missing = await expectOciError(() =>
    search.searchLogs({ searchLogsDetails: { timeStart: new Date(0), timeEnd: new Date(), searchQuery: `search "${s.compartmentId}/${groupId}/ocid1.log.dsjobs.local.nope"` } }),
  );
  assert.equal(missing.statusCode, 404);
  const badPage = await expectOciError(() =>
    search.searchLogs({ searchLogsDetails: { timeStart: new Date(0), timeEnd: new Date(), searchQuery: `search "${s.compartmentId}/${groupId}"` }, page: 'bogus' }),
  );
  assert.equal(badPage.statusCode, 400);
  // A job naming a log group that does not exist: 400 naming the field.
  const r = await s.fetch(`${s.url}/20190101/jobs`, {
    method: 'POST',
    body: JSON.stringify({
      projectId,
      compartmentId: s.compartmentId,
      jobConfigurationDetails: { jobType: 'DEFAULT' },
      jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
      jobLogConfigurationDetails: { enableLogging: true, enableAutoLogCreation: true, logGroupId: 'ocid1.loggroup.dsjobs.local.nope' },
    }),
  });
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { message: string }).message, /^jobLogConfigurationDetails\.logGroupId: /);
});

test('another user without a Logging grant: log groups, logs, search and push answer 404; a job naming the group is a 400 for the field', async () => {
  const groupId = await createGroup('group-private');
  const logId = await createLog(groupId, 'private');
  const user = (await identity.createUser({ createUserDetails: { compartmentId: tenancy, name: 'nologs', description: 'x' } })).user;
  const group = (await identity.createGroup({ createGroupDetails: { compartmentId: tenancy, name: 'nologs-group', description: 'x' } })).group;
  await identity.addUserToGroup({ addUserToGroupDetails: { userId: user.id, groupId: group.id } });
  await identity.createPolicy({
    createPolicyDetails: { compartmentId: tenancy, name: 'nologs-ds', description: 'x', statements: ['Allow group nologs-group to manage data-science-family in tenancy'] },
  });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const key = (await identity.uploadApiKey({ userId: user.id, createApiKeyDetails: { key: publicKey } })).apiKey;
  const keyFile = path.join(s.dataDir, 'nologs.pem');
  writeFileSync(keyFile, privateKey, { mode: 0o600 });
  const configFile = path.join(s.dataDir, 'nologs.config');
  writeFileSync(configFile, `[DEFAULT]\nuser=${user.id}\nfingerprint=${key.fingerprint}\nkey_file=${keyFile}\ntenancy=${tenancy}\nregion=local\n`, { mode: 0o600 });
  const other = makeLoggingClients(s.url, configFile);
  closers.push(other.close);
  assert.equal((await expectOciError(() => other.management.getLogGroup({ logGroupId: groupId }))).statusCode, 404);
  assert.equal((await expectOciError(() => other.management.getLog({ logGroupId: groupId, logId }))).statusCode, 404);
  assert.equal((await expectOciError(() => other.management.listLogGroups({ compartmentId: s.compartmentId }))).statusCode, 404);
  assert.equal((await expectOciError(() => other.management.deleteLogGroup({ logGroupId: groupId }))).statusCode, 404);
  const q = `search "${s.compartmentId}/${groupId}/${logId}"`;
  assert.equal((await expectOciError(() => other.search.searchLogs({ searchLogsDetails: { timeStart: new Date(0), timeEnd: new Date(), searchQuery: q } }))).statusCode, 404);
  const push = await expectOciError(() =>
    other.ingestion.putLogs({ logId, putLogsDetails: { specversion: '1.0', logEntryBatches: [{ source: 'x', type: 't', defaultlogentrytime: new Date(), entries: [{ id: '1', data: 'x' }] }] } }),
  );
  assert.equal(push.statusCode, 404);
  // The user may create jobs, but not one whose runs would write to a log group it cannot see.
  const { makeOciClient } = await import('../support/oci-sdk-client.js');
  const ds = makeOciClient(s.url, configFile);
  closers.push(ds.close);
  const e = await expectOciError(() =>
    ds.client.createJob({
      createJobDetails: {
        projectId,
        compartmentId: s.compartmentId,
        jobConfigurationDetails: { jobType: 'DEFAULT' } as never,
        jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 } as never,
        jobLogConfigurationDetails: { enableLogging: true, enableAutoLogCreation: true, logGroupId: groupId },
      },
    }),
  );
  assert.equal(e.statusCode, 400);
  assert.equal(e.message, `jobLogConfigurationDetails.logGroupId: log group ${groupId} was not found`);
});
