/**
 * Multi-node jobs on a Slurm cluster, through the official oci-datascience SDK: OCI's jobNodeConfigurationDetails
 * (MULTI_NODE) accepted, stored and returned as the SDK sends it; a run is one Slurm job across both nodes whose
 * replicas get the distributed-training variables and whose output lands in the run's one log labelled by node and
 * rank; minimumSuccessReplicas decides the outcome; nodeGroupDetailsList reports each group; IN_ORDER starts a group
 * once the previous one runs; a cancel reaches every node; an ADS `pyTorchDistributed` YAML through
 * `dsjobs job create -f` becomes such a job and `dsjobs job get --yaml` writes it back; a server without a cluster
 * refuses such a job naming the field. One two-node cluster
 * (2 CPUs, 4000 MB each) and one server for the file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../support/cli.js';
import type * as ds from 'oci-datascience';
import { readLogs, startServer, type TestServer } from '../support/server.js';
import { makeOciClient } from '../support/oci-sdk-client.js';
import { slurmMissing, slurmServerConfig, startSlurmCluster, type SlurmCluster } from '../support/slurm.js';
import { until } from '../support/until.js';

const missing = await slurmMissing();

/** A node group as the SDK's MultiNodeJobNodeConfigurationDetails has it. */
function group(name: string, replicas: number, o: { min?: number; env?: Record<string, string>; args?: string } = {}): ds.models.JobNodeGroupConfigurationDetails {
  return {
    name,
    replicas,
    ...(o.min !== undefined ? { minimumSuccessReplicas: o.min } : {}),
    jobInfrastructureConfigurationDetails: {
      jobInfrastructureType: 'MULTI_NODE',
      shapeName: 'Slurm.Small',
      blockStorageSizeInGBs: 50,
    } as ds.models.MultiNodeJobInfrastructureConfigurationDetails,
    jobConfigurationDetails: { jobType: 'DEFAULT', environmentVariables: o.env, commandLineArguments: o.args } as ds.models.DefaultJobConfigurationDetails,
  };
}

function multiNode(groups: ds.models.JobNodeGroupConfigurationDetails[], startupOrder: 'IN_PARALLEL' | 'IN_ORDER' = 'IN_PARALLEL'): ds.models.MultiNodeJobNodeConfigurationDetails {
  return {
    jobNodeType: 'MULTI_NODE',
    startupOrder: startupOrder as ds.models.MultiNodeJobNodeConfigurationDetails.StartupOrder,
    maximumRuntimeInMinutes: 10,
    jobNetworkConfiguration: { jobNetworkType: 'DEFAULT_NETWORK' } as ds.models.JobDefaultNetworkConfiguration,
    jobNodeGroupConfigurationDetailsList: groups,
  };
}

// Prints what a torchrun-launched process reads (torch itself is not installed here, and not needed to prove the
// wiring: torchrun would read the same MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK from its environment).
const RANKS_PY = [
  'import os, sys',
  'e = os.environ',
  'print("rank %s of %s node_rank %s local %s nodes %s master %s:%s group %s args %s meta %s" % (e["RANK"], e["WORLD_SIZE"], e["NODE_RANK"], e["LOCAL_RANK"], e["NODE_COUNT"], bool(e["MASTER_ADDR"]), e["MASTER_PORT"].isdigit(), e["NODE_GROUP_NAME"], sys.argv[1:], e["CLUSTER_NODES_METADATA_FILE"].endswith("cluster-nodes.json")))',
  'print("to stderr", file=sys.stderr)',
  'sys.exit(int(e.get("FAIL_RANK", "-1") == e["RANK"]) * 3)',
  '',
].join('\n');

