/**
 * ADS's run outputs served by the server (issues 21 and 22): a job whose OUTPUT_DIR / OUTPUT_URI name a bucket of
 * this server has the directory copied there when each run ends, successfully or not, with what was copied in the
 * run's log; a notebook run's executed notebook is kept with the run (GET /jobRuns/{id}/notebook) and copied to
 * its outputUri. A real server, real (sandboxed) runs; jobs created with the official OCI SDK and the CLI, objects
 * read back with the official oci-objectstorage SDK.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import * as common from 'oci-common';
import type { DataScienceClient } from 'oci-datascience';
import type { ObjectStorageClient } from 'oci-objectstorage';
import { runCli } from '../support/cli.js';
import { makeRepo, sharedDir } from '../support/git-servers.js';
import { expectOciError, makeIdentityClient, makeOciClient, makeObjectStorageClient } from '../support/oci-sdk-client.js';
import { makeUser } from '../support/users.js';
import { readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';

let s: TestServer;
let tmp: string;
let repos: { dir: string; remove(): void };
let oci: { client: DataScienceClient; close(): void };
let objects: { client: ObjectStorageClient; close(): void };
let ns: string;
let projectId: string;

const haveJupyter = existsSync('/usr/bin/python3') && existsSync('/usr/share/jupyter/kernels/python3/kernel.json');
const skipNotebook = !haveJupyter && process.env.CI !== 'true' ? 'Jupyter (python3-ipykernel) is not installed: run scripts/setup-host.sh' : false;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-outputs-test-'));
  repos = sharedDir('dsjobs-outputs-repos-');
  s = await startServer();
  oci = makeOciClient(s.url, s.configFile);
  objects = makeObjectStorageClient(s.url, s.configFile);
  ns = (await objects.client.getNamespace({})).value;
  await objects.client.createBucket({ namespaceName: ns, createBucketDetails: { name: 'results', compartmentId: s.compartmentId } });
  projectId = (await oci.client.createProject({ createProjectDetails: { compartmentId: s.compartmentId, displayName: 'outputs' } })).project.id;
});

after(async () => {
  oci?.close();
  objects?.close();
  await s?.close();
  repos?.remove();
  rmSync(tmp, { recursive: true, force: true });
});

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');

async function readAll(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as Readable) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Every object under the prefix: name -> {size, md5}, through the SDK's listing. */
async function listed(prefix: string): Promise<Map<string, { size: number; md5: string }>> {
  const r = await objects.client.listObjects({ namespaceName: ns, bucketName: 'results', prefix, fields: 'name,size,md5' });
  return new Map(r.listObjects.objects.map((o) => [o.name, { size: o.size!, md5: o.md5! }]));
}

/** A job with a Python artifact, created and uploaded through the official SDK (as the administrator, or `as`). */
async function pythonJob(script: string, env: Record<string, string>, as: DataScienceClient = oci.client) {
  const job = (
    await as.createJob({
      createJobDetails: {
        projectId,
        compartmentId: s.compartmentId,
        displayName: 'outputs',
        jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: env } as never,
        jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 } as never,
      },
    })
  ).job;
  await as.createJobArtifact({ jobId: job.id, jobArtifact: Buffer.from(script), contentDisposition: 'attachment; filename=main.py', contentLength: Buffer.byteLength(script) });
  return job;
}

async function runToEnd(job: { id: string; projectId: string; compartmentId: string }, as: DataScienceClient = oci.client) {
  const started = await as.createJobRun({ createJobRunDetails: { projectId: job.projectId, compartmentId: job.compartmentId, jobId: job.id } });
  await waitForRun(s.api, started.jobRun.id, undefined, 180_000);
  const run = (await oci.client.getJobRun({ jobRunId: started.jobRun.id })).jobRun;
  const logs = (await readLogs(s, run.id)).map((l) => l.message);
  return { run, logs, text: `${run.lifecycleDetails}\n${logs.join('\n')}` };
}

const BIG = randomBytes(300_000).toString('base64');
const WRITER = (exitCode: number) => `import os, sys
os.makedirs("outputs/sub", exist_ok=True)
open("outputs/model.txt", "w").write("weights 1 2 3\\n")
open("outputs/sub/big.txt", "w").write(${JSON.stringify(BIG)})
os.symlink("/etc/passwd", "outputs/escape")
open("not-an-output.txt", "w").write("stays behind")
os.link("not-an-output.txt", "outputs/hard")
print("wrote outputs")
sys.exit(${exitCode})
`;

