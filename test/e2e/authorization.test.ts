/**
 * Authorization end to end: a real server with authentication on; the administrator (the config the server wrote)
 * makes compartments, users, groups, memberships, API keys and policies with the official oci-identity SDK; each
 * user then signs with an OCI config file of their own, through the official oci-datascience SDK and dsjobs' SDK.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DataScienceClient } from 'oci-datascience';
import type { IdentityClient } from 'oci-identity';
import { configFileSigner, readOciProfile } from '../../src/sdk/signer.js';
import { DsJobsClient } from '../../src/sdk/client.js';
import { signedFetch, startServer, waitForRun, type TestServer } from '../support/server.js';
import { isOciError, makeIdentityClient, makeOciClient } from '../support/oci-sdk-client.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { launchBrowser } from '../support/browser.js';
import { makeUser } from '../support/users.js';

let s: TestServer;
let admin: { client: IdentityClient; close(): void };
let tenancy: string;
const closers: (() => void)[] = [];

interface Person {
  name: string;
  userId: string;
  configFile: string;
  oci: DataScienceClient;
  api: DsJobsClient;
  fetch: (url: string, init?: { method?: string; body?: string }) => Promise<Response>;
}

const compartments: Record<string, string> = {};
const people: Record<string, Person> = {};
const policyIds: Record<string, string> = {};

/** A user in a group of its own, with an API key and an OCI config file naming them. */
async function makePerson(name: string): Promise<Person> {
  const { userId, configFile } = await makeUser(admin.client, tenancy, s.dataDir, name);
  const oci = makeOciClient(s.url, configFile);
  closers.push(oci.close);
  const sign = configFileSigner(configFile);
  return { name, userId, configFile, oci: oci.client, api: new DsJobsClient({ endpoint: s.url, signer: sign }), fetch: (u, init) => signedFetch(sign, u, init) };
}

async function policy(name: string, statements: string[]): Promise<void> {
  const p = await admin.client.createPolicy({ createPolicyDetails: { compartmentId: tenancy, name, description: name, statements } });
  policyIds[name] = p.policy.id;
}

/** The SDK's error for a call that must be refused as if the resource were not there. */
async function notFound(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (e) {
    if (isOciError(e)) {
      assert.equal(e.statusCode, 404, e.message);
      assert.equal(e.serviceCode, 'NotAuthorizedOrNotFound');
      return e.message;
    }
    const err = e as { status?: number; code?: string; message: string };
    assert.equal(err.status, 404, err.message);
    assert.equal(err.code, 'NotAuthorizedOrNotFound');
    return err.message;
  }
  assert.fail('the call was allowed');
}

const SCRIPT = 'echo "hello from $JOB_RUN_OCID"\nsleep 120\n';

/** A project, a job with its artifact, in `compartmentId`, made by `p`. */
async function projectAndJob(p: Person, compartmentId: string) {
  const project = (await p.oci.createProject({ createProjectDetails: { compartmentId, displayName: `${p.name}-project` } })).project;
  const job = await p.api.createJob({
    projectId: project.id,
    compartmentId,
    displayName: `${p.name}-job`,
    jobConfigurationDetails: { jobType: 'DEFAULT' },
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
  });
  const buf = Buffer.from(SCRIPT);
  await p.api.uploadArtifact(job.id, 'run.sh', buf, buf.length);
  return { project, job };
}

const startRun = (p: Person, job: { id: string; projectId: string; compartmentId: string }) =>
  p.oci.createJobRun({ createJobRunDetails: { compartmentId: job.compartmentId, projectId: job.projectId, jobId: job.id, displayName: `${p.name}-run` } }).then((r) => r.jobRun);

let a: Awaited<ReturnType<typeof projectAndJob>>;
let b: Awaited<ReturnType<typeof projectAndJob>>;

