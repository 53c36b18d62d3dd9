/**
 * Run principals without a server: the session token (RPST) a run gets and every way one can be bad, the live-run
 * check, and the policy engine deciding for a run principal through dynamic groups (with `where` conditions).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, createSign, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunPrincipals } from '../../src/service/run-principals.js';
import { loadOrCreateSigningKey } from '../../src/store/signing-key.js';
import { signRpst } from '../../src/domain/rpst.js';
import { compilePolicySet, evaluate, namedByAnyStatement } from '../../src/domain/policy/evaluate.js';
import { StaticCompartmentTree } from '../../src/domain/policy/compartment-tree.js';
import type { Principal } from '../../src/domain/principal.js';

const TENANCY = 'ocid1.tenancy.oc1..t';
const C = 'ocid1.compartment.oc1..c';
const RUN = 'ocid1.datasciencejobrun.oc1..r1';
const tokenKey = createPrivateKey(generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey);

function principals(clock = { now: () => Date.now() }, wanted = async (_p: Principal) => true) {
  const p = new RunPrincipals(tokenKey, { tenancyId: TENANCY, region: 'local' }, clock, { poolSize: 0, wanted });
  p.setEndpoint('http://127.0.0.1:8420');
  return p;
}

const fileOf = (issued: Awaited<ReturnType<RunPrincipals['issue']>>, env: string) => issued!.files.find((f) => f.env === env)!.content;
const b64json = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

test('a run gets a fresh key pair and a token naming it, its compartment and tenancy; requests signed with the key authenticate as the run', async () => {
  const rp = principals();
  const a = (await rp.issue({ id: RUN, compartmentId: C, maximumRuntimeInMinutes: 60 }, 2000))!;
  const b = await rp.issue({ id: 'ocid1.datasciencejobrun.oc1..r2', compartmentId: C, maximumRuntimeInMinutes: 60 }, 2000);
  assert.deepEqual(a.env, { OCI_RESOURCE_PRINCIPAL_VERSION: '2.2', OCI_RESOURCE_PRINCIPAL_REGION: 'local', DSJOBS_ENDPOINT: 'http://127.0.0.1:8420' });
  assert.deepEqual(a.files.map((f) => f.env).sort(), ['OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM', 'OCI_RESOURCE_PRINCIPAL_RPST']);
  const pemA = fileOf(a, 'OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM');
  assert.notEqual(pemA, fileOf(b, 'OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM'), 'never the same key pair twice');
  const token = fileOf(a, 'OCI_RESOURCE_PRINCIPAL_RPST');
  const claims = b64json(token.split('.')[1]);
  // What the official SDK reads (res_tenant, res_compartment, exp) and what dynamic groups match.
  assert.equal(claims.res_tenant, TENANCY);
  assert.equal(claims.res_compartment, C);
  assert.equal(claims.res_id, RUN);
  assert.equal(claims.res_type, 'datasciencejobrun');
  const lifetime = claims.exp - claims.iat;
  assert.ok(lifetime >= 3600 && lifetime <= 3600 + 2 + 600, `the token lasts the run's maximum runtime plus grace and margin: ${lifetime} s`);
  assert.deepEqual(createPublicKey({ key: claims.jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }), createPublicKey(pemA).export({ type: 'spki', format: 'pem' }));
  const { principal, key } = rp.authenticate(token);
  assert.deepEqual(principal, { kind: 'run', runId: RUN, compartmentId: C });
  const sig = createSign('sha256').update('date: x').sign(pemA);
  assert.ok(verify('sha256', Buffer.from('date: x'), key, sig));
  assert.deepEqual(rp.authenticate(token).principal, principal, 'a verified token is served from the cache');
});

test('a token stops working the moment its run is revoked, and works again when the run is re-attached', async () => {
  const rp = principals();
  const token = fileOf(await rp.issue({ id: RUN, compartmentId: C, maximumRuntimeInMinutes: 60 }, 0), 'OCI_RESOURCE_PRINCIPAL_RPST');
  rp.authenticate(token);
  rp.revoke(RUN);
  assert.throws(() => rp.authenticate(token), /job run ocid1\.datasciencejobrun\.oc1\.\.r1 is not running/);
  rp.activate(RUN);
  assert.equal(rp.authenticate(token).principal.kind, 'run');
});

test('tampered, foreign, expired, unsigned and other-tenancy tokens are refused, saying why', async () => {
  let now = Date.now();
  const rp = principals({ now: () => now });
  const token = fileOf(await rp.issue({ id: RUN, compartmentId: C, maximumRuntimeInMinutes: 1 }, 0), 'OCI_RESOURCE_PRINCIPAL_RPST');
  const [h, p, s] = token.split('.');
  const claims = b64json(p);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  // Another compartment written into the claims: the signature no longer holds.
  assert.throws(() => rp.authenticate(`${h}.${enc({ ...claims, res_compartment: 'ocid1.compartment.oc1..other' })}.${s}`), /not issued by this server/);
  assert.throws(() => rp.authenticate('not-a-jwt'), /not a JWT/);
  assert.throws(() => rp.authenticate(`${enc({ alg: 'none', typ: 'JWT' })}.${p}.${s}`), /not signed RS256/);
  const otherKey = createPrivateKey(generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey);
  assert.throws(() => rp.authenticate(signRpst({ ...claims }, otherKey)), /not issued by this server/);
  assert.throws(() => rp.authenticate(signRpst({ ...claims, res_tenant: 'ocid1.tenancy.oc1..other' }, tokenKey)), /another tenancy/);
  assert.throws(() => rp.authenticate(signRpst({ ...claims, exp: Math.floor(now / 1000) - 1 }, tokenKey)), /expired/);
  rp.authenticate(token);
  // Past the maximum runtime, grace period and margin: expired even from the cache.
  now += 7 * 60_000;
  assert.throws(() => rp.authenticate(token), /expired/);
});

test('the token key file is made once, mode 0600, and read back the same', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-rpkey-'));
  try {
    const file = path.join(dir, 'run-principal.key');
    const k1 = loadOrCreateSigningKey(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const k2 = loadOrCreateSigningKey(file);
    assert.equal(k1.export({ type: 'pkcs8', format: 'pem' }), k2.export({ type: 'pkcs8', format: 'pem' }));
    assert.match(readFileSync(file, 'utf8'), /BEGIN PRIVATE KEY/);
    // A damaged file stops the start with a message naming it, rather than minting tokens with another key.
    const bad = path.join(dir, 'bad.key');
    writeFileSync(bad, 'not a key\n');
    assert.throws(() => loadOrCreateSigningKey(bad), (e: Error) => e.name === 'SigningKeyError' && e.message.includes(bad));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dynamic-group statements decide for run principals, with where conditions and matching rules using != and ANY/ALL', () => {
  const T = 'ocid1.tenancy.oc1..root';
  const A = 'ocid1.compartment.oc1..a';
  const B = 'ocid1.compartment.oc1..b';
  const tree = new StaticCompartmentTree([
    { id: T, parentId: null, name: 'acme' },
    { id: A, parentId: T, name: 'A' },
    { id: B, parentId: T, name: 'B' },
  ]);
  const run = (compartmentId: string, runId = RUN): Principal => ({ kind: 'run', runId, compartmentId });
  const set = compilePolicySet(
    [
      {
        id: 'p',
        name: 'p',
        compartmentId: T,
        statements: [
          "Allow dynamic-group Pipelines to manage data-science-job-runs in compartment A where request.operation = 'CreateJobRun'",
          'Allow dynamic-group Pipelines to read data-science-jobs in compartment A',
          "Allow dynamic-group NotThatRun to read data-science-projects in tenancy where target.compartment.id = 'ocid1.compartment.oc1..b'",
        ],
      },
    ],
    [
      { id: 'g1', name: 'pipelines', matchingRule: `ALL {resource.type = 'datasciencejobrun', resource.compartment.id = '${A}'}` },
      { id: 'g2', name: 'NotThatRun', matchingRule: `ALL {resource.type = 'datasciencejobrun', resource.id != 'ocid1.datasciencejobrun.oc1..bad'}` },
    ],
  );
  const cases: [Principal, string, string, boolean][] = [
    [run(A), 'CreateJobRun', A, true],
    [run(A), 'GetJob', A, true],
    [run(A), 'DeleteJobRun', A, false], // manage, but the where clause names CreateJobRun only
    [run(A), 'CancelJobRun', A, false],
    [run(A), 'CreateJobRun', B, false], // the statement's compartment
    [run(B), 'CreateJobRun', A, false], // the rule's compartment
    [run(B), 'GetProject', B, true],
    [run(B), 'GetProject', A, false], // the where clause's compartment
    [run(B, 'ocid1.datasciencejobrun.oc1..bad'), 'GetProject', B, false], // resource.id != excludes it
    [{ kind: 'user', userId: 'ocid1.user.oc1..u', groupNames: ['Pipelines'] }, 'CreateJobRun', A, false], // a user is never in a dynamic group
  ];
  for (const [principal, operation, target, want] of cases) {
    assert.equal(evaluate({ principal, operation, targetCompartmentId: target }, set, tree).allowed, want, `${JSON.stringify(principal)} ${operation} in ${target}`);
  }
});

test('a run that no policy statement could grant anything gets no principal (no key pair made), and is not live', async () => {
  const asked: Principal[] = [];
  const rp = principals(undefined, async (p) => {
    asked.push(p);
    return false;
  });
  assert.equal(await rp.issue({ id: RUN, compartmentId: C, maximumRuntimeInMinutes: 60 }, 0), null);
  assert.deepEqual(asked, [{ kind: 'run', runId: RUN, compartmentId: C }]);
  assert.equal(rp.isLive(RUN), false);
});

test('policies name a run principal only through a dynamic group that matches it (or any-user)', () => {
  const groups = [{ id: 'dg', name: 'runs-in-c', matchingRule: `ALL {resource.type = 'datasciencejobrun', resource.compartment.id = '${C}'}` }];
  const run: Principal = { kind: 'run', runId: RUN, compartmentId: C };
  const elsewhere: Principal = { kind: 'run', runId: RUN, compartmentId: 'ocid1.compartment.oc1..other' };
  const policy = (statements: string[]) => [{ id: 'p', name: 'p', compartmentId: TENANCY, statements }];
  assert.equal(namedByAnyStatement(run, compilePolicySet(policy(['Allow group admins to manage all-resources in tenancy']), groups)), false);
  const set = compilePolicySet(policy(['Allow dynamic-group runs-in-c to use data-science-job-runs in tenancy']), groups);
  assert.equal(namedByAnyStatement(run, set), true);
  assert.equal(namedByAnyStatement(elsewhere, set), false);
  assert.equal(namedByAnyStatement(elsewhere, compilePolicySet(policy(['Allow any-user to read data-science-projects in tenancy']), groups)), true);
});
