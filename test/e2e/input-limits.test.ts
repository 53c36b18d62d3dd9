/**
 * What a client may store is bounded (issue 23, items 7 and 10): OCI's limits on tags, lengths of names and
 * descriptions, no control characters in names, objects stored as given bounded in size, and a maximum runtime of 0
 * refused instead of being read as "no limit". Each refusal is a 400 InvalidParameter naming the field and the limit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createJob, startServer, type TestServer } from '../support/server.js';

let s: TestServer;
let job: { id: string; projectId: string };

before(async () => {
  s = await startServer();
  job = await createJob(s, 'limits.sh', 'true\n');
});
after(async () => {
  await s?.close();
});

async function call(method: string, p: string, json: unknown): Promise<{ status: number; body: any }> {
  const res = await s.fetch(`${s.url}/20190101${p}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function refused(method: string, p: string, json: unknown, ...mentions: string[]): Promise<void> {
  const r = await call(method, p, json);
  const ctx = `${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`;
  assert.equal(r.status, 400, ctx);
  assert.equal(r.body.code, 'InvalidParameter', ctx);
  for (const m of mentions) assert.ok(String(r.body.message).includes(m), `should mention ${JSON.stringify(m)}: ${ctx}`);
}

const tags = (n: number, value = 'v') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value]));

describe('tags: OCI limits (64 per resource, keys of 100 characters, values of 256)', () => {
  test('projects, jobs and runs refuse too many tags, long keys, long values and big defined tags', async () => {
    const project = { compartmentId: s.compartmentId, displayName: 'tags' };
    await refused('POST', '/projects', { ...project, freeformTags: tags(65) }, 'freeformTags', '64');
    await refused('POST', '/projects', { ...project, freeformTags: { ['k'.repeat(101)]: 'v' } }, 'freeformTags key', '100');
    await refused('POST', '/projects', { ...project, freeformTags: { k: 'v'.repeat(257) } }, 'freeformTags.k', '256');
    await refused('POST', '/projects', { ...project, freeformTags: { '': 'v' } }, 'freeformTags key');
    await refused('POST', '/projects', { ...project, definedTags: { ns: { k: 'v'.repeat(257) } } }, 'definedTags.ns.k', '256');
    await refused('POST', '/projects', { ...project, definedTags: { ns: { k: { deep: 'x'.repeat(100_000) } } } }, 'definedTags.ns.k');
    // Freeform and defined together, as OCI counts them.
    await refused('POST', '/projects', { ...project, freeformTags: tags(40), definedTags: { ns: tags(30) } }, 'definedTags', 'at most 64 tags');
    // The attack: 70 projects of ~130 KB of tags each. One is refused whole.
    await refused('POST', '/projects', { ...project, freeformTags: tags(64, 'x'.repeat(2_000)) }, 'freeformTags', '256');

    const ok = await call('POST', '/projects', { ...project, freeformTags: tags(32, 'v'.repeat(256)), definedTags: { ns: tags(32, 'w') } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    await refused('PUT', `/projects/${ok.body.id}`, { freeformTags: tags(65) }, 'freeformTags', '64');

    const jobBody = {
      projectId: job.projectId,
      compartmentId: s.compartmentId,
      jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
    };
    await refused('POST', '/jobs', { ...jobBody, freeformTags: tags(65) }, 'freeformTags', '64');
    await refused('PUT', `/jobs/${job.id}`, { freeformTags: { k: 'v'.repeat(257) } }, 'freeformTags.k', '256');
    const runBody = { projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id };
    await refused('POST', '/jobRuns', { ...runBody, freeformTags: tags(65) }, 'freeformTags', '64');
    await refused('POST', '/jobRuns', { ...runBody, definedTags: { ['n'.repeat(101)]: {} } }, 'definedTags key', '100');
    const listed = await s.fetch(`${s.url}/20190101/projects?compartmentId=${s.compartmentId}`);
    assert.equal(listed.status, 200);
  });
});

describe('names and descriptions: bounded, and no control characters in names', () => {
  test('a NUL in a display name is refused on every resource that has one', async () => {
    const name = 'a\u0000b';
    const c = s.compartmentId;
    await refused('POST', '/projects', { compartmentId: c, displayName: name }, 'displayName', 'control characters');
    await refused(
      'POST',
      '/jobs',
      {
        projectId: job.projectId,
        compartmentId: c,
        displayName: name,
        jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
      },
      'displayName',
      'control characters',
    );
    await refused('PUT', `/jobs/${job.id}`, { displayName: 'line\nbreak' }, 'displayName', 'control characters');
    await refused('POST', '/jobRuns', { projectId: job.projectId, compartmentId: c, jobId: job.id, displayName: name }, 'displayName', 'control characters');
    await refused('POST', '/triggerRules', { compartmentId: c, jobId: job.id, displayName: name }, 'displayName', 'control characters');
    await refused('POST', '/schedules', { compartmentId: c, jobId: job.id, cron: '0 0 * * *', displayName: name }, 'displayName', 'control characters');
    await refused('POST', '/webhookSubscriptions', { compartmentId: c, url: 'https://example.com/h', displayName: name }, 'displayName', 'control characters');
    await refused(
      'POST',
      '/sweeps',
      { compartmentId: c, jobId: job.id, displayName: name, parameters: { environmentVariables: { X: ['1'] } }, maxParallel: 1, metric: { name: 'm', goal: 'MAXIMIZE' } },
      'displayName',
      'control characters',
    );
    await refused('POST', '/triggerRules', { compartmentId: c, jobId: job.id, overrides: { displayName: name } }, 'overrides.displayName', 'control characters');
  });

  test('long names, descriptions, and objects stored as given are refused with the limit', async () => {
    const c = s.compartmentId;
    await refused('POST', '/projects', { compartmentId: c, displayName: 'n'.repeat(256) }, 'displayName', '255');
    await refused('POST', '/projects', { compartmentId: c, description: 'd'.repeat(401) }, 'description', '400');
    await refused('POST', '/projects', { compartmentId: c, description: 'bell\u0007' }, 'description', 'control characters');
    const multiLine = await call('POST', '/projects', { compartmentId: c, description: 'two\nlines\tand a tab' });
    assert.equal(multiLine.status, 200, JSON.stringify(multiLine.body));
    await refused(
      'POST',
      '/jobRuns',
      { projectId: job.projectId, compartmentId: c, jobId: job.id, jobLogConfigurationOverrideDetails: { enableLogging: true, logId: 'x'.repeat(20_000) } },
      'jobLogConfigurationOverrideDetails',
      '16384',
    );
    await refused('POST', '/schedules', { compartmentId: c, jobId: job.id, cron: '0 0 * * *', timeZone: 'z'.repeat(65) }, 'timeZone', '64');
    await refused('POST', '/webhookSubscriptions', { compartmentId: c, url: 'https://example.com/h', filter: { eventTypes: Array(65).fill('x') } }, 'filter.eventTypes', '64');
  });
});

describe('maximumRuntimeInMinutes: 0 is refused, not read as "no limit"', () => {
  test('on job create, run overrides, trigger rules, schedules and sweeps', async () => {
    const c = s.compartmentId;
    const infra = { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 };
    await refused(
      'POST',
      '/jobs',
      { projectId: job.projectId, compartmentId: c, jobConfigurationDetails: { jobType: 'DEFAULT', maximumRuntimeInMinutes: 0 }, jobInfrastructureConfigurationDetails: infra },
      'jobConfigurationDetails.maximumRuntimeInMinutes',
      '0',
    );
    await refused(
      'POST',
      '/jobRuns',
      { projectId: job.projectId, compartmentId: c, jobId: job.id, jobConfigurationOverrideDetails: { jobType: 'DEFAULT', maximumRuntimeInMinutes: 0 } },
      'jobConfigurationOverrideDetails.maximumRuntimeInMinutes',
    );
    // OCI's SDKs may leave jobType out of an override.
    await refused(
      'POST',
      '/jobRuns',
      { projectId: job.projectId, compartmentId: c, jobId: job.id, jobConfigurationOverrideDetails: { maximumRuntimeInMinutes: 0 } },
      'jobConfigurationOverrideDetails.maximumRuntimeInMinutes',
    );
    // Nor does false or "" pass as "none".
    await refused(
      'POST',
      '/jobs',
      { projectId: job.projectId, compartmentId: c, jobConfigurationDetails: { jobType: 'DEFAULT', maximumRuntimeInMinutes: false }, jobInfrastructureConfigurationDetails: infra },
      'jobConfigurationDetails.maximumRuntimeInMinutes',
    );
    const overrides = { maximumRuntimeInMinutes: 0 };
    await refused('POST', '/triggerRules', { compartmentId: c, jobId: job.id, overrides }, 'overrides.maximumRuntimeInMinutes');
    await refused('POST', '/schedules', { compartmentId: c, jobId: job.id, cron: '0 0 * * *', overrides }, 'overrides.maximumRuntimeInMinutes');
    await refused(
      'POST',
      '/sweeps',
      { compartmentId: c, jobId: job.id, parameters: { environmentVariables: { X: ['1'] } }, maxParallel: 1, metric: { name: 'm', goal: 'MAXIMIZE' }, overrides },
      'overrides.maximumRuntimeInMinutes',
    );
    // null still means "the default" (30 days), and a positive value is kept.
    const withNull = await call('POST', '/jobs', {
      projectId: job.projectId,
      compartmentId: c,
      jobConfigurationDetails: { jobType: 'DEFAULT', maximumRuntimeInMinutes: null },
      jobInfrastructureConfigurationDetails: infra,
    });
    assert.equal(withNull.status, 200, JSON.stringify(withNull.body));
    const withHalf = await call('POST', '/jobs', {
      projectId: job.projectId,
      compartmentId: c,
      jobConfigurationDetails: { jobType: 'DEFAULT', maximumRuntimeInMinutes: 0.5 },
      jobInfrastructureConfigurationDetails: infra,
    });
    assert.equal(withHalf.status, 200, JSON.stringify(withHalf.body));
    assert.equal(withHalf.body.jobConfigurationDetails.maximumRuntimeInMinutes, 0.5);
  });
});