before(async () => {
  // Webhook targets on loopback (the test's receiver).
  s = await startServer({ env: { DSJOBS_WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' } });
  admin = makeIdentityClient(s.url, s.configFile);
  tenancy = (await s.api.serverInfo()).tenancyId;
  const mk = async (name: string, parent: string) =>
    (await admin.client.createCompartment({ createCompartmentDetails: { compartmentId: parent, name, description: name } })).compartment.id;
  compartments.A = await mk('TeamA', tenancy);
  compartments.B = await mk('TeamB', tenancy);
  compartments.AChild = await mk('Child', compartments.A);
  for (const n of ['alice', 'bob', 'carol', 'dave']) people[n] = await makePerson(n);
  await policy('team-a', ['Allow group alice-group to manage data-science-family in compartment TeamA']);
  await policy('team-b', ['Allow group bob-group to manage data-science-family in compartment TeamB']);
  await policy('readers', ['Allow group carol-group to read data-science-family in compartment TeamA']);
  await policy('users', ['Allow group dave-group to use data-science-family in compartment TeamB']);
  a = await projectAndJob(people.alice, compartments.A);
  b = await projectAndJob(people.bob, compartments.B);
});

after(async () => {
  for (const c of closers) c();
  admin?.close();
  await s?.close();
});

test('each user sees and changes only their own: lists, gets, updates, deletes, runs, logs, cancels', async () => {
  const { alice, bob } = people;
  // Lists in one's own compartment show one's own; in another's, NotAuthorizedOrNotFound (as OCI answers).
  const mine = (await alice.oci.listProjects({ compartmentId: compartments.A })).items.map((p) => p.id);
  assert.deepEqual(mine, [a.project.id]);
  await notFound(alice.oci.listProjects({ compartmentId: compartments.B }));
  await notFound(alice.oci.listJobs({ compartmentId: compartments.B }));
  assert.deepEqual((await alice.api.listJobs({ compartmentId: compartments.A })).items.map((j) => j.id), [a.job.id]);

  // Gets, updates and deletes of another's: the same 404 as for something that does not exist.
  const missingId = b.project.id.replace(/.{6}$/, 'zzzzzz');
  const missing = await notFound(alice.oci.getProject({ projectId: missingId }));
  const denied = await notFound(alice.oci.getProject({ projectId: b.project.id }));
  assert.equal(denied.replace(b.project.id, 'ID'), missing.replace(missingId, 'ID'));
  await notFound(alice.oci.getJob({ jobId: b.job.id }));
  await notFound(alice.oci.updateJob({ jobId: b.job.id, updateJobDetails: { displayName: 'mine now' } }));
  await notFound(alice.oci.deleteJob({ jobId: b.job.id }));
  await notFound(alice.oci.deleteProject({ projectId: b.project.id }));
  assert.equal((await bob.oci.getJob({ jobId: b.job.id })).job.displayName, 'bob-job');
  // Starting a run of another's job in one's own compartment is refused too.
  await notFound(alice.oci.createJobRun({ createJobRunDetails: { compartmentId: compartments.A, projectId: a.project.id, jobId: b.job.id } }));

  // Runs: each starts their own, reads its logs; the other can neither read, list, cancel nor delete it.
  const runA = await startRun(alice, a.job);
  const runB = await startRun(bob, b.job);
  assert.equal(runA.createdBy, readOciProfile(alice.configFile).user, 'a run names the user that started it');
  await waitForRun(alice.api, runA.id, (r) => r.lifecycleState === 'IN_PROGRESS', 60_000);
  const deadline = Date.now() + 60_000;
  let logs: string[] = [];
  while (Date.now() < deadline && !logs.some((l) => l.includes('hello from'))) {
    logs = [];
    for await (const rec of alice.api.logs(runA.id)) logs.push(rec.message);
  }
  assert.ok(logs.some((l) => l.includes(`hello from ${runA.id}`)), JSON.stringify(logs));
  await notFound((async () => {
    for await (const rec of bob.api.logs(runA.id)) void rec;
  })());
  await notFound(bob.oci.getJobRun({ jobRunId: runA.id }));
  await notFound(bob.oci.cancelJobRun({ jobRunId: runA.id }));
  await notFound(bob.oci.deleteJobRun({ jobRunId: runA.id }));
  assert.deepEqual((await bob.api.listJobRuns({ compartmentId: compartments.B })).items.map((r) => r.id), [runB.id]);
  await notFound(bob.api.listJobRuns({ compartmentId: compartments.A }));
  await alice.oci.cancelJobRun({ jobRunId: runA.id });
  await bob.oci.cancelJobRun({ jobRunId: runB.id });
  await waitForRun(alice.api, runA.id, undefined, 60_000);
  await waitForRun(bob.api, runB.id, undefined, 60_000);
});

test('the event feed carries only the events the caller may read', async () => {
  const { alice, bob } = people;
  await alice.oci.updateProject({ projectId: a.project.id, updateProjectDetails: { description: 'alice was here' } });
  await bob.oci.updateProject({ projectId: b.project.id, updateProjectDetails: { description: 'bob was here' } });
  const seen = async (p: Person) => {
    const res = await p.fetch(`${s.url}/20190101/events?limit=100`);
    assert.equal(res.status, 200);
    return (await res.json()) as { subject: string; compartmentid: string }[];
  };
  const forAlice = await seen(alice);
  assert.ok(forAlice.some((e) => e.subject === a.project.id));
  assert.ok(forAlice.every((e) => e.compartmentid === compartments.A), JSON.stringify(forAlice.map((e) => e.compartmentid)));
  const forBob = await seen(bob);
  assert.ok(forBob.some((e) => e.subject === b.project.id));
  assert.ok(forBob.every((e) => e.compartmentid === compartments.B));
  // Asking for another's compartment by name: NotAuthorizedOrNotFound.
  const res = await alice.fetch(`${s.url}/20190101/events?compartmentId=${compartments.B}`);
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { code: string }).code, 'NotAuthorizedOrNotFound');
});

test('webhook subscriptions: each user sees and changes only their own', async () => {
  const { alice, bob } = people;
  const sub = await alice.api.createWebhookSubscription({ compartmentId: compartments.A, url: 'https://example.com/hook', filter: {} });
  await notFound(bob.api.getWebhookSubscription(sub.id));
  await notFound(bob.api.updateWebhookSubscription(sub.id, { url: 'https://example.com/stolen' }));
  await notFound(bob.api.listWebhookSubscriptions({ compartmentId: compartments.A }));
  // A list over no compartment shows only what may be listed.
  assert.deepEqual((await bob.api.listWebhookSubscriptions({})).map((w) => w.id), []);
  assert.deepEqual((await alice.api.listWebhookSubscriptions({})).map((w) => w.id), [sub.id]);
  assert.equal((await alice.api.getWebhookSubscription(sub.id)).url, 'https://example.com/hook');
  await notFound(bob.api.createWebhookSubscription({ compartmentId: compartments.A, url: 'https://example.com/spy', filter: {} }));
});

test('read may list and get but not create; use may start and cancel runs but not delete jobs', async () => {
  const { carol, dave, bob } = people;
  assert.deepEqual((await carol.oci.listJobs({ compartmentId: compartments.A })).items.map((j) => j.id), [a.job.id]);
  assert.equal((await carol.oci.getJob({ jobId: a.job.id })).job.id, a.job.id);
  await notFound(carol.oci.createProject({ createProjectDetails: { compartmentId: compartments.A } }));
  await notFound(carol.oci.updateJob({ jobId: a.job.id, updateJobDetails: { displayName: 'x' } }));
  await notFound(startRun(carol, a.job));
  await notFound(carol.oci.getJob({ jobId: b.job.id }));

  const run = await startRun(dave, b.job);
  await dave.oci.cancelJobRun({ jobRunId: run.id });
  await waitForRun(bob.api, run.id, undefined, 60_000);
  await notFound(dave.oci.deleteJob({ jobId: b.job.id }));
  await notFound(dave.oci.createJob({ createJobDetails: { projectId: b.project.id, compartmentId: compartments.B, jobConfigurationDetails: { jobType: 'DEFAULT' } as never, jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 } as never } }));
  assert.equal((await bob.oci.getJob({ jobId: b.job.id })).job.lifecycleState, 'ACTIVE');
});

