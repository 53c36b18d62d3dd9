import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createJob, readLogs, startServer, startRun, waitForRun, type TestServer } from '../support/server.js';
import type { CloudEvent, JobRunSummary } from '../../src/sdk/client.js';
import { until as pollUntil } from '../support/until.js';

const OCI = 'com.oraclecloud.datascience';

/** This file's bound and polling interval for the shared until(). */
const until = <T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 30_000) =>
  pollUntil(what, fn, ms, 50);

async function runsOf(s: TestServer, jobId: string): Promise<JobRunSummary[]> {
  return (await s.api.listJobRuns({ compartmentId: s.compartmentId, jobId })).items;
}

describe('trigger rules', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ env: { DSJOBS_TRIGGER_MAX_CHAIN_DEPTH: '3' } });
  });
  after(async () => {
    await s?.close();
  });

  test('a chain A -> B -> C: each run starts when the one before succeeds, with overrides templated from the event', async () => {
    const a = await createJob(s, 'a.sh', '[ "$FAIL" = 1 ] && exit 1\necho "a says $GREETING"\n', { env: { GREETING: 'hello' } });
    const b = await createJob(s, 'b.sh', 'echo "b after $UPSTREAM_RUN of $UPSTREAM_JOB greeting=$UPSTREAM_GREETING"\n', { projectId: a.projectId });
    const c = await createJob(s, 'c.sh', 'echo "c after $UPSTREAM_RUN"\n', { projectId: a.projectId });
    const common = { compartmentId: s.compartmentId };
    const ab = await s.api.createTriggerRule({
      ...common,
      displayName: 'a-to-b',
      jobId: b.id,
      eventFilter: { jobId: a.id, eventTypes: [`${OCI}.succeededjobrun`] },
      overrides: {
        displayName: 'b-after-{{run.id}}',
        environmentVariables: { UPSTREAM_RUN: '{{run.id}}', UPSTREAM_JOB: '{{event.data.jobId}}', UPSTREAM_GREETING: '{{run.env.GREETING}}' },
      },
    });
    assert.match(ab.triggerToken!, /^dstr_/);
    await s.api.createTriggerRule({
      ...common,
      displayName: 'b-to-c',
      jobId: c.id,
      eventFilter: { jobId: b.id, eventTypes: [`${OCI}.succeededjobrun`] },
      overrides: { environmentVariables: { UPSTREAM_RUN: '{{event.subject}}' } },
    });
    // A failure of A starts nothing.
    const failA = await startRun(s, a, { env: { FAIL: '1' } });
    assert.equal((await waitForRun(s.api, failA.id)).lifecycleState, 'FAILED');
    const runA = await startRun(s, a);
    const runB = await until('a run of B', async () => (await runsOf(s, b.id))[0]);
    assert.equal(runB.displayName, `b-after-${runA.id}`);
    assert.equal(runB.freeformTags['dsjobs-upstream-run'], runA.id);
    assert.equal(runB.freeformTags['dsjobs-chain-depth'], '1');
    assert.equal(runB.freeformTags['dsjobs-trigger-rule'], ab.id);
    await waitForRun(s.api, runB.id);
    const logsB = await readLogs(s, runB.id);
    assert.equal(logsB[0].message, `b after ${runA.id} of ${a.id} greeting=hello`);
    const runC = await until('a run of C', async () => (await runsOf(s, c.id))[0]);
    assert.equal(runC.freeformTags['dsjobs-chain-depth'], '2');
    assert.equal((await waitForRun(s.api, runC.id)).lifecycleState, 'SUCCEEDED');
    assert.equal((await readLogs(s, runC.id))[0].message, `c after ${runB.id}`);
    // Exactly one B and one C: the failed run of A started nothing.
    assert.equal((await runsOf(s, b.id)).length, 1);
    assert.equal((await runsOf(s, c.id)).length, 1);
  });

  test('a chain that would loop is stopped at the depth limit with an event saying so', async () => {
    const loop = await createJob(s, 'loop.sh', 'echo loop\n');
    const rule = await s.api.createTriggerRule({
      compartmentId: s.compartmentId,
      displayName: 'self',
      jobId: loop.id,
      eventFilter: { jobId: loop.id, eventTypes: [`${OCI}.succeededjobrun`] },
    });
    await startRun(s, loop);
    const limit = await until('the chain limit event', async () =>
      (await s.api.listEvents({ type: 'io.dsjobs.triggerchainlimitreached', resourceId: rule.id })).items[0] as CloudEvent | undefined,
    );
    assert.equal(limit.data.depth, 4);
    assert.equal(limit.data.maxChainDepth, 3);
    assert.match(String(limit.data.message), /over the limit of 3 \(config triggerMaxChainDepth\)/);
    const all = await runsOf(s, loop.id);
    assert.equal(all.length, 4, 'the first run and 3 chained ones');
    for (const r of all) await waitForRun(s.api, r.id);
    assert.equal((await runsOf(s, loop.id)).length, 4, 'nothing started after the limit');
    await s.api.deleteTriggerRule(rule.id);
  });

  test('a chain-depth tag a client writes on its own run does not lift the depth limit', async () => {
    // The depth was read from this tag: "x" made it NaN, which passed every limit (4,273 runs in 40 s).
    const loop = await createJob(s, 'tagged-loop.sh', 'echo loop\n');
    const rule = await s.api.createTriggerRule({
      compartmentId: s.compartmentId,
      displayName: 'self-tagged',
      jobId: loop.id,
      eventFilter: { jobId: loop.id, eventTypes: [`${OCI}.succeededjobrun`] },
    });
    await s.api.createJobRun({
      projectId: loop.projectId,
      compartmentId: s.compartmentId,
      jobId: loop.id,
      freeformTags: { 'dsjobs-chain-depth': 'x' },
    });
    const limit = await until('the chain limit event', async () =>
      (await s.api.listEvents({ type: 'io.dsjobs.triggerchainlimitreached', resourceId: rule.id })).items[0] as CloudEvent | undefined,
    );
    assert.equal(limit.data.depth, 4);
    const all = await runsOf(s, loop.id);
    for (const r of all) await waitForRun(s.api, r.id);
    assert.equal((await runsOf(s, loop.id)).length, 4, 'the first run and 3 chained ones');
    await s.api.deleteTriggerRule(rule.id);
  });

  test('POST to the trigger URL with the token starts a run (no API key); a wrong token is refused', async () => {
    const job = await createJob(s, 'ci.sh', 'echo "built $REF"\n');
    const rule = await s.api.createTriggerRule({
      compartmentId: s.compartmentId,
      jobId: job.id,
      overrides: { environmentVariables: { REF: '{{body.ref}}' } },
    });
    assert.equal(rule.eventFilter, null);
    const res = await fetch(`${s.url}${rule.triggerPath}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rule.triggerToken}`, 'content-type': 'application/json', 'opc-retry-token': 'ci-build-42' },
      body: JSON.stringify({ ref: 'refs/heads/main' }),
    });
    assert.equal(res.status, 200);
    const run = (await res.json()) as { id: string; jobId: string };
    assert.equal(run.jobId, job.id);
    await waitForRun(s.api, run.id);
    assert.equal((await readLogs(s, run.id))[0].message, 'built refs/heads/main');
    // The same retry token does not start a second run.
    const again = await s.api.fireTriggerRule(rule.id, rule.triggerToken!, { ref: 'refs/heads/main' }, 'ci-build-42');
    assert.equal(again.id, run.id);
    await assert.rejects(s.api.fireTriggerRule(rule.id, 'dstr_wrong'), (e: any) => e.status === 404 && e.code === 'NotAuthorizedOrNotFound');
    const noAuth = await fetch(`${s.url}${rule.triggerPath}`, { method: 'POST' });
    assert.equal(noAuth.status, 404);
    await s.api.deactivateTriggerRule(rule.id);
    await assert.rejects(s.api.fireTriggerRule(rule.id, rule.triggerToken!), (e: any) => e.status === 409 && /INACTIVE/.test(e.message));
    assert.equal((await runsOf(s, job.id)).length, 1);
  });

  test('bad rules are refused naming the field', async () => {
    const job = await createJob(s, 'x.sh', 'true\n');
    const bad = (d: any, re: RegExp) => assert.rejects(s.api.createTriggerRule({ compartmentId: s.compartmentId, ...d }), (e: any) => e.status === 400 && re.test(e.message));
    await bad({ jobId: job.id, overrides: { environmentVariables: { X: '{{secret.x}}' } } }, /^overrides.environmentVariables.X: template \{\{secret.x\}\} must be a path under event, run or body/);
    await bad({ jobId: 'ocid1.datasciencejob.dsjobs.local.nope' }, /^jobId: job .* was not found/);
    await bad({ jobId: job.id, eventFilter: { eventTypes: ['nope'] } }, /^eventFilter.eventTypes: 'nope' is not an event type/);
  });
});

