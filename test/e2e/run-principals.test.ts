/**
 * Run principals end to end: a real server with authentication on, real sandboxed runs. Inside a run, a Node script
 * uses the UNMODIFIED official SDK (oci-common's ResourcePrincipalAuthenticationDetailsProvider, oci-datascience's
 * DataScienceClient, required from this checkout's node_modules) with the environment the run was given: it starts a
 * job its dynamic group's policy permits and is refused one in another compartment. The run's token and key, replayed
 * from outside, work while the run is live and get 401 once it has ended; a tampered token, another run's key and an
 * expired token get 401 at once. The key and token appear in no log, API answer or database page. A job that starts
 * itself through its principal stops at the chain depth limit.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPrivateKey, createSign, generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as common from 'oci-common';
import { DataScienceClient } from 'oci-datascience';
import type { IdentityClient } from 'oci-identity';
import { DsJobsClient } from '../../src/sdk/client.js';
import { resourcePrincipalSigner } from '../../src/sdk/signer.js';
import { sdkDirForRuns } from '../support/sdk-for-runs.js';
import { readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';
import { expectOciError, makeIdentityClient } from '../support/oci-sdk-client.js';

let s: TestServer;
let admin: { client: IdentityClient; close(): void };
let tenancy: string;
const A: { compartmentId: string; projectId: string } = { compartmentId: '', projectId: '' };
const B: { compartmentId: string; projectId: string } = { compartmentId: '', projectId: '' };
const closers: (() => void)[] = [];

/** Chain limits for the self-starting jobs (config triggerMaxChainDepth, triggerMaxChainRuns). */
const MAX_DEPTH = 3;
const MAX_RUNS = 6;

/**
 * The script a run executes: the official SDK's resource principal provider, built from the run's environment alone,
 * exactly as docs/identity.md tells users to. It prints the paths of its identity files (paths, not contents) and
 * what its calls answered, then (MODE=wait) waits until the test drops a `release` file into its space.
 */
const PIPELINE_JS = `const fs = require('fs');
const path = require('path');
const sdk = process.env.SDK_DIR;
const common = require(path.join(sdk, 'oci-common'));
const { DataScienceClient } = require(path.join(sdk, 'oci-datascience'));
const env = process.env;
console.log('identity files: ' + JSON.stringify({ rpst: env.OCI_RESOURCE_PRINCIPAL_RPST, pem: env.OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM }));
let client;
async function start(jobId, projectId, compartmentId) {
  try {
    const r = await client.createJobRun({ createJobRunDetails: { jobId, projectId, compartmentId } });
    return { id: r.jobRun.id, createdBy: r.jobRun.createdBy };
  } catch (e) {
    return { status: e.statusCode, code: e.serviceCode, message: e.message };
  }
}
(async () => {
  const provider = await common.ResourcePrincipalAuthenticationDetailsProvider.builder();
  client = new DataScienceClient({ authenticationDetailsProvider: provider }, {
    retryConfiguration: { terminationStrategy: new common.MaxAttemptsTerminationStrategy(1) },
    circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
  });
  client.endpoint = env.DSJOBS_ENDPOINT;
  const out = { tenant: await provider.getStringClaim('res_tenant'), compartment: await provider.getStringClaim('res_compartment') };
  if (env.MODE === 'self') {
    out.self = await start(env.JOB_OCID, env.PROJECT_OCID, env.JOB_RUN_COMPARTMENT_OCID);
  } else if (env.MODE === 'fanout') {
    out.self = [await start(env.JOB_OCID, env.PROJECT_OCID, env.JOB_RUN_COMPARTMENT_OCID), await start(env.JOB_OCID, env.PROJECT_OCID, env.JOB_RUN_COMPARTMENT_OCID)];
  } else {
    out.permitted = await start(env.NEXT_JOB, env.NEXT_PROJECT, env.NEXT_COMPARTMENT);
    out.refused = await start(env.OTHER_JOB, env.OTHER_PROJECT, env.OTHER_COMPARTMENT);
  }
  console.log('RESULT ' + JSON.stringify(out));
  if (env.MODE === 'wait') {
    const release = path.join(path.dirname(env.OCI_RESOURCE_PRINCIPAL_RPST), '..', 'release');
    while (!fs.existsSync(release)) await new Promise((r) => setTimeout(r, 100));
  }
})().catch((e) => { console.error('ERROR ' + e.stack); process.exit(1); });
`;
/** Artifacts are .py, .sh or archives: a shell script that writes the Node script beside it and runs it. */
const PIPELINE = `cat > "$TMPDIR/pipeline.js" <<'EOF'\n${PIPELINE_JS}EOF\nexec node "$TMPDIR/pipeline.js"\n`;

