/**
 * Schedules with an injected clock: the server runs in this process (startServer from src/server.ts with a
 * scheduleClock), with real SQLite, real HTTP and real run processes; only the schedules' notion of "now" is driven
 * by the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configFileSigner } from '../../src/sdk/signer.js';
import { loadConfig } from '../../src/config/config.js';
import { startServer as startInProcess, type RunningServer } from '../../src/server.js';
import { DsJobsClient } from '../../src/sdk/client.js';
import { removeDataDir, waitForRun } from '../support/server.js';

class TestClock {
  constructor(public ms: number) {}
  now() {
    return this.ms;
  }
  set(iso: string) {
    this.ms = Date.parse(iso);
  }
}

async function boot(dataDir: string, clock: TestClock): Promise<{ srv: RunningServer; api: DsJobsClient; compartmentId: string }> {
  const cfg = loadConfig({ env: {}, overrides: { port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent' } });
  const srv = await startInProcess(cfg, { scheduleClock: clock });
  return { srv, api: new DsJobsClient({ endpoint: srv.url, signer: configFileSigner(srv.admin.configFile) }), compartmentId: srv.identity.defaultCompartmentId };
}

test('cron schedules fire on the injected clock; pause, resume, and missed starts after downtime (SKIP, RUN_ONCE)', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-sched-'));
  const clock = new TestClock(Date.parse('2026-01-05T00:00:30Z'));
  let { srv, api, compartmentId } = await boot(dataDir, clock);
  try {
    const project = await api.createProject({ compartmentId, displayName: 'sched' });
    const job = await api.createJob({
      projectId: project.id,
      compartmentId,
      jobConfigurationDetails: { jobType: 'DEFAULT' },
      jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 },
    });
    await api.uploadArtifact(job.id, 'tick.sh', Buffer.from('echo "tick $WHO"\n'));
    const runsOfSchedule = async (id: string) =>
      (await api.listJobRuns({ compartmentId, jobId: job.id })).items.filter((r) => r.freeformTags['dsjobs-schedule'] === id);

    const sk = await api.createSchedule({ compartmentId, jobId: job.id, cron: '*/5 * * * *', overrides: { environmentVariables: { WHO: 'skip' } } });
    const once = await api.createSchedule({ compartmentId, jobId: job.id, cron: '*/5 * * * *', misfirePolicy: 'RUN_ONCE', timeZone: 'Asia/Kolkata' });
    assert.deepEqual(sk.timeNextRuns.slice(0, 3), ['2026-01-05T00:05:00.000Z', '2026-01-05T00:10:00.000Z', '2026-01-05T00:15:00.000Z']);
    assert.equal(once.timeZone, 'Asia/Kolkata');

    await srv.schedules.tick();
    assert.equal((await runsOfSchedule(sk.id)).length, 0, 'nothing is due yet');
    clock.set('2026-01-05T00:05:02Z');
    await srv.schedules.tick();
    await srv.schedules.tick(); // a second tick at the same time starts nothing more
    const first = await runsOfSchedule(sk.id);
    assert.equal(first.length, 1);
    await waitForRun(api, first[0].id);
    assert.equal((await api.getSchedule(sk.id)).lastRunId, first[0].id);
    assert.equal((await api.getSchedule(sk.id)).timeLastFire, '2026-01-05T00:05:00.000Z');

    // Paused: no runs, no next fire times; resumed: the pause's fires are not made up.
    const paused = await api.deactivateSchedule(sk.id);
    assert.deepEqual(paused.timeNextRuns, []);
    clock.set('2026-01-05T00:10:01Z');
    await srv.schedules.tick();
    assert.equal((await runsOfSchedule(sk.id)).length, 1);
    await api.activateSchedule(sk.id);
    await srv.schedules.tick();
    assert.equal((await runsOfSchedule(sk.id)).length, 1);
    clock.set('2026-01-05T00:15:03Z');
    await srv.schedules.tick();
    assert.equal((await runsOfSchedule(sk.id)).length, 2);
    const onceRuns = (await runsOfSchedule(once.id)).length;
    assert.equal(onceRuns, 3, 'the other schedule fired at 00:05, 00:10 and 00:15');

    // Downtime: the server stops, 40 minutes pass (8 fires), it starts again.
    await srv.close();
    clock.set('2026-01-05T00:57:00Z');
    ({ srv, api, compartmentId } = await boot(dataDir, clock));
    await srv.schedules.tick();
    assert.equal((await runsOfSchedule(sk.id)).length, 2, 'SKIP: the missed starts are skipped');
    assert.equal((await runsOfSchedule(once.id)).length, onceRuns + 1, 'RUN_ONCE: one run for all the missed starts');
    const missed = (await api.listEvents({ type: 'io.dsjobs.schedulemissed' })).items;
    const bySchedule = Object.fromEntries(missed.map((e) => [e.subject, e.data]));
    assert.equal(bySchedule[sk.id].missedFires, 8);
    assert.equal(bySchedule[sk.id].ranOnce, false);
    assert.equal(bySchedule[once.id].ranOnce, true);
    const runs = await runsOfSchedule(sk.id);
    for (const r of runs) assert.equal((await waitForRun(api, r.id)).lifecycleState, 'SUCCEEDED');

    // Clear errors.
    const bad = (d: any, re: RegExp) => assert.rejects(api.createSchedule({ compartmentId, jobId: job.id, cron: '* * * * *', ...d }), (e: any) => e.status === 400 && re.test(e.message));
    await bad({ cron: 'every day' }, /^cron: 'every day' is not a cron expression/);
    await bad({ timeZone: 'Mars/Olympus' }, /^timeZone: 'Mars\/Olympus' is not an IANA time zone/);
    await bad({ misfirePolicy: 'LATER' }, /misfirePolicy: must be one of/);
  } finally {
    await srv.close();
    removeDataDir(dataDir);
  }
});