describe('trigger rules: a rule fires only on what happens while it listens', () => {
  let s: TestServer;
  before(async () => {
    // A server of its own: no other rule listens, so the events cursor stands still until this one starts.
    s = await startServer();
  });
  after(async () => {
    await s?.close();
  });

  test('runs before a rule was created, or while it was inactive, start nothing; the next ones do', async () => {
    const up = await createJob(s, 'up.sh', 'true\n');
    const down = await createJob(s, 'down.sh', 'echo "after $UPSTREAM"\n', { projectId: up.projectId });
    const finished = async () => {
      const r = await startRun(s, up);
      assert.equal((await waitForRun(s.api, r.id)).lifecycleState, 'SUCCEEDED');
      return r.id;
    };
    const before1 = await finished();
    const before2 = await finished();
    const rule = await s.api.createTriggerRule({
      compartmentId: s.compartmentId,
      jobId: down.id,
      eventFilter: { jobId: up.id, eventTypes: [`${OCI}.succeededjobrun`] },
      overrides: { environmentVariables: { UPSTREAM: '{{run.id}}' } },
    });
    const upstreamOf = async () => (await runsOf(s, down.id)).map((r) => r.freeformTags['dsjobs-upstream-run']);
    // Events are read in order: had the rule seen the two earlier runs, their downstream runs would come first.
    const after1 = await finished();
    await until('the downstream run of the run after the rule', async () => (await upstreamOf()).includes(after1));
    assert.deepEqual(await upstreamOf(), [after1]);
    assert.ok(![before1, before2].some((id) => id === after1));

    await s.api.deactivateTriggerRule(rule.id);
    const whileInactive = await finished();
    await s.api.activateTriggerRule(rule.id);
    const after2 = await finished();
    await until('the downstream run of the run after re-activation', async () => (await upstreamOf()).includes(after2));
    const seen = await upstreamOf();
    assert.equal(seen.length, 2, `downstream runs of ${seen.join(', ')}`);
    assert.ok(!seen.includes(whileInactive), 'the run while the rule was inactive started a downstream run');
  });
});

