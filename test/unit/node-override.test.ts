/** A run's jobNodeConfigurationOverrideDetails applied to its multi-node job's node groups (domain/multi-node.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyNodeOverride, type MultiNodeConfiguration } from '../../src/domain/multi-node.js';

const ctx = {
  resolveShape: (infra: { shapeName?: string }, field: string) => {
    if (infra.shapeName !== 'Slurm.Small') throw Object.assign(new Error(`${field}.shapeName: unknown shape`), { code: 'InvalidParameter' });
    return { cpus: 1, memoryInGBs: 1, gpus: 0 };
  },
  checkMultiNodeShapes: () => {},
};
const infra = { jobInfrastructureType: 'MULTI_NODE' as const, shapeName: 'Slurm.Small', blockStorageSizeInGBs: 50 };
const job: MultiNodeConfiguration = {
  jobNodeType: 'MULTI_NODE',
  startupOrder: 'IN_PARALLEL',
  jobNodeGroupConfigurationDetailsList: [
    { name: 'main', replicas: 1, minimumSuccessReplicas: 1, jobInfrastructureConfigurationDetails: infra, jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { A: 'job', B: 'job' }, commandLineArguments: 'x' } },
    { name: 'workers', replicas: 3, minimumSuccessReplicas: 2, jobInfrastructureConfigurationDetails: infra },
  ],
};

test('an override changes the groups it names (variables over the group\'s, arguments instead), the others stay', () => {
  const r = applyNodeOverride(
    job,
    {
      jobNodeType: 'MULTI_NODE',
      startupOrder: 'IN_ORDER',
      jobNodeGroupConfigurationDetailsList: [{ name: 'main', replicas: 2, jobConfigurationDetails: { environmentVariables: { B: 'run' }, commandLineArguments: 'y' } }],
    },
    'jobNodeConfigurationOverrideDetails',
    ctx,
  );
  assert.equal(r.startupOrder, 'IN_ORDER');
  const [main, workers] = r.jobNodeGroupConfigurationDetailsList;
  assert.equal(main!.replicas, 2);
  assert.equal(main!.minimumSuccessReplicas, 2, 'all replicas where the override sets replicas');
  assert.deepEqual(main!.jobConfigurationDetails?.environmentVariables, { A: 'job', B: 'run' });
  assert.equal(main!.jobConfigurationDetails?.commandLineArguments, 'y');
  assert.deepEqual([workers!.replicas, workers!.minimumSuccessReplicas], [3, 2]);
  const min = applyNodeOverride(job, { jobNodeType: 'MULTI_NODE', jobNodeGroupConfigurationDetailsList: [{ name: 'workers', jobConfigurationDetails: { jobType: 'DEFAULT' } }] }, 'o', ctx);
  assert.deepEqual([min.jobNodeGroupConfigurationDetailsList[1]!.replicas, min.jobNodeGroupConfigurationDetailsList[1]!.minimumSuccessReplicas], [3, 2], "the job group's minimum when replicas stay");
});

test('a bad override is refused naming its own field', () => {
  const bad = (o: unknown, field: RegExp) => assert.throws(() => applyNodeOverride(job, o, 'jobNodeConfigurationOverrideDetails', ctx), field);
  bad({ jobNodeType: 'SINGLE' }, /jobNodeConfigurationOverrideDetails\.jobNodeType/);
  bad({ jobNodeType: 'MULTI_NODE', jobNodeGroupConfigurationDetailsList: [{ name: 'x' }] }, /jobNodeGroupConfigurationDetailsList\[0\]\.name: must name a node group of the job \(main, workers\)/);
  bad({ jobNodeType: 'MULTI_NODE', jobNodeGroupConfigurationDetailsList: [{ name: 'workers' }, { name: 'workers' }] }, /\[1\]\.name: 'workers' is overridden twice/);
  bad({ jobNodeType: 'MULTI_NODE', jobNodeGroupConfigurationDetailsList: [{ name: 'workers' }, { name: 'main', minimumSuccessReplicas: 5 }] }, /jobNodeGroupConfigurationDetailsList\[1\]\.minimumSuccessReplicas/);
  bad({ jobNodeType: 'MULTI_NODE', jobNodeGroupConfigurationDetailsList: [{ name: 'main', replicas: 62 }] }, /more than 64 replicas/);
  bad({ jobNodeType: 'MULTI_NODE', startupOrder: 'RANDOM' }, /jobNodeConfigurationOverrideDetails\.startupOrder/);
  bad({ jobNodeType: 'MULTI_NODE', jobNetworkConfiguration: { jobNetworkType: 'CUSTOM_NETWORK' } }, /jobNetworkConfiguration: a run cannot override/);
});
