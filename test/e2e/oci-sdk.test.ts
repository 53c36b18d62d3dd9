/**
 * The UNMODIFIED official `oci-datascience` npm SDK against a real dsjobs server process: project → job → artifact →
 * runs (overrides, waiters, pagination, cancel) → delete, plus the SDK's view of error responses.
 * Wire details of the SDK: docs/notes-oci-sdk.md.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as common from 'oci-common';
import * as ds from 'oci-datascience';
import type { DataScienceClient } from 'oci-datascience';
import { startServer, type TestServer } from '../support/server.js';
import { makeOciClient, expectOciError } from '../support/oci-sdk-client.js';
import { alive as isAlive } from '../support/procs.js';

const S = ds.models.JobRunLifecycleState;

let s: TestServer;
let client: DataScienceClient;
let closeClient: () => void;
let waiters: ReturnType<DataScienceClient['createWaiters']>;

// Shared across the (sequential) tests of this file.
let projectId: string;
let jobId: string;
let firstRunId: string;
const runIds: string[] = [];

const HELLO_PY = [
  'import json, os, sys',
  'print(f"MODE={os.environ.get(\'MODE\')} GREETING={os.environ.get(\'GREETING\')}")',
  'print("ARGV=" + json.dumps(sys.argv[1:]))',
  '',
].join('\n');
const SLEEP_PY = 'import time\nprint("sleeping", flush=True)\ntime.sleep(300)\n';

before(async () => {
  s = await startServer();
  ({ client, close: closeClient } = makeOciClient(s.url, s.configFile));
  waiters = client.createWaiters({
    terminationStrategy: new common.MaxTimeTerminationStrategy(30),
    delayStrategy: new common.FixedTimeDelayStrategy(0.05),
  });
});
after(async () => {
  closeClient?.();
  await s?.close();
});


/** Waits with the SDK waiter until the run is terminal; returns the final JobRun. */
async function waitTerminal(jobRunId: string) {
  const res = await waiters.forJobRun({ jobRunId }, S.Succeeded, S.Failed, S.Canceled);
  assert.ok(res, 'waiter returned no response');
  return res.jobRun;
}

