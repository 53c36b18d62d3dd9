/**
 * Authentication end to end: a real server with authentication on, the official OCI SDKs with the config file the
 * server wrote at first start, and hand-made signatures for every way a request can be wrong.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, sign as rsaSign } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { apiKeySigner, readOciProfile } from '../../src/sdk/signer.js';
import { DsJobsClient } from '../../src/sdk/client.js';
import { BIN, signedFetch, startServer, type TestServer } from '../support/server.js';
import { isOciError, makeIdentityClient, makeOciClient } from '../support/oci-sdk-client.js';

let s: TestServer;

before(async () => {
  s = await startServer();
});
after(async () => {
  await s?.close();
});

async function assertNotAuthenticated(res: Response, why: RegExp): Promise<void> {
  const body = (await res.json()) as { code: string; message: string };
  assert.equal(res.status, 401, JSON.stringify(body));
  assert.equal(body.code, 'NotAuthenticated');
  assert.match(body.message, why);
}

/** A hand-made OCI signature over `names`, so a test can leave out or change any part. */
function signature(o: { keyId: string; key: ReturnType<typeof createPrivateKey>; names: string[]; values: Record<string, string> }): string {
  const signing = o.names.map((h) => `${h}: ${o.values[h]}`).join('\n');
  const sig = rsaSign('sha256', Buffer.from(signing), o.key).toString('base64');
  return `Signature version="1",keyId="${o.keyId}",algorithm="rsa-sha256",headers="${o.names.join(' ')}",signature="${sig}"`;
}

