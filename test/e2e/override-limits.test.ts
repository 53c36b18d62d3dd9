import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJob, startRun, startServer } from '../support/server.js';

const OCI = 'com.oraclecloud.datascience';
/** One minute over the 30-day ceiling every run's maximum runtime has. */
const TOO_LONG = 30 * 24 * 60 + 1;

/**
 * The overrides of schedules, trigger rules and sweeps become runs later: what a run refuses must be refused when the
 * automation is made (with the field named), not each time it fires.
 */
test('schedules, trigger rules, sweeps and runs refuse the same maximum runtime and variable names at create', async () => {
  const s = await startServer();
  try {
    const job = await createJob(s, 'a.sh', 'echo hi');
    const compartmentId = s.compartmentId;
    const refused = (p: Promise<unknown>, re: RegExp) =>
      assert.rejects(p, (e: any) => {
        assert.equal(e.status, 400, e.message);
        assert.match(e.message, re);
        return true;
      });
    const field = /^overrides\.maximumRuntimeInMinutes: must be at most 43200 minutes \(30 days\), got 43201$/;

    await refused(startRun(s, job, { maxRuntimeMinutes: TOO_LONG }), /^jobConfigurationOverrideDetails\.maximumRuntimeInMinutes: must be at most 43200 minutes/);
    await refused(s.api.createSchedule({ compartmentId, jobId: job.id, cron: '*/5 * * * *', overrides: { maximumRuntimeInMinutes: TOO_LONG } }), field);
    await refused(
      s.api.createTriggerRule({
        compartmentId,
        jobId: job.id,
        eventFilter: { jobId: job.id, eventTypes: [`${OCI}.succeededjobrun`] },
        overrides: { maximumRuntimeInMinutes: TOO_LONG },
      }),
      field,
    );
    await refused(
      s.api.createSweep({
        compartmentId,
        jobId: job.id,
        parameters: { environmentVariables: { X: ['1', '2'] } },
        maxParallel: 1,
        metric: { name: 'score', goal: 'MAXIMIZE' },
        overrides: { maximumRuntimeInMinutes: TOO_LONG },
      }),
      field,
    );

    // One rule for variable names: a name a run refuses is refused in a schedule's overrides too, and the reverse.
    await refused(startRun(s, job, { env: { LD_PRELOAD: '/x.so' } }), /^jobConfigurationOverrideDetails\.environmentVariables\.LD_PRELOAD: LD_PRELOAD is not allowed/);
    await refused(
      s.api.createSchedule({ compartmentId, jobId: job.id, cron: '*/5 * * * *', overrides: { environmentVariables: { LD_PRELOAD: '/x.so' } } }),
      /^overrides\.environmentVariables\.LD_PRELOAD: LD_PRELOAD is not allowed/,
    );
    const dotted = await s.api.createSchedule({ compartmentId, jobId: job.id, cron: '*/5 * * * *', overrides: { environmentVariables: { 'my.setting': '1' } } });
    assert.deepEqual(dotted.overrides.environmentVariables, { 'my.setting': '1' });
  } finally {
    await s.close();
  }
});
