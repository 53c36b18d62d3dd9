/**
 * The audit hook (src/api/audit-hook.ts) on a fastify app of its own: which answers become events (whatever path
 * they took: a route, a thrown error, a hook's refusal, a body that does not parse, a path no route serves) and what
 * an event leaves out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { registerAuditHook } from '../../src/api/audit-hook.js';
import type { AuditRecord } from '../../src/store/audit-store.js';

async function app() {
  const recorded: AuditRecord[] = [];
  const a = Fastify();
  a.decorateRequest('principal', null);
  registerAuditHook(a, {
    record: (r) => recorded.push(r),
    tenancyId: 'ocid1.tenancy.oc1..t',
    knownCompartment: (c) => (c === 'ocid1.compartment.oc1..known' ? c : 'ocid1.tenancy.oc1..t'),
    compartmentName: (c) => (c === 'ocid1.compartment.oc1..known' ? 'Known' : 'root'),
  });
  a.addHook('onRequest', async (req) => {
    if (req.headers['x-refuse'] === '401') throw Object.assign(new Error('not authenticated'), { statusCode: 401 });
    req.principal = { kind: 'user', userId: 'ocid1.user.oc1..u', groupNames: [] };
  });
  a.post('/things', { schema: { operationId: 'CreateThing' } }, async (req) => {
    if ((req.body as { fail?: boolean } | undefined)?.fail) throw new Error('boom');
    return { id: 'ocid1.thing.oc1..new', displayName: 'made', compartmentId: 'ocid1.compartment.oc1..known' };
  });
  a.get('/things/:thingId', { schema: { operationId: 'GetThing' } }, async (req, reply) => {
    if (req.headers['x-deny']) {
      req.authorizationDenied = true;
      return reply.code(404).send({ code: 'NotAuthorizedOrNotFound', message: 'Thing was not found' });
    }
    return { id: 'x' };
  });
  a.delete('/things/:thingId', { schema: { operationId: 'DeleteThing' } }, async (_req, reply) => reply.code(204).send());
  return { a, recorded };
}

test('mutations are recorded whatever their outcome; reads only when refused', async () => {
  const { a, recorded } = await app();
  const ok = await a.inject({ method: 'POST', url: '/things', payload: { x: 1 } });
  assert.equal(ok.statusCode, 200);
  const crash = await a.inject({ method: 'POST', url: '/things', payload: { fail: true } });
  assert.equal(crash.statusCode, 500);
  const badJson = await a.inject({ method: 'POST', url: '/things', headers: { 'content-type': 'application/json' }, payload: '{not json' });
  assert.equal(badJson.statusCode, 400);
  assert.equal((await a.inject({ method: 'DELETE', url: '/things/ocid1.thing.oc1..old' })).statusCode, 204);
  assert.equal((await a.inject({ method: 'POST', url: '/nowhere' })).statusCode, 404);
  assert.equal((await a.inject({ method: 'GET', url: '/things/ocid1.thing.oc1..a' })).statusCode, 200);
  assert.equal((await a.inject({ method: 'GET', url: '/things/ocid1.thing.oc1..b', headers: { 'x-deny': '1' } })).statusCode, 404);
  assert.equal((await a.inject({ method: 'GET', url: '/things/ocid1.thing.oc1..c', headers: { 'x-refuse': '401' } })).statusCode, 401);

  const summary = recorded.map((r) => {
    const d = r.event.data as any;
    return [d.eventName, d.response.status, d.additionalDetails.result, d.resourceId ?? null, r.compartmentId, r.principalId];
  });
  const user = 'ocid1.user.oc1..u';
  assert.deepEqual(summary, [
    ['CreateThing', '200', 'SUCCEEDED', 'ocid1.thing.oc1..new', 'ocid1.compartment.oc1..known', user],
    ['CreateThing', '500', 'FAILED', null, 'ocid1.tenancy.oc1..t', user],
    ['CreateThing', '400', 'FAILED', null, 'ocid1.tenancy.oc1..t', user],
    ['DeleteThing', '204', 'SUCCEEDED', 'ocid1.thing.oc1..old', 'ocid1.tenancy.oc1..t', user],
    ['POST /nowhere', '404', 'FAILED', null, 'ocid1.tenancy.oc1..t', user],
    ['GetThing', '404', 'DENIED', 'ocid1.thing.oc1..b', 'ocid1.tenancy.oc1..t', user],
    ['GetThing', '401', 'DENIED', 'ocid1.thing.oc1..c', 'ocid1.tenancy.oc1..t', null],
  ]);
  const created = recorded[0].event as any;
  assert.equal(created.eventId, recorded[0].id);
  assert.equal(created.data.resourceName, 'made');
  assert.equal(created.data.compartmentName, 'Known');
  assert.equal(created.data.request.action, 'POST');
  assert.equal(created.data.request.path, '/things');
});

test('credentials stay out: authorization, cookies, CSRF and trigger tokens, and secret-looking query parameters', async () => {
  const { a, recorded } = await app();
  await a.inject({
    method: 'POST',
    url: '/things?token=s3cr3t-query&compartmentId=c1',
    headers: {
      authorization: 'Bearer s3cr3t-bearer',
      cookie: 'dsjobs_session=s3cr3t-cookie',
      'x-csrf-token': 's3cr3t-csrf',
      'x-dsjobs-trigger-token': 's3cr3t-trigger',
      'user-agent': 'ua/1',
    },
    payload: { password: 's3cr3t-body' },
  });
  await a.inject({
    method: 'DELETE',
    url: '/things/x',
    headers: { authorization: 'Signature version="1",keyId="ST$eyJzM2NyM3QtcnBzdA",algorithm="rsa-sha256",headers="date",signature="s3cr3t-sig"' },
  });
  const text = JSON.stringify(recorded);
  assert.doesNotMatch(text, /s3cr3t/);
  assert.doesNotMatch(text, /eyJzM2NyM3QtcnBzdA/);
  const d = (recorded[0].event as any).data;
  assert.deepEqual(d.request.parameters, { token: ['[not recorded]'], compartmentId: ['c1'] });
  assert.equal(d.request.headers['user-agent'][0], 'ua/1');
  assert.equal((recorded[1].event as any).data.identity.authType, 'res');
});
