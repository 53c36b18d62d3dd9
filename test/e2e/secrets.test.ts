/**
 * Secrets end to end: a real server with authentication on, the official oci-vault (VaultsClient: secret management)
 * and oci-secrets (SecretsClient: bundles) SDKs, unmodified, signing with the administrator's config and with a second
 * user's. Values are sealed at rest (checked in the SQLite files' bytes), versions are kept, bundles are authorized by
 * `secret-bundles` grants.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { IdentityClient } from 'oci-identity';
import type { VaultsClient } from 'oci-vault';
import type { SecretsClient } from 'oci-secrets';
import { startServer, type TestServer } from '../support/server.js';
import { runCli } from '../support/cli.js';
import { expectOciError, makeIdentityClient, makeSecretsClient, makeVaultsClient } from '../support/oci-sdk-client.js';
import { makeUser } from '../support/users.js';

let s: TestServer;
let identity: IdentityClient;
let vaults: VaultsClient;
let bundles: SecretsClient;
let tenancy: string;
let vaultId: string;
let keyId: string;
let compartmentId: string;
const closers: (() => void)[] = [];

const VALUE_1 = 'db-password: correct horse battery staple 1';
const VALUE_2 = 'db-password: rotated value, version two 22';
const b64 = (v: string) => Buffer.from(v).toString('base64');
const unb64 = (v: string | undefined) => Buffer.from(v ?? '', 'base64').toString('utf8');

/** A user in a group of its own, with an API key and an OCI config file; returns its vault and secrets clients. */
async function makePerson(name: string) {
  const { configFile } = await makeUser(identity, tenancy, s.dataDir, name);
  const v = makeVaultsClient(s.url, configFile);
  const b = makeSecretsClient(s.url, configFile);
  closers.push(v.close, b.close);
  return { vaults: v.client, bundles: b.client };
}

before(async () => {
  s = await startServer();
  const id = makeIdentityClient(s.url, s.configFile);
  const v = makeVaultsClient(s.url, s.configFile);
  const b = makeSecretsClient(s.url, s.configFile);
  closers.push(id.close, v.close, b.close);
  identity = id.client;
  vaults = v.client;
  bundles = b.client;
  const info = (await s.api.serverInfo()) as { tenancyId: string; vaultId?: string; vaultKeyId?: string };
  tenancy = info.tenancyId;
  assert.match(info.vaultId ?? '', /^ocid1\.vault\./);
  assert.match(info.vaultKeyId ?? '', /^ocid1\.key\./);
  vaultId = info.vaultId!;
  keyId = info.vaultKeyId!;
  compartmentId = (await identity.createCompartment({ createCompartmentDetails: { compartmentId: tenancy, name: 'Vaulted', description: 'secrets' } })).compartment.id;
});

after(async () => {
  for (const c of closers) c();
  await s?.close();
});

const create = (secretName: string, value: string, extra: Record<string, unknown> = {}) =>
  vaults.createSecret({
    createSecretDetails: { compartmentId, secretName, vaultId, keyId, description: 'test', secretContent: { contentType: 'BASE64', content: b64(value) } as never, ...extra },
  });

