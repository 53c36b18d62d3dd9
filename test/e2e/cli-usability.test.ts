/**
 * The CLI as a new user meets it (issue 24): the real CLI (node bin/dsjobs.js, compiled dist/) against a real server.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type TestServer } from '../support/server.js';
import { runCli } from '../support/cli.js';

let s: TestServer;

before(async () => {
  s = await startServer();
});
after(async () => {
  await s?.close();
});

/** The CLI at the test server, signing with the OCI config the server wrote there (found as a user's CLI finds it). */
const signedCli = (args: string[], cwd: string) => runCli(args, { endpoint: s.url, cwd, env: { DSJOBS_DATA_DIR: s.dataDir } });

describe('an unreachable server', () => {
  test('the error says where the URL came from and how to give another (--endpoint, DSJOBS_ENDPOINT)', async () => {
    const byFlag = await runCli(['--endpoint', 'http://127.0.0.1:1', 'job', 'list'], { env: { DSJOBS_ENDPOINT: undefined } });
    assert.equal(byFlag.code, 2);
    assert.match(byFlag.stderr, /cannot reach dsjobs at http:\/\/127\.0\.0\.1:1/);
    assert.match(byFlag.stderr, /the URL is from --endpoint/);
    assert.match(byFlag.stderr, /--endpoint http:\/\/HOST:PORT/);
    assert.match(byFlag.stderr, /DSJOBS_ENDPOINT=http:\/\/HOST:PORT/);

    const byEnv = await runCli(['shapes'], { endpoint: 'http://127.0.0.1:1' });
    assert.match(byEnv.stderr, /the URL is from DSJOBS_ENDPOINT/);

    assert.doesNotMatch(byEnv.stderr, /^\s+at /m, 'no stack trace');
  });
});