/**
 * The job the pipeline starts: it only waits for its release, so its own identity can be borrowed meanwhile. It
 * ignores SIGTERM, so a cancel leaves it CANCELING for the grace period: its token must end with the cancel itself.
 */
const WAITER = "trap '' TERM\n" + 'echo "identity files: {\\"rpst\\":\\"$OCI_RESOURCE_PRINCIPAL_RPST\\",\\"pem\\":\\"$OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM\\"}"\n' +
  'r="$(dirname "$OCI_RESOURCE_PRINCIPAL_RPST")/../release"\nwhile [ ! -e "$r" ]; do sleep 0.1; done\n';

async function job(where: { compartmentId: string; projectId: string }, fileName: string, content: string, env: Record<string, string> = {}) {
  const j = await s.api.createJob({
    projectId: where.projectId,
    compartmentId: where.compartmentId,
    displayName: fileName,
    jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: env, maximumRuntimeInMinutes: 10 },
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
  });
  await s.api.uploadArtifact(j.id, fileName, Buffer.from(content), Buffer.byteLength(content));
  return j;
}

/** The identity files a run printed the paths of (read as root, from the host, while the run is live). */
async function identityOf(runId: string): Promise<{ rpstFile: string; pemFile: string; token: string; pem: string }> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const rec of await readLogs(s, runId)) {
      const m = /^identity files: (.*)$/.exec(rec.message);
      if (m) {
        const { rpst, pem } = JSON.parse(m[1]);
        return { rpstFile: rpst, pemFile: pem, token: readFileSync(rpst, 'utf8'), pem: readFileSync(pem, 'utf8') };
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} never printed its identity files`);
}

async function resultOf(runId: string): Promise<any> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const logs = await readLogs(s, runId);
    const m = logs.map((r) => /^RESULT (.*)$/.exec(r.message)).find(Boolean);
    if (m) return JSON.parse(m[1]);
    const err = logs.find((r) => r.message.startsWith('ERROR'));
    if (err) throw new Error(`run ${runId}: ${logs.map((r) => r.message).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`run ${runId} printed no RESULT`);
}

/** A DataScienceClient signing as a resource principal with this token and key (values, as the SDK allows). */
function principalClient(token: string, pem: string): DataScienceClient {
  const names = ['OCI_RESOURCE_PRINCIPAL_VERSION', 'OCI_RESOURCE_PRINCIPAL_RPST', 'OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM', 'OCI_RESOURCE_PRINCIPAL_REGION'];
  const saved = names.map((n) => process.env[n]);
  Object.assign(process.env, { OCI_RESOURCE_PRINCIPAL_VERSION: '2.2', OCI_RESOURCE_PRINCIPAL_RPST: token, OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM: pem, OCI_RESOURCE_PRINCIPAL_REGION: 'local' });
  let provider;
  try {
    provider = common.ResourcePrincipalAuthenticationDetailsProvider.builder();
  } finally {
    names.forEach((n, i) => (saved[i] === undefined ? delete process.env[n] : (process.env[n] = saved[i])));
  }
  const client = new DataScienceClient(
    { authenticationDetailsProvider: provider },
    { retryConfiguration: { terminationStrategy: new common.MaxAttemptsTerminationStrategy(1) }, circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }) } as never,
  );
  client.endpoint = s.url;
  closers.push(() => client.close());
  return client;
}

async function expect401(client: DataScienceClient, jobId: string, reason: RegExp): Promise<void> {
  const e = await expectOciError(() => client.getJob({ jobId }));
  assert.equal(e.statusCode, 401, e.message);
  assert.equal(e.serviceCode, 'NotAuthenticated');
  assert.match(e.message, reason);
}