/** Our NDJSON log endpoint (a dsjobs addition, not in the OCI SDK). */
async function fetchLogs(runId: string): Promise<{ seq: number; stream: string; message: string }[]> {
  const res = await s.fetch(`${s.url}/20190101/jobRuns/${runId}/logs`);
  assert.equal(res.status, 200, await res.clone().text());
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

test('SDK: createProject', async () => {
  const res = await client.createProject({
    createProjectDetails: { compartmentId: s.compartmentId, displayName: 'sdk-project', description: 'made by oci-datascience' },
  });
  assert.match(res.project.id, /^ocid1\.datascienceproject\./);
  assert.equal(res.project.compartmentId, s.compartmentId);
  assert.equal(res.project.displayName, 'sdk-project');
  assert.equal(res.project.lifecycleState, ds.models.ProjectLifecycleState.Active);
  assert.ok(res.opcRequestId, 'opc-request-id header');
  projectId = res.project.id;
});

test('SDK: createJob (ME_STANDALONE, Local.Light), createJobArtifact, headJobArtifact, getJob ACTIVE', async () => {
  const jobConfigurationDetails: ds.models.DefaultJobConfigurationDetails = {
    jobType: 'DEFAULT',
    environmentVariables: { GREETING: 'hi', MODE: 'job' },
    commandLineArguments: 'a b',
  };
  const jobInfrastructureConfigurationDetails: ds.models.ManagedEgressStandaloneJobInfrastructureConfigurationDetails = {
    jobInfrastructureType: 'ME_STANDALONE',
    shapeName: 'Local.Light',
    blockStorageSizeInGBs: 50,
  };
  const created = await client.createJob({
    createJobDetails: {
      projectId,
      compartmentId: s.compartmentId,
      displayName: 'sdk-hello',
      jobConfigurationDetails,
      jobInfrastructureConfigurationDetails,
    },
  });
  jobId = created.job.id;
  assert.match(jobId, /^ocid1\.datasciencejob\./);
  assert.equal(created.job.projectId, projectId);
  assert.equal(created.job.lifecycleState, ds.models.JobLifecycleState.Creating, 'no artifact yet');
  assert.ok(created.etag, 'etag on createJob');
  const cfg = created.job.jobConfigurationDetails as ds.models.DefaultJobConfigurationDetails;
  assert.equal(cfg.jobType, 'DEFAULT');
  assert.deepEqual(cfg.environmentVariables, { GREETING: 'hi', MODE: 'job' });
  assert.equal(cfg.commandLineArguments, 'a b');
  const infra = created.job.jobInfrastructureConfigurationDetails as ds.models.ManagedEgressStandaloneJobInfrastructureConfigurationDetails;
  assert.equal(infra.jobInfrastructureType, 'ME_STANDALONE');
  assert.equal(infra.shapeName, 'Local.Light');
  assert.equal(infra.blockStorageSizeInGBs, 50);

  const body = Buffer.from(HELLO_PY);
  const up = await client.createJobArtifact({
    jobId,
    jobArtifact: body,
    contentDisposition: 'attachment; filename=hello.py',
  });
  assert.ok(up.opcRequestId);

  const head = await client.headJobArtifact({ jobId });
  assert.equal(head.contentLength, body.length);
  assert.equal(head.contentMd5, createHash('md5').update(body).digest('base64'));
  assert.match(head.contentDisposition ?? '', /filename="?hello\.py"?/);

  const got = await client.getJob({ jobId });
  assert.equal(got.job.lifecycleState, ds.models.JobLifecycleState.Active);
  assert.equal(got.job.id, jobId);
  assert.ok(got.etag);
});

test('SDK: createJobRun with overrides → waiter SUCCEEDED; our log endpoint shows merged env and split args', async () => {
  const override: ds.models.DefaultJobConfigurationDetails = {
    jobType: 'DEFAULT',
    environmentVariables: { MODE: 'run' },
    commandLineArguments: 'x "y z"',
  };
  const created = await client.createJobRun({
    createJobRunDetails: {
      projectId,
      compartmentId: s.compartmentId,
      jobId,
      displayName: 'sdk-run-1',
      jobConfigurationOverrideDetails: override,
    },
  });
  firstRunId = created.jobRun.id;
  runIds.push(firstRunId);
  assert.match(firstRunId, /^ocid1\.datasciencejobrun\./);
  assert.equal(created.jobRun.jobId, jobId);
  assert.ok(
    [S.Accepted, S.InProgress, S.Succeeded].includes(created.jobRun.lifecycleState as ds.models.JobRunLifecycleState),
    `unexpected initial state ${created.jobRun.lifecycleState}`,
  );

  const done = await waitTerminal(firstRunId);
  assert.equal(done.lifecycleState, S.Succeeded, `${done.lifecycleState}: ${done.lifecycleDetails}`);
  assert.equal(done.id, firstRunId);

  const logs = await fetchLogs(firstRunId);
  const stdout = logs.filter((l) => l.stream === 'stdout').map((l) => l.message);
  assert.ok(stdout.includes('MODE=run GREETING=hi'), `stdout: ${JSON.stringify(stdout)}`);
  const argvLine = stdout.find((l) => l.startsWith('ARGV='));
  assert.ok(argvLine, `stdout: ${JSON.stringify(stdout)}`);
  assert.deepEqual(JSON.parse(argvLine.slice('ARGV='.length)), ['x', 'y z']);
});

test('SDK: listJobRuns by jobId + compartmentId; record and response iterators page with limit 1', async () => {
  // Two more quick runs (job defaults: MODE=job, args "a b") → three runs in all.
  for (const n of [2, 3]) {
    const r = await client.createJobRun({
      createJobRunDetails: { projectId, compartmentId: s.compartmentId, jobId, displayName: `sdk-run-${n}` },
    });
    runIds.push(r.jobRun.id);
  }
  for (const id of runIds.slice(1)) {
    const done = await waitTerminal(id);
    assert.equal(done.lifecycleState, S.Succeeded, `${done.lifecycleState}: ${done.lifecycleDetails}`);
  }
  const defaults = (await fetchLogs(runIds[1])).filter((l) => l.stream === 'stdout').map((l) => l.message);
  assert.deepEqual(defaults, ['MODE=job GREETING=hi', 'ARGV=["a", "b"]']);

  const list = await client.listJobRuns({ compartmentId: s.compartmentId, jobId });
  assert.ok(Array.isArray(list.items));
  const summary = list.items.find((r) => r.id === firstRunId);
  assert.ok(summary, `listJobRuns lacks ${firstRunId}: ${JSON.stringify(list.items.map((r) => r.id))}`);
  assert.equal(summary.jobId, jobId);
  assert.equal(summary.lifecycleState, S.Succeeded);
  assert.deepEqual(new Set(list.items.map((r) => r.id)), new Set(runIds));
  assert.equal(list.opcNextPage, undefined, 'everything fits in one default page');

  // One page by hand: limit 1 gives one item and a next-page token.
  const first = await client.listJobRuns({ compartmentId: s.compartmentId, jobId, limit: 1 });
  assert.equal(first.items.length, 1);
  assert.ok(first.opcNextPage, 'opc-next-page with limit 1 and three runs');

  // The SDK's record iterator follows opc-next-page until it is absent.
  const seen: string[] = [];
  for await (const r of client.listJobRunsRecordIterator({ compartmentId: s.compartmentId, jobId, limit: 1 })) {
    seen.push(r.id);
    assert.ok(seen.length <= 10, 'record iterator does not stop');
  }
  assert.equal(seen.length, 3, `record iterator saw ${JSON.stringify(seen)}`);
  assert.deepEqual(new Set(seen), new Set(runIds));

  // The response iterator: one response per page, three pages of one item.
  const pages: number[] = [];
  for await (const page of client.listJobRunsResponseIterator({
    compartmentId: s.compartmentId,
    jobId,
    limit: 1,
    sortBy: ds.requests.ListJobRunsRequest.SortBy.TimeCreated,
    sortOrder: ds.requests.ListJobRunsRequest.SortOrder.Asc,
  })) {
    pages.push(page.items.length);
    assert.ok(pages.length <= 10, 'response iterator does not stop');
  }
  assert.deepEqual(pages, [1, 1, 1]);

  // Sorted ascending by timeCreated across pages: creation order.
  const asc: string[] = [];
  for await (const r of client.listJobRunsRecordIterator({
    compartmentId: s.compartmentId,
    jobId,
    limit: 1,
    sortBy: ds.requests.ListJobRunsRequest.SortBy.TimeCreated,
    sortOrder: ds.requests.ListJobRunsRequest.SortOrder.Asc,
  })) {
    asc.push(r.id);
  }
  assert.deepEqual(asc, runIds);
});

test('SDK: cancelJobRun of a long-running run → waiter CANCELED', async () => {
  const job = await client.createJob({
    createJobDetails: {
      projectId,
      compartmentId: s.compartmentId,
      displayName: 'sdk-sleep',
      jobConfigurationDetails: { jobType: 'DEFAULT' },
      jobInfrastructureConfigurationDetails: {
        jobInfrastructureType: 'ME_STANDALONE',
        shapeName: 'Local.Light',
        blockStorageSizeInGBs: 50,
      } as ds.models.ManagedEgressStandaloneJobInfrastructureConfigurationDetails,
    },
  });
  await client.createJobArtifact({
    jobId: job.job.id,
    jobArtifact: Buffer.from(SLEEP_PY),
    contentDisposition: 'attachment; filename=sleep.py',
  });
  const run = await client.createJobRun({
    createJobRunDetails: { projectId, compartmentId: s.compartmentId, jobId: job.job.id, displayName: 'sdk-sleep-run' },
  });
  const runId = run.jobRun.id;

  // Wait until it really runs (or ended early, which the assertion below reports).
  const started = await waiters.forJobRun({ jobRunId: runId }, S.InProgress, S.Succeeded, S.Failed, S.Canceled);
  assert.equal(started?.jobRun.lifecycleState, S.InProgress, started?.jobRun.lifecycleDetails);

  // The script is really running: its first line is in the log and its process group exists.
  const t0 = Date.now();
  while (!(await fetchLogs(runId)).some((l) => l.message === 'sleeping')) {
    assert.ok(Date.now() - t0 < 15_000, 'sleep.py never printed');
    await new Promise((r) => setTimeout(r, 25));
  }
  const childPid = Number(readFileSync(path.join(s.dataDir, 'runs', runId, 'child.pid'), 'utf8').trim());
  assert.ok(childPid > 0 && isAlive(childPid), 'run process is alive before cancel');

  const cancel = await client.cancelJobRun({ jobRunId: runId });
  assert.ok(cancel.opcRequestId);
  const after = await client.getJobRun({ jobRunId: runId });
  assert.ok(
    [S.Canceling, S.Canceled].includes(after.jobRun.lifecycleState as ds.models.JobRunLifecycleState),
    `after cancel: ${after.jobRun.lifecycleState}`,
  );
  const done = await waitTerminal(runId);
  assert.equal(done.lifecycleState, S.Canceled, `${done.lifecycleState}: ${done.lifecycleDetails}`);
  assert.ok(done.timeFinished, 'timeFinished on a canceled run');
  assert.ok(!isAlive(childPid), `run process ${childPid} still alive after CANCELED`);

  // The job can go now: delete it with its runs too.
  await client.deleteJob({ jobId: job.job.id, deleteRelatedJobRuns: true });
});

test('SDK: a job naming a conda environment this server lacks says why its runs will be refused, in lifecycleDetails', async () => {
  const created = await client.createJob({
    createJobDetails: {
      projectId,
      compartmentId: s.compartmentId,
      displayName: 'sdk-conda',
      // What every ADS sample's runtime conda becomes.
      jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { CONDA_ENV_TYPE: 'service', CONDA_ENV_SLUG: 'pytorch110_p38_cpu_v1' } },
      jobInfrastructureConfigurationDetails: {
        jobInfrastructureType: 'ME_STANDALONE',
        shapeName: 'Local.Light',
        blockStorageSizeInGBs: 50,
      } as ds.models.ManagedEgressStandaloneJobInfrastructureConfigurationDetails,
    },
  });
  assert.match(created.job.lifecycleDetails ?? '', /^Waiting for the job artifact to be uploaded\. Runs will be refused: /);
  await client.createJobArtifact({ jobId: created.job.id, jobArtifact: Buffer.from('print(1)\n'), contentDisposition: 'attachment; filename=c.py' });
  const job = (await client.getJob({ jobId: created.job.id })).job;
  assert.equal(job.lifecycleState, ds.models.JobLifecycleState.Active);
  assert.equal(
    job.lifecycleDetails,
    "Runs will be refused: jobConfigurationDetails.environmentVariables.CONDA_ENV_SLUG: no service conda environment 'pytorch110_p38_cpu_v1' on this server (available: none). " +
      'To run it, register it in the server\'s config (condaEnvironments: [{"slug": "pytorch110_p38_cpu_v1", "path": "<a conda env or venv with bin/python>"}]) and restart the server; ' +
      'or remove the CONDA_ENV_* variables (an ADS spec\'s runtime conda) to use the system python.',
  );
  const e = await expectOciError(() =>
    client.createJobRun({ createJobRunDetails: { projectId, compartmentId: s.compartmentId, jobId: job.id } }),
  );
  assert.equal(e.statusCode, 400);
  assert.match(e.message, /CONDA_ENV_SLUG: no service conda environment 'pytorch110_p38_cpu_v1'/);
  // The job's events carry the same warning (the console's job page follows them).
  const events = await (await s.fetch(`${s.url}/20190101/events?resourceId=${job.id}`)).json();
  const artifactEvent = events.find((ev: { type: string }) => ev.type.endsWith('createjobartifact'));
  assert.ok(artifactEvent, JSON.stringify(events.map((ev: { type: string }) => ev.type)));
  assert.equal(artifactEvent.data.lifecycleDetails, job.lifecycleDetails);
  await client.deleteJob({ jobId: job.id });
});

