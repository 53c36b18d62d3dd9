/**
 * What a Slurm run has of its node beyond its process, end to end through the official OCI SDKs: storage mounts
 * (a file-storage export the nodes have at their own path, this server's Object Storage buckets staged on the shared
 * directory and written back as objects, the same mounts on every node of a multi-node run, a mount the nodes do not
 * have refused at create), metrics from the node (disk, GPUs through a fake nvidia-smi on the nodes' PATH,
 * multi-node runs), the run's block storage size enforced on the node, and run outputs copied to a bucket. One two-node cluster (2 CPUs, 4000 MB each) and one server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type * as ds from 'oci-datascience';
import type { ObjectStorageClient } from 'oci-objectstorage';
import { readLogs, startServer, type TestServer } from '../support/server.js';
import { makeObjectStorageClient, makeOciClient } from '../support/oci-sdk-client.js';
import { slurmMissing, SLURM_TEST_SHAPES, startSlurmCluster, type SlurmCluster } from '../support/slurm.js';
import { until } from '../support/until.js';

const missing = await slurmMissing();

const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');

async function readAll(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as Readable) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe('what a Slurm run has of its node', { skip: missing ?? false }, () => {
  let cluster: SlurmCluster;
  let s: TestServer;
  let sdk: { client: ds.DataScienceClient; close(): void };
  let osc: { client: ObjectStorageClient; close(): void };
  let ns: string;
  let projectId: string;
  /** The export as the server declares it, and the same directory as the nodes have it (another path to it). */
  let exportDir: string;
  let nodeView: string;

  before(async () => {
    cluster = await startSlurmCluster();
    exportDir = path.join(cluster.dir, 'export-data');
    nodeView = path.join(cluster.dir, 'node-mnt-data');
    mkdirSync(exportDir);
    writeFileSync(path.join(exportDir, 'input.txt'), 'from the export');
    // On a real cluster the nodes mount the export themselves, often at another path than the server's.
    symlinkSync(exportDir, nodeView);
    // A fake nvidia-smi on the nodes' PATH (this host has no GPU; the cluster counts two per node): GPU 0 at 37%,
    // 25% of its memory; GPU 1 at 90%.
    const nodeBin = path.join(cluster.dir, 'node-bin');
    mkdirSync(nodeBin);
    writeFileSync(
      path.join(nodeBin, 'nvidia-smi'),
      [
        '#!/bin/sh',
        'case "$1" in',
        "  --query-gpu=index,utilization.gpu,memory.used,memory.total) printf '0, 37, 5757, 23028\\n1, 90, 1000, 23028\\n' ;;",
        '  *) echo "unexpected query: $*" >&2; exit 2 ;;',
        'esac',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const hidden = path.join(cluster.dir, 'export-hidden');
    mkdirSync(hidden);
    const config = path.join(cluster.dir, 'node-storage-server.json');
    writeFileSync(
      config,
      JSON.stringify({
        shapes: [...SLURM_TEST_SHAPES, { name: 'Slurm.GPU1', series: 'NVIDIA_GPU', ocpus: 1, memoryInGBs: 1, gpus: 1 }],
        metricsIntervalMs: 1000,
        storage: {
          fileSystems: [
            { mountTargetId: 'ocid1.mounttarget.oc1..data', exportId: 'ocid1.export.oc1..data', path: exportDir },
            { mountTargetId: 'ocid1.mounttarget.oc1..hidden', exportId: 'ocid1.export.oc1..hidden', path: hidden },
          ],
        },
        slurm: {
          slurmConf: cluster.slurmConf,
          sharedDir: cluster.sharedDir,
          shapes: [{ shape: 'Slurm.Small' }, { shape: 'Slurm.GPU1' }],
          nodePath: `${nodeBin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
          nodeMounts: { fileSystems: [{ mountTargetId: 'ocid1.mounttarget.oc1..data', exportId: 'ocid1.export.oc1..data', nodePath: nodeView }] },
        },
      }),
    );
    s = await startServer({ config, env: { DSJOBS_GRACE_PERIOD_MS: '2000' } });
    sdk = makeOciClient(s.url, s.configFile);
    osc = makeObjectStorageClient(s.url, s.configFile);
    ns = (await osc.client.getNamespace({})).value;
    projectId = (await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'node' })).id;
  });
  after(async () => {
    sdk?.close();
    osc?.close();
    await s?.close();
    await cluster?.stop();
  });

  async function sdkJob(fileName: string, artifact: string, details: Partial<ds.models.CreateJobDetails> = {}): Promise<string> {
    const { job } = await sdk.client.createJob({
      createJobDetails: {
        projectId,
        compartmentId: s.compartmentId,
        displayName: fileName,
        jobConfigurationDetails: { jobType: 'DEFAULT' } as ds.models.DefaultJobConfigurationDetails,
        jobInfrastructureConfigurationDetails: {
          jobInfrastructureType: 'ME_STANDALONE',
          shapeName: 'Slurm.Small',
          blockStorageSizeInGBs: 50,
        } as ds.models.ManagedEgressStandaloneJobInfrastructureConfigurationDetails,
        ...details,
      },
    });
    await sdk.client.createJobArtifact({ jobId: job.id, jobArtifact: Buffer.from(artifact), contentDisposition: `attachment; filename=${fileName}` });
    return job.id;
  }
  async function sdkRun(jobId: string, more: Partial<ds.models.CreateJobRunDetails> = {}): Promise<string> {
    const r = await sdk.client.createJobRun({ createJobRunDetails: { projectId, compartmentId: s.compartmentId, jobId, ...more } });
    return r.jobRun.id;
  }
  const sdkDone = (id: string) =>
    until(`run ${id} to end`, async () => {
      const r = (await sdk.client.getJobRun({ jobRunId: id })).jobRun;
      return ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(r.lifecycleState) ? r : null;
    });
  const stdout = async (id: string) => (await readLogs(s, id)).filter((l) => l.stream === 'stdout').map((l) => l.message);
  const fsMount = (name: string, which = 'data') =>
    ({
      storageType: 'FILE_STORAGE',
      mountTargetId: `ocid1.mounttarget.oc1..${which}`,
      exportId: `ocid1.export.oc1..${which}`,
      destinationDirectoryName: name,
    }) as ds.models.FileStorageMountConfigurationDetails;
  const bucketMount = (bucket: string, prefix: string, name: string) =>
    ({ storageType: 'OBJECT_STORAGE', namespace: ns, bucket, prefix, destinationDirectoryName: name }) as ds.models.ObjectStorageMountConfigurationDetails;

  const group = (name: string): ds.models.JobNodeGroupConfigurationDetails => ({
    name,
    replicas: 1,
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'MULTI_NODE', shapeName: 'Slurm.Small', blockStorageSizeInGBs: 50 } as ds.models.MultiNodeJobInfrastructureConfigurationDetails,
    jobConfigurationDetails: { jobType: 'DEFAULT' } as ds.models.DefaultJobConfigurationDetails,
  });
  /** A multi-node job of two groups of one replica each (one per node). */
  const twoNodes = (): Partial<ds.models.CreateJobDetails> => ({
    jobConfigurationDetails: { jobType: 'EMPTY' } as ds.models.EmptyJobConfigurationDetails,
    jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'EMPTY' } as ds.models.EmptyJobInfrastructureConfigurationDetails,
    jobNodeConfigurationDetails: {
      jobNodeType: 'MULTI_NODE',
      startupOrder: 'IN_PARALLEL',
      jobNetworkConfiguration: { jobNetworkType: 'DEFAULT_NETWORK' } as ds.models.JobDefaultNetworkConfiguration,
      jobNodeGroupConfigurationDetailsList: [group('a'), group('b')],
    } as ds.models.MultiNodeJobNodeConfigurationDetails,
  });
  const metric = async (id: string, name: string) => (await s.api.getJobRunMetrics(id)).items.find((i) => i.name === name)?.datapoints.map((p) => p.value) ?? [];

  test('storage mounts: an export the nodes have and a bucket of this server reach the run; what it writes is there after, as files and objects', async () => {
    await osc.client.createBucket({ namespaceName: ns, createBucketDetails: { name: 'slurm-mount', compartmentId: s.compartmentId } });
    const input = Buffer.from('bucket input');
    await osc.client.putObject({ namespaceName: ns, bucketName: 'slurm-mount', objectName: 'work/in.txt', putObjectBody: input, contentLength: input.length });
    const script = [
      'set -e',
      // `${DSJOBS_MOUNTS_ROOT:-}/mnt/x` is /mnt/x on OCI and the run's link to the node's directory here.
      'm="${DSJOBS_MOUNTS_ROOT:-}"',
      'cat "$m/mnt/data/input.txt"; echo',
      'echo "written on $(hostname)" > "$m/mnt/data/from-run.txt"',
      'cat "$m/mnt/bucket/in.txt"; echo',
      'mkdir -p "$m/mnt/bucket/out"',
      'head -c 300000 /dev/urandom > "$m/mnt/bucket/out/random.bin"',
      'readlink "$m/mnt/data"',
      '',
    ].join('\n');
    const jobId = await sdkJob('mounts.sh', script, { jobStorageMountConfigurationDetailsList: [fsMount('data'), bucketMount('slurm-mount', 'work', 'bucket')] });
    const id = await sdkRun(jobId);
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'SUCCEEDED', `${done.lifecycleDetails} ${JSON.stringify(await readLogs(s, id))}`);
    const out = await stdout(id);
    assert.equal(out[0], 'from the export');
    assert.equal(out[1], 'bucket input');
    assert.equal(out[2], nodeView, "the run's link goes to the export where the nodes have it (slurm.nodeMounts nodePath)");
    assert.match(readFileSync(path.join(exportDir, 'from-run.txt'), 'utf8'), /^written on /);
    assert.match(done.lifecycleDetails ?? '', /Bucket mounts written back: slurm-mount\/work\/: 1 written \(300000 bytes\), 0 deleted/);
    const got = await osc.client.getObject({ namespaceName: ns, bucketName: 'slurm-mount', objectName: 'work/out/random.bin' });
    const bytes = await readAll(got.value);
    assert.equal(bytes.length, 300000);
    assert.equal(got.contentMd5, md5(bytes));
    const head = await osc.client.headObject({ namespaceName: ns, bucketName: 'slurm-mount', objectName: 'work/out/random.bin' });
    assert.equal(head.contentLength, 300000);
    assert.equal(head.eTag, got.eTag);
    const rec = await s.api.getJobRun(id);
    assert.match(rec.isolationDetails?.warnings.join(' ') ?? '', /storage mounts are links under DSJOBS_MOUNTS_ROOT/);
  });

  test('a mount the nodes do not have is refused at job and run create, naming the field; the same mount is fine for a local run', async () => {
    const jobId = await sdkJob('nothing.sh', 'true\n');
    const refused = await sdk.client
      .createJobRun({ createJobRunDetails: { projectId, compartmentId: s.compartmentId, jobId, jobStorageMountConfigurationOverrideDetailsList: [fsMount('ok'), fsMount('h', 'hidden')] } })
      .then(() => null, (e: { statusCode?: number; serviceCode?: string; message?: string }) => e);
    assert.ok(refused, 'the run is refused');
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.serviceCode, 'InvalidParameter');
    assert.match(refused.message ?? '', /jobStorageMountConfigurationOverrideDetailsList\[1\]: .*nodes do not have this storage/);
    // A job of a Slurm shape mounting it is refused at its create too.
    const job = await sdkJob('hidden.sh', 'true\n', { jobStorageMountConfigurationDetailsList: [fsMount('h', 'hidden')] }).then(
      () => null,
      (e: { statusCode?: number; message?: string }) => e,
    );
    assert.equal(job?.statusCode, 400);
    assert.match(job?.message ?? '', /jobStorageMountConfigurationDetailsList\[0\]: .*nodes do not have this storage/);
    const update = await sdk.client
      .updateJob({ jobId, updateJobDetails: { jobStorageMountConfigurationDetailsList: [fsMount('ok'), fsMount('h', 'hidden')] } })
      .then(() => null, (e: { statusCode?: number; message?: string }) => e);
    assert.equal(update?.statusCode, 400);
    assert.match(update?.message ?? '', /jobStorageMountConfigurationDetailsList\[1\]: .*nodes do not have this storage/);
    // A local shape's run may mount it: the refusal is about where Slurm runs go.
    const local = await sdk.client.createJobRun({
      createJobRunDetails: {
        projectId,
        compartmentId: s.compartmentId,
        jobId,
        jobInfrastructureConfigurationOverrideDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 } as ds.models.ManagedEgressStandaloneJobInfrastructureConfigurationDetails,
        jobStorageMountConfigurationOverrideDetailsList: [fsMount('h', 'hidden')],
      },
    });
    await sdkDone(local.jobRun.id);
  });

  test('a multi-node run gets the same mounts on every node', async () => {
    await osc.client.createBucket({ namespaceName: ns, createBucketDetails: { name: 'slurm-mn', compartmentId: s.compartmentId } });
    const py = [
      'import os, socket',
      'root = os.environ.get("DSJOBS_MOUNTS_ROOT", "")',
      'open(os.path.join(root + "/mnt/shared", "rank-%s.txt" % os.environ["RANK"]), "w").write(os.environ["SLURMD_NODENAME"])',
      'open(os.path.join(root + "/mnt/data", "mn-rank-%s.txt" % os.environ["RANK"]), "w").write("x")',
      '',
    ].join('\n');
    const jobId = await sdkJob('ranks.py', py, { ...twoNodes(), jobStorageMountConfigurationDetailsList: [bucketMount('slurm-mn', '', 'shared'), fsMount('data')] });
    const id = await sdkRun(jobId);
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'SUCCEEDED', `${done.lifecycleDetails} ${JSON.stringify(await readLogs(s, id))}`);
    const listed = await osc.client.listObjects({ namespaceName: ns, bucketName: 'slurm-mn' });
    assert.deepEqual(listed.listObjects.objects.map((o) => o.name).sort(), ['rank-0.txt', 'rank-1.txt']);
    const nodes = [];
    for (const r of [0, 1]) {
      const got = await osc.client.getObject({ namespaceName: ns, bucketName: 'slurm-mn', objectName: `rank-${r}.txt` });
      nodes.push((await readAll(got.value)).toString());
    }
    assert.deepEqual(nodes.sort(), ['node1', 'node2'], 'one replica per node, each wrote through its mount');
    assert.equal(readFileSync(path.join(exportDir, 'mn-rank-1.txt'), 'utf8'), 'x');
  });

  test("metrics from the node: the bytes its work and scratch directories take, and its GPUs' use from nvidia-smi", async () => {
    const sh = [
      'set -e',
      'head -c 20000000 /dev/zero > "$DSJOBS_SCRATCH_DIR/scratch.bin"',
      'head -c 10000000 /dev/zero > work.bin',
      'echo "gpus $SLURM_JOB_GPUS"',
      'sleep 4',
      '',
    ].join('\n');
    const jobId = await sdkJob('gpu.sh', sh, {
      jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Slurm.GPU1', blockStorageSizeInGBs: 50 } as ds.models.ManagedEgressStandaloneJobInfrastructureConfigurationDetails,
    });
    const id = await sdkRun(jobId);
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'SUCCEEDED', `${done.lifecycleDetails} ${JSON.stringify(await readLogs(s, id))}`);
    assert.deepEqual(await stdout(id), ['gpus 0']);
    // 30 MB of 50 GB of block storage asked for: 0.056%.
    const disk = await metric(id, 'DiskUtilization');
    assert.ok(disk.some((v) => v >= 0.05 && v <= 0.07), `disk from the node: ${disk}`);
    // The job's GPU (Slurm's index 0) only, not the node's other one.
    assert.ok((await metric(id, 'GpuUtilization')).includes(37), `GPU from the node: ${await metric(id, 'GpuUtilization')}`);
    assert.ok((await metric(id, 'GpuMemoryUtilization')).includes(25), `GPU memory from the node: ${await metric(id, 'GpuMemoryUtilization')}`);
  });

  test('block storage: a run that writes past its blockStorageSizeInGBs on the node is stopped and fails "block storage exhausted"', async () => {
    // A sparse file of 51 GB costs the host nothing, and counts whole (as it would have to fit in a 50 GB volume).
    const sh = ['set -e', 'truncate -s 51G "$DSJOBS_SCRATCH_DIR/big"', 'echo written', 'sleep 60', 'echo survived', ''].join('\n');
    const id = await sdkRun(await sdkJob('fill.sh', sh));
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'FAILED', `${done.lifecycleDetails}`);
    assert.match(done.lifecycleDetails ?? '', /block storage exhausted/, done.lifecycleDetails ?? '');
    assert.deepEqual(await stdout(id), ['written']);
    // Stopped by the guard, well before its 60 s sleep would have ended.
    assert.ok(Date.parse(String(done.timeFinished)) - Date.parse(String(done.timeStarted)) < 45_000, `${done.timeStarted} -> ${done.timeFinished}`);
  });

  test("a multi-node run's metrics are its nodes' together: CPU and memory summed over the replicas", async () => {
    // Once both replicas run and have been sampled, rank 0 holds ~300 MB for 4 s; rank 1 holds little and ends after
    // it. Summed over both 1 GB nodes memory is ~15%; rank 0's alone would be ~29%.
    const py = [
      'import json, os, time',
      'rank = int(os.environ["RANK"])',
      'def both():',
      '    try: return len(json.load(open(os.environ["CLUSTER_NODES_METADATA_FILE"]))) == 2',
      '    except (OSError, ValueError): return False',
      'while not both(): time.sleep(0.1)',
      'time.sleep(2.5)',
      'keep = bytearray(300 * 1024 * 1024) if rank == 0 else b""',
      'end = time.time() + (4 if rank == 0 else 6)',
      'while time.time() < end: pass',
      '',
    ].join('\n');
    const jobId = await sdkJob('mn-busy.py', py, twoNodes());
    const id = await sdkRun(jobId);
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'SUCCEEDED', `${done.lifecycleDetails} ${JSON.stringify(await readLogs(s, id))}`);
    const cpu = await metric(id, 'CpuUtilization');
    const mem = await metric(id, 'MemoryUtilization');
    assert.ok(cpu.some((v) => v > 10), `CPU of both nodes: ${cpu}`);
    assert.ok(mem.some((v) => v >= 10) && mem.every((v) => v < 25), `memory summed over both nodes: ${mem}`);
  });

  test("run outputs: a Slurm run's OUTPUT_DIR is copied to its oci:// OUTPUT_URI with the right size and md5", async () => {
    await osc.client.createBucket({ namespaceName: ns, createBucketDetails: { name: 'slurm-results', compartmentId: s.compartmentId } });
    const py = [
      'import os',
      'os.makedirs("outputs/sub", exist_ok=True)',
      'open("outputs/model.txt", "w").write("weights 1 2 3\\n")',
      'open("outputs/sub/big.bin", "wb").write(bytes(range(256)) * 1000)',
      'open("not-an-output.txt", "w").write("stays behind")',
      '',
    ].join('\n');
    const jobId = await sdkJob('outputs.py', py, {
      jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { OUTPUT_DIR: 'outputs', OUTPUT_URI: `oci://slurm-results@${ns}/runs/\${JOB_RUN_OCID}` } } as ds.models.DefaultJobConfigurationDetails,
    });
    const id = await sdkRun(jobId);
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'SUCCEEDED', `${done.lifecycleDetails} ${JSON.stringify(await readLogs(s, id))}`);
    assert.match(done.lifecycleDetails ?? '', new RegExp(`Outputs copied to oci://slurm-results@${ns}/runs/${id}/: 2 file\\(s\\)`));
    const listed = await osc.client.listObjects({ namespaceName: ns, bucketName: 'slurm-results', prefix: `runs/${id}/`, fields: 'name,size,md5' });
    const got = Object.fromEntries(listed.listObjects.objects.map((o) => [o.name, { size: o.size, md5: o.md5 }]));
    const big = Buffer.from(Array.from({ length: 256_000 }, (_, i) => i % 256));
    assert.deepEqual(got, {
      [`runs/${id}/model.txt`]: { size: 14, md5: md5(Buffer.from('weights 1 2 3\n')) },
      [`runs/${id}/sub/big.bin`]: { size: big.length, md5: md5(big) },
    });
    assert.ok((await stdout(id)).some((l) => l.startsWith(`[dsjobs] outputs: copied 2 file(s), ${14 + big.length} bytes`)), JSON.stringify(await stdout(id)));
  });

  test("SDK: a run overrides a multi-node job's node groups (replicas, variables, arguments); GetJobRun returns the override; bad overrides are refused naming the field", async () => {
    const py = 'import os, sys\nprint("rank %s of %s %s %s" % (os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["WHO"], sys.argv[1:]))\n';
    const workers: ds.models.JobNodeGroupConfigurationDetails = {
      ...group('workers'),
      jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { WHO: 'job', KEEP: 'kept' }, commandLineArguments: 'a' } as ds.models.DefaultJobConfigurationDetails,
    };
    const jobId = await sdkJob('override.py', py, {
      ...twoNodes(),
      jobNodeConfigurationDetails: { ...(twoNodes().jobNodeConfigurationDetails as ds.models.MultiNodeJobNodeConfigurationDetails), jobNodeGroupConfigurationDetailsList: [workers] },
    });
    const override = (groups: Record<string, unknown>[]) =>
      ({ jobNodeType: 'MULTI_NODE', jobNodeGroupConfigurationDetailsList: groups }) as unknown as ds.models.MultiNodeJobNodeConfigurationDetails;
    const refused = async (o: ds.models.MultiNodeJobNodeConfigurationDetails, job = jobId) => {
      const e = await sdk.client
        .createJobRun({ createJobRunDetails: { projectId, compartmentId: s.compartmentId, jobId: job, jobNodeConfigurationOverrideDetails: o } })
        .then(() => null, (err: { statusCode?: number; message?: string }) => err);
      assert.equal(e?.statusCode, 400, `refused: ${JSON.stringify(o)}`);
      return e!.message ?? '';
    };
    assert.match(await refused(override([{ name: 'nope', replicas: 2 }])), /jobNodeConfigurationOverrideDetails\.jobNodeGroupConfigurationDetailsList\[0\]\.name: must name a node group of the job \(workers\)/);
    assert.match(await refused(override([{ name: 'workers', replicas: 0 }])), /jobNodeConfigurationOverrideDetails\.jobNodeGroupConfigurationDetailsList\[0\]\.replicas: must be a whole number/);
    assert.match(
      await refused(override([{ name: 'workers', jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'MULTI_NODE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 } }])),
      /jobNodeConfigurationOverrideDetails\.jobNodeGroupConfigurationDetailsList\[0\]\.jobInfrastructureConfigurationDetails\.shapeName/,
    );
    const single = await sdkJob('single.sh', 'true\n');
    assert.match(await refused(override([{ name: 'workers' }]), single), /jobNodeConfigurationOverrideDetails: the job is not a multi-node job/);

    const given = override([
      { name: 'workers', replicas: 2, jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: { WHO: 'run' }, commandLineArguments: 'b c' } },
    ]);
    const id = (await sdk.client.createJobRun({ createJobRunDetails: { projectId, compartmentId: s.compartmentId, jobId, jobNodeConfigurationOverrideDetails: given } })).jobRun.id;
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'SUCCEEDED', `${done.lifecycleDetails} ${JSON.stringify(await readLogs(s, id))}`);
    const lines = (await stdout(id)).map((l) => l.replace(/^\[\S+ rank \d+\] /, '')).sort();
    assert.deepEqual(lines, ["rank 0 of 2 run ['b', 'c']", "rank 1 of 2 run ['b', 'c']"]);
    const got = done.jobNodeConfigurationOverrideDetails as ds.models.MultiNodeJobNodeConfigurationDetails;
    assert.equal(got?.jobNodeType, 'MULTI_NODE');
    assert.equal(got.jobNodeGroupConfigurationDetailsList?.[0]?.name, 'workers');
    assert.equal(got.jobNodeGroupConfigurationDetailsList?.[0]?.replicas, 2);
    assert.deepEqual(done.nodeGroupDetailsList?.map((g) => [g.name, g.lifecycleState, g.lifecycleDetails]), [['workers', 'DELETED', '2 of 2 replicas succeeded']]);
  });
});
