/**
 * Container jobs end to end through the UNMODIFIED official `oci-datascience` SDK, on a real Docker Engine: a job of
 * an image with no artifact, env and argument overrides, a run's environment override, a failing container, cancel of
 * one that traps SIGTERM, a digest mismatch, a missing image; the engine's socket reachable neither from a container
 * run nor from a local run; CPU and memory metrics of a container run; a container run reaching the API; after a restart, a container of a run the store knows as ended is removed and one of a
 * run it does not know is left alone; a server with containers off refuses container jobs at create, saying why.
 * (OOM, exit codes, output, maximum runtime and re-attach after SIGKILL: test/e2e/conformance-docker.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as ds from 'oci-datascience';
import type { DataScienceClient } from 'oci-datascience';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli.js';
import { createJob, readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';
import { expectOciError, makeIdentityClient, makeObjectStorageClient, makeOciClient } from '../support/oci-sdk-client.js';
import { BUSYBOX_IMAGE, containersOf, docker, dockerReady, TOOLS_IMAGE } from '../support/docker.js';

const skip = dockerReady();

function hasNvidiaSmi(): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, 'nvidia-smi')));
}

/** Tries the Docker socket from inside a run: prints what it found. */
const PROBE_PY = [
  'import socket',
  'for p in ["/var/run/docker.sock", "/run/docker.sock"]:',
  '    s = socket.socket(socket.AF_UNIX)',
  '    try:',
  '        s.connect(p)',
  '        print("REACHED " + p)',
  '    except OSError as e:',
  '        print("unreachable " + p + ": " + type(e).__name__)',
].join('\n');