/** A JWT with the server's token key (read from its file, as only the host's root can), for an expired token. */
function mint(claims: object): string {
  const key = createPrivateKey(readFileSync(path.join(s.dataDir, 'run-principal.key')));
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${head}.${createSign('sha256').update(head).sign(key).toString('base64url')}`;
}

before(async () => {
  s = await startServer({ env: { DSJOBS_TRIGGER_MAX_CHAIN_DEPTH: String(MAX_DEPTH), DSJOBS_TRIGGER_MAX_CHAIN_RUNS: String(MAX_RUNS) } });
  admin = makeIdentityClient(s.url, s.configFile);
  const provider = new common.ConfigFileAuthenticationDetailsProvider(s.configFile);
  tenancy = provider.getTenantId();
  for (const [name, where] of [['pipelines', A], ['elsewhere', B]] as const) {
    where.compartmentId = (await admin.client.createCompartment({ createCompartmentDetails: { compartmentId: tenancy, name, description: name } })).compartment.id;
    where.projectId = (await s.api.createProject({ compartmentId: where.compartmentId, displayName: name })).id;
  }
  await admin.client.createDynamicGroup({
    createDynamicGroupDetails: {
      compartmentId: tenancy,
      name: 'pipeline-runs',
      description: 'runs in the pipelines compartment',
      matchingRule: `ALL {resource.type = 'datasciencejobrun', resource.compartment.id = '${A.compartmentId}'}`,
    },
  });
  await admin.client.createPolicy({
    createPolicyDetails: {
      compartmentId: tenancy,
      name: 'pipeline-runs',
      description: 'runs of the pipelines compartment start its jobs',
      statements: [
        'Allow dynamic-group pipeline-runs to manage data-science-job-runs in compartment pipelines',
        'Allow dynamic-group pipeline-runs to read data-science-jobs in compartment pipelines',
        'Allow dynamic-group pipeline-runs to read data-science-projects in compartment pipelines',
        // Granted, and still refused: automation would outlive the run's identity.
        'Allow dynamic-group pipeline-runs to manage data-science-trigger-rules in compartment pipelines',
      ],
    },
  });
});

after(async () => {
  for (const c of closers) c();
  admin?.close();
  await s?.close();
});

test("a run's principal starts a permitted job, is refused another compartment's, and its token ends with the run", async () => {
  const next = await job(A, 'next.sh', WAITER);
  const other = await job(B, 'other.sh', 'echo should never run\n');
  const pipeline = await job(A, 'pipeline.sh', PIPELINE, {
    SDK_DIR: sdkDirForRuns(),
    MODE: 'wait',
    NEXT_JOB: next.id,
    NEXT_PROJECT: A.projectId,
    NEXT_COMPARTMENT: A.compartmentId,
    OTHER_JOB: other.id,
    OTHER_PROJECT: B.projectId,
    OTHER_COMPARTMENT: B.compartmentId,
  });
  const run = await s.api.createJobRun({ projectId: A.projectId, compartmentId: A.compartmentId, jobId: pipeline.id });
  const mine = await identityOf(run.id);
  const result = await resultOf(run.id);
  assert.equal(result.tenant, tenancy, 'the SDK reads res_tenant from the token');
  assert.equal(result.compartment, A.compartmentId, 'and res_compartment');
  assert.match(result.permitted.id ?? '', /^ocid1\.datasciencejobrun\./, JSON.stringify(result.permitted));
  assert.equal(result.permitted.createdBy, run.id, "a run started through a run's principal names that run as its creator");
  assert.equal(result.refused.status, 404, JSON.stringify(result.refused));
  assert.equal(result.refused.code, 'NotAuthorizedOrNotFound');
  assert.equal((await s.api.listJobRuns({ compartmentId: B.compartmentId })).items.length, 0, 'nothing was started in the other compartment');
  const child = await s.api.getJobRun(result.permitted.id);
  assert.equal(child.createdBy, run.id);

  // The files: the run's own (uid 65534 in the sandbox), readable by it alone, in a directory only it can enter.
  for (const f of [mine.rpstFile, mine.pemFile]) {
    const st = statSync(f);
    assert.equal(st.mode & 0o777, 0o600, f);
    assert.equal(st.uid, 65534, f);
  }
  const dirStat = statSync(path.dirname(mine.rpstFile));
  assert.equal(dirStat.mode & 0o777, 0o700);
  assert.equal(dirStat.uid, 65534);

  // Replayed from outside while the run is live: it is the run (it may read jobs in its compartment, not elsewhere).
  const replay = principalClient(mine.token, mine.pem);
  assert.equal((await replay.getJob({ jobId: next.id })).job.id, next.id);
  assert.equal((await expectOciError(() => replay.getJob({ jobId: other.id }))).statusCode, 404);
  // dsjobs' own SDK signs as the run from the same files; a run makes no automation, whatever its policies grant.
  const own = new DsJobsClient({
    endpoint: s.url,
    signer: resourcePrincipalSigner({ OCI_RESOURCE_PRINCIPAL_VERSION: '2.2', OCI_RESOURCE_PRINCIPAL_RPST: mine.rpstFile, OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM: mine.pemFile }),
  });
  assert.equal((await own.getJob(next.id)).id, next.id);
  await assert.rejects(own.createTriggerRule({ compartmentId: A.compartmentId, jobId: next.id }), (e: { status?: number; message: string }) => {
    assert.equal(e.status, 404, e.message);
    assert.match(e.message, /resource principal .* cannot create trigger rules, schedules, sweeps or webhook subscriptions/);
    return true;
  });
  // A tampered token (another compartment written into it) is refused, not reinterpreted.
  const [h, p, sig] = mine.token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, res_compartment: B.compartmentId })).toString('base64url')}.${sig}`;
  await expect401(principalClient(tampered, mine.pem), next.id, /not issued by this server/);
  // This token with another run's key (the child's, also live): the signature does not verify with the token's jwk.
  const childIdentity = await identityOf(child.id);
  assert.notEqual(childIdentity.pem, mine.pem, 'each run has its own key pair');
  await expect401(principalClient(mine.token, childIdentity.pem), next.id, /does not verify with the session token's key/);
  // An expired token, properly signed by the server's key, for the live run.
  const now = Math.floor(Date.now() / 1000);
  await expect401(principalClient(mint({ ...claims, iat: now - 120, exp: now - 60 }), mine.pem), next.id, /expired/);

  // Nothing secret where others read: the run's log, the API's answers, events, the database, the server's output.
  const pemBody = mine.pem.split('\n')[1];
  const logs = JSON.stringify(await readLogs(s, run.id));
  const apiAnswer = JSON.stringify(await s.api.getJobRun(run.id));
  const events = await (await s.fetch(`${s.url}/20190101/events?compartmentId=${A.compartmentId}`)).text();
  for (const [where, text] of [['log', logs], ['GET jobRun', apiAnswer], ['events', events], ['server output', s.output()]] as const) {
    assert.ok(!text.includes(mine.token) && !text.includes(claims.jwk.n) && !text.includes(pemBody), `the token or key is in the ${where}`);
  }
  for (const f of readdirSync(s.dataDir).filter((n) => n.startsWith('dsjobs.db'))) {
    const bytes = readFileSync(path.join(s.dataDir, f));
    assert.equal(bytes.indexOf(mine.token.split('.')[2]), -1, `the token is in ${f}`);
    assert.equal(bytes.indexOf(pemBody), -1, `the private key is in ${f}`);
  }

  // The run ends: the same token and key are refused at once (long before the token expires).
  writeFileSync(path.join(path.dirname(mine.rpstFile), '..', 'release'), '');
  const done = await waitForRun(s.api, run.id, undefined, 60_000);
  assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
  await expect401(replay, next.id, new RegExp(`job run ${run.id.replace(/\./g, '\\.')} is not running`));
  assert.ok(claims.exp > now + 600, 'the token itself had not expired');
  assert.equal(existsSync(mine.rpstFile), false, "the run's identity files are removed with its space");

  // Canceling a run ends its principal at once too (CANCELING: it is being stopped).
  await s.api.cancelJobRun(child.id);
  assert.equal((await s.api.getJobRun(child.id)).lifecycleState, 'CANCELING');
  await expect401(principalClient(childIdentity.token, childIdentity.pem), next.id, /is not running/);
  await waitForRun(s.api, child.id, undefined, 60_000);
});

