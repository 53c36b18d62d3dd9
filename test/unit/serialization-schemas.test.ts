import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { forSerialization, ResponseSchemas } from '../../src/api/serialization-schemas.js';
import * as S from '../../src/api/schemas.js';

/** Every `anyOf`/`oneOf` left in a schema: each one is an Ajv validator the serializer compiles and runs. */
function unions(schema: unknown, at = '#'): string[] {
  if (Array.isArray(schema)) return schema.flatMap((s, i) => unions(s, `${at}/${i}`));
  if (typeof schema !== 'object' || schema === null) return [];
  const here = 'anyOf' in schema || 'oneOf' in schema ? [at] : [];
  return [...here, ...Object.entries(schema).flatMap(([k, v]) => (k === 'enum' || k === 'const' ? [] : unions(v, `${at}/${k}`)))];
}

const run = {
  id: 'ocid1.datasciencejobrun.oc1..a',
  timeAccepted: '2026-12-07T00:00:00.000Z',
  timeStarted: null,
  timeFinished: null,
  createdBy: 'ocid1.user.oc1..u',
  projectId: 'ocid1.datascienceproject.oc1..p',
  compartmentId: 'ocid1.compartment.oc1..c',
  jobId: 'ocid1.datasciencejob.oc1..j',
  displayName: 'run "é"',
  lifecycleState: 'ACCEPTED',
  lifecycleDetails: null,
  freeformTags: { a: 'b' },
  definedTags: { ns: { s: 'x', n: 1.5, b: true } },
  exitCode: null,
  jobConfigurationOverrideDetails: { jobType: 'DEFAULT', environmentVariables: { A: '1' }, commandLineArguments: null, maximumRuntimeInMinutes: null },
  jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
  jobInfrastructureConfigurationOverrideDetails: null,
  jobEnvironmentConfigurationOverrideDetails: null,
  jobLogConfigurationOverrideDetails: null,
  jobStorageMountConfigurationDetailsList: [],
  logDetails: { logGroupId: 'g', logId: 'l' },
  nodeGroupDetailsList: [{ name: 'n', lifecycleState: 'ACTIVE', lifecycleDetails: null }],
  isolationDetails: null,
};

test('the rewritten JobRun schema leaves the serializer no union to validate', () => {
  assert.ok(unions(S.JobRun).length > 5, 'the written schema has unions (the test would prove nothing otherwise)');
  assert.deepEqual(unions(forSerialization(S.JobRun)), []);
  assert.ok(unions(S.JobRun).length > 0, 'the input is not changed');
});

test('plain unions only: a union of two objects, or of a $ref and null, is left as it is', () => {
  const twoObjects = { anyOf: [{ type: 'object', properties: {} }, { type: 'string' }] };
  assert.deepEqual(forSerialization(twoObjects), twoObjects);
  const refOrNull = { anyOf: [{ $ref: 'X' }, { type: 'null' }] };
  assert.deepEqual(forSerialization(refOrNull), refOrNull);
  assert.deepEqual(forSerialization({ anyOf: [{ const: 'A', type: 'string' }, { const: 'B', type: 'string' }], description: 'd' }), { description: 'd', type: 'string', enum: ['A', 'B'] });
  assert.deepEqual(forSerialization({ anyOf: [{ type: 'object', properties: { a: { type: 'string' } } }, { type: 'null' }] }), {
    type: 'object',
    properties: { a: { type: 'string' } },
    nullable: true,
  });
  assert.deepEqual(forSerialization({ anyOf: [{ type: 'string', maxLength: 3 }, { type: 'number' }, { type: 'boolean' }] }), { type: ['string', 'number', 'boolean'] });
});

/** A real fastify app serving `body` from a route whose response schema is JobRun, with or without the hook. */
async function serve(body: unknown, rewrite: boolean): Promise<{ text: string; compiled: unknown }> {
  const app = Fastify();
  const schemas = new ResponseSchemas();
  if (rewrite) app.addHook('onRoute', schemas.onRoute);
  let compiled: unknown;
  app.addHook('onRoute', (route) => {
    compiled = route.schema?.response;
  });
  app.get('/r', { schema: { response: { 200: S.JobRun } } }, async () => body);
  const res = await app.inject({ method: 'GET', url: '/r' });
  await app.close();
  assert.equal(res.statusCode, 200, res.body);
  return { text: res.body, compiled };
}

test('a route serializes from the rewrite, with the same bytes as from the written schema', async () => {
  const written = await serve(run, false);
  const rewritten = await serve(run, true);
  assert.deepEqual(unions(rewritten.compiled), []);
  assert.equal(rewritten.text, written.text);
  const other = { ...run, lifecycleState: 'SUCCEEDED', exitCode: 0, jobEnvironmentConfigurationOverrideDetails: { jobEnvironmentType: 'OCIR_CONTAINER', image: 'x', cmd: ['a'], n: 1 }, logDetails: null, nodeGroupDetailsList: null, isolationDetails: { sandbox: 'NATIVE', network: 'NONE', cpuLimit: 'ENFORCED', memoryLimit: 'ENFORCED', processTree: 'PID_NAMESPACE', blockStorage: 'VOLUME', gpus: [], warnings: [] } };
  assert.equal((await serve(other, true)).text, (await serve(other, false)).text);
});
