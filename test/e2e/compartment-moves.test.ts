/**
 * Compartment moves (issue 20 item 2) with the official oci-datascience SDK, unmodified, against a real server with
 * authentication on: ChangeProjectCompartment, ChangeJobCompartment, ChangeJobRunCompartment move one resource each
 * (a project's jobs stay), with if-match and their events; the lists follow; a move needs manage in both compartments.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DataScienceClient } from 'oci-datascience';
import { startServer, waitForRun, type TestServer } from '../support/server.js';
import { expectOciError, makeIdentityClient, makeOciClient } from '../support/oci-sdk-client.js';

let s: TestServer;
let admin: ReturnType<typeof makeIdentityClient>;
let ds: DataScienceClient;
let tenancy: string;
const compartments: Record<string, string> = {};
const closers: (() => void)[] = [];

/** A user in a group of its own with these policy statements; their DataScienceClient. */
async function person(name: string, statements: string[]): Promise<DataScienceClient> {
  const id = admin.client;
  const user = (await id.createUser({ createUserDetails: { compartmentId: tenancy, name, description: name } })).user;
  const group = (await id.createGroup({ createGroupDetails: { compartmentId: tenancy, name: `${name}-group`, description: name } })).group;
  await id.addUserToGroup({ addUserToGroupDetails: { userId: user.id, groupId: group.id } });
  await id.createPolicy({ createPolicyDetails: { compartmentId: tenancy, name: `${name}-policy`, description: name, statements } });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const key = (await id.uploadApiKey({ userId: user.id, createApiKeyDetails: { key: publicKey } })).apiKey;
  const keyFile = path.join(s.dataDir, `${name}.pem`);
  writeFileSync(keyFile, privateKey, { mode: 0o600 });
  const configFile = path.join(s.dataDir, `${name}.config`);
  writeFileSync(configFile, `[DEFAULT]\nuser=${user.id}\nfingerprint=${key.fingerprint}\nkey_file=${keyFile}\ntenancy=${tenancy}\nregion=local\n`, { mode: 0o600 });
  const c = makeOciClient(s.url, configFile);
  closers.push(c.close);
  return c.client;
}

/** A project and an ACTIVE job in compartment `c` (made by the administrator), and one finished run. */
async function projectJobRun(c: string) {
  const project = (await ds.createProject({ createProjectDetails: { compartmentId: c, displayName: 'movable' } })).project;
  const job = await s.api.createJob({
    projectId: project.id,
    compartmentId: c,
    displayName: 'movable-job',
    jobConfigurationDetails: { jobType: 'DEFAULT' },
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
  });
  const buf = Buffer.from('echo "project compartment $PROJECT_COMPARTMENT_OCID"\n');
  await s.api.uploadArtifact(job.id, 'run.sh', buf, buf.length);
  const run = (await ds.createJobRun({ createJobRunDetails: { compartmentId: c, projectId: project.id, jobId: job.id } })).jobRun;
  await waitForRun(s.api, run.id);
  return { project, job, run };
}

const ids = (items: { id: string }[]) => items.map((x) => x.id);

before(async () => {
  s = await startServer();
  admin = makeIdentityClient(s.url, s.configFile);
  const d = makeOciClient(s.url, s.configFile);
  closers.push(admin.close, d.close);
  ds = d.client;
  tenancy = (await s.api.serverInfo()).tenancyId;
  for (const n of ['Source', 'Target']) {
    compartments[n] = (await admin.client.createCompartment({ createCompartmentDetails: { compartmentId: tenancy, name: n, description: n } })).compartment.id;
  }
});

after(async () => {
  for (const c of closers) c();
  await s?.close();
});