test('SDK: errors come back as OciError with OCI status and service codes', async () => {
  const unknownJob = 'ocid1.datasciencejob.oc1.iad.doesnotexist000000000000000000000000000000000';
  const e404 = await expectOciError(() => client.getJob({ jobId: unknownJob }));
  assert.equal(e404.statusCode, 404);
  assert.equal(e404.serviceCode, 'NotAuthorizedOrNotFound');
  assert.ok(e404.message.length > 0);
  assert.ok(e404.opcRequestId, 'opc-request-id on errors');

  const eRun = await expectOciError(() => client.getJobRun({ jobRunId: 'ocid1.datasciencejobrun.oc1.iad.nope' }));
  assert.equal(eRun.statusCode, 404);
  assert.equal(eRun.serviceCode, 'NotAuthorizedOrNotFound');

  const e400 = await expectOciError(() =>
    client.createJob({
      createJobDetails: {
        projectId,
        compartmentId: s.compartmentId,
        displayName: 'bad-shape',
        jobConfigurationDetails: { jobType: 'DEFAULT' },
        jobInfrastructureConfigurationDetails: {
          jobInfrastructureType: 'ME_STANDALONE',
          shapeName: 'VM.NoSuch.Shape',
          blockStorageSizeInGBs: 50,
        } as ds.models.ManagedEgressStandaloneJobInfrastructureConfigurationDetails,
      },
    }),
  );
  assert.equal(e400.statusCode, 400);
  assert.equal(e400.serviceCode, 'InvalidParameter');
  assert.match(e400.message, /shape/i);

  // Canceling a finished run is a state conflict.
  const e409 = await expectOciError(() => client.cancelJobRun({ jobRunId: firstRunId }));
  assert.equal(e409.statusCode, 409);
  assert.equal(e409.serviceCode, 'IncorrectState');
});

test('SDK: deleteJob with deleteRelatedJobRuns → job and its runs DELETED', async () => {
  const del = await client.deleteJob({ jobId, deleteRelatedJobRuns: true });
  assert.ok(del.opcRequestId);
  const job = await waiters.forJob({ jobId }, ds.models.JobLifecycleState.Deleted);
  assert.equal(job?.job.lifecycleState, ds.models.JobLifecycleState.Deleted);
  for (const id of runIds) {
    const r = await waiters.forJobRun({ jobRunId: id }, S.Deleted);
    assert.equal(r?.jobRun.lifecycleState, S.Deleted, id);
  }
  // Whatever the default listing shows of them, no run of the deleted job is live, and the DELETED filter finds all.
  const listed = await client.listJobRuns({ compartmentId: s.compartmentId, jobId });
  assert.deepEqual(
    listed.items.filter((r) => r.lifecycleState !== S.Deleted).map((r) => r.id),
    [],
    'no live runs of a deleted job',
  );
  const deleted = await client.listJobRuns({ compartmentId: s.compartmentId, jobId, lifecycleState: S.Deleted });
  assert.deepEqual(new Set(deleted.items.map((r) => r.id)), new Set(runIds));
});