test('create, read the bundle, rotate: the new version is current, the old one is read by versionNumber and stage; by name too', async () => {
  const created = (await create('db-password', VALUE_1, { secretContent: { contentType: 'BASE64', content: b64(VALUE_1), name: 'first' } })).secret;
  assert.match(created.id, /^ocid1\.vaultsecret\./);
  assert.equal(created.lifecycleState, 'ACTIVE');
  assert.equal(created.currentVersionNumber, 1);
  assert.equal(created.vaultId, vaultId);

  const got = await vaults.getSecret({ secretId: created.id });
  assert.equal(got.secret.secretName, 'db-password');
  assert.ok(got.etag);

  const v1 = (await bundles.getSecretBundle({ secretId: created.id })).secretBundle;
  assert.equal(v1.versionNumber, 1);
  assert.equal(v1.versionName, 'first');
  assert.deepEqual([...(v1.stages ?? [])].sort(), ['CURRENT', 'LATEST']);
  assert.equal(v1.secretBundleContent?.contentType, 'BASE64');
  assert.equal(unb64((v1.secretBundleContent as { content?: string }).content), VALUE_1);

  // Rotation: new contents in UpdateSecret (with the etag as if-match) make version 2 current.
  const updated = (await vaults.updateSecret({ secretId: created.id, ifMatch: got.etag, updateSecretDetails: { secretContent: { contentType: 'BASE64', content: b64(VALUE_2) } as never } })).secret;
  assert.equal(updated.currentVersionNumber, 2);
  const stale = await expectOciError(() => vaults.updateSecret({ secretId: created.id, ifMatch: got.etag, updateSecretDetails: { description: 'x' } }));
  assert.equal(stale.statusCode, 412);

  const current = (await bundles.getSecretBundle({ secretId: created.id })).secretBundle;
  assert.equal(current.versionNumber, 2);
  assert.equal(unb64((current.secretBundleContent as { content?: string }).content), VALUE_2);
  const old = (await bundles.getSecretBundle({ secretId: created.id, versionNumber: 1 })).secretBundle;
  assert.equal(unb64((old.secretBundleContent as { content?: string }).content), VALUE_1);
  assert.deepEqual(old.stages, ['PREVIOUS']);
  const previous = (await bundles.getSecretBundle({ secretId: created.id, stage: 'PREVIOUS' as never })).secretBundle;
  assert.equal(previous.versionNumber, 1);
  const named = (await bundles.getSecretBundle({ secretId: created.id, secretVersionName: 'first' })).secretBundle;
  assert.equal(named.versionNumber, 1);
  const missing = await expectOciError(() => bundles.getSecretBundle({ secretId: created.id, versionNumber: 9 }));
  assert.equal(missing.statusCode, 404);

  const byName = (await bundles.getSecretBundleByName({ secretName: 'db-password', vaultId })).secretBundle;
  assert.equal(byName.secretId, created.id);
  assert.equal(unb64((byName.secretBundleContent as { content?: string }).content), VALUE_2);
  const byNameV1 = (await bundles.getSecretBundleByName({ secretName: 'db-password', vaultId, versionNumber: 1 })).secretBundle;
  assert.equal(unb64((byNameV1.secretBundleContent as { content?: string }).content), VALUE_1);

  const versions = (await vaults.listSecretVersions({ secretId: created.id })).items;
  assert.deepEqual(versions.map((v) => v.versionNumber), [2, 1]);
  assert.equal((await vaults.getSecretVersion({ secretId: created.id, secretVersionNumber: 1 })).secretVersion.name, 'first');
  const bundleVersions = (await bundles.listSecretBundleVersions({ secretId: created.id })).items;
  assert.deepEqual(bundleVersions.map((v) => v.versionNumber), [2, 1]);

  const listed = (await vaults.listSecrets({ compartmentId })).items;
  assert.ok(listed.some((x) => x.id === created.id && x.secretName === 'db-password'));
  assert.deepEqual((await vaults.listSecrets({ compartmentId, name: 'nope' })).items, []);

  // Rolling back to version 1 makes it current again.
  const rolled = (await vaults.updateSecret({ secretId: created.id, updateSecretDetails: { currentVersionNumber: 1 } })).secret;
  assert.equal(rolled.currentVersionNumber, 1);
  assert.equal(unb64(((await bundles.getSecretBundle({ secretId: created.id })).secretBundle.secretBundleContent as { content?: string }).content), VALUE_1);
});

test('bad inputs are refused with 400 naming the field', async () => {
  const refuse = async (details: Record<string, unknown>, field: string, status = 400) => {
    const e = await expectOciError(() =>
      vaults.createSecret({ createSecretDetails: { compartmentId, secretName: 'bad', vaultId, keyId, secretContent: { contentType: 'BASE64', content: b64('a value') }, ...details } as never }),
    );
    assert.equal(e.statusCode, status, e.message);
    assert.match(e.message, new RegExp(field.replace('.', '\\.')), e.message);
  };
  await refuse({ vaultId: undefined }, 'vaultId');
  await refuse({ vaultId: 'ocid1.vault.oc1..unknown' }, 'vaultId');
  await refuse({ keyId: 'ocid1.key.oc1..unknown' }, 'keyId');
  await refuse({ secretContent: { contentType: 'BASE64', content: 'not base64!' } }, 'secretContent.content');
  await refuse({ secretContent: { contentType: 'BASE64', content: b64('x'.repeat(20_000)) } }, 'secretContent.content');
  await refuse({ secretContent: { contentType: 'BASE64', content: '' } }, 'secretContent.content');
  await refuse({ secretContent: undefined }, 'secretContent');
  await refuse({ secretName: 'has spaces' }, 'secretName');
  await refuse({ secretContent: { contentType: 'BASE64', content: b64('a value'), stage: 'PENDING' } }, 'secretContent.stage');
  await refuse({ secretName: 'db-password' }, 'secretName', 409);
});

