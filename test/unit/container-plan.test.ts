/**
 * Container jobs in the launch plan (domain/container.ts through domain/launch.ts): OCI's OCIR_CONTAINER
 * configuration of a job, a run's override, and the legacy CONTAINER_* variables, compiled once into
 * `plan.container`; every bad field refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DsError } from '../../src/domain/errors.js';
import { compileLaunch, withRunIdentity, type LaunchContext, type LaunchJob, type LaunchOverrides } from '../../src/domain/launch.js';
import { splitLegacyList } from '../../src/domain/container.js';
import { commandOf, containerSpec } from '../../src/executors/docker/container-spec.js';
import { withDigest } from '../../src/executors/docker/images.js';

const ctx: LaunchContext = {
  resolveShape: () => ({ cpus: 2, memoryInGBs: 4, gpus: 0 }),
  resolveMounts: (list) => (list ?? []).map((m) => ({ source: `/data/${m.bucket}`, destination: `/mnt/${m.destinationDirectoryName}` })),
  resolveConda: () => null,
};

const image = 'iad.ocir.io/ns/repo:1.0';
const job = (o: Partial<LaunchJob> = {}): LaunchJob => ({
  artifactFileName: '',
  jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { A: 'job' }, commandLineArguments: `--lr 0.1 'two words'` },
  jobEnvironmentConfigurationDetails: { jobEnvironmentType: 'OCIR_CONTAINER', image, cmd: ['train.py'], entrypoint: ['python3'] },
  jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'VM.Standard.E4.Flex', blockStorageSizeInGBs: 50 },
  jobStorageMountConfigurationDetailsList: null,
  ...o,
});

function fails(j: LaunchJob, o: LaunchOverrides, field: string, reason: RegExp): void {
  assert.throws(
    () => compileLaunch(j, o, ctx),
    (e: unknown) => e instanceof DsError && e.code === 'InvalidParameter' && e.message.startsWith(`${field}: `) && reason.test(e.message),
    `should fail on ${field}`,
  );
}

test("a job's OCIR_CONTAINER configuration becomes the plan's container; the run's arguments follow its CMD", () => {
  const { plan } = compileLaunch(job(), {}, ctx);
  assert.deepEqual(plan.container, { image, entrypoint: ['python3'], cmd: ['train.py'], imageDigest: null });
  assert.deepEqual(commandOf(plan), { Entrypoint: ['python3'], Cmd: ['train.py', '--lr', '0.1', 'two words'] });
  // No artifact: no JOB_ARTIFACT_FILE_NAME to give.
  const withIds = withRunIdentity(plan, { JOB_OCID: 'j', JOB_RUN_OCID: 'r', PROJECT_OCID: 'p', JOB_COMPARTMENT_OCID: 'c', JOB_RUN_COMPARTMENT_OCID: 'c', PROJECT_COMPARTMENT_OCID: 'c', TENANCY_OCID: 't' });
  assert.equal('JOB_ARTIFACT_FILE_NAME' in withIds.env, false);
});

test("a run's override replaces the job's image and command (docker run semantics: the image's own where not given)", () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const { plan } = compileLaunch(
    job({ jobConfigurationDetails: { jobType: 'DEFAULT' } }),
    { jobEnvironmentConfigurationOverrideDetails: { jobEnvironmentType: 'OCIR_CONTAINER', image: 'other:2', imageDigest: digest } },
    ctx,
  );
  assert.deepEqual(plan.container, { image: 'other:2', entrypoint: null, cmd: null, imageDigest: digest });
  assert.deepEqual(commandOf(plan), {});
  const withArgs = compileLaunch(job({ jobConfigurationDetails: { jobType: 'DEFAULT' } }), {
    jobEnvironmentConfigurationOverrideDetails: { jobEnvironmentType: 'OCIR_CONTAINER', image: 'other:2' },
    jobConfigurationOverrideDetails: { commandLineArguments: 'a b' },
  }, ctx).plan;
  assert.deepEqual(commandOf(withArgs), { Cmd: ['a', 'b'] }, 'arguments alone replace the image CMD, as `docker run IMAGE ARGS`');
});

test('the legacy variables CONTAINER_CUSTOM_IMAGE, CONTAINER_ENTRYPOINT, CONTAINER_CMD (comma-separated quoted lists)', () => {
  const env = { CONTAINER_CUSTOM_IMAGE: image, CONTAINER_ENTRYPOINT: '"/bin/sh", "-c"', CONTAINER_CMD: '"echo \\"hi\\", there"' };
  const { plan } = compileLaunch(job({ jobEnvironmentConfigurationDetails: null, jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: env } }), {}, ctx);
  assert.deepEqual(plan.container, { image, entrypoint: ['/bin/sh', '-c'], cmd: ['echo "hi", there'], imageDigest: null });
  assert.deepEqual(splitLegacyList('-c,echo Hello', 'f'), ['-c', 'echo Hello']);
  assert.deepEqual(splitLegacyList('"ls", "-l"', 'f'), ['ls', '-l']);
});

test('bad container configuration is refused naming the field', () => {
  const env = (d: Record<string, unknown>) => job({ jobEnvironmentConfigurationDetails: d });
  fails(env({ jobEnvironmentType: 'OCIR_CONTAINER' }), {}, 'jobEnvironmentConfigurationDetails.image', /is required/);
  fails(env({ jobEnvironmentType: 'DOCKER', image }), {}, 'jobEnvironmentConfigurationDetails.jobEnvironmentType', /OCIR_CONTAINER/);
  fails(env({ jobEnvironmentType: 'OCIR_CONTAINER', image: 'has space' }), {}, 'jobEnvironmentConfigurationDetails.image', /not an image reference/);
  fails(env({ jobEnvironmentType: 'OCIR_CONTAINER', image, cmd: 'not a list' }), {}, 'jobEnvironmentConfigurationDetails.cmd', /list of strings/);
  fails(env({ jobEnvironmentType: 'OCIR_CONTAINER', image, entrypoint: [1] }), {}, 'jobEnvironmentConfigurationDetails.entrypoint', /list of strings/);
  fails(env({ jobEnvironmentType: 'OCIR_CONTAINER', image, cmd: ['x'.repeat(2048)] }), {}, 'jobEnvironmentConfigurationDetails.cmd', /2048 bytes/);
  fails(env({ jobEnvironmentType: 'OCIR_CONTAINER', image, imageDigest: 'sha256:xyz' }), {}, 'jobEnvironmentConfigurationDetails.imageDigest', /64/);
  fails(env({ jobEnvironmentType: 'OCIR_CONTAINER', image, imagePullSecret: 'x' }), {}, 'jobEnvironmentConfigurationDetails.imagePullSecret', /not a field/);
  fails(job(), { jobEnvironmentConfigurationOverrideDetails: { jobEnvironmentType: 'OCIR_CONTAINER', image: '' } }, 'jobEnvironmentConfigurationOverrideDetails.image', /is required/);
  fails(
    job({ jobEnvironmentConfigurationDetails: null, jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { CONTAINER_CMD: '"x"' } } }),
    {},
    'jobConfigurationDetails.environmentVariables.CONTAINER_CMD',
    /CONTAINER_CUSTOM_IMAGE/,
  );
  fails(
    job({ jobEnvironmentConfigurationDetails: null, jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { CONTAINER_CUSTOM_IMAGE: image, CONTAINER_CMD: '"open' } } }),
    {},
    'jobConfigurationDetails.environmentVariables.CONTAINER_CMD',
    /unterminated quote/,
  );
  fails(job({ jobEnvironmentConfigurationDetails: null }), {}, 'jobEnvironmentConfigurationOverrideDetails', /no artifact/);
});

test('the container as Docker creates it: no added capabilities, no-new-privileges, limits, network none, read-only root', () => {
  const { plan } = compileLaunch(
    job({ jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'X', networking: 'NONE' } as LaunchJob['jobInfrastructureConfigurationDetails'] }),
    {},
    ctx,
  );
  const spec = containerSpec({ runId: 'ocid1.datasciencejobrun.oc1.local.abc', plan, env: { A: '1' }, work: '/w', tmp: '/t', identity: null, imageLabels: {}, pidsLimit: 1024, image: 'sha256:x' });
  const h = spec.HostConfig!;
  assert.deepEqual([h.CapAdd, h.SecurityOpt, h.Privileged, h.PidsLimit, h.NanoCpus, h.Memory, h.MemorySwap, h.NetworkMode, h.ReadonlyRootfs, h.Init], [[], ['no-new-privileges'], false, 1024, 2e9, 4 * 1024 ** 3, 4 * 1024 ** 3, 'none', true, true]);
  assert.equal(spec.Labels!['com.dsjobs.run-id'], 'ocid1.datasciencejobrun.oc1.local.abc');
  assert.ok(!JSON.stringify(spec).includes('docker.sock'));
  assert.deepEqual(h.Mounts!.map((m) => m.Target), ['/home/datascience', '/tmp']);
  const writable = containerSpec({ runId: 'r', plan, env: {}, work: '/w', tmp: '/t', identity: null, imageLabels: { 'com.dsjobs.writable-rootfs': 'true' }, pidsLimit: 1, image: 'x' });
  assert.equal(writable.HostConfig!.ReadonlyRootfs, false, 'the image decides, by its label');
});

test("a GPU shape's container asks Docker for exactly its GPUs, by UUID (--gpus device=...); a CPU shape's asks for none", () => {
  const gpuCtx: LaunchContext = { ...ctx, resolveShape: () => ({ cpus: 8, memoryInGBs: 64, gpus: 2 }) };
  const { plan } = compileLaunch(job(), {}, gpuCtx);
  assert.equal(plan.resources.gpus, 2);
  const uuids = ['GPU-0b1c2d3e-aaaa-bbbb-cccc-000000000001', 'GPU-0b1c2d3e-aaaa-bbbb-cccc-000000000002'];
  const base = { runId: 'r', plan, env: {}, work: '/w', tmp: '/t', identity: null, imageLabels: {}, pidsLimit: 1024, image: 'x' };
  const spec = containerSpec({ ...base, gpus: uuids });
  // What `docker run --gpus '"device=UUID1,UUID2"'` sends: the gpu capability, no driver named, no count (not "all").
  assert.deepEqual(spec.HostConfig!.DeviceRequests, [{ Driver: '', Count: 0, DeviceIDs: uuids, Capabilities: [['gpu']], Options: {} }]);
  assert.equal(spec.Labels!['com.dsjobs.gpus'], uuids.join(','), 'a restarted server finds which GPUs the container holds');
  for (const none of [containerSpec(base), containerSpec({ ...base, gpus: [] })]) {
    assert.equal(none.HostConfig!.DeviceRequests, undefined);
    assert.equal(none.Labels!['com.dsjobs.gpus'], undefined);
  }
});

test('withDigest: an image reference pinned to a digest, its tag or earlier digest dropped (a registry port kept)', () => {
  const d = `sha256:${'a'.repeat(64)}`;
  assert.equal(withDigest('iad.ocir.io/ns/repo:1.0', d), `iad.ocir.io/ns/repo@${d}`);
  assert.equal(withDigest('127.0.0.1:5055/team/app', d), `127.0.0.1:5055/team/app@${d}`);
  assert.equal(withDigest('127.0.0.1:5055/team/app:2', d), `127.0.0.1:5055/team/app@${d}`);
  assert.equal(withDigest(`busybox@sha256:${'b'.repeat(64)}`, d), `busybox@${d}`);
  assert.equal(withDigest('busybox:latest', d), `busybox@${d}`);
});