test('a job that starts itself through its principal stops at the chain depth limit', async () => {
  const self = await job(A, 'self.sh', PIPELINE, { SDK_DIR: sdkDirForRuns(), MODE: 'self' });
  const first = await s.api.createJobRun({ projectId: A.projectId, compartmentId: A.compartmentId, jobId: self.id });
  // first (depth 0) -> 1 -> 2 -> 3; the run at depth MAX_DEPTH is refused another.
  let current = first.id;
  for (let depth = 1; depth <= MAX_DEPTH; depth++) {
    const r = await resultOf(current);
    assert.match(r.self.id ?? '', /^ocid1\.datasciencejobrun\./, `depth ${depth}: ${JSON.stringify(r.self)}`);
    assert.equal(r.self.createdBy, current);
    current = r.self.id;
  }
  const last = await resultOf(current);
  assert.equal(last.self.status, 400, JSON.stringify(last.self));
  assert.equal(last.self.code, 'LimitExceeded');
  assert.match(last.self.message, new RegExp(`would reach depth ${MAX_DEPTH + 1}, over the limit of ${MAX_DEPTH} \\(config triggerMaxChainDepth\\)`));
  const runs = (await s.api.listJobRuns({ compartmentId: A.compartmentId, jobId: self.id })).items;
  assert.equal(runs.length, MAX_DEPTH + 1);
  for (const r of runs) await waitForRun(s.api, r.id, undefined, 60_000);
});

