/**
 * OCI parity (issue 20) through the UNMODIFIED official `oci-datascience` SDK against a real dsjobs server: numbers
 * OCI types as integers, fast-launch configs, the artifact's content-disposition, retries and OCI's error codes,
 * work requests.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as common from 'oci-common';
import * as ds from 'oci-datascience';
import type { DataScienceClient } from 'oci-datascience';
import { startServer, type TestServer } from '../support/server.js';
import { makeOciClient, expectOciError } from '../support/oci-sdk-client.js';

let s: TestServer;
let client: DataScienceClient;
let closeClient: () => void;

before(async () => {
  s = await startServer();
  ({ client, close: closeClient } = makeOciClient(s.url, s.configFile));
});
after(async () => {
  closeClient?.();
  await s?.close();
});


test('ListJobShapes: every coreCount and memoryInGBs is a whole number (the Go SDK types them as integers)', async () => {
  const res = await client.listJobShapes({ compartmentId: s.compartmentId });
  const light = res.items.find((x) => x.name === 'Local.Light');
  assert.ok(light, res.items.map((x) => x.name).join(','));
  for (const shape of res.items) {
    assert.ok(Number.isInteger(shape.coreCount), `${shape.name} coreCount ${shape.coreCount}`);
    assert.ok(Number.isInteger(shape.memoryInGBs), `${shape.name} memoryInGBs ${shape.memoryInGBs}`);
  }
});

test('ListFastLaunchJobConfigs: one config per shape this server runs, whole numbers, pages as OCI pages', async () => {
  const shapes = (await client.listJobShapes({ compartmentId: s.compartmentId })).items;
  const res = await client.listFastLaunchJobConfigs({ compartmentId: s.compartmentId });
  assert.deepEqual(res.items.map((c) => c.shapeName), shapes.map((x) => x.name));
  for (const c of res.items) {
    const shape = shapes.find((x) => x.name === c.shapeName)!;
    assert.equal(c.coreCount, shape.coreCount);
    assert.equal(c.memoryInGBs, shape.memoryInGBs);
    assert.equal(c.shapeSeries, shape.shapeSeries);
    assert.equal(c.managedEgressSupport, ds.models.FastLaunchJobConfigSummary.ManagedEgressSupport.Supported);
    assert.ok(Number.isInteger(c.coreCount) && Number.isInteger(c.memoryInGBs), c.name);
  }
  // The SDK's paginator follows opc-next-page.
  const paged: string[] = [];
  for await (const c of client.listFastLaunchJobConfigsRecordIterator({ compartmentId: s.compartmentId, limit: 2 })) paged.push(c.shapeName);
  assert.deepEqual(paged, shapes.map((x) => x.name));
});

/** A project and a CREATING job (no artifact yet) through the SDK. */
async function newJob(name: string, infra?: ds.models.JobInfrastructureConfigurationDetails) {
  const project = await client.createProject({ createProjectDetails: { compartmentId: s.compartmentId, displayName: `${name}-proj` } });
  const jobInfrastructureConfigurationDetails =
    infra ?? ({ jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 } as ds.models.ManagedEgressStandaloneJobInfrastructureConfigurationDetails);
  const created = await client.createJob({
    createJobDetails: {
      projectId: project.project.id,
      compartmentId: s.compartmentId,
      displayName: name,
      jobConfigurationDetails: { jobType: 'DEFAULT' } as ds.models.DefaultJobConfigurationDetails,
      jobInfrastructureConfigurationDetails,
    },
  });
  return created.job;
}

test("the artifact's content-disposition comes back byte for byte as it was sent (HEAD and GET)", async () => {
  for (const disposition of ['attachment; filename=hello.py', 'attachment;filename="my job.sh"', "attachment; filename*=UTF-8''na%C3%AFve.py"]) {
    const job = await newJob('disposition');
    await client.createJobArtifact({ jobId: job.id, jobArtifact: Buffer.from('print("hi")\n'), contentDisposition: disposition });
    const head = await client.headJobArtifact({ jobId: job.id });
    assert.equal(head.contentDisposition, disposition);
    const got = await client.getJobArtifactContent({ jobId: job.id });
    assert.equal(got.contentDisposition, disposition);
  }
});