describe('container jobs (official SDK, Docker Engine)', { skip: skip ?? false }, () => {
  let s: TestServer;
  let client: DataScienceClient;
  let closeClient: () => void;
  let projectId: string;

  before(async () => {
    // Metrics every 0.5 s (5 s by default): the metrics test sees a few rounds in a short run.
    s = await startServer({ env: { DSJOBS_METRICS_INTERVAL_MS: '500' } });
    ({ client, close: closeClient } = makeOciClient(s.url, s.configFile));
    projectId = (await client.createProject({ createProjectDetails: { compartmentId: s.compartmentId, displayName: 'containers' } })).project.id;
  });
  after(async () => {
    closeClient?.();
    await s?.close();
  });

  async function containerJob(env: ds.models.OcirContainerJobEnvironmentConfigurationDetails, more: Partial<ds.models.DefaultJobConfigurationDetails> = {}) {
    const r = await client.createJob({
      createJobDetails: {
        projectId,
        compartmentId: s.compartmentId,
        jobConfigurationDetails: { jobType: 'DEFAULT', ...more } as ds.models.DefaultJobConfigurationDetails,
        jobInfrastructureConfigurationDetails: {
          jobInfrastructureType: 'ME_STANDALONE',
          shapeName: 'Local.Light',
          blockStorageSizeInGBs: 50,
        } as ds.models.StandaloneJobInfrastructureConfigurationDetails,
        jobEnvironmentConfigurationDetails: env,
      },
    });
    return r.job;
  }

  async function run(jobId: string, extra: Partial<ds.models.CreateJobRunDetails> = {}) {
    const r = await client.createJobRun({ createJobRunDetails: { projectId, compartmentId: s.compartmentId, jobId, ...extra } });
    return r.jobRun;
  }

  const stdout = async (runId: string) => (await readLogs(s, runId)).filter((l) => l.stream === 'stdout').map((l) => l.message);

  test('a container job is ACTIVE without an artifact; env and argument overrides reach the container; a run may override the image and command', async () => {
    const job = await containerJob(
      { jobEnvironmentType: 'OCIR_CONTAINER', image: BUSYBOX_IMAGE, entrypoint: ['sh', '-c', 'echo "greeting=$GREETING mode=$MODE run=$JOB_RUN_OCID"; echo "args=$*"', 'sh'], cmd: ['from-cmd'] },
      { environmentVariables: { GREETING: 'hello', MODE: 'job' }, commandLineArguments: 'job-arg' },
    );
    assert.equal(job.lifecycleState, 'ACTIVE');
    assert.equal((job.jobEnvironmentConfigurationDetails as ds.models.OcirContainerJobEnvironmentConfigurationDetails).image, BUSYBOX_IMAGE);
    const r1 = await run(job.id, {
      jobConfigurationOverrideDetails: { jobType: 'DEFAULT', environmentVariables: { MODE: 'run' }, commandLineArguments: `"two words" x` } as ds.models.DefaultJobConfigurationDetails,
    });
    const d1 = await waitForRun(s.api, r1.id, undefined, 60_000);
    assert.equal(d1.lifecycleState, 'SUCCEEDED', d1.lifecycleDetails ?? '');
    assert.deepEqual(await stdout(r1.id), [`greeting=hello mode=run run=${r1.id}`, 'args=from-cmd two words x']);

    const r2 = await run(job.id, {
      jobEnvironmentConfigurationOverrideDetails: { jobEnvironmentType: 'OCIR_CONTAINER', image: TOOLS_IMAGE, cmd: ['bash', '-c', 'echo "bash $BASH_VERSINFO"'] } as ds.models.OcirContainerJobEnvironmentConfigurationDetails,
    });
    const d2 = await waitForRun(s.api, r2.id, undefined, 60_000);
    assert.equal(d2.lifecycleState, 'SUCCEEDED', d2.lifecycleDetails ?? '');
    assert.match((await stdout(r2.id))[0] ?? '', /^bash \d+$/);
    const got = (await client.getJobRun({ jobRunId: r2.id })).jobRun;
    assert.equal((got.jobEnvironmentConfigurationOverrideDetails as ds.models.OcirContainerJobEnvironmentConfigurationDetails).image, TOOLS_IMAGE);
  });

  test('a failing container fails with its exit code; a cancel reaches a container that traps SIGTERM', async () => {
    const failing = await containerJob({ jobEnvironmentType: 'OCIR_CONTAINER', image: BUSYBOX_IMAGE, cmd: ['sh', '-c', 'echo failing >&2; exit 3'] });
    const f = await waitForRun(s.api, (await run(failing.id)).id, undefined, 60_000);
    assert.equal(f.lifecycleState, 'FAILED');
    assert.equal(f.exitCode, 3);

    const trapping = await containerJob({
      jobEnvironmentType: 'OCIR_CONTAINER',
      image: BUSYBOX_IMAGE,
      cmd: ['sh', '-c', `trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done`],
    });
    const r = await run(trapping.id);
    const until = Date.now() + 30_000;
    while (!(await stdout(r.id)).includes('ready')) {
      assert.ok(Date.now() < until, 'the container never printed ready');
      await new Promise((res) => setTimeout(res, 50));
    }
    await client.cancelJobRun({ jobRunId: r.id });
    const c = await waitForRun(s.api, r.id, undefined, 60_000);
    assert.equal(c.lifecycleState, 'CANCELED', c.lifecycleDetails ?? '');
    assert.deepEqual(await stdout(r.id), ['ready', 'got TERM']);
    assert.deepEqual(containersOf(r.id), [], 'the ended run’s container is removed');
  });

  test('a digest mismatch and a missing image fail the run, saying which image and why', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    const mismatch = await containerJob({ jobEnvironmentType: 'OCIR_CONTAINER', image: BUSYBOX_IMAGE, imageDigest: wrong, cmd: ['true'] });
    const m = await waitForRun(s.api, (await run(mismatch.id)).id, undefined, 60_000);
    assert.equal(m.lifecycleState, 'FAILED');
    assert.match(m.lifecycleDetails ?? '', new RegExp(`image ${BUSYBOX_IMAGE} does not have the digest ${wrong}`));
    // The right digest (the image's id) runs.
    const id = docker('image', 'inspect', '--format', '{{.Id}}', BUSYBOX_IMAGE).trim();
    const right = await containerJob({ jobEnvironmentType: 'OCIR_CONTAINER', image: BUSYBOX_IMAGE, imageDigest: id, cmd: ['true'] });
    const ok = await waitForRun(s.api, (await run(right.id)).id, undefined, 60_000);
    assert.equal(ok.lifecycleState, 'SUCCEEDED', ok.lifecycleDetails ?? '');

    const missing = await containerJob({ jobEnvironmentType: 'OCIR_CONTAINER', image: 'localhost:1/dsjobs-test/missing:1', cmd: ['true'] });
    const x = await waitForRun(s.api, (await run(missing.id)).id, undefined, 60_000);
    assert.equal(x.lifecycleState, 'FAILED');
    assert.match(x.lifecycleDetails ?? '', /image localhost:1\/dsjobs-test\/missing:1 is not on this host and could not be pulled: \S/);
  });

  test("block storage: the container's working directory is the run's pooled volume; filling it fails the run saying block storage exhausted", async () => {
    const fill = [
      'set -u',
      'size=$(df -B1 . | tail -1 | awk \'{print $2}\')',
      'echo "size $size"',
      '# Never fill a host disk: only go on inside a volume of about 50 GB.',
      'if [ "$size" -gt $((60 * 1024 * 1024 * 1024)) ]; then echo "the work dir is not a 50 GB volume"; exit 3; fi',
      'fallocate -l 60G big 2>&1 || echo "fallocate refused"',
      'if head -c 4194304 /dev/zero > more.bin 2>/dev/null; then echo "wrote past the volume"; exit 4; fi',
      'echo full',
      'exit 1',
    ].join('\n');
    const job = await containerJob({ jobEnvironmentType: 'OCIR_CONTAINER', image: BUSYBOX_IMAGE, cmd: ['sh', '-c', fill] });
    const r = await waitForRun(s.api, (await run(job.id)).id, undefined, 60_000);
    const out = await stdout(r.id);
    assert.equal(r.lifecycleState, 'FAILED', out.join('\n'));
    assert.ok(out.includes('full'), out.join('\n'));
    const size = Number(out.find((m) => m.startsWith('size '))?.slice(5));
    assert.ok(size > 45e9 && size < 54e9, `volume size ${size}`);
    assert.match(r.lifecycleDetails ?? '', /block storage exhausted/, r.lifecycleDetails ?? '');
    assert.equal(r.isolationDetails?.blockStorage, 'VOLUME');
  });

  test("metrics: a container run burning CPU and holding ~100 MB shows both in its series (percent of its shape) and in Prometheus /metrics", async () => {
    const burn = "hold = b'x' * (100 << 20)\nprint('holding', flush=True)\nwhile True: pass";
    const job = await containerJob({ jobEnvironmentType: 'OCIR_CONTAINER', image: TOOLS_IMAGE, cmd: ['python3', '-c', burn] });
    const r = await run(job.id);
    try {
      const url = `${s.url}/20190101/jobRuns/${r.id}/metrics`;
      type Series = { name: string; datapoints: { value: number }[] };
      let by: Record<string, number[]> = {};
      // Local.Light: 0.25 CPU and 0.5 GB, so a busy loop is ~100 % CPU, and 100 MB plus python ~20-25 % memory.
      for (const until = Date.now() + 60_000; ; ) {
        const body = (await (await s.fetch(url)).json()) as { items: Series[] };
        by = Object.fromEntries(body.items.map((i) => [i.name, i.datapoints.map((d) => d.value)]));
        if (by.CpuUtilization!.some((v) => v > 20) && by.MemoryUtilization!.some((v) => v >= 18)) break;
        assert.ok(Date.now() < until, `no CPU and memory use seen: ${JSON.stringify(by)}`);
        await new Promise((res) => setTimeout(res, 250));
      }
      assert.ok(Math.max(...by.MemoryUtilization!) < 50, JSON.stringify(by.MemoryUtilization));
      assert.ok(by.CpuUtilization!.every((v) => v >= 0 && v <= 150), JSON.stringify(by.CpuUtilization));
      // Its block storage volume, nearly empty.
      assert.ok(by.DiskUtilization!.length > 0 && by.DiskUtilization!.every((v) => v >= 0 && v < 5), JSON.stringify(by.DiskUtilization));
      assert.deepEqual(by.GpuUtilization, []);
      const prom = await (await s.fetch(`${s.url}/metrics`)).text();
      const id = r.id.replace(/\./g, '\\.');
      assert.match(prom, new RegExp(`^dsjobs_job_run_cpu_utilization_percent\\{job_run_id="${id}"\\} [0-9.e+-]+$`, 'm'));
      const bytes = Number(new RegExp(`^dsjobs_job_run_memory_bytes\\{job_run_id="${id}"\\} (\\d+)`, 'm').exec(prom)?.[1]);
      assert.ok(bytes > 100 * 1024 ** 2, `memory bytes ${bytes}`);
    } finally {
      await client.cancelJobRun({ jobRunId: r.id });
    }
    assert.equal((await waitForRun(s.api, r.id, undefined, 60_000)).lifecycleState, 'CANCELED');
  });

  test('on a host without GPUs (no nvidia-smi, as here and in CI) the start-up report says containers get none', { skip: hasNvidiaSmi() ? 'this host has nvidia-smi' : false }, async () => {
    const line = /protection OFF: containers: GPUs: the host has none/;
    for (const until = Date.now() + 30_000; !line.test(s.output()) && Date.now() < until; ) await new Promise((res) => setTimeout(res, 50));
    assert.match(s.output(), line);
  });

  test("a container run reaches the API at its DSJOBS_ENDPOINT: the bridge's gateway, forwarded to the loopback API; the start-up report says so", async () => {
    // A policy for the runs of this compartment: they get a principal, and with it DSJOBS_ENDPOINT.
    const tenancy = (await s.api.serverInfo()).tenancyId;
    const identity = makeIdentityClient(s.url, s.configFile);
    try {
      await identity.client.createDynamicGroup({
        createDynamicGroupDetails: {
          compartmentId: tenancy,
          name: 'container-runs',
          description: 'container runs',
          matchingRule: `ALL {resource.type = 'datasciencejobrun', resource.compartment.id = '${s.compartmentId}'}`,
        },
      });
      await identity.client.createPolicy({
        createPolicyDetails: { compartmentId: tenancy, name: 'container-runs', description: 'x', statements: ['Allow dynamic-group container-runs to read data-science-job-runs in tenancy'] },
      });
    } finally {
      identity.close();
    }
    const probe = [
      'import json, os, urllib.request, urllib.error',
      'e = os.environ.get("DSJOBS_ENDPOINT")',
      'print("endpoint", e)',
      'try:',
      '    urllib.request.urlopen(e + "/20190101/jobRuns/" + os.environ["JOB_RUN_OCID"], timeout=30)',
      '    print("status 200")',
      'except urllib.error.HTTPError as x:',
      '    print("status", x.code, json.load(x).get("code"))',
      'except Exception as x:',
      '    print("unreachable", x)',
    ].join('\n');
    const job = await containerJob({ jobEnvironmentType: 'OCIR_CONTAINER', image: TOOLS_IMAGE, cmd: ['python3', '-c', probe] });
    const r = await waitForRun(s.api, (await run(job.id)).id, undefined, 60_000);
    assert.equal(r.lifecycleState, 'SUCCEEDED', r.lifecycleDetails ?? '');
    const gateway = docker('network', 'inspect', 'bridge', '--format', '{{(index .IPAM.Config 0).Gateway}}').trim();
    const port = new URL(s.url).port;
    // The API answered (an unsigned request: 401, in OCI's error form), through the gateway at the API's own port.
    assert.deepEqual(await stdout(r.id), [`endpoint http://${gateway}:${port}`, 'status 401 NotAuthenticated']);
    assert.match(s.output(), new RegExp(`protection on: containers: runs on the bridge reach the API at http://${gateway.replace(/\./g, '\\.')}:${port} `));
  });

  test('bad container configuration is refused at create, naming the field', async () => {
    const e = await expectOciError(() => containerJob({ jobEnvironmentType: 'OCIR_CONTAINER', image: '' }));
    assert.equal(e.statusCode, 400);
    assert.match(e.message, /jobEnvironmentConfigurationDetails\.image: is required/);
  });

  test('the Docker socket is reachable neither from a container run nor from a local run', async () => {
    const inContainer = await createJob(s, 'probe.py', PROBE_PY, {
      environment: { jobEnvironmentType: 'OCIR_CONTAINER', image: TOOLS_IMAGE, entrypoint: ['python3', '/home/datascience/probe.py'] },
    });
    const local = await createJob(s, 'probe.py', PROBE_PY);
    for (const job of [inContainer, local]) {
      const r = await s.api.createJobRun({ projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id });
      const done = await waitForRun(s.api, r.id, undefined, 60_000);
      assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
      const out = await stdout(r.id);
      assert.equal(out.length, 2, out.join('\n'));
      assert.ok(out.every((l) => l.startsWith('unreachable ')), `${job.id === local.id ? 'local' : 'container'} run: ${out.join('; ')}`);
    }
  });

  test('after a restart: a container of a run the store knows as ended is removed; one of an unknown run is left alone', async () => {
    const job = await containerJob({ jobEnvironmentType: 'OCIR_CONTAINER', image: BUSYBOX_IMAGE, cmd: ['true'] });
    const ended = await waitForRun(s.api, (await run(job.id)).id, undefined, 60_000);
    assert.equal(ended.lifecycleState, 'SUCCEEDED');
    // What a cleanup cut short by a kill leaves behind, and another server's container on the same engine.
    const unknownRun = 'ocid1.datasciencejobrun.oc1.local.notknownhere';
    const leftover = docker('create', '--label', `com.dsjobs.run-id=${ended.id}`, BUSYBOX_IMAGE, 'true').trim();
    const foreign = docker('create', '--label', `com.dsjobs.run-id=${unknownRun}`, BUSYBOX_IMAGE, 'true').trim();
    try {
      s = await s.restart();
      // The restarted server listens on another port.
      closeClient();
      ({ client, close: closeClient } = makeOciClient(s.url, s.configFile));
      const until = Date.now() + 30_000;
      while (containersOf(ended.id).length > 0) {
        assert.ok(Date.now() < until, `container ${leftover} of the ended run was not removed`);
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(containersOf(unknownRun).length, 1, 'the unknown run’s container is left alone');
    } finally {
      for (const id of [leftover, foreign]) {
        try {
          docker('rm', '-f', id);
        } catch {
          /* removed by the server already */
        }
      }
    }
  });

  test('dsjobs image load FILE.tar (a docker save tarball) and image list; a job runs the loaded image; a bad tarball is refused naming the body', async () => {
    const tag = 'dsjobs-test/loaded:1';
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-image-'));
    const tar = path.join(dir, 'image.tar');
    docker('tag', BUSYBOX_IMAGE, tag);
    docker('save', '-o', tar, tag);
    docker('rmi', tag);
    try {
      const cli = (args: string[]) => runCli(args, { env: { DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir } });
      const load = await cli(['image', 'load', tar]);
      assert.equal(load.code, 0, load.stderr);
      assert.match(load.stdout, new RegExp(`loaded ${tag}`));
      const list = await cli(['image', 'list', '--json']);
      assert.equal(list.code, 0, list.stderr);
      assert.ok((JSON.parse(list.stdout) as { repoTags: string[] }[]).some((i) => i.repoTags.includes(tag)), list.stdout);
      const job = await containerJob({ jobEnvironmentType: 'OCIR_CONTAINER', image: tag, cmd: ['echo', 'from the loaded image'] });
      const r = await waitForRun(s.api, (await run(job.id)).id, undefined, 60_000);
      assert.equal(r.lifecycleState, 'SUCCEEDED', r.lifecycleDetails ?? '');
      assert.deepEqual(await stdout(r.id), ['from the loaded image']);
      writeFileSync(path.join(dir, 'bad.tar'), 'not a tarball');
      const bad = await cli(['image', 'load', path.join(dir, 'bad.tar')]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /body: not a docker save tarball the engine could load/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      try {
        docker('rmi', tag);
      } catch {
        /* not loaded */
      }
    }
  });

  test("run outputs: a container run's OUTPUT_DIR (in its working directory) is copied to its oci:// OUTPUT_URI with the right size and md5", async () => {
    const osc = makeObjectStorageClient(s.url, s.configFile);
    try {
      const ns = (await osc.client.getNamespace({})).value;
      await osc.client.createBucket({ namespaceName: ns, createBucketDetails: { name: 'container-results', compartmentId: s.compartmentId } });
      const job = await containerJob(
        { jobEnvironmentType: 'OCIR_CONTAINER', image: BUSYBOX_IMAGE, cmd: ['sh', '-c', 'mkdir -p outputs/sub && printf "weights 1 2 3" > outputs/model.txt && head -c 100000 /dev/zero > outputs/sub/zeros.bin'] },
        { environmentVariables: { OUTPUT_DIR: 'outputs', OUTPUT_URI: `oci://container-results@${ns}/r/\${JOB_RUN_OCID}` } },
      );
      const r = await run(job.id);
      const done = await waitForRun(s.api, r.id, undefined, 60_000);
      assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
      assert.match(done.lifecycleDetails ?? '', /Outputs copied to oci:\/\/container-results@\S+: 2 file\(s\)/);
      const listed = await osc.client.listObjects({ namespaceName: ns, bucketName: 'container-results', prefix: `r/${r.id}/`, fields: 'name,size,md5' });
      const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');
      assert.deepEqual(
        Object.fromEntries(listed.listObjects.objects.map((o) => [o.name, [o.size, o.md5]])),
        { [`r/${r.id}/model.txt`]: [13, md5(Buffer.from('weights 1 2 3'))], [`r/${r.id}/sub/zeros.bin`]: [100_000, md5(Buffer.alloc(100_000))] },
      );
    } finally {
      osc.close();
    }
  });

  test('with containers off, the start-up report says so and container jobs are refused at create, saying why', async () => {
    const off = await startServer({ env: { DSJOBS_CONTAINERS_ENABLED: 'off' } });
    const o = makeOciClient(off.url, off.configFile);
    try {
      // The report goes on after the line startServer waits for.
      const line = /protection OFF: containers: container jobs are off \(config containers\.enabled\)/;
      for (const until = Date.now() + 30_000; !line.test(off.output()) && Date.now() < until; ) await new Promise((res) => setTimeout(res, 50));
      assert.match(off.output(), line);
      const project = (await o.client.createProject({ createProjectDetails: { compartmentId: off.compartmentId } })).project;
      const e = await expectOciError(() =>
        o.client.createJob({
          createJobDetails: {
            projectId: project.id,
            compartmentId: off.compartmentId,
            jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'Local.Light', blockStorageSizeInGBs: 50 } as ds.models.StandaloneJobInfrastructureConfigurationDetails,
            jobEnvironmentConfigurationDetails: { jobEnvironmentType: 'OCIR_CONTAINER', image: BUSYBOX_IMAGE } as ds.models.OcirContainerJobEnvironmentConfigurationDetails,
          },
        }),
      );
      assert.equal(e.statusCode, 400);
      assert.match(e.message, /jobEnvironmentConfigurationDetails: this server cannot run containers: container jobs are off/);
    } finally {
      o.close();
      await off.close();
    }
  });
});