test('a python run: OUTPUT_DIR is copied to its oci:// OUTPUT_URI with the right md5 and size, and the log lists it', async () => {
  const job = await pythonJob(WRITER(0), { OUTPUT_DIR: 'outputs', OUTPUT_URI: `oci://results@${ns}/ok/\${JOB_RUN_OCID}` });
  const { run, logs, text } = await runToEnd(job);
  assert.equal(run.lifecycleState, 'SUCCEEDED', text);
  const prefix = `ok/${run.id}/`;
  const got = await listed(prefix);
  assert.deepEqual([...got.keys()].sort(), [`${prefix}model.txt`, `${prefix}sub/big.txt`], 'the symbolic link, the hard link and files outside OUTPUT_DIR are not copied');
  assert.deepEqual(got.get(`${prefix}model.txt`), { size: 14, md5: md5('weights 1 2 3\n') });
  assert.deepEqual(got.get(`${prefix}sub/big.txt`), { size: BIG.length, md5: md5(BIG) });
  const body = await objects.client.getObject({ namespaceName: ns, bucketName: 'results', objectName: `${prefix}sub/big.txt` });
  assert.equal((await readAll(body.value)).toString(), BIG);
  assert.ok(logs.includes(`[dsjobs] outputs: outputs/model.txt -> oci://results@${ns}/${prefix}model.txt (14 bytes, md5 ${md5('weights 1 2 3\n')})`), text);
  assert.ok(logs.includes('[dsjobs] outputs: outputs/hard not copied: a hard link: the file it names may not be the run\'s own'), text);
  assert.ok(logs.includes(`[dsjobs] outputs: copied 2 file(s), ${14 + BIG.length} bytes, to oci://results@${ns}/${prefix}; 1 failed`), text);
  assert.match(run.lifecycleDetails ?? '', new RegExp(`Outputs copied to oci://results@${ns}/${prefix}: 2 file\\(s\\)`));
});

test('a failed python run still has its outputs copied', async () => {
  const job = await pythonJob(WRITER(4), { OUTPUT_DIR: 'outputs', OUTPUT_URI: `oci://results@${ns}/failed` });
  const { run, text } = await runToEnd(job);
  assert.equal(run.lifecycleState, 'FAILED', text);
  assert.match(run.lifecycleDetails ?? '', /exit code 4/);
  const got = await listed('failed/');
  assert.deepEqual(got.get('failed/model.txt'), { size: 14, md5: md5('weights 1 2 3\n') });
  assert.deepEqual(got.get('failed/sub/big.txt'), { size: BIG.length, md5: md5(BIG) });
});

test('a bucket that does not exist: the run ends as its code did, and lifecycleDetails and the log say why nothing was copied', async () => {
  const job = await pythonJob('import os\nos.makedirs("out")\nopen("out/a", "w").write("a")\n', { OUTPUT_DIR: 'out', OUTPUT_URI: `oci://no-such-bucket@${ns}/x` });
  const { run, logs, text } = await runToEnd(job);
  assert.equal(run.lifecycleState, 'SUCCEEDED', text);
  assert.match(run.lifecycleDetails ?? '', new RegExp(`Outputs not copied to oci://no-such-bucket@${ns}/x/: bucket 'no-such-bucket' does not exist`));
  assert.ok(logs.some((l) => l.startsWith(`[dsjobs] outputs: not copied to oci://no-such-bucket@${ns}/x/`)), text);
});