describe('names instead of OCIDs', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-cli-names-'));
    writeFileSync(path.join(dir, 'hello.sh'), 'echo "hello from $RUN_NAME"\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ok = async (args: string[]) => {
    const r = await signedCli(args, dir);
    assert.equal(r.code, 0, `dsjobs ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const json = async (args: string[]) => JSON.parse((await ok([...args, '--json'])).stdout);

  test('a unique name addresses a project, a job and a run', async () => {
    const project = await json(['project', 'create', '--name', 'names-proj']);
    const job = await json(['job', 'create', '--artifact', 'hello.sh', '--name', 'names-train', '--project', 'names-proj', '--shape', 'Local.Light']);
    assert.equal(job.projectId, project.id);
    assert.equal((await json(['job', 'get', 'names-train'])).id, job.id);
    const listed = await json(['job', 'list', '--project', 'names-proj']);
    assert.deepEqual(listed.map((j: { id: string }) => j.id), [job.id]);

    const watched = await signedCli(['job', 'run', 'names-train', '--name', 'names-run-1', '--env', 'RUN_NAME=first', '--watch'], dir);
    assert.equal(watched.code, 0, watched.stderr);
    assert.match(watched.stdout, /hello from first/);
    const run = await json(['run', 'get', 'names-run-1']);
    assert.equal(run.jobId, job.id);
    assert.equal(run.lifecycleState, 'SUCCEEDED');
    assert.match((await ok(['run', 'logs', 'names-run-1'])).stdout, /hello from first/);
    const runs = await json(['run', 'list', '--job', 'names-train']);
    assert.deepEqual(runs.map((r: { id: string }) => r.id), [run.id]);
    const events = await json(['events', '--job', 'names-train']);
    assert.ok(events.length > 0 && events.every((e: { data: { jobId?: string; id: string } }) => (e.data.jobId ?? e.data.id) === job.id), JSON.stringify(events));
  });

  test('an ambiguous name lists the candidates with their OCIDs and states; an unknown one says so', async () => {
    const a = await json(['job', 'create', '--artifact', 'hello.sh', '--name', 'names-dup', '--shape', 'Local.Light']);
    const b = await json(['job', 'create', '--artifact', 'hello.sh', '--name', 'names-dup', '--shape', 'Local.Light']);
    const r = await signedCli(['job', 'run', 'names-dup'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /2 jobs are named 'names-dup'; give the OCID of the one you mean/);
    for (const j of [a, b]) assert.match(r.stderr, new RegExp(`^  ${j.id}  ACTIVE  created `, 'm'));
    assert.equal((await json(['run', 'list', '--job', a.id])).length, 0, 'nothing was started');

    const none = await signedCli(['job', 'get', 'names-nosuch'], dir);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no job has the OCID or name 'names-nosuch' in compartment ocid1\.compartment\./);
    const noRun = await signedCli(['run', 'logs', 'names-nosuch'], dir);
    assert.match(noRun.stderr, /no job run has the OCID or name 'names-nosuch'/);
  });
});

describe('tables and details', () => {
  let dir: string;
  let job: { id: string };
  let run: { id: string };
  const longJob = 'tables-a-job-with-a-rather-long-descriptive-display-name';
  const longRun = 'tables-a-run-with-an-even-longer-display-name-than-its-job-has';
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-cli-tables-'));
    writeFileSync(path.join(dir, 'hello.sh'), 'echo "line one"\necho "line two" >&2\n');
    job = await json(['job', 'create', '--artifact', 'hello.sh', '--name', longJob, '--shape', 'Local.Light', '--env', 'LR=0.1', '--env', 'EPOCHS=3']);
    const r = await signedCli(['job', 'run', job.id, '--name', longRun, '--watch'], dir);
    assert.equal(r.code, 0, r.stderr);
    run = (await json(['run', 'list', '--job', job.id]))[0];
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ok = async (args: string[]) => {
    const r = await signedCli(args, dir);
    assert.equal(r.code, 0, `dsjobs ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const json = async (args: string[]) => JSON.parse((await ok([...args, '--json'])).stdout);
  const lines = (t: string) => t.split('\n').filter((l) => l.length > 0);

  test('run list and job list fit 100 columns: short OCIDs, the job name, cut texts; --wide has everything', async () => {
    for (const args of [['run', 'list'], ['job', 'list'], ['project', 'list']]) {
      const t = (await ok(args)).stdout;
      for (const l of lines(t)) assert.ok(l.length <= 100, `${args.join(' ')}: a line of ${l.length} columns:\n${t}`);
    }
    const runs = (await ok(['run', 'list', '--job', job.id])).stdout;
    assert.match(lines(runs)[0], /^ID\s+NAME\s+STATE\s+EXIT\s+JOB\s+ACCEPTED\s+DETAILS$/);
    const row = lines(runs).find((l) => l.startsWith(`…${run.id.slice(-8)} `));
    assert.ok(row, `no row for …${run.id.slice(-8)}:\n${runs}`);
    assert.match(row, /SUCCEEDED\s+0\s+tables-a-job/, 'the job by its name');
    assert.doesNotMatch(runs, /ocid1\./);

    const wide = (await ok(['run', 'list', '--job', job.id, '--wide'])).stdout;
    const wideRow = lines(wide).find((l) => l.startsWith(run.id));
    assert.ok(wideRow, wide);
    assert.ok(wideRow.includes(longRun) && wideRow.includes(longJob), wideRow);
    assert.match(wideRow, /Job run artifact execution succeeded\. Infrastructure de-provisioning\.$/);

    // The short form is accepted back.
    assert.equal((await json(['run', 'get', `…${run.id.slice(-8)}`])).id, run.id);
    assert.equal((await json(['job', 'get', job.id.slice(-8)])).id, job.id);
  });

  test('--state is accepted in any case', async () => {
    const succeeded = await json(['run', 'list', '--job', job.id, '--state', 'succeeded']);
    assert.deepEqual(succeeded.map((r: { id: string }) => r.id), [run.id]);
    const active = await json(['job', 'list', '--state', 'Active']);
    assert.ok(active.some((j: { id: string }) => j.id === job.id));
  });

  test('job get and info spell nested fields out instead of printing JSON; --json keeps the raw', async () => {
    const human = (await ok(['job', 'get', job.id])).stdout;
    assert.doesNotMatch(human, /[{}"]/, human);
    assert.match(human, /^jobConfigurationDetails\n {2}jobType\s+DEFAULT\n {2}environmentVariables\n {4}LR\s+0\.1\n {4}EPOCHS\s+3$/m);
    assert.match(human, /^ {2}shapeName\s+Local\.Light$/m);
    const info = (await ok(['info'])).stdout;
    assert.doesNotMatch(info, /[{}]/, info);
    assert.match(info, /^capacity\n {2}cpus\s+\d/m);
    assert.equal((await json(['job', 'get', job.id])).jobConfigurationDetails.environmentVariables.LR, '0.1');
  });

  test('run logs --timestamps puts the time of each line before it', async () => {
    const r = await ok(['run', 'logs', run.id, '--timestamps']);
    assert.match(r.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line one$/m);
    assert.match(r.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line two$/m);
    assert.equal((await ok(['run', 'logs', run.id])).stdout, 'line one\n');
  });
});