describe('trigger rules: fan-out is bounded by the runs a chain may start', () => {
  let s: TestServer;
  before(async () => {
    // Depth 4 alone would let two rules make 1 + 2 + 4 + 8 + 16 = 31 runs; the chain may have 5.
    s = await startServer({ env: { DSJOBS_TRIGGER_MAX_CHAIN_DEPTH: '4', DSJOBS_TRIGGER_MAX_CHAIN_RUNS: '5' } });
  });
  after(async () => {
    await s?.close();
  });

  test('two rules on createjobrun.begin of their own job stop at triggerMaxChainRuns, with an event saying so', async () => {
    const job = await createJob(s, 'fan.sh', 'true\n');
    const rules: { id: string }[] = [];
    for (const name of ['fan-1', 'fan-2']) {
      rules.push(
        await s.api.createTriggerRule({
          compartmentId: s.compartmentId,
          displayName: name,
          jobId: job.id,
          eventFilter: { jobId: job.id, eventTypes: [`${OCI}.createjobrun.begin`] },
        }),
      );
    }
    const root = await startRun(s, job);
    const limit = await until('the chain limit event', async () => {
      for (const rule of rules) {
        const e = (await s.api.listEvents({ type: 'io.dsjobs.triggerchainlimitreached', resourceId: rule.id })).items[0] as CloudEvent | undefined;
        if (e) return e;
      }
      return undefined;
    });
    assert.equal(limit.data.maxChainRuns, 5);
    assert.equal(limit.data.chainRootRunId, root.id);
    assert.match(String(limit.data.message), /has 5 runs, the limit is 5 \(config triggerMaxChainRuns\)/);
    for (const r of await runsOf(s, job.id)) await waitForRun(s.api, r.id);
    // Every run's createjobrun.begin has been read once all have ended: none started after the limit.
    await until('the rules to read every event', async () => (await s.api.listEvents({ type: 'io.dsjobs.triggerchainlimitreached' })).items.length >= 2);
    const all = await runsOf(s, job.id);
    assert.equal(all.length, 5, `runs: ${all.length}`);
    const upstreams = all.map((r) => r.freeformTags['dsjobs-upstream-run']).filter(Boolean);
    assert.equal(upstreams.length, 4, 'four runs were started by the rules');
    assert.ok(s.output().includes('config triggerMaxChainRuns'), 'the server log says why the rule was held back');
    for (const rule of rules) await s.api.deleteTriggerRule(rule.id);
  });
});