test('a policy on a parent compartment covers its children', async () => {
  const { alice, bob } = people;
  const p = (await alice.oci.createProject({ createProjectDetails: { compartmentId: compartments.AChild, displayName: 'in the child' } })).project;
  assert.equal((await alice.oci.getProject({ projectId: p.id })).project.compartmentId, compartments.AChild);
  await notFound(bob.oci.getProject({ projectId: p.id }));
  await notFound(bob.oci.createProject({ createProjectDetails: { compartmentId: compartments.AChild } }));
});

test('a policy change applies to the next request', async () => {
  const { bob } = people;
  await notFound(bob.oci.getProject({ projectId: a.project.id }));
  await admin.client.updatePolicy({
    policyId: policyIds['team-b'],
    updatePolicyDetails: { statements: ['Allow group bob-group to manage data-science-family in compartment TeamB', 'Allow group bob-group to read data-science-projects in compartment TeamA'] },
  });
  assert.equal((await bob.oci.getProject({ projectId: a.project.id })).project.id, a.project.id);
  await admin.client.deletePolicy({ policyId: policyIds['team-b'] });
  await notFound(bob.oci.getProject({ projectId: a.project.id }));
  await notFound(bob.oci.getProject({ projectId: b.project.id }));
});

test('a user with no policy reaches nothing, identity objects included; the administrator reaches everything', async () => {
  const { alice } = people;
  await notFound(admin.client.getUser({ userId: 'ocid1.user.oc1..nosuchuser' }));
  const aliceIdentity = makeIdentityClient(s.url, alice.configFile);
  closers.push(aliceIdentity.close);
  await notFound(aliceIdentity.client.createGroup({ createGroupDetails: { compartmentId: tenancy, name: 'sneaky', description: 'x' } }));
  await notFound(aliceIdentity.client.createPolicy({ createPolicyDetails: { compartmentId: tenancy, name: 'sneaky', description: 'x', statements: ['Allow group alice-group to manage all-resources in tenancy'] } }));
  const { client } = makeOciClient(s.url, s.configFile);
  closers.push(() => client.close());
  assert.equal((await client.getProject({ projectId: b.project.id })).project.id, b.project.id);
  assert.ok((await admin.client.listPolicies({ compartmentId: tenancy })).items.some((p) => p.statements.includes('Allow group Administrators to manage all-resources in tenancy')));
});