test('a retried CreateJobArtifact (same opc-retry-token and bytes) gets the first success; other bytes under it are InvalidatedRetryToken', async () => {
  const job = await newJob('artifact-retry');
  const bytes = Buffer.from('print("once")\n');
  const first = await client.createJobArtifact({ jobId: job.id, jobArtifact: bytes, contentDisposition: 'attachment; filename=once.py', opcRetryToken: 'artifact-token-1' });
  const again = await client.createJobArtifact({ jobId: job.id, jobArtifact: bytes, contentDisposition: 'attachment; filename=once.py', opcRetryToken: 'artifact-token-1' });
  assert.ok(first.opcRequestId && again.opcRequestId);
  const other = await expectOciError(() =>
    client.createJobArtifact({ jobId: job.id, jobArtifact: Buffer.from('print("twice")\n'), contentDisposition: 'attachment; filename=once.py', opcRetryToken: 'artifact-token-1' }),
  );
  assert.equal(other.statusCode, 409);
  assert.equal(other.serviceCode, 'InvalidatedRetryToken');
  // Without the token a second upload is still refused: artifacts are immutable.
  const noToken = await expectOciError(() => client.createJobArtifact({ jobId: job.id, jobArtifact: bytes, contentDisposition: 'attachment; filename=once.py' }));
  assert.equal(noToken.statusCode, 409);
  assert.equal(noToken.serviceCode, 'Conflict');
  const content = await client.getJobArtifactContent({ jobId: job.id });
  const chunks: Buffer[] = [];
  for await (const c of content.value as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  assert.deepEqual(Buffer.concat(chunks), bytes, 'the first upload is the artifact');
});

test("OCI's error codes: a stale etag is NoEtagMatch, a reused retry token InvalidatedRetryToken, an unknown operation NotFound", async () => {
  const job = await newJob('codes');
  const got = await client.getJob({ jobId: job.id });
  await client.updateJob({ jobId: job.id, updateJobDetails: { displayName: 'codes-2' }, ifMatch: got.etag });
  const stale = await expectOciError(() => client.updateJob({ jobId: job.id, updateJobDetails: { displayName: 'codes-3' }, ifMatch: got.etag }));
  assert.equal(stale.statusCode, 412);
  assert.equal(stale.serviceCode, 'NoEtagMatch');

  const details = { compartmentId: s.compartmentId, displayName: 'token-a' };
  const a = await client.createProject({ createProjectDetails: details, opcRetryToken: 'project-token-1' });
  const b = await client.createProject({ createProjectDetails: details, opcRetryToken: 'project-token-1' });
  assert.equal(b.project.id, a.project.id);
  const reused = await expectOciError(() => client.createProject({ createProjectDetails: { ...details, displayName: 'token-b' }, opcRetryToken: 'project-token-1' }));
  assert.equal(reused.statusCode, 409);
  assert.equal(reused.serviceCode, 'InvalidatedRetryToken');

  for (const [method, p] of [['GET', '/20190101/noSuchThings'], ['POST', `/20190101/jobs/${job.id}/actions/noSuchAction`]]) {
    const res = await s.fetch(`${s.url}${p}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, 'NotFound');
    assert.match(body.message, /no operation supported at the URI path and HTTP method/);
  }
});

test('limit: 1-100 as OCI; larger pages only for requests that send dsjobs-large-pages: true', async () => {
  const tooLarge = await expectOciError(() => client.listJobs({ compartmentId: s.compartmentId, limit: 101 }));
  assert.equal(tooLarge.statusCode, 400);
  assert.equal(tooLarge.serviceCode, 'InvalidParameter');
  assert.match(tooLarge.message, /^limit: must be between 1 and 100, got 101/);
  assert.ok((await client.listJobs({ compartmentId: s.compartmentId, limit: 100 })).items.length > 0);
  // The SDK's paginators ask for OCI's default page and get every job.
  const all: string[] = [];
  for await (const j of client.listJobsRecordIterator({ compartmentId: s.compartmentId })) all.push(j.id);
  assert.ok(all.length > 0);
  const url = `${s.url}/20190101/jobs?compartmentId=${encodeURIComponent(s.compartmentId)}&limit=1000`;
  assert.equal((await s.fetch(url)).status, 400);
  const large = await s.fetch(url, { headers: { 'dsjobs-large-pages': 'true' } });
  assert.equal(large.status, 200);
  assert.equal(((await large.json()) as unknown[]).length, all.length);
});

test('STANDALONE infrastructure needs its subnetId: refused without it, naming the field', async () => {
  const standalone = (subnetId?: string) =>
    ({ jobInfrastructureType: 'STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50, subnetId }) as ds.models.StandaloneJobInfrastructureConfigurationDetails;
  const err = await expectOciError(() => newJob('no-subnet', standalone()));
  assert.equal(err.statusCode, 400);
  assert.equal(err.serviceCode, 'InvalidParameter');
  assert.match(err.message, /^jobInfrastructureConfigurationDetails\.subnetId: is required with jobInfrastructureType STANDALONE/);
  const job = await newJob('with-subnet', standalone('ocid1.subnet.oc1..dsjobstest'));
  assert.equal(job.jobInfrastructureConfigurationDetails.jobInfrastructureType, 'STANDALONE');
});

test('work requests: DeleteJob and DeleteProject return OCID-shaped work requests that the SDK waiter, get, list, logs and errors serve', async () => {
  const waiters = client.createWaiters({
    terminationStrategy: new common.MaxTimeTerminationStrategy(30),
    delayStrategy: new common.FixedTimeDelayStrategy(0.05),
  });
  const job = await newJob('wr');
  await client.createJobArtifact({ jobId: job.id, jobArtifact: Buffer.from('echo hi\n'), contentDisposition: 'attachment; filename=wr.sh' });
  // The same opc-request-id twice must not give the same work request.
  const delJob = await client.deleteJob({ jobId: job.id, opcRequestId: 'SAME-REQUEST-ID' });
  const delJobAgain = await client.deleteJob({ jobId: job.id, opcRequestId: 'SAME-REQUEST-ID' });
  assert.match(delJob.opcWorkRequestId, /^ocid1\.datascienceworkrequest\.dsjobs\.[a-z0-9-]+\.[a-z0-9]+$/);
  assert.notEqual(delJobAgain.opcWorkRequestId, delJob.opcWorkRequestId);

  const waited = await waiters.forWorkRequest({ workRequestId: delJob.opcWorkRequestId });
  assert.ok(waited);
  const w = waited.workRequest;
  assert.equal(w.id, delJob.opcWorkRequestId);
  assert.equal(w.operationType, ds.models.WorkRequestOperationType.JobDelete);
  assert.equal(w.status, ds.models.WorkRequestStatus.Succeeded);
  assert.equal(w.compartmentId, s.compartmentId);
  assert.equal(w.percentComplete, 100);
  // The SDK types times as Date but passes the wire's ISO strings through.
  assert.ok(w.timeFinished && Date.parse(String(w.timeFinished)) >= Date.parse(String(w.timeAccepted)));
  assert.deepEqual(w.resources.map((r) => [r.actionType, r.entityType, r.identifier]), [['DELETED', 'job', job.id]]);
  assert.ok(waited.etag);
  assert.equal((await client.getJob({ jobId: job.id })).job.lifecycleState, ds.models.JobLifecycleState.Deleted);

  const logs = await client.listWorkRequestLogs({ workRequestId: w.id });
  assert.ok(logs.items.length > 0 && logs.items.every((l) => l.message && !Number.isNaN(Date.parse(String(l.timestamp)))));
  assert.deepEqual((await client.listWorkRequestErrors({ workRequestId: w.id })).items, []);

  const delProject = await client.deleteProject({ projectId: job.projectId });
  assert.match(delProject.opcWorkRequestId, /^ocid1\.datascienceworkrequest\./);
  const pw = (await waiters.forWorkRequest({ workRequestId: delProject.opcWorkRequestId })).workRequest;
  assert.equal(pw.operationType, ds.models.WorkRequestOperationType.ProjectDelete);
  assert.equal(pw.status, ds.models.WorkRequestStatus.Succeeded);
  assert.equal((await client.getProject({ projectId: job.projectId })).project.lifecycleState, ds.models.ProjectLifecycleState.Deleted);

  // ListWorkRequests: OCI's filters, newest first, pages the SDK follows.
  const all: ds.models.WorkRequestSummary[] = [];
  for await (const x of client.listWorkRequestsRecordIterator({ compartmentId: s.compartmentId, limit: 1 })) all.push(x);
  const ids = all.map((x) => x.id);
  for (const id of [delJob.opcWorkRequestId, delJobAgain.opcWorkRequestId, delProject.opcWorkRequestId]) assert.ok(ids.includes(id), id);
  const times = all.map((x) => Date.parse(String(x.timeAccepted)));
  assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  const byType = await client.listWorkRequests({ compartmentId: s.compartmentId, operationType: ds.requests.ListWorkRequestsRequest.OperationType.ProjectDelete });
  assert.ok(byType.items.length > 0 && byType.items.every((x) => x.operationType === 'PROJECT_DELETE'));
  assert.ok(byType.items.some((x) => x.id === delProject.opcWorkRequestId));
  const byId = await client.listWorkRequests({ compartmentId: s.compartmentId, id: delJob.opcWorkRequestId });
  assert.deepEqual(byId.items.map((x) => x.id), [delJob.opcWorkRequestId]);
  const byResource = await client.listWorkRequests({ compartmentId: s.compartmentId, resourceId: job.id });
  assert.deepEqual(new Set(byResource.items.map((x) => x.id)), new Set([delJob.opcWorkRequestId, delJobAgain.opcWorkRequestId]));
  const failed = await client.listWorkRequests({ compartmentId: s.compartmentId, status: ds.requests.ListWorkRequestsRequest.Status.Failed });
  assert.deepEqual(failed.items, []);
  const elsewhere = await client.listWorkRequests({ compartmentId: 'ocid1.compartment.oc1..elsewhere' });
  assert.deepEqual(elsewhere.items, []);

  // A finished work request cannot be canceled; an unknown one is not found.
  const cancel = await expectOciError(() => client.cancelWorkRequest({ workRequestId: w.id }));
  assert.equal(cancel.statusCode, 409);
  assert.equal(cancel.serviceCode, 'IncorrectState');
  const missing = await expectOciError(() => client.getWorkRequest({ workRequestId: 'ocid1.datascienceworkrequest.dsjobs.local.nope' }));
  assert.equal(missing.statusCode, 404);
});