test('a job that starts itself twice through its principal stops at the chain runs limit', async () => {
  const fanout = await job(A, 'fanout.sh', PIPELINE, { SDK_DIR: sdkDirForRuns(), MODE: 'fanout' });
  await s.api.createJobRun({ projectId: A.projectId, compartmentId: A.compartmentId, jobId: fanout.id });
  // Runs start runs only while they live: once every run of the chain has ended, it has stopped growing.
  const deadline = Date.now() + 180_000;
  let runs: { id: string; lifecycleState: string; lifecycleDetails?: string | null }[] = [];
  while (Date.now() < deadline) {
    runs = (await s.api.listJobRuns({ compartmentId: A.compartmentId, jobId: fanout.id })).items;
    if (runs.every((r) => ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(r.lifecycleState))) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  // Without the count, the depth limit alone would let 1 + 2 + 4 + 8 = 15 runs through.
  const why = async () => (await Promise.all(runs.map(async (r) => `${r.lifecycleState} ${r.lifecycleDetails ?? ''}: ${(await readLogs(s, r.id)).map((l) => l.message).join(' | ').slice(0, 400)}`))).join('\n');
  if (runs.length !== MAX_RUNS) assert.fail(`${runs.length} runs, not ${MAX_RUNS}:\n${await why()}`);
  const refusals = [];
  for (const r of runs) for (const answer of (await resultOf(r.id)).self) if (answer.code) refusals.push(answer);
  // (A run at depth 3 that gets to ask before the chain is full is refused by the depth limit instead.)
  for (const answer of refusals) assert.equal(answer.code, 'LimitExceeded', JSON.stringify(answer));
  assert.ok(
    refusals.some((a) => a.message.includes(`has ${MAX_RUNS} runs, the limit is ${MAX_RUNS} (config triggerMaxChainRuns)`)),
    JSON.stringify(refusals),
  );
});

test('an unused key pair cannot pass as a run: a token with a key the server never issued is refused', async () => {
  // A key of the test's own, and a token it cannot sign: only the server's key makes tokens.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const fake = createPrivateKey(privateKey);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc({ iss: 'dsjobs', ttype: 'res', res_id: 'ocid1.datasciencejobrun.x', res_compartment: A.compartmentId, res_tenant: tenancy, jwk: {}, iat: now, exp: now + 600 })}`;
  const forged = `${head}.${createSign('sha256').update(head).sign(fake).toString('base64url')}`;
  await expect401(principalClient(forged, privateKey), 'ocid1.datasciencejob.x', /not issued by this server/);
});

test("a run re-attached after a server restart keeps its principal (the token key is on disk), until it ends", async () => {
  const waiter = await job(A, 'restart.sh', WAITER);
  const run = await s.api.createJobRun({ projectId: A.projectId, compartmentId: A.compartmentId, jobId: waiter.id });
  const mine = await identityOf(run.id);
  s = await s.restart();
  await waitForRun(s.api, run.id, (r) => r.lifecycleState === 'IN_PROGRESS', 60_000);
  const replay = principalClient(mine.token, mine.pem);
  assert.equal((await replay.getJob({ jobId: waiter.id })).job.id, waiter.id);
  writeFileSync(path.join(path.dirname(mine.rpstFile), '..', 'release'), '');
  assert.equal((await waitForRun(s.api, run.id, undefined, 60_000)).lifecycleState, 'SUCCEEDED');
  await expect401(replay, waiter.id, /is not running/);
});