test('automation starts runs as the user that made it, with that user\'s permissions when it fires', async () => {
  const { alice } = people;
  const { client: adminDs } = makeOciClient(s.url, s.configFile);
  closers.push(() => adminDs.close());
  const byUrl = await alice.api.createTriggerRule({ compartmentId: compartments.A, jobId: a.job.id });
  const byEvent = await alice.api.createTriggerRule({
    compartmentId: compartments.A,
    jobId: a.job.id,
    eventFilter: { projectId: a.project.id, eventTypes: ['com.oraclecloud.datascience.updateproject'] },
  });
  const allowed = await alice.api.fireTriggerRule(byUrl.id, byUrl.triggerToken!);
  assert.equal(allowed.createdBy, readOciProfile(alice.configFile).user, 'a run automation started names the user it acts as');
  await alice.oci.cancelJobRun({ jobRunId: allowed.id });
  await waitForRun(alice.api, allowed.id, undefined, 60_000);
  await alice.api.deactivateTriggerRule(byUrl.id);
  await alice.api.activateTriggerRule(byUrl.id);

  // Alice may now only read: what she made can no longer start runs, by URL or by event.
  await admin.client.updatePolicy({ policyId: policyIds['team-a'], updatePolicyDetails: { statements: ['Allow group alice-group to read data-science-family in compartment TeamA'] } });
  try {
    const runsBefore = (await alice.api.listJobRuns({ compartmentId: compartments.A, jobId: a.job.id } as never)).items.length;
    await notFound(alice.api.fireTriggerRule(byUrl.id, byUrl.triggerToken!));
    await adminDs.updateProject({ projectId: a.project.id, updateProjectDetails: { description: 'fires the rule' } });
    const deadline = Date.now() + 60_000;
    let failed: { data: { message?: string } } | undefined;
    while (Date.now() < deadline && !failed) {
      failed = (await s.api.listEvents({ type: 'io.dsjobs.triggerfailed', resourceId: byEvent.id })).items[0] as never;
      if (!failed) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(failed, 'a denied fire is recorded as an event');
    assert.match(String(failed.data.message), /not authorized/);
    assert.equal((await alice.api.listJobRuns({ compartmentId: compartments.A, jobId: a.job.id } as never)).items.length, runsBefore);
  } finally {
    await admin.client.updatePolicy({ policyId: policyIds['team-a'], updatePolicyDetails: { statements: ['Allow group alice-group to manage data-science-family in compartment TeamA'] } });
  }
  await alice.api.deleteTriggerRule(byUrl.id);
  await alice.api.deleteTriggerRule(byEvent.id);
});

test('a webhook subscription is sent only the events its creator may read', async () => {
  const { alice } = people;
  const { client: adminDs } = makeOciClient(s.url, s.configFile);
  closers.push(() => adminDs.close());
  const r = await WebhookReceiver.start();
  try {
    const sub = await alice.api.createWebhookSubscription({ compartmentId: compartments.A, url: r.url, filter: {} });
    r.secret = sub.secret!;
    await adminDs.updateProject({ projectId: b.project.id, updateProjectDetails: { description: 'in TeamB, unseen' } });
    await alice.oci.updateProject({ projectId: a.project.id, updateProjectDetails: { description: 'alice, seen' } });
    await r.waitFor((rs) => rs.some((x) => x.event.subject === a.project.id && (x.event.data as { description?: string }).description === 'alice, seen'), 60_000);
    // Deliveries are made in event order: once Alice's exists, Bob's earlier event was decided.
    const bobEvent = (await s.api.listEvents({ resourceId: b.project.id, type: 'com.oraclecloud.datascience.updateproject' })).items.at(-1)!;
    const deliveries = (await alice.api.listWebhookDeliveries(sub.id, { limit: 1000 })).items;
    assert.ok(deliveries.length > 0);
    assert.ok(!deliveries.some((d) => d.eventId === bobEvent.id), 'no delivery of an event about a resource Alice may not read');
    assert.ok(r.received.every((x) => x.event.compartmentid === compartments.A));
    await alice.api.deleteWebhookSubscription(sub.id);
  } finally {
    await r.close();
  }
});

test('the console in chromium shows each user only their own: projects, jobs and runs of their compartment', async () => {
  const password = (await admin.client.createOrResetUIPassword({ userId: people.alice.userId })).uIPassword.password!;
  const aliceRun = await startRun(people.alice, a.job);
  // By the administrator: an earlier test took bob's policy away.
  const bobRun = await s.api.createJobRun({ projectId: b.job.projectId, compartmentId: compartments.B, jobId: b.job.id, displayName: 'bob-run' });
  const browser = await launchBrowser();
  try {
    const ctx = await browser.context();
    const page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(s.url);
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('user-name').getByText('alice').waitFor();
    // Her team's compartment, through the header's picker.
    await page.locator('summary', { hasText: 'Compartment' }).click();
    await page.getByLabel('Compartment OCID').fill(compartments.A);
    // The picker checks the compartment, keeps it and reloads the page: wait for that reload's load.
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Use this compartment' }).click()]);

    await page.goto(`${s.url}/projects`);
    await page.getByText('alice-project').waitFor();
    await page.goto(`${s.url}/runs`);
    await page.getByText('alice-run').first().waitFor();
    assert.equal(await page.getByText('bob-run').count(), 0, "bob's run is not in alice's list");

    // Bob's job and run by their URLs: refused as if they were not there, nothing of them shown.
    for (const url of [`/jobs/${b.job.id}`, `/runs/${bobRun.id}`]) {
      await page.goto(`${s.url}${url}`);
      await page.getByText(/not found or you are not authorized/).first().waitFor();
      assert.equal(await page.getByText(/bob-(job|run)/).count(), 0, `${url} shows nothing of bob's`);
    }
    // Bob's compartment: the picker refuses it, alice's stays picked.
    await page.locator('summary', { hasText: 'Compartment' }).click();
    await page.getByLabel('Compartment OCID').fill(compartments.B);
    await page.getByRole('button', { name: 'Use this compartment' }).click();
    await page.getByText(/not found or you are not authorized/).first().waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('dsjobs.compartmentId')), compartments.A);
    await ctx.close();
  } finally {
    await browser.close();
    await people.alice.api.cancelJobRun(aliceRun.id).catch(() => {});
    await s.api.cancelJobRun(bobRun.id).catch(() => {});
  }
});