test('moving a project moves the project only (its job and run stay); the job and the run move by their own operations; lists and events follow', async () => {
  const { Source, Target } = compartments;
  const { project, job, run } = await projectJobRun(Source);
  const etag = (await ds.getProject({ projectId: project.id })).etag;
  await ds.changeProjectCompartment({ projectId: project.id, changeProjectCompartmentDetails: { compartmentId: Target }, ifMatch: etag });
  assert.equal((await ds.getProject({ projectId: project.id })).project.compartmentId, Target);
  assert.ok(ids((await ds.listProjects({ compartmentId: Target })).items).includes(project.id));
  assert.ok(!ids((await ds.listProjects({ compartmentId: Source })).items).includes(project.id));
  // As OCI documents: the project's jobs and runs do not move with it.
  assert.equal((await ds.getJob({ jobId: job.id })).job.compartmentId, Source);
  assert.ok(ids((await ds.listJobs({ compartmentId: Source })).items).includes(job.id));
  assert.equal((await ds.getJobRun({ jobRunId: run.id })).jobRun.compartmentId, Source);
  // A stale etag is refused with OCI's code, and nothing moves.
  const stale = await expectOciError(() => ds.changeProjectCompartment({ projectId: project.id, changeProjectCompartmentDetails: { compartmentId: Source }, ifMatch: etag }));
  assert.equal(stale.statusCode, 412);
  assert.equal(stale.serviceCode, 'NoEtagMatch');
  assert.equal((await ds.getProject({ projectId: project.id })).project.compartmentId, Target);
  // New runs see the project's new compartment.
  const later = (await ds.createJobRun({ createJobRunDetails: { compartmentId: Source, projectId: project.id, jobId: job.id } })).jobRun;
  await waitForRun(s.api, later.id);
  const out: string[] = [];
  for await (const rec of s.api.logs(later.id, {})) out.push(rec.message);
  assert.deepEqual(out, [`project compartment ${Target}`]);

  await ds.changeJobCompartment({ jobId: job.id, changeJobCompartmentDetails: { compartmentId: Target } });
  assert.equal((await ds.getJob({ jobId: job.id })).job.compartmentId, Target);
  assert.ok(ids((await ds.listJobs({ compartmentId: Target })).items).includes(job.id));
  assert.ok(!ids((await ds.listJobs({ compartmentId: Source })).items).includes(job.id));
  assert.equal((await ds.getJobRun({ jobRunId: run.id })).jobRun.compartmentId, Source, "the job's runs stay");

  const runEtag = (await ds.getJobRun({ jobRunId: run.id })).etag;
  await ds.changeJobRunCompartment({ jobRunId: run.id, changeJobRunCompartmentDetails: { compartmentId: Target }, ifMatch: runEtag });
  assert.ok(ids((await ds.listJobRuns({ compartmentId: Target })).items).includes(run.id));
  assert.ok(!ids((await ds.listJobRuns({ compartmentId: Source })).items).includes(run.id));
  // Moving to where it is already is a success that changes nothing.
  await ds.changeJobRunCompartment({ jobRunId: run.id, changeJobRunCompartmentDetails: { compartmentId: Target } });

  const events = (await s.api.listEvents({ type: 'com.oraclecloud.datascience.changeprojectcompartment,com.oraclecloud.datascience.changejobcompartment,com.oraclecloud.datascience.changejobruncompartment' })).items as { type: string; subject: string; compartmentid: string }[];
  assert.deepEqual(
    events.map((e) => [e.type.split('.').pop(), e.subject, e.compartmentid]),
    [
      ['changeprojectcompartment', project.id, Target],
      ['changejobcompartment', job.id, Target],
      ['changejobruncompartment', run.id, Target],
    ],
  );
  const bad = await expectOciError(() => ds.changeJobCompartment({ jobId: job.id, changeJobCompartmentDetails: { compartmentId: 'not-an-ocid' } }));
  assert.equal(bad.statusCode, 400);
  assert.match(bad.message, /compartmentId/);
});

test('a move needs manage in both compartments: with it in the source only, a 404 and nothing moves; with both, it moves and the user sees it in the target', async () => {
  const { Source, Target } = compartments;
  const { project, job, run } = await projectJobRun(Source);
  const sourceOnly = await person('source-only', ['Allow group source-only-group to manage data-science-family in compartment Source']);
  const both = await person('both', ['Allow group both-group to manage data-science-family in compartment Source', 'Allow group both-group to manage data-science-family in compartment Target']);
  const reader = await person('reader', ['Allow group reader-group to read data-science-family in compartment Source', 'Allow group reader-group to manage data-science-family in compartment Target']);
  for (const c of [sourceOnly, reader]) {
    for (const move of [
      () => c.changeProjectCompartment({ projectId: project.id, changeProjectCompartmentDetails: { compartmentId: Target } }),
      () => c.changeJobCompartment({ jobId: job.id, changeJobCompartmentDetails: { compartmentId: Target } }),
      () => c.changeJobRunCompartment({ jobRunId: run.id, changeJobRunCompartmentDetails: { compartmentId: Target } }),
    ]) {
      const e = await expectOciError(move);
      assert.equal(e.statusCode, 404);
      assert.equal(e.serviceCode, 'NotAuthorizedOrNotFound');
    }
  }
  assert.equal((await ds.getProject({ projectId: project.id })).project.compartmentId, Source);
  assert.equal((await ds.getJob({ jobId: job.id })).job.compartmentId, Source);
  assert.equal((await ds.getJobRun({ jobRunId: run.id })).jobRun.compartmentId, Source);

  await both.changeProjectCompartment({ projectId: project.id, changeProjectCompartmentDetails: { compartmentId: Target } });
  await both.changeJobCompartment({ jobId: job.id, changeJobCompartmentDetails: { compartmentId: Target } });
  await both.changeJobRunCompartment({ jobRunId: run.id, changeJobRunCompartmentDetails: { compartmentId: Target } });
  // The source-only user no longer sees them at all; the other user, who manages the target, now does.
  const e = await expectOciError(() => sourceOnly.getJob({ jobId: job.id }));
  assert.equal(e.statusCode, 404);
  // The project is decided in its new compartment too (its record is cached for authorization: the move invalidates it).
  assert.equal((await expectOciError(() => sourceOnly.getProject({ projectId: project.id }))).statusCode, 404);
  assert.equal((await both.getProject({ projectId: project.id })).project.compartmentId, Target);
  assert.ok(!ids((await sourceOnly.listJobs({ compartmentId: Source })).items).includes(job.id));
  assert.ok(ids((await reader.listJobs({ compartmentId: Target })).items).includes(job.id));
  assert.ok(ids((await reader.listJobRuns({ compartmentId: Target })).items).includes(run.id));
});
