import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSummaryWire, runWire } from '../../src/events/wire.js';
import type { RunRecord } from '../../src/store/records.js';

test("a run's wire form is its summary's fields, in the same order and with the same values, then the details", () => {
  // Every field distinct, so that a field copied from the wrong source shows.
  const run = {
    id: 'ocid1.datasciencejobrun.dsjobs.local.x',
    seq: 7,
    jobId: 'job',
    projectId: 'project',
    compartmentId: 'compartment',
    displayName: 'name',
    lifecycleState: 'SUCCEEDED',
    lifecycleDetails: 'details',
    timeAccepted: 't1',
    timeStarted: 't2',
    timeFinished: 't3',
    createdBy: 'user',
    jobConfigurationOverrideDetails: { jobType: 'DEFAULT' },
    jobInfrastructureConfigurationDetails: { shapeName: 'Local.Light' },
    jobInfrastructureConfigurationOverrideDetails: { shapeName: 'override' },
    jobEnvironmentConfigurationOverrideDetails: { env: 1 },
    jobLogConfigurationOverrideDetails: { log: 1 },
    jobStorageMountConfigurationDetailsList: [{ m: 1 }],
    jobStorageMountConfigurationOverrideDetailsList: [{ m: 2 }],
    freeformTags: { a: 'b' },
    definedTags: { ns: { k: 'v' } },
    launch: {},
    executor: 'local',
    handle: { pid: 1 },
    deadlineMs: 1,
    killAtMs: 2,
    stopReason: null,
    exitCode: 3,
    exitSignal: null,
    outcomeReason: 'exit',
    isolation: { sandbox: 'bubblewrap' },
    nodeGroups: [{ name: 'g', lifecycleState: 'ACTIVE' }],
    jobNodeConfigurationOverrideDetails: { jobNodeType: 'MULTI_NODE' },
    version: 4,
    logDetails: { logGroupId: 'group', logId: 'log' },
  } as unknown as RunRecord;
  const summary = runSummaryWire(run);
  const full = runWire(run);
  assert.deepEqual(Object.entries(full).slice(0, Object.keys(summary).length), Object.entries(summary));
  assert.deepEqual(Object.keys(full).slice(Object.keys(summary).length), [
    'jobConfigurationOverrideDetails',
    'jobInfrastructureConfigurationDetails',
    'jobInfrastructureConfigurationOverrideDetails',
    'jobEnvironmentConfigurationOverrideDetails',
    'jobLogConfigurationOverrideDetails',
    'jobStorageMountConfigurationDetailsList',
    'jobStorageMountConfigurationOverrideDetailsList',
    'isolationDetails',
    'nodeGroupDetailsList',
    'jobNodeConfigurationOverrideDetails',
    'logDetails',
  ]);
  const renamed = new Set(['isolationDetails', 'nodeGroupDetailsList']);
  for (const [k, v] of Object.entries(full)) if (!renamed.has(k)) assert.equal(v, (run as unknown as Record<string, unknown>)[k], k);
  assert.equal(full.isolationDetails, run.isolation);
  assert.equal(full.nodeGroupDetailsList, run.nodeGroups);
});