test('a user without a policy gets 404; with `read secret-bundles` it reads the bundle and nothing else', async () => {
  const secret = (await create('api-token', 'tok-0123456789abcdef')).secret;
  const bob = await makePerson('bob');
  for (const call of [
    () => bob.bundles.getSecretBundle({ secretId: secret.id }),
    () => bob.bundles.getSecretBundleByName({ secretName: 'api-token', vaultId }),
    () => bob.bundles.getSecretBundleByName({ secretName: 'no-such-secret', vaultId }),
    () => bob.vaults.getSecret({ secretId: secret.id }),
    () => bob.vaults.listSecrets({ compartmentId }),
    () => bob.vaults.updateSecret({ secretId: secret.id, updateSecretDetails: { secretContent: { contentType: 'BASE64', content: b64('stolen') } as never } }),
  ]) {
    const e = await expectOciError(call);
    assert.equal(e.statusCode, 404, e.message);
    assert.equal(e.serviceCode, 'NotAuthorizedOrNotFound');
  }
  await identity.createPolicy({
    createPolicyDetails: { compartmentId: tenancy, name: 'bob-reads-bundles', description: 'x', statements: ['Allow group bob-group to read secret-bundles in compartment Vaulted'] },
  });
  const bundle = (await bob.bundles.getSecretBundle({ secretId: secret.id })).secretBundle;
  assert.equal(unb64((bundle.secretBundleContent as { content?: string }).content), 'tok-0123456789abcdef');
  assert.equal((await bob.bundles.getSecretBundleByName({ secretName: 'api-token', vaultId })).secretBundle.secretId, secret.id);
  // secret-bundles is not secrets: the secret's management stays out of reach.
  assert.equal((await expectOciError(() => bob.vaults.getSecret({ secretId: secret.id }))).statusCode, 404);
  assert.equal(
    (await expectOciError(() => bob.vaults.updateSecret({ secretId: secret.id, updateSecretDetails: { description: 'mine' } }))).statusCode,
    404,
  );
});

test('the database holds no value: neither the plaintext nor its Base64 is in the SQLite files', async () => {
  const value = 'plaintext-canary-7f3a9c1e5b';
  await create('canary', value);
  for (const f of ['dsjobs.db', 'dsjobs.db-wal']) {
    const file = path.join(s.dataDir, f);
    if (!existsSync(file)) continue;
    const bytes = readFileSync(file);
    assert.equal(bytes.indexOf(value), -1, `${f} holds the value`);
    assert.equal(bytes.indexOf(b64(value)), -1, `${f} holds the value's Base64`);
    assert.ok(bytes.indexOf('canary') !== -1 || f === 'dsjobs.db', 'the secret itself was written');
  }
  // It is still readable: sealed, not lost.
  const secret = (await vaults.listSecrets({ compartmentId, name: 'canary' })).items[0];
  assert.equal(unb64(((await bundles.getSecretBundle({ secretId: secret.id })).secretBundle.secretBundleContent as { content?: string }).content), value);
});

