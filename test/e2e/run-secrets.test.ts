/**
 * A run reads a secret through its own identity, end to end (issue 19): a real server with authentication on, a real
 * sandboxed run. Inside the run a Node script uses the UNMODIFIED official SDKs (oci-common's
 * ResourcePrincipalAuthenticationDetailsProvider and oci-secrets' SecretsClient, required from this checkout's
 * node_modules) to read the bundle its dynamic group's policy allows, and is refused one in another compartment. It
 * then prints the value as it is, in Base64 and URL-encoded: the run's stored log holds none of them, only the mask.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { IdentityClient } from 'oci-identity';
import type { VaultsClient } from 'oci-vault';
import { sdkDirForRuns } from '../support/sdk-for-runs.js';
import { readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';
import { makeIdentityClient, makeVaultsClient } from '../support/oci-sdk-client.js';

let s: TestServer;
let identity: { client: IdentityClient; close(): void };
let vaults: { client: VaultsClient; close(): void };

const VALUE = 'hunter2-Sup3r secret/value&more';

const READER_JS = `const path = require('path');
const sdk = process.env.SDK_DIR;
const common = require(path.join(sdk, 'oci-common'));
const { SecretsClient } = require(path.join(sdk, 'oci-secrets'));
(async () => {
  const provider = await common.ResourcePrincipalAuthenticationDetailsProvider.builder();
  const client = new SecretsClient({ authenticationDetailsProvider: provider }, {
    retryConfiguration: { terminationStrategy: new common.MaxAttemptsTerminationStrategy(1) },
    circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
  });
  client.endpoint = process.env.DSJOBS_ENDPOINT;
  const bundle = await client.getSecretBundle({ secretId: process.env.SECRET_ID });
  const value = Buffer.from(bundle.secretBundle.secretBundleContent.content, 'base64').toString('utf8');
  console.log('plain: ' + value);
  console.log('base64: ' + Buffer.from(value).toString('base64'));
  console.log('url: ' + encodeURIComponent(value));
  console.log('in a sentence: the password is ' + value + '.');
  try {
    await client.getSecretBundle({ secretId: process.env.OTHER_SECRET_ID });
    console.log('OTHER: read');
  } catch (e) {
    console.log('OTHER: ' + e.statusCode + ' ' + e.serviceCode);
  }
})().catch((e) => { console.error('ERROR ' + e.stack); process.exit(1); });
`;
const READER = `cat > "$TMPDIR/reader.js" <<'EOF'\n${READER_JS}EOF\nexec node "$TMPDIR/reader.js"\n`;

async function secretIn(compartmentId: string, name: string, value: string): Promise<string> {
  const info = (await s.api.serverInfo()) as { vaultId?: string; vaultKeyId?: string };
  const created = await vaults.client.createSecret({
    createSecretDetails: {
      compartmentId,
      vaultId: info.vaultId!,
      keyId: info.vaultKeyId!,
      secretName: name,
      secretContent: { contentType: 'BASE64', content: Buffer.from(value).toString('base64') } as never,
    },
  });
  return created.secret.id;
}

before(async () => {
  s = await startServer();
  identity = makeIdentityClient(s.url, s.configFile);
  vaults = makeVaultsClient(s.url, s.configFile);
});

after(async () => {
  identity?.close();
  vaults?.close();
  await s?.close();
});

test('a run reads the secret its policy allows through its principal, is refused another, and its log masks the value', async () => {
  const tenancy = (await s.api.serverInfo()).tenancyId;
  const mk = async (name: string) =>
    (await identity.client.createCompartment({ createCompartmentDetails: { compartmentId: tenancy, name, description: name } })).compartment.id;
  const training = await mk('training');
  const finance = await mk('finance');
  await identity.client.createDynamicGroup({
    createDynamicGroupDetails: {
      compartmentId: tenancy,
      name: 'training-runs',
      description: 'runs in training',
      matchingRule: `ALL {resource.type = 'datasciencejobrun', resource.compartment.id = '${training}'}`,
    },
  });
  await identity.client.createPolicy({
    createPolicyDetails: {
      compartmentId: tenancy,
      name: 'training-secrets',
      description: 'training runs read the secrets of training',
      statements: ['Allow dynamic-group training-runs to read secret-bundles in compartment training'],
    },
  });
  const secretId = await secretIn(training, 'db-password', VALUE);
  const otherId = await secretIn(finance, 'bank-key', 'not-for-training-runs');

  const project = await s.api.createProject({ compartmentId: training, displayName: 'training' });
  const job = await s.api.createJob({
    projectId: project.id,
    compartmentId: training,
    displayName: 'reader',
    jobConfigurationDetails: {
      jobType: 'DEFAULT',
      environmentVariables: { SDK_DIR: sdkDirForRuns(), SECRET_ID: secretId, OTHER_SECRET_ID: otherId },
      maximumRuntimeInMinutes: 10,
    },
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
  });
  await s.api.uploadArtifact(job.id, 'reader.sh', Buffer.from(READER), Buffer.byteLength(READER));
  const started = await s.api.createJobRun({ projectId: project.id, compartmentId: training, jobId: job.id });
  const run = await waitForRun(s.api, started.id, undefined, 120_000);
  const logs = await readLogs(s, run.id);
  const text = logs.map((l) => `${l.stream}: ${l.message}`).join('\n');
  assert.equal(run.lifecycleState, 'SUCCEEDED', text);

  // Read, and masked in every form it was printed in.
  for (const label of ['plain', 'base64', 'url']) {
    const line = logs.find((l) => l.message.startsWith(`${label}: `));
    assert.ok(line, `the run printed its ${label} line:\n${text}`);
    assert.match(line.message, /\*\*\*/, `the ${label} form is masked: ${line.message}`);
  }
  assert.ok(logs.some((l) => l.message === 'in a sentence: the password is ***.'), text);
  for (const form of [VALUE, Buffer.from(VALUE).toString('base64'), encodeURIComponent(VALUE)]) {
    assert.ok(!text.includes(form), `the log holds the value in a form: ${form}`);
  }
  // The other compartment's secret: refused as if it were not there.
  assert.ok(logs.some((l) => l.message === 'OTHER: 404 NotAuthorizedOrNotFound'), text);
});