test('projects and jobs record who made them (createdBy): the user that signed the create', async () => {
  assert.equal(a.project.createdBy, people.alice.userId);
  assert.equal(a.job.createdBy, people.alice.userId);
  assert.equal(b.project.createdBy, people.bob.userId);
  assert.equal(b.job.createdBy, people.bob.userId);
});

test('a membership change applies to the next request (group names are cached per user, dropped on every membership write)', async () => {
  const erin = await makePerson('erin');
  await policy('erin-reads', ['Allow group erin-group to read data-science-projects in compartment TeamA']);
  assert.equal((await erin.oci.getProject({ projectId: a.project.id })).project.id, a.project.id);
  const groupId = (await admin.client.listGroups({ compartmentId: tenancy, name: 'erin-group' })).items[0].id;
  const membership = (await admin.client.listUserGroupMemberships({ compartmentId: tenancy, userId: erin.userId, groupId })).items[0];
  await admin.client.removeUserFromGroup({ userGroupMembershipId: membership.id });
  await notFound(erin.oci.getProject({ projectId: a.project.id }));
  await admin.client.addUserToGroup({ addUserToGroupDetails: { userId: erin.userId, groupId } });
  assert.equal((await erin.oci.getProject({ projectId: a.project.id })).project.id, a.project.id);
});