test('deletion is scheduled 1 to 30 days ahead; meanwhile the contents cannot be read or changed; it can be cancelled', async () => {
  const secret = (await create('to-delete', 'doomed value 123')).secret;
  const tooSoon = await expectOciError(() =>
    vaults.scheduleSecretDeletion({ secretId: secret.id, scheduleSecretDeletionDetails: { timeOfDeletion: new Date(Date.now() + 3600_000) } }),
  );
  assert.equal(tooSoon.statusCode, 400);
  assert.match(tooSoon.message, /timeOfDeletion/);
  const at = new Date(Date.now() + 2 * 24 * 3600_000);
  await vaults.scheduleSecretDeletion({ secretId: secret.id, scheduleSecretDeletionDetails: { timeOfDeletion: at } });
  const pending = (await vaults.getSecret({ secretId: secret.id })).secret;
  assert.equal(pending.lifecycleState, 'PENDING_DELETION');
  assert.equal(new Date(pending.timeOfDeletion!).getTime(), at.getTime());
  assert.equal((await expectOciError(() => bundles.getSecretBundle({ secretId: secret.id }))).statusCode, 409);
  assert.equal(
    (await expectOciError(() => vaults.updateSecret({ secretId: secret.id, updateSecretDetails: { secretContent: { contentType: 'BASE64', content: b64('new') } as never } }))).statusCode,
    409,
  );
  await vaults.cancelSecretDeletion({ secretId: secret.id });
  const back = (await vaults.getSecret({ secretId: secret.id })).secret;
  assert.equal(back.lifecycleState, 'ACTIVE');
  assert.equal(back.timeOfDeletion, undefined);
  assert.equal(unb64(((await bundles.getSecretBundle({ secretId: secret.id })).secretBundle.secretBundleContent as { content?: string }).content), 'doomed value 123');
  // Without a time: 30 days ahead, as in OCI.
  await vaults.scheduleSecretDeletion({ secretId: secret.id, scheduleSecretDeletionDetails: {} });
  const later = new Date((await vaults.getSecret({ secretId: secret.id })).secret.timeOfDeletion!).getTime();
  assert.ok(Math.abs(later - (Date.now() + 30 * 24 * 3600_000)) < 10 * 60_000);
});

test('the CLI: dsjobs secrets create, list, get, read, rotate, versions, delete (and cancel)', async () => {
  const dsjobs = async (...args: string[]) => {
    const r = await runCli(args, { env: { DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir, COLUMNS: '100' }, timeoutMs: 30_000 });
    assert.equal(r.code, 0, `dsjobs ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const file = path.join(s.dataDir, 'value.txt');
  writeFileSync(file, 'from a file: s3cret\n');
  const created = JSON.parse(await dsjobs('secrets', 'create', 'cli-secret', '--from-file', file, '--description', 'made by the CLI', '--json'));
  assert.equal(created.vaultId, vaultId);
  assert.equal(await dsjobs('secrets', 'read', 'cli-secret'), 'from a file: s3cret\n');
  const list = await dsjobs('secrets', 'list');
  assert.match(list, /cli-secret\s+ACTIVE/);
  for (const line of list.split('\n')) assert.ok(line.length <= 100, `wider than 100 columns: ${line}`);
  assert.match(await dsjobs('secrets', 'get', created.id), /secretName\s+cli-secret/);
  assert.match(await dsjobs('secrets', 'rotate', 'cli-secret', '--value', 'second value'), /version 2 is current/);
  assert.equal(await dsjobs('secrets', 'read', 'cli-secret'), 'second value');
  assert.equal(await dsjobs('secrets', 'read', 'cli-secret', '--version', '1', '--base64'), `${b64('from a file: s3cret\n')}\n`);
  assert.match(await dsjobs('secrets', 'versions', 'cli-secret'), /^VERSION\s+STAGES.*\n2\s+CURRENT,LATEST.*\n1\s+PREVIOUS/);
  assert.match(await dsjobs('secrets', 'delete', 'cli-secret', '--days', '7'), /will be deleted at/);
  assert.equal((await vaults.getSecret({ secretId: created.id })).secret.lifecycleState, 'PENDING_DELETION');
  await dsjobs('secrets', 'delete', 'cli-secret', '--cancel');
  assert.equal((await vaults.getSecret({ secretId: created.id })).secret.lifecycleState, 'ACTIVE');
});

test('CreateSecret honours opc-retry-token: a retry gets the first secret; other contents under the token are refused', async () => {
  const details = (value: string) => ({ compartmentId, secretName: 'retried', vaultId, keyId, secretContent: { contentType: 'BASE64', content: b64(value) } as never });
  const first = (await vaults.createSecret({ createSecretDetails: details('retry value 1'), opcRetryToken: 'token-secret-1' })).secret;
  const again = (await vaults.createSecret({ createSecretDetails: details('retry value 1'), opcRetryToken: 'token-secret-1' })).secret;
  assert.equal(again.id, first.id);
  const other = await expectOciError(() => vaults.createSecret({ createSecretDetails: details('retry value 2'), opcRetryToken: 'token-secret-1' }));
  assert.equal(other.statusCode, 409);
  assert.equal(other.serviceCode, 'InvalidatedRetryToken');
});
