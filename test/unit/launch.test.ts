/**
 * A run's launch plan (domain/launch.ts), as tables: a job and a run's overrides in, the plan or a field-named error
 * out. The server's parts (shapes, storage, conda) are stand-ins that record which field they were asked about.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DsError } from '../../src/domain/errors.js';
import { compileLaunch, withRunIdentity, type LaunchContext, type LaunchJob, type LaunchOverrides } from '../../src/domain/launch.js';
import { MAX_RUNTIME_MINUTES } from '../../src/domain/job-config.js';

const asked: string[] = [];
const ctx: LaunchContext = {
  resolveShape: (infra, field) => {
    asked.push(`shape ${field}`);
    const ocpus = infra.jobShapeConfigDetails?.ocpus ?? 1;
    return { cpus: ocpus, memoryInGBs: infra.jobShapeConfigDetails?.memoryInGBs ?? 16, gpus: 0 };
  },
  resolveMounts: (list, field) => {
    asked.push(`mounts ${field}`);
    return (list ?? []).map((m) => ({ source: `/data/${m.bucket}`, destination: `/mnt/${m.destinationDirectoryName}` }));
  },
  resolveConda: (env, field) => {
    if (!env.CONDA_ENV_SLUG) return null;
    asked.push(`conda ${field}`);
    return { kind: 'service', slug: env.CONDA_ENV_SLUG, path: `/conda/${env.CONDA_ENV_SLUG}` };
  },
};

const job: LaunchJob = {
  artifactFileName: 'train.py',
  jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { A: 'job', B: 'job' }, commandLineArguments: `--lr 0.1 'two words'` },
  jobInfrastructureConfigurationDetails: {
    jobInfrastructureType: 'ME_STANDALONE',
    shapeName: 'VM.Standard.E4.Flex',
    blockStorageSizeInGBs: 100,
    jobShapeConfigDetails: { ocpus: 4, memoryInGBs: 32 },
  },
  jobStorageMountConfigurationDetailsList: [{ storageType: 'OBJECT_STORAGE', bucket: 'jobdata', destinationDirectoryName: 'in' }],
};

function fails(o: LaunchOverrides, field: string, reason: RegExp, j: LaunchJob = job): void {
  assert.throws(
    () => compileLaunch(j, o, ctx),
    (e: unknown) => e instanceof DsError && e.code === 'InvalidParameter' && e.message.startsWith(`${field}: `) && reason.test(e.message),
    `${JSON.stringify(o)} should fail on ${field}`,
  );
}

test("the job alone: its words, variables, shape, storage and a runtime of 30 days", () => {
  asked.length = 0;
  const { plan, configOverride, infrastructureOverride } = compileLaunch(job, {}, ctx);
  assert.deepEqual(plan.args, ['--lr', '0.1', 'two words']);
  assert.deepEqual(plan.env, { A: 'job', B: 'job' });
  assert.deepEqual(plan.resources, { cpus: 4, memoryInGBs: 32, gpus: 0 });
  assert.equal(plan.shapeName, 'VM.Standard.E4.Flex');
  assert.equal(plan.maximumRuntimeInMinutes, MAX_RUNTIME_MINUTES);
  assert.equal(plan.blockStorageSizeInGBs, 100);
  assert.equal(plan.network, true);
  assert.equal(plan.entrypoint, null);
  assert.deepEqual(plan.mounts, [{ source: '/data/jobdata', destination: '/mnt/in' }]);
  assert.equal(configOverride, null);
  assert.equal(infrastructureOverride, null);
  assert.deepEqual(asked, ['mounts jobStorageMountConfigurationDetailsList', 'shape jobInfrastructureConfigurationDetails']);
});

test("a run's overrides: variables merged (the run wins), words and runtime replaced, jobType filled in", () => {
  const { plan, configOverride } = compileLaunch(
    job,
    { jobConfigurationOverrideDetails: { environmentVariables: { B: 'run', JOB_RUN_ENTRYPOINT: 'src/main.py' }, commandLineArguments: '"a b" c', maximumRuntimeInMinutes: 0.75 } },
    ctx,
  );
  assert.deepEqual(plan.env, { A: 'job', B: 'run', JOB_RUN_ENTRYPOINT: 'src/main.py' });
  assert.deepEqual(plan.args, ['a b', 'c']);
  assert.equal(plan.maximumRuntimeInMinutes, 0.75);
  assert.equal(plan.entrypoint, 'src/main.py');
  assert.equal(configOverride?.jobType, 'DEFAULT');
});

test('another shape in the override brings its own shape config; the same shape keeps the job\'s', () => {
  asked.length = 0;
  const other = compileLaunch(job, { jobInfrastructureConfigurationOverrideDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'VM.Standard2.1' } }, ctx);
  assert.equal(other.infrastructure.jobShapeConfigDetails, undefined);
  assert.deepEqual(other.plan.resources, { cpus: 1, memoryInGBs: 16, gpus: 0 });
  assert.equal(other.plan.blockStorageSizeInGBs, 100, "the job's block storage stays");
  assert.ok(asked.includes('shape jobInfrastructureConfigurationOverrideDetails'), 'shape errors name the override');
  const same = compileLaunch(job, { jobInfrastructureConfigurationOverrideDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'VM.Standard.E4.Flex', networking: 'NONE' } }, ctx);
  assert.deepEqual(same.plan.resources, { cpus: 4, memoryInGBs: 32, gpus: 0 });
  assert.equal(same.plan.network, false);
});

test('storage and conda are resolved for the field the user wrote', () => {
  asked.length = 0;
  const r = compileLaunch(
    job,
    {
      jobStorageMountConfigurationOverrideDetailsList: [{ storageType: 'OBJECT_STORAGE', bucket: 'other', destinationDirectoryName: 'x' }],
      jobConfigurationOverrideDetails: { environmentVariables: { CONDA_ENV_SLUG: 'torch' } },
    },
    ctx,
  );
  assert.deepEqual(r.plan.mounts, [{ source: '/data/other', destination: '/mnt/x' }]);
  assert.deepEqual(r.plan.conda, { kind: 'service', slug: 'torch', path: '/conda/torch' });
  assert.ok(asked.includes('mounts jobStorageMountConfigurationOverrideDetailsList'));
  assert.ok(asked.includes('conda jobConfigurationOverrideDetails.environmentVariables'));
  asked.length = 0;
  compileLaunch({ ...job, jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { CONDA_ENV_SLUG: 'torch' } } }, {}, ctx);
  assert.ok(asked.includes('conda jobConfigurationDetails.environmentVariables'));
});

test('every bad override is refused naming its field, whatever entry point sends it', () => {
  fails({ jobConfigurationOverrideDetails: { jobType: 'EMPTY' } }, 'jobConfigurationOverrideDetails.jobType', /not supported/);
  fails({ jobConfigurationOverrideDetails: { maximumRuntimeInMinutes: MAX_RUNTIME_MINUTES + 1 } }, 'jobConfigurationOverrideDetails.maximumRuntimeInMinutes', /at most 43200/);
  fails({ jobConfigurationOverrideDetails: { maximumRuntimeInMinutes: 0 } }, 'jobConfigurationOverrideDetails.maximumRuntimeInMinutes', /positive/);
  fails({ jobConfigurationOverrideDetails: { environmentVariables: { '1BAD': 'x' } } }, 'jobConfigurationOverrideDetails.environmentVariables.1BAD', /must start with a letter/);
  fails({ jobConfigurationOverrideDetails: { environmentVariables: { JOB_RUN_OCID: 'forged' } } }, 'jobConfigurationOverrideDetails.environmentVariables.JOB_RUN_OCID', /set by the service/);
  fails({ jobConfigurationOverrideDetails: { environmentVariables: { LD_PRELOAD: '/x.so' } } }, 'jobConfigurationOverrideDetails.environmentVariables.LD_PRELOAD', /./);
  fails({ jobConfigurationOverrideDetails: { commandLineArguments: `'unclosed` } }, 'jobConfigurationOverrideDetails.commandLineArguments', /quote/i);
  fails({ jobEnvironmentConfigurationOverrideDetails: { jobEnvironmentType: 'OCIR_CONTAINER' } }, 'jobEnvironmentConfigurationOverrideDetails.image', /is required/);
  fails({ jobNodeConfigurationOverrideDetails: { jobNodeType: 'MULTI_NODE' } }, 'jobNodeConfigurationOverrideDetails', /multi-node/);
  fails(
    { jobInfrastructureConfigurationOverrideDetails: { jobInfrastructureType: 'MULTI_NODE', shapeName: 'VM.Standard2.1' } },
    'jobInfrastructureConfigurationOverrideDetails.jobInfrastructureType',
    /not supported/,
  );
});

test("a run's identity variables go on top of the job's and the run's own", () => {
  // A job stored before the reserved names were refused may still carry one: the service's value wins.
  const old = { ...job, jobConfigurationDetails: { jobType: 'DEFAULT' as const, environmentVariables: { JOB_RUN_OCID: 'forged' } } };
  const { plan } = compileLaunch(old, { jobConfigurationOverrideDetails: { environmentVariables: { C: 'run' } } }, ctx);
  const ids = {
    JOB_OCID: 'job1',
    JOB_RUN_OCID: 'run1',
    PROJECT_OCID: 'p1',
    JOB_COMPARTMENT_OCID: 'c1',
    JOB_RUN_COMPARTMENT_OCID: 'c2',
    PROJECT_COMPARTMENT_OCID: 'c3',
    TENANCY_OCID: 't1',
  };
  const final = withRunIdentity(plan, ids);
  assert.equal(final.env.JOB_RUN_OCID, 'run1');
  assert.equal(final.env.C, 'run');
  assert.equal(final.env.JOB_ARTIFACT_FILE_NAME, 'train.py');
  assert.equal(plan.env.JOB_RUN_OCID, 'forged', 'the compiled plan itself is not changed');
});

test("a multi-node job's run: each group's variables and arguments, the run's override on top; refused where no cluster runs it", () => {
  const nodes = {
    jobNodeType: 'MULTI_NODE',
    startupOrder: 'IN_ORDER',
    maximumRuntimeInMinutes: 20,
    jobNodeGroupConfigurationDetailsList: [
      {
        name: 'ps',
        replicas: 1,
        minimumSuccessReplicas: 1,
        jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'MULTI_NODE', shapeName: 'Slurm.Small', blockStorageSizeInGBs: 50 },
        jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { B: 'ps', JOB_RUN_ENTRYPOINT: 'main.py' }, commandLineArguments: '--role ps' },
      },
      {
        name: 'workers',
        replicas: 3,
        minimumSuccessReplicas: 2,
        jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'MULTI_NODE', shapeName: 'Slurm.Small', blockStorageSizeInGBs: 50 },
      },
    ],
  };
  const mnJob: LaunchJob = { ...job, jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'EMPTY' }, jobNodeConfigurationDetails: nodes };
  const shapesAsked: string[] = [];
  const cluster: LaunchContext = { ...ctx, checkMultiNodeShapes: (list) => void shapesAsked.push(...list.map((x) => x.field)) };
  const r = compileLaunch(mnJob, { jobConfigurationOverrideDetails: { environmentVariables: { C: 'run' } } }, cluster);
  const mn = r.plan.multiNode!;
  assert.equal(mn.startupOrder, 'IN_ORDER');
  assert.equal(r.plan.maximumRuntimeInMinutes, 20);
  assert.equal(r.plan.entrypoint, 'main.py', "the first group's JOB_RUN_ENTRYPOINT names the artifact's file");
  assert.deepEqual(mn.groups.map((g) => [g.name, g.replicas, g.minimumSuccessReplicas, g.env.B, g.env.C, g.args]), [
    ['ps', 1, 1, 'ps', 'run', ['--role', 'ps']],
    ['workers', 3, 2, 'job', 'run', ['--lr', '0.1', 'two words']],
  ]);
  assert.deepEqual(shapesAsked, [0, 1].map((i) => `jobNodeConfigurationDetails.jobNodeGroupConfigurationDetailsList[${i}].jobInfrastructureConfigurationDetails.shapeName`));
  // A server that runs no multi-node jobs (its cluster was taken out of the config after the job was made).
  assert.throws(() => compileLaunch(mnJob, {}, ctx), (e: DsError) => e.message.startsWith('jobNodeConfigurationDetails: '));
  assert.throws(
    () => compileLaunch(mnJob, { jobInfrastructureConfigurationOverrideDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'x' } }, cluster),
    (e: DsError) => e.message.startsWith('jobInfrastructureConfigurationOverrideDetails: '),
  );
});