describe('multi-node jobs on a Slurm cluster', { skip: missing ?? false }, () => {
  let cluster: SlurmCluster;
  let s: TestServer;
  let sdk: { client: ds.DataScienceClient; close(): void };
  let projectId: string;

  before(async () => {
    cluster = await startSlurmCluster();
    s = await startServer({ config: slurmServerConfig(cluster), env: { DSJOBS_GRACE_PERIOD_MS: '2000' } });
    sdk = makeOciClient(s.url, s.configFile);
    projectId = (await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'mn' })).id;
  });
  after(async () => {
    sdk?.close();
    await s?.close();
    await cluster?.stop();
  });

  async function sdkJob(nodes: ds.models.MultiNodeJobNodeConfigurationDetails, artifact = RANKS_PY): Promise<ds.models.Job> {
    const { job } = await sdk.client.createJob({
      createJobDetails: {
        projectId,
        compartmentId: s.compartmentId,
        displayName: 'multi-node',
        // What the SDK (and ADS) send for a multi-node job: the job-level configuration is OCI's EMPTY placeholder.
        jobConfigurationDetails: { jobType: 'EMPTY' } as ds.models.EmptyJobConfigurationDetails,
        jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'EMPTY' } as ds.models.EmptyJobInfrastructureConfigurationDetails,
        jobNodeConfigurationDetails: nodes,
      },
    });
    await sdk.client.createJobArtifact({ jobId: job.id, jobArtifact: Buffer.from(artifact), contentDisposition: 'attachment; filename=ranks.py' });
    return job;
  }
  async function sdkRun(jobId: string, project = projectId, compartmentId = s.compartmentId): Promise<string> {
    const r = await sdk.client.createJobRun({ createJobRunDetails: { projectId: project, compartmentId, jobId } });
    return r.jobRun.id;
  }
  const sdkGet = async (id: string) => (await sdk.client.getJobRun({ jobRunId: id })).jobRun;
  const sdkDone = (id: string) =>
    until(`run ${id} to end`, async () => {
      const r = await sdkGet(id);
      return ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(r.lifecycleState) ? r : null;
    });
  const lines = async (id: string, stream: 'stdout' | 'stderr') => (await readLogs(s, id)).filter((l) => l.stream === stream).map((l) => l.message).sort();

  test('SDK: a 2-node job is stored as sent; its run is one Slurm job whose ranks print rank and world size, labelled by node', async () => {
    const job = await sdkJob(multiNode([group('workers', 2, { args: 'a "b c"' })]));
    const got = (await sdk.client.getJob({ jobId: job.id })).job;
    const nodes = got.jobNodeConfigurationDetails as ds.models.MultiNodeJobNodeConfigurationDetails;
    assert.equal(nodes.jobNodeType, 'MULTI_NODE');
    assert.equal(nodes.startupOrder, 'IN_PARALLEL');
    assert.equal(nodes.maximumRuntimeInMinutes, 10);
    const g = nodes.jobNodeGroupConfigurationDetailsList![0]!;
    assert.deepEqual([g.name, g.replicas, g.minimumSuccessReplicas], ['workers', 2, 2], 'minimumSuccessReplicas defaults to replicas');
    assert.equal((g.jobInfrastructureConfigurationDetails as ds.models.MultiNodeJobInfrastructureConfigurationDetails).shapeName, 'Slurm.Small');
    assert.equal(got.jobInfrastructureConfigurationDetails?.jobInfrastructureType, 'EMPTY');

    const id = await sdkRun(job.id);
    const created = await sdkGet(id);
    assert.deepEqual(created.nodeGroupDetailsList?.map((x) => [x.name, x.lifecycleState]), [['workers', 'CREATING']]);
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails);
    const out = await lines(id, 'stdout');
    assert.deepEqual(out, [
      `[node1 rank 0] rank 0 of 2 node_rank 0 local 0 nodes 2 master True:True group workers args ['a', 'b c'] meta True`,
      `[node2 rank 1] rank 1 of 2 node_rank 1 local 0 nodes 2 master True:True group workers args ['a', 'b c'] meta True`,
    ]);
    assert.deepEqual(await lines(id, 'stderr'), ['[node1 rank 0] to stderr', '[node2 rank 1] to stderr']);
    assert.deepEqual(done.nodeGroupDetailsList, [{ name: 'workers', lifecycleState: 'DELETED', lifecycleDetails: '2 of 2 replicas succeeded' }]);
    // ADS's CLUSTER_NODES_METADATA_FILE: every node's rank and address.
    const meta = JSON.parse(readFileSync(path.join(cluster.sharedDir, 'runs', id, 'cluster-nodes.json'), 'utf8'));
    assert.deepEqual(meta.map((m: { Rank: number }) => m.Rank), [0, 1]);
    assert.ok(meta.every((m: { IPAddress: string }) => m.IPAddress !== ''));
    // One Slurm job across both nodes.
    const rec = await s.api.getJobRun(id);
    assert.match(rec.isolationDetails?.warnings.join(' ') ?? '', /one Slurm job of 2 nodes/);
  });

  test('minimumSuccessReplicas: one failing replica of two is tolerated with a minimum of 1, fails the run with a minimum of 2', async () => {
    const tolerant = await sdkJob(multiNode([group('workers', 2, { min: 1, env: { FAIL_RANK: '1' } })]));
    const strict = await sdkJob(multiNode([group('workers', 2, { env: { FAIL_RANK: '1' } })]));
    const [a, b] = await Promise.all([sdkRun(tolerant.id), sdkRun(strict.id)]);
    const ok = await sdkDone(a);
    assert.equal(ok.lifecycleState, 'SUCCEEDED', ok.lifecycleDetails);
    assert.deepEqual(ok.nodeGroupDetailsList, [{ name: 'workers', lifecycleState: 'DELETED', lifecycleDetails: '1 of 2 replicas succeeded' }]);
    const bad = await sdkDone(b);
    assert.equal(bad.lifecycleState, 'FAILED');
    assert.match(bad.lifecycleDetails ?? '', /exit code 3/);
    assert.equal(bad.nodeGroupDetailsList?.[0]?.lifecycleState, 'FAILED');
    assert.match(bad.nodeGroupDetailsList?.[0]?.lifecycleDetails ?? '', /^1 of 2 replicas succeeded, 2 needed; rank 1 on node2: exit code 3$/);
  });

  test('IN_ORDER: the second group starts once the first group runs; groups report ACTIVE while they run', async () => {
    // The second group's process finds the first's already running (its node-side start record), and the first
    // waits for the second's: IN_ORDER started the second group once the first ran, not after it ended. Both then
    // run 3 s more, so both groups are seen ACTIVE.
    const py = [
      'import os, time',
      'd = os.path.join(os.environ["HOME"], "..", "order")',
      'os.makedirs(d, exist_ok=True)',
      'g = os.environ["NODE_GROUP_NAME"]',
      'open(os.path.join(d, g), "w").close()',
      'if g == "first":',
      '    while not os.path.exists(os.path.join(d, "second")): time.sleep(0.1)',
      '    time.sleep(3)',
      '    print("first saw second")',
      'else:',
      '    print("second saw first", os.path.exists(os.path.join(os.environ["HOME"], "..", "nodes", "0.started")))',
      '    time.sleep(3)',
      '',
    ].join('\n');
    const job = await sdkJob(multiNode([group('first', 1), group('second', 1)], 'IN_ORDER'), py);
    const id = await sdkRun(job.id);
    const active = await until('both groups ACTIVE', async () => {
      const r = await sdkGet(id);
      return r.nodeGroupDetailsList?.every((x) => x.lifecycleState === 'ACTIVE') ? r : null;
    });
    assert.equal(active.lifecycleState, 'IN_PROGRESS');
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails);
    assert.deepEqual(await lines(id, 'stdout'), ['[node1 rank 0] first saw second', '[node2 rank 1] second saw first True']);
    assert.deepEqual(done.nodeGroupDetailsList?.map((x) => x.lifecycleState), ['DELETED', 'DELETED']);
  });

  test('SDK: a cancel reaches every node: each replica gets SIGTERM, and the run ends CANCELED', async () => {
    const py = [
      'import os, signal, sys, time',
      'def term(*a):',
      // Slurm signals every process of a step, and the replica's supervisor passes the signal on: once is enough.
      '    signal.signal(signal.SIGTERM, signal.SIG_IGN)',
      '    print("got TERM", flush=True)',
      '    sys.exit(0)',
      'signal.signal(signal.SIGTERM, term)',
      'print("ready", flush=True)',
      'while True: time.sleep(0.1)',
      '',
    ].join('\n');
    const job = await sdkJob(multiNode([group('workers', 2)]), py);
    const id = await sdkRun(job.id);
    await until('both ranks to be ready', async () => (await lines(id, 'stdout')).length === 2);
    await sdk.client.cancelJobRun({ jobRunId: id });
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'CANCELED', done.lifecycleDetails);
    assert.deepEqual(await lines(id, 'stdout'), ['[node1 rank 0] got TERM', '[node1 rank 0] ready', '[node2 rank 1] got TERM', '[node2 rank 1] ready']);
  });

  test('CLI: an ADS pyTorchDistributed YAML becomes a 2-node job whose ranks run the command; job get --yaml writes it back', async (t) => {
    // The command stands in for `torchrun train.py`: torch is not installed here, and torchrun would only read the
    // same variables; the driver's torchrun rewriting (--nnodes, --node_rank, --master_addr/port) is not run.
    const d = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-mn-cli-'));
    t.after(() => rmSync(d, { recursive: true, force: true }));
    writeFileSync(path.join(d, 'ranks.py'), RANKS_PY);
    const spec = [
      'kind: job',
      'spec:',
      '  name: ddp',
      '  infrastructure:',
      '    kind: infrastructure',
      '    type: dataScienceJob',
      '    spec:',
      '      shapeName: Slurm.Small',
      '  runtime:',
      '    kind: runtime',
      '    type: pyTorchDistributed',
      '    spec:',
      '      replicas: 2',
      '      scriptPathURI: ranks.py',
      '      command: python3 ranks.py --epochs',
      '      args: ["3"]',
      '      env:',
      '        - name: FAIL_RANK',
      '          value: "none"',
      '',
    ].join('\n');
    writeFileSync(path.join(d, 'job.yaml'), spec);
    const cli = async (args: string[]) => {
      const r = await runCli(args, { env: { DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir }, cwd: d, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const created = JSON.parse(await cli(['job', 'create', '-f', 'job.yaml', '--json']));
    const job = (await sdk.client.getJob({ jobId: created.id })).job;
    const nodes = job.jobNodeConfigurationDetails as ds.models.MultiNodeJobNodeConfigurationDetails;
    const g = nodes.jobNodeGroupConfigurationDetailsList![0]!;
    assert.deepEqual([nodes.jobNodeType, nodes.startupOrder, g.name, g.replicas, g.minimumSuccessReplicas], ['MULTI_NODE', 'IN_PARALLEL', 'node-group', 2, 2]);
    assert.equal((g.jobInfrastructureConfigurationDetails as ds.models.MultiNodeJobInfrastructureConfigurationDetails).shapeName, 'Slurm.Small');
    assert.equal((g.jobConfigurationDetails as ds.models.DefaultJobConfigurationDetails).environmentVariables?.OCI__LAUNCH_CMD, 'python3 ranks.py --epochs');

    const id = await sdkRun(job.id, job.projectId, job.compartmentId);
    const done = await sdkDone(id);
    assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails);
    assert.deepEqual(await lines(id, 'stdout'), [
      `[node1 rank 0] rank 0 of 2 node_rank 0 local 0 nodes 2 master True:True group node-group args ['--epochs', '3'] meta True`,
      `[node2 rank 1] rank 1 of 2 node_rank 1 local 0 nodes 2 master True:True group node-group args ['--epochs', '3'] meta True`,
    ]);

    const out = path.join(d, 'out');
    const yaml = await cli(['job', 'get', job.id, '--yaml', '--artifact-dir', out]);
    const rt = parseYaml(yaml).spec.runtime;
    assert.equal(rt.type, 'pyTorchDistributed');
    assert.equal(rt.spec.replicas, 2);
    assert.equal(rt.spec.command, 'python3 ranks.py --epochs');
    assert.deepEqual(rt.spec.args, ['3']);
    assert.equal(readFileSync(path.join(rt.spec.scriptPathURI, 'ranks.py'), 'utf8'), RANKS_PY);
    writeFileSync(path.join(d, 'again.yaml'), yaml);
    const again = JSON.parse(await cli(['job', 'create', '-f', 'again.yaml', '--json']));
    const back = (await sdk.client.getJob({ jobId: again.id })).job.jobNodeConfigurationDetails;
    assert.deepEqual(back, job.jobNodeConfigurationDetails, 'the spec written back makes the same node groups');
  });

  test('bad multi-node configurations are refused naming the field', async () => {
    const refused = async (nodes: unknown, field: string, re: RegExp) => {
      await assert.rejects(
        sdk.client.createJob({
          createJobDetails: {
            projectId,
            compartmentId: s.compartmentId,
            jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'EMPTY' } as ds.models.EmptyJobInfrastructureConfigurationDetails,
            jobNodeConfigurationDetails: nodes as ds.models.MultiNodeJobNodeConfigurationDetails,
          },
        }),
        (e: { statusCode?: number; message?: string }) => {
          assert.equal(e.statusCode, 400);
          assert.ok(e.message?.includes(field), `${e.message} names ${field}`);
          assert.match(e.message ?? '', re);
          return true;
        },
      );
    };
    const list = 'jobNodeConfigurationDetails.jobNodeGroupConfigurationDetailsList';
    await refused(multiNode([group('w', 2, { min: 3 })]), `${list}[0].minimumSuccessReplicas`, /from 1 to replicas \(2\)/);
    await refused(multiNode([group('w', 1), group('w', 1)]), `${list}[1].name`, /names two node groups/);
    await refused(multiNode([]), list, /at least one node group/);
    await refused({ ...multiNode([group('w', 1)]), startupOrder: 'SOMETIMES' }, 'jobNodeConfigurationDetails.startupOrder', /IN_PARALLEL or IN_ORDER/);
    const local = group('w', 1);
    (local.jobInfrastructureConfigurationDetails as ds.models.MultiNodeJobInfrastructureConfigurationDetails).shapeName = 'Local.Light';
    await refused(multiNode([local]), `${list}[0].jobInfrastructureConfigurationDetails.shapeName`, /not a shape of the Slurm cluster/);
  });

  test('a server without a Slurm cluster refuses a multi-node job, naming the field', async () => {
    const plain = await startServer();
    const client = makeOciClient(plain.url, plain.configFile);
    try {
      const p = (await plain.api.createProject({ compartmentId: plain.compartmentId, displayName: 'no-cluster' })).id;
      const g = group('w', 2);
      (g.jobInfrastructureConfigurationDetails as ds.models.MultiNodeJobInfrastructureConfigurationDetails).shapeName = 'Local.Light';
      await assert.rejects(
        client.client.createJob({
          createJobDetails: {
            projectId: p,
            compartmentId: plain.compartmentId,
            jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'EMPTY' } as ds.models.EmptyJobInfrastructureConfigurationDetails,
            jobNodeConfigurationDetails: multiNode([g]),
          },
        }),
        (e: { statusCode?: number; message?: string }) => {
          assert.equal(e.statusCode, 400);
          assert.match(e.message ?? '', /jobNodeConfigurationDetails: multi-node jobs run on a Slurm cluster, and this server has none configured/);
          return true;
        },
      );
    } finally {
      client.close();
      await plain.close();
    }
  });
});