test('first start writes an OCI config and key (0600) that the CLI and the official SDK use unchanged', async () => {
  const configFile = path.join(s.dataDir, 'oci', 'config');
  assert.match(s.output(), new RegExp(`OCI config: ${configFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  const profile = readOciProfile(configFile);
  assert.equal(statSync(configFile).mode & 0o777, 0o600);
  assert.equal(statSync(profile.keyFile).mode & 0o777, 0o600);
  const info = await new DsJobsClient({ endpoint: s.url }).serverInfo();
  assert.equal(profile.tenancy, info.tenancyId);
  assert.match(profile.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  assert.equal(profile.values.region, 'local');

  // The fingerprint is OCI's: openssl's MD5 of the DER public key.
  const der = execFileSync('openssl', ['rsa', '-in', profile.keyFile, '-pubout', '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const md5 = execFileSync('openssl', ['md5', '-c'], { input: der }).toString();
  assert.ok(md5.includes(profile.fingerprint), `${md5} vs ${profile.fingerprint}`);

  // The official SDK's ConfigFileAuthenticationDetailsProvider, on the file as written.
  const { client, close } = makeOciClient(s.url, configFile);
  try {
    const p = await client.createProject({ createProjectDetails: { compartmentId: s.compartmentId, displayName: 'signed-by-the-sdk' } });
    assert.equal((await client.getProject({ projectId: p.project.id })).project.displayName, 'signed-by-the-sdk');
  } finally {
    close();
  }

  // The CLI: the default file under the data dir, then --config-file and OCI_CLI_CONFIG_FILE/OCI_CLI_PROFILE.
  const cli = (args: string[], env: Record<string, string | undefined>) =>
    spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: undefined, ...env }, encoding: 'utf8' });
  const byDefault = cli(['--json', 'project', 'list'], { DSJOBS_DATA_DIR: s.dataDir });
  assert.equal(byDefault.status, 0, byDefault.stderr);
  assert.ok(byDefault.stdout.includes('signed-by-the-sdk'));
  const named = cli(['--config-file', configFile, '--json', 'project', 'list'], { DSJOBS_DATA_DIR: '/nonexistent' });
  assert.equal(named.status, 0, named.stderr);
  const other = path.join(s.dataDir, 'other-config');
  writeFileSync(other, readFileSync(configFile, 'utf8').replace('[DEFAULT]', '[TEAM]'));
  const byEnv = cli(['--json', 'project', 'list'], { OCI_CLI_CONFIG_FILE: other, OCI_CLI_PROFILE: 'TEAM' });
  assert.equal(byEnv.status, 0, byEnv.stderr);
  const noProfile = cli(['--json', 'project', 'list'], { OCI_CLI_CONFIG_FILE: other });
  assert.notEqual(noProfile.status, 0);
  assert.match(noProfile.stderr, /no profile \[DEFAULT\]/);
  const unsigned = cli(['--json', 'project', 'list'], { DSJOBS_DATA_DIR: '/nonexistent' });
  assert.notEqual(unsigned.status, 0);
  assert.match(unsigned.stderr, /NotAuthenticated|authentication/);
});

test('every way a signature can be wrong gets 401 NotAuthenticated', async () => {
  const profile = readOciProfile(s.configFile);
  const key = createPrivateKey(readFileSync(profile.keyFile));
  const keyId = `${profile.tenancy}/${profile.user}/${profile.fingerprint}`;
  const url = new URL(`${s.url}/20190101/projects?compartmentId=${encodeURIComponent(s.compartmentId)}`);
  const target = `get ${url.pathname}${url.search}`;
  const now = new Date().toUTCString();
  const getValues = { 'x-date': now, '(request-target)': target, host: url.host };
  const getNames = ['x-date', '(request-target)', 'host'];
  const get = (headers: Record<string, string>, u: URL = url) => fetch(u, { headers });

  // Right: 200 (the control for everything below).
  const good = await get({ 'x-date': now, authorization: signature({ keyId, key, names: getNames, values: getValues }) });
  assert.equal(good.status, 200, await good.clone().text());

  await assertNotAuthenticated(await get({}), /authorization header is missing/);
  await assertNotAuthenticated(await get({ authorization: 'Basic YWRtaW46YWRtaW4=' }), /not an OCI signature/);
  await assertNotAuthenticated(await get({ 'x-date': now, authorization: 'Signature keyId=unquoted,signature="x"' }), /malformed/);
  await assertNotAuthenticated(
    await get({ 'x-date': now, authorization: signature({ keyId: `${profile.tenancy}/${profile.user}/00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00`, key, names: getNames, values: getValues }) }),
    /not an active API key/,
  );
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  await assertNotAuthenticated(await get({ 'x-date': now, authorization: signature({ keyId, key: stranger, names: getNames, values: getValues }) }), /does not verify/);
  // A signed header changed on the way: the query (request target) and the date.
  const otherQuery = new URL(url);
  otherQuery.searchParams.set('limit', '1');
  await assertNotAuthenticated(await get({ 'x-date': now, authorization: signature({ keyId, key, names: getNames, values: getValues }) }, otherQuery), /does not verify/);
  const later = new Date(Date.now() + 1000).toUTCString();
  await assertNotAuthenticated(await get({ 'x-date': later, authorization: signature({ keyId, key, names: getNames, values: getValues }) }), /does not verify/);
  // Date skewed by 6 minutes (signed correctly).
  const skewed = new Date(Date.now() - 6 * 60 * 1000).toUTCString();
  await assertNotAuthenticated(
    await get({ 'x-date': skewed, authorization: signature({ keyId, key, names: getNames, values: { ...getValues, 'x-date': skewed } }) }),
    /away from the server's clock/,
  );
  // A signature that leaves out host, or the date.
  await assertNotAuthenticated(await get({ 'x-date': now, authorization: signature({ keyId, key, names: ['x-date', '(request-target)'], values: getValues }) }), /host/);
  await assertNotAuthenticated(await get({ authorization: signature({ keyId, key, names: ['(request-target)', 'host'], values: getValues }) }), /date/);

  // Bodies: the signed hash must be the body's, and a POST must sign the body headers.
  const postUrl = `${s.url}/20190101/projects`;
  const sign = apiKeySigner({ tenancy: profile.tenancy, user: profile.user, fingerprint: profile.fingerprint, privateKey: key });
  const body = JSON.stringify({ compartmentId: s.compartmentId, displayName: 'honest' });
  const headers = sign({ method: 'POST', url: postUrl, headers: { 'content-type': 'application/json' }, body });
  const tampered = body.replace('honest', 'forged');
  await assertNotAuthenticated(await fetch(postUrl, { method: 'POST', headers, body: tampered }), /does not verify|x-content-sha256/);
  // Same length, so content-length still matches: only the hash check catches it.
  const sameLength = body.replace('honest', 'hacked');
  await assertNotAuthenticated(await fetch(postUrl, { method: 'POST', headers, body: sameLength }), /does not match the signed x-content-sha256/);
  const ok = await fetch(postUrl, { method: 'POST', headers, body });
  assert.equal(ok.status, 200, await ok.clone().text());
  const noBodyHeaders = signature({ keyId, key, names: getNames, values: { ...getValues, '(request-target)': 'post /20190101/projects' } });
  await assertNotAuthenticated(
    await fetch(postUrl, { method: 'POST', headers: { 'x-date': now, 'content-type': 'application/json', authorization: noBodyHeaders }, body }),
    /must cover the x-content-sha256/,
  );

  // The official SDK with a key the server does not know: its error is the 401 as OCI gives it.
  const { client, close } = makeOciClient(s.url);
  try {
    await assert.rejects(client.listProjects({ compartmentId: s.compartmentId }), (e: unknown) => {
      assert.ok(isOciError(e));
      assert.equal(e.statusCode, 401);
      assert.equal(e.serviceCode, 'NotAuthenticated');
      return true;
    });
  } finally {
    close();
  }
});

test('serverInfo, a trigger URL with its token and the console need no signature; /metrics does', async () => {
  const info = await fetch(`${s.url}/20190101/serverInfo`);
  assert.equal(info.status, 200);
  const body = (await info.json()) as { authentication?: boolean; tls?: boolean };
  assert.equal(body.authentication, true);
  assert.equal(body.tls, false);
  await assertNotAuthenticated(await fetch(`${s.url}/metrics`), /missing/);
  assert.equal((await s.fetch(`${s.url}/metrics`)).status, 200);
  await assertNotAuthenticated(await fetch(`${s.url}/20160918/users?compartmentId=x`), /missing/);
});

test('the oci-identity SDK manages compartments, users, groups, memberships and API keys; a deleted key stops working at once', async () => {
  const { client: id, close } = makeIdentityClient(s.url, s.configFile);
  const tenancy = readOciProfile(s.configFile).tenancy;
  try {
    // Compartments: a tree under the tenancy; the default compartment is one of them.
    const a = (await id.createCompartment({ createCompartmentDetails: { compartmentId: tenancy, name: 'team-a', description: 'Team A' } })).compartment;
    assert.equal(a.lifecycleState, 'ACTIVE');
    assert.equal(a.compartmentId, tenancy);
    const a1 = (await id.createCompartment({ createCompartmentDetails: { compartmentId: a.id, name: 'experiments', description: 'A/1' } })).compartment;
    await assert.rejects(id.createCompartment({ createCompartmentDetails: { compartmentId: tenancy, name: 'team-a', description: 'again' } }), (e: any) => e.statusCode === 409);
    const children = await id.listCompartments({ compartmentId: tenancy });
    assert.deepEqual(children.items.map((c) => c.name).sort(), ['default', 'team-a']);
    const subtree = await id.listCompartments({ compartmentId: tenancy, compartmentIdInSubtree: true, accessLevel: 'ANY' as never });
    assert.deepEqual(subtree.items.map((c) => c.name).sort(), ['default', 'experiments', 'team-a']);
    const paged = await id.listCompartments({ compartmentId: tenancy, compartmentIdInSubtree: true, limit: 2 });
    assert.equal(paged.items.length, 2);
    assert.ok(paged.opcNextPage);
    const got = await id.getCompartment({ compartmentId: a1.id });
    const renamed = await id.updateCompartment({ compartmentId: a1.id, updateCompartmentDetails: { description: 'renamed' }, ifMatch: got.etag });
    assert.equal(renamed.compartment.description, 'renamed');
    await assert.rejects(id.updateCompartment({ compartmentId: a1.id, updateCompartmentDetails: { description: 'x' }, ifMatch: got.etag }), (e: any) => e.statusCode === 412);
    // Not empty: a child compartment, then a project.
    await assert.rejects(id.deleteCompartment({ compartmentId: a.id }), (e: any) => e.statusCode === 409 && /1 compartment/.test(e.message));
    const p = await s.api.createProject({ compartmentId: a1.id, displayName: 'in-a1' });
    await assert.rejects(id.deleteCompartment({ compartmentId: a1.id }), (e: any) => e.statusCode === 409 && /projects/.test(e.message));
    await s.api.deleteProject(p.id);
    await id.deleteCompartment({ compartmentId: a1.id });
    assert.equal((await id.getCompartment({ compartmentId: a1.id })).compartment.lifecycleState, 'DELETED');
    await id.deleteCompartment({ compartmentId: a.id });

    // Users, groups, memberships.
    const alice = (await id.createUser({ createUserDetails: { compartmentId: tenancy, name: 'alice', description: 'Alice', email: 'alice@example.com' } })).user;
    assert.equal(alice.lifecycleState, 'ACTIVE');
    const admins = (await id.listGroups({ compartmentId: tenancy, name: 'Administrators' })).items;
    assert.equal(admins.length, 1);
    const team = (await id.createGroup({ createGroupDetails: { compartmentId: tenancy, name: 'team-a', description: 'Team A' } })).group;
    const m = (await id.addUserToGroup({ addUserToGroupDetails: { userId: alice.id, groupId: team.id } })).userGroupMembership;
    assert.equal(m.lifecycleState, 'ACTIVE');
    assert.deepEqual((await id.listUserGroupMemberships({ compartmentId: tenancy, groupId: team.id })).items.map((x) => x.userId), [alice.id]);
    await assert.rejects(id.deleteGroup({ groupId: team.id }), (e: any) => e.statusCode === 409);
    await assert.rejects(id.deleteUser({ userId: alice.id }), (e: any) => e.statusCode === 409);

    // Alice's API key: uploaded, used, deleted -> refused at once (the verified-key cache is dropped).
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const uploaded = (await id.uploadApiKey({ userId: alice.id, createApiKeyDetails: { key: pair.publicKey } })).apiKey;
    assert.equal(uploaded.keyId, `${tenancy}/${alice.id}/${uploaded.fingerprint}`);
    assert.deepEqual((await id.listApiKeys({ userId: alice.id })).items.map((k) => k.fingerprint), [uploaded.fingerprint]);
    // Authorized too: her group may list projects (without a policy she would get 404, authenticated or not).
    await id.createPolicy({ createPolicyDetails: { compartmentId: tenancy, name: 'team-a-lists', description: 'x', statements: ['Allow group team-a to inspect data-science-projects in tenancy'] } });
    const aliceSign = apiKeySigner({ tenancy, user: alice.id, fingerprint: uploaded.fingerprint!, privateKey: createPrivateKey(pair.privateKey) });
    const listUrl = `${s.url}/20190101/projects?compartmentId=${encodeURIComponent(s.compartmentId)}`;
    assert.equal((await signedFetch(aliceSign, listUrl)).status, 200);
    // Blocked: refused; unblocked: accepted again.
    await id.updateUserState({ userId: alice.id, updateStateDetails: { blocked: true } });
    await assertNotAuthenticated(await signedFetch(aliceSign, listUrl), /not an active API key/);
    await id.updateUserState({ userId: alice.id, updateStateDetails: { blocked: false } });
    assert.equal((await signedFetch(aliceSign, listUrl)).status, 200);
    await id.deleteApiKey({ userId: alice.id, fingerprint: uploaded.fingerprint! });
    await assertNotAuthenticated(await signedFetch(aliceSign, listUrl), /not an active API key/);
    assert.deepEqual((await id.listApiKeys({ userId: alice.id })).items, []);
    await assert.rejects(id.uploadApiKey({ userId: alice.id, createApiKeyDetails: { key: 'not a key' } }), (e: any) => e.statusCode === 400 && /key/.test(e.message));

    await id.removeUserFromGroup({ userGroupMembershipId: m.id });
    await id.deleteGroup({ groupId: team.id });
    await id.deleteUser({ userId: alice.id });
    assert.equal((await id.getUser({ userId: alice.id })).user.lifecycleState, 'DELETED');
  } finally {
    close();
  }
});

test('a first start cut short finishes at the next start: the key left on disk is registered and the config written', async () => {
  const t = await startServer();
  try {
    const before = readOciProfile(t.configFile);
    await t.kill('SIGKILL');
    // As if killed after the key was registered but before the config was written and recorded.
    rmSync(t.configFile);
    const db = new Database(path.join(t.dataDir, 'dsjobs.db'));
    db.prepare("DELETE FROM meta WHERE key = 'bootstrap:ociConfig'").run();
    db.close();
    const again = await t.restart();
    const after = readOciProfile(again.configFile);
    assert.equal(after.fingerprint, before.fingerprint);
    assert.equal(after.user, before.user);
    const res = await again.fetch(`${again.url}/20190101/projects?compartmentId=${encodeURIComponent(again.compartmentId)}`);
    assert.equal(res.status, 200, await res.clone().text());
    // A later start leaves the files alone.
    const written = readFileSync(again.configFile, 'utf8');
    const third = await again.restart();
    assert.equal(readFileSync(third.configFile, 'utf8'), written);
    await third.close();
  } finally {
    await t.close();
  }
});

test('a data dir from before identities: its default compartment becomes a real one under the tenancy, its projects stay', async () => {
  const t = await startServer();
  try {
    const project = await t.api.createProject({ compartmentId: t.compartmentId, displayName: 'from-before' });
    const before = readOciProfile(t.configFile);
    await t.kill('SIGTERM');
    // What a data dir of the previous version holds: no identity tables, no OCI config, the ids in meta.
    const db = new Database(path.join(t.dataDir, 'dsjobs.db'));
    for (const table of ['compartments', 'users', 'groups', 'user_group_memberships', 'api_keys', 'user_passwords', 'console_sessions']) db.exec(`DROP TABLE ${table}`);
    db.prepare("DELETE FROM meta WHERE key IN ('migration:006_identity_authn', 'migration:007_console_passwords', 'administratorsGroupId', 'administratorMembershipId') OR key LIKE 'bootstrap:%'").run();
    db.close();
    rmSync(path.join(t.dataDir, 'oci'), { recursive: true });
    const again = await t.restart();
    assert.equal(again.compartmentId, t.compartmentId);
    const after = readOciProfile(again.configFile);
    assert.equal(after.tenancy, before.tenancy);
    assert.equal(after.user, project.createdBy, 'the administrator is the user that created what was there');
    assert.ok((await again.api.listProjects({ compartmentId: again.compartmentId })).items.some((p) => p.id === project.id));
    const { client: id, close } = makeIdentityClient(again.url, again.configFile);
    try {
      const c = (await id.getCompartment({ compartmentId: again.compartmentId })).compartment;
      assert.equal(c.lifecycleState, 'ACTIVE');
      assert.equal(c.compartmentId, after.tenancy);
      await assert.rejects(id.deleteCompartment({ compartmentId: again.compartmentId }), (e: any) => e.statusCode === 409);
    } finally {
      close();
    }
    await again.close();
  } finally {
    await t.close();
  }
});