test("the bucket is written only when the run's creator (or the run's own principal) may write objects there", async () => {
  const admin = makeIdentityClient(s.url, s.configFile);
  const tenancy = new common.ConfigFileAuthenticationDetailsProvider(s.configFile).getTenantId();
  const user = await makeUser(admin.client, tenancy, s.dataDir, 'outputs-runner');
  const as = makeOciClient(s.url, user.configFile);
  try {
    await admin.client.createPolicy({
      createPolicyDetails: { compartmentId: tenancy, name: 'runner-jobs', description: 'jobs only', statements: ['Allow group outputs-runner-group to manage data-science-family in tenancy'] },
    });
    const job = await pythonJob('import os\nos.makedirs("out")\nopen("out/r.txt", "w").write("r")\n', { OUTPUT_DIR: 'out', OUTPUT_URI: `oci://results@${ns}/auth` }, as.client);
    const refused = await runToEnd(job, as.client);
    assert.equal(refused.run.lifecycleState, 'SUCCEEDED', refused.text);
    assert.match(refused.run.lifecycleDetails ?? '', /Outputs not copied to oci:\/\/results@\S+: not authorized: neither the run's principal nor its creator ocid1\.user\S+ may write objects in bucket 'results'/);
    assert.equal((await listed('auth/')).size, 0);
    await admin.client.createPolicy({
      createPolicyDetails: { compartmentId: tenancy, name: 'runner-objects', description: 'objects', statements: ['Allow group outputs-runner-group to manage objects in tenancy'] },
    });
    const allowed = await runToEnd(job, as.client);
    assert.match(allowed.run.lifecycleDetails ?? '', /Outputs copied to/, allowed.text);
    assert.deepEqual((await listed('auth/')).get('auth/r.txt'), { size: 1, md5: md5('r') });
  } finally {
    as.close();
    admin.close();
  }
});

test('a bad outputUri is refused when the job is created, naming the field', async () => {
  for (const [env, field, reason] of [
    [{ OUTPUT_URI: 's3://bucket/x' }, 'jobConfigurationDetails.environmentVariables.OUTPUT_URI', /s3:\/\/ is not served here/],
    [{ OUTPUT_URI: `oci://@${ns}/x` }, 'jobConfigurationDetails.environmentVariables.OUTPUT_URI', /names no bucket/],
    [{ OUTPUT_URI: 'oci://results/x' }, 'jobConfigurationDetails.environmentVariables.OUTPUT_URI', /names no namespace/],
    [{ OUTPUT_URI: `oci://results@${ns}/x`, OUTPUT_DIR: '../etc' }, 'jobConfigurationDetails.environmentVariables.OUTPUT_DIR', /may not leave/],
  ] as const) {
    const e = await expectOciError(() => pythonJob('print(1)\n', env));
    assert.equal(e.statusCode, 400);
    assert.equal(e.serviceCode, 'InvalidParameter');
    assert.ok(e.message.startsWith(`${field}: `), e.message);
    assert.match(e.message, reason);
  }
  // The spec reader refuses the same before anything is created.
  const dir = mkdtempSync(path.join(tmp, 'bad-'));
  writeFileSync(path.join(dir, 'main.py'), 'print(1)\n');
  writeFileSync(
    path.join(dir, 'job.yaml'),
    `kind: job\nspec:\n  runtime:\n    kind: runtime\n    type: python\n    spec:\n      scriptPathURI: main.py\n      outputDir: out\n      outputUri: oci://bucketonly/x\n`,
  );
  const r = await runCli(['job', 'create', '-f', path.join(dir, 'job.yaml')], { env: { DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir }, cwd: dir, timeoutMs: 60_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /spec\.runtime\.spec\.outputUri: 'oci:\/\/bucketonly\/x' names no namespace/);
  // A bucket that does not exist yet, or another namespace: created, with a warning saying runs would copy nothing.
  for (const [uri, warning] of [
    [`oci://later@${ns}/x`, `warning: outputUri oci://later@${ns}/x: bucket later does not exist yet: create it (dsjobs os bucket create later) before runs end`],
    ['oci://results@elsewhere/x', `warning: outputUri oci://results@elsewhere/x: namespace elsewhere is not this server's (${ns}): runs will not copy their outputs there`],
  ]) {
    writeFileSync(path.join(dir, 'job.yaml'), `kind: job\nspec:\n  runtime:\n    kind: runtime\n    type: python\n    spec:\n      scriptPathURI: main.py\n      outputDir: out\n      outputUri: ${uri}\n`);
    const w = await runCli(['job', 'create', '-f', path.join(dir, 'job.yaml')], { env: { DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir }, cwd: dir, timeoutMs: 60_000 });
    assert.equal(w.code, 0, w.stderr);
    assert.ok(w.stderr.includes(warning), w.stderr);
  }
});

function cli(args: string[], cwd: string) {
  return runCli(args, { env: { DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir }, cwd, timeoutMs: 60_000 });
}

/** Creates a job from an ADS spec with the CLI. */
async function createFromSpec(files: Record<string, string>, yaml: string) {
  const dir = mkdtempSync(path.join(tmp, 'spec-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  writeFileSync(path.join(dir, 'job.yaml'), yaml);
  const created = await cli(['job', 'create', '-f', path.join(dir, 'job.yaml'), '--json'], dir);
  assert.equal(created.code, 0, `job create: ${created.stderr}`);
  return JSON.parse(created.stdout) as { id: string; projectId: string; compartmentId: string };
}

test('a gitPython run with outputDir and an oci:// outputUri', async () => {
  const repo = makeRepo(path.join(repos.dir, 'train.git'));
  repo.commit({ 'train.py': 'import os\nos.makedirs("results", exist_ok=True)\nopen("results/score.json", "w").write("{\\"score\\": 0.9}")\n' }, 'train');
  const job = await createFromSpec(
    {},
    `kind: job
spec:
  name: git-outputs
  infrastructure: {kind: infrastructure, type: dataScienceJob, spec: {shapeName: Local.Light}}
  runtime:
    kind: runtime
    type: gitPython
    spec:
      url: file://${repos.dir}/train.git
      entrypoint: train.py
      outputDir: results
      outputUri: oci://results@${ns}/git
`,
  );
  const { run, logs, text } = await runToEnd(job);
  assert.equal(run.lifecycleState, 'SUCCEEDED', text);
  assert.deepEqual((await listed('git/')).get('git/score.json'), { size: 14, md5: md5('{"score": 0.9}') });
  assert.ok(logs.includes(`[dsjobs] outputs: results/score.json -> oci://results@${ns}/git/score.json (14 bytes, md5 ${md5('{"score": 0.9}')})`), text);
});

const NOTEBOOK = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [
    { id: 'a', cell_type: 'code', metadata: {}, source: 'print("<b>not bold</b>")', outputs: [], execution_count: null },
    { id: 'b', cell_type: 'markdown', metadata: {}, source: '# Title' },
    { id: 'c', cell_type: 'code', metadata: {}, source: 'raise ValueError("bad input")', outputs: [], execution_count: null },
    { id: 'd', cell_type: 'code', metadata: {}, source: 'print("never")', outputs: [], execution_count: null },
  ],
});

test('a notebook run: the executed notebook is kept with the run, readable through the API, copied to outputUri, and goes with the run', { skip: skipNotebook }, async () => {
  const job = await createFromSpec(
    { 'analysis.ipynb': NOTEBOOK },
    `kind: job
spec:
  name: nb-outputs
  infrastructure: {kind: infrastructure, type: dataScienceJob, spec: {shapeName: Local.Light}}
  runtime:
    kind: runtime
    type: notebook
    spec:
      notebookPathURI: analysis.ipynb
      outputUri: oci://results@${ns}/nb
`,
  );
  const { run, text } = await runToEnd(job);
  assert.equal(run.lifecycleState, 'FAILED', text);
  assert.match(run.lifecycleDetails ?? '', /cell 3 raised ValueError: bad input/);
  const res = await s.fetch(`${s.url}/20190101/jobRuns/${run.id}/notebook`);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'application/x-ipynb+json');
  const body = await res.text();
  const nb = JSON.parse(body) as { cells: { source: string; metadata: Record<string, unknown>; outputs?: { text?: string | string[]; ename?: string }[] }[] };
  assert.equal([nb.cells[0]!.outputs![0]!.text].flat().join(''), '<b>not bold</b>\n');
  assert.deepEqual(nb.cells[2]!.metadata.dsjobs, { failed: true });
  assert.equal(nb.cells[2]!.outputs![0]!.ename, 'ValueError');
  assert.deepEqual(nb.cells[3]!.outputs, []);
  // The same notebook, under its own name, in the bucket.
  const copy = await objects.client.getObject({ namespaceName: ns, bucketName: 'results', objectName: 'nb/analysis.ipynb' });
  assert.equal((await readAll(copy.value)).toString(), body);
  // The CLI writes the same file.
  const saved = path.join(tmp, 'executed.ipynb');
  const r = await cli(['run', 'notebook', run.id, '-o', saved], tmp);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(saved, 'utf8'), body);
  // Deleting the run deletes it.
  await oci.client.deleteJobRun({ jobRunId: run.id });
  const gone = await s.fetch(`${s.url}/20190101/jobRuns/${run.id}/notebook`);
  assert.equal(gone.status, 404);
});

test('a run that is not a notebook run has no notebook: 404 saying so', async () => {
  const job = await pythonJob('print("hi")\n', {});
  const { run } = await runToEnd(job);
  const res = await s.fetch(`${s.url}/20190101/jobRuns/${run.id}/notebook`);
  assert.equal(res.status, 404);
  assert.match(((await res.json()) as { message: string }).message, /not a notebook run/);
});
