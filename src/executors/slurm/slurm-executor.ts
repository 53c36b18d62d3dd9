import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { startEnvironment } from '../../domain/launch.js';
import { ZERO, type Resources } from '../../domain/resources.js';
import type { LaunchPlan } from '../../domain/launch.js';
import type { ArchiveLimits } from '../../archive/archive.js';
import type { CleanupOptions, ExecutorHandle, ExitStatus, Executor, LaunchRequest, LaunchResult, NodeGroupState, Recovered, ResourceSample } from '../executor.js';
import { placeArtifact } from '../local/workspace.js';
import { sbatchMultiNodeOptions, sbatchOptions, parseQueue, slurmResources, type SlurmShape } from './batch-request.js';
import { decodeSlurmHandle, encodeSlurmHandle, SLURM_HANDLE_VERSION, type SlurmHandle } from './handle.js';
import { JobWatch, readStatus } from './job-watch.js';
import { NODE_SUPERVISOR_NAME, NODE_SUPERVISOR_SOURCE } from './node-supervisor.js';
import { SlurmCli, toolMessage } from './slurm-cli.js';

export interface SlurmExecutorOptions {
  /** A directory every node sees at the same path: the supervisor, each run's artifact, environment and logs. */
  sharedDir: string;
  /** SLURM_CONF for the tools; null: Slurm's own default (/etc/slurm/slurm.conf). */
  slurmConf: string | null;
  /** Where sbatch and the other tools are; null: the PATH. */
  binDir: string | null;
  shapes: SlurmShape[];
  /** How often the shared disk is checked for started and ended runs. */
  pollIntervalMs: number;
  /** How often squeue is asked about pending and vanished jobs. */
  queueIntervalMs: number;
  /** The server's grace period: the node-side supervisor SIGKILLs this long after a SIGTERM. */
  graceMs: number;
  archiveLimits: ArchiveLimits;
  /** The run's PATH on the node. */
  nodePath: string;
  keepWorkDirs: boolean;
  /** Where on a node's own disk each run's scratch directory is made; null: Slurm's TMPDIR, else /tmp. */
  scratchDir?: string | null;
  /** How often the node-side supervisor records the run's CPU and memory use (the server's metrics interval). */
  usageSeconds?: number;
  /**
   * The declared storage the nodes see (config slurm.nodeMounts): its directory on the server and on the nodes.
   * Mounts of any other declared storage are refused at create; this server's own buckets are staged on the shared
   * directory and need no entry.
   */
  nodeMounts?: { serverPath: string; nodePath: string }[];
}

const HANDLE_FILE = 'handle.json';

/** Variables of a run that no variable of its job, node group or override may replace (OCI sets them). */
const RUN_OWN = new Set(['JOB_OCID', 'JOB_RUN_OCID', 'PROJECT_OCID', 'JOB_COMPARTMENT_OCID', 'JOB_RUN_COMPARTMENT_OCID', 'PROJECT_COMPARTMENT_OCID', 'TENANCY_OCID', 'JOB_ARTIFACT_FILE_NAME']);

/**
 * Runs on a Slurm cluster: each run is one batch job (sbatch), whose batch script is the node-side supervisor
 * (node-supervisor.ts) working in the run's directory on the shared disk. Slurm admits runs itself (the run waits
 * ACCEPTED while its job is PENDING, with Slurm's reason); the job's id and the cluster's name make the handle, so a
 * restarted server re-attaches to it. Every scancel names the run's job by id *and* name: a job this server did not
 * submit for that run is never touched.
 */
export class SlurmExecutor implements Executor {
  readonly name = 'slurm';
  private readonly cli: SlurmCli;
  private readonly watch: JobWatch;
  private readonly runsDir: string;
  private readonly supervisorPath: string;
  private readonly byShape: Map<string, SlurmShape>;
  private cluster = '';
  /** Whether the cluster's task plugin is task/cgroup (the job's --mem is then a cgroup limit on the node). */
  private memoryLimited = false;

  constructor(private readonly opts: SlurmExecutorOptions) {
    this.cli = new SlurmCli({ slurmConf: opts.slurmConf, binDir: opts.binDir, path: opts.nodePath });
    this.watch = new JobWatch(this.cli, { pollMs: opts.pollIntervalMs, queueEveryMs: opts.queueIntervalMs });
    this.runsDir = path.join(opts.sharedDir, 'runs');
    this.supervisorPath = path.join(opts.sharedDir, 'bin', NODE_SUPERVISOR_NAME);
    this.byShape = new Map(opts.shapes.map((s) => [s.shape, s]));
  }

  /** Finds the cluster (its name goes in every handle) and puts the node-side supervisor on the shared disk. */
  async init(): Promise<void> {
    const r = await this.cli.run('scontrol', ['show', 'config']);
    const name = r.code === 0 ? /^ClusterName\s*=\s*(\S+)/m.exec(r.stdout)?.[1] : undefined;
    if (!name) throw new Error(`the Slurm cluster cannot be reached (scontrol show config: ${toolMessage(r)})`);
    this.cluster = name;
    // task/cgroup puts each job in a memory cgroup of its --mem where cgroup.conf constrains RAM (docs/slurm.md).
    this.memoryLimited = /^TaskPlugin\s*=\s*\S*task\/cgroup/m.test(r.stdout);
    mkdirSync(path.dirname(this.supervisorPath), { recursive: true });
    mkdirSync(this.runsDir, { recursive: true });
    // Rewritten at each start: a newer dsjobs brings its own supervisor; running jobs keep the file they opened.
    const tmp = `${this.supervisorPath}.${process.pid}.tmp`;
    writeFileSync(tmp, NODE_SUPERVISOR_SOURCE, { mode: 0o755 });
    await fsp.rename(tmp, this.supervisorPath);
  }

  clusterName(): string {
    return this.cluster;
  }

  /** Whether this engine runs the plan: its shape is one the config sends to Slurm. */
  serves(plan: LaunchPlan): boolean {
    return this.byShape.has(plan.shapeName);
  }

  /** Nothing of the server's own: the cluster admits its runs itself. */
  capacity(): Resources {
    return ZERO;
  }

  private runDir(runId: string): string {
    return path.join(this.runsDir, runId);
  }

  /**
   * Where a mount's directory is on the nodes: a staged bucket of this server (on the shared directory) where it is,
   * declared storage where slurm.nodeMounts says the nodes have it; null: the nodes do not have it.
   */
  private nodeDirOf(source: string): string | null {
    if (source.startsWith(this.runsDir + path.sep)) return source;
    const under = (dir: string) => source === dir || source.startsWith(dir + path.sep);
    const m = (this.opts.nodeMounts ?? []).filter((x) => under(x.serverPath)).sort((a, b) => b.serverPath.length - a.serverPath.length)[0];
    return m ? m.nodePath + source.slice(m.serverPath.length) : null;
  }

  /** A mount of declared storage the nodes do not see (slurm.nodeMounts) is refused when the job or run is created. */
  refusesMount(plan: Pick<LaunchPlan, 'shapeName' | 'mounts'>): { index: number; reason: string } | null {
    for (const [index, m] of plan.mounts.entries()) {
      // This server's own buckets are staged on the shared directory at the run's start: every node sees them.
      if (m.source.startsWith('objectstorage:')) continue;
      if (this.nodeDirOf(m.source) === null) {
        return {
          index,
          reason: `runs of shape ${plan.shapeName} go to Slurm cluster ${this.cluster}, whose nodes do not have this storage (the server's slurm.nodeMounts does not list it)`,
        };
      }
    }
    return null;
  }

  /** This server's buckets are staged in the run's directory on the shared disk: the nodes see them there. */
  mountStagingDir(runId: string): string {
    return path.join(this.runDir(runId), 'staged');
  }

  /**
   * The run's view of its mounts without a sandbox: `<run dir>/root<destination>` is a link to the mount's directory
   * on the nodes (the run is told DSJOBS_MOUNTS_ROOT, so `${DSJOBS_MOUNTS_ROOT:-}/mnt/data` is /mnt/data on OCI and
   * this link here). The run directory is on the shared disk: every node of a multi-node run sees the same links.
   */
  private linkMounts(runDir: string, mounts: LaunchPlan['mounts']): string | null {
    if (mounts.length === 0) return null;
    const root = path.join(runDir, 'root');
    for (const m of mounts) {
      const target = this.nodeDirOf(m.source);
      if (target === null) throw new Error(`storage mount ${m.destination}: the Slurm nodes do not have this storage (slurm.nodeMounts no longer lists it)`);
      const link = path.join(root, m.destination);
      mkdirSync(path.dirname(link), { recursive: true });
      rmSync(link, { force: true });
      symlinkSync(target, link);
    }
    return root;
  }

  logFiles(handle: ExecutorHandle): { stdout: string; stderr: string } {
    const dir = this.checked(handle).runDir;
    return { stdout: path.join(dir, 'stdout.log'), stderr: path.join(dir, 'stderr.log') };
  }

  async start(req: LaunchRequest): Promise<LaunchResult> {
    const shape = this.byShape.get(req.plan.shapeName);
    if (!shape) throw new Error(`shape ${req.plan.shapeName} is not served by the Slurm cluster`);
    const runDir = this.runDir(req.runId);
    const work = path.join(runDir, 'work');
    const home = path.join(runDir, 'home');
    const tmp = path.join(runDir, 'tmp');
    for (const d of [work, home, tmp]) mkdirSync(d, { recursive: true });
    const target = await placeArtifact(req, work, this.opts.archiveLimits, null);
    const privateEnv: Record<string, string> = {};
    if (req.privateFiles?.length) {
      const dir = path.join(runDir, 'identity');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const f of req.privateFiles) {
        const file = path.join(dir, f.name);
        writeFileSync(file, f.content, { mode: 0o600 });
        privateEnv[f.env] = file;
      }
    }
    const env: Record<string, string> = {
      PATH: req.pythonEnv ? `${path.join(req.pythonEnv, 'bin')}:${this.opts.nodePath}` : this.opts.nodePath,
      HOME: home,
      TMPDIR: tmp,
      LANG: 'C.UTF-8',
      ...startEnvironment(req.plan, req.startEnv),
      ...privateEnv,
    };
    if (req.pythonEnv) env.CONDA_PREFIX = req.pythonEnv;
    const mountsRoot = this.linkMounts(runDir, req.plan.mounts);
    if (mountsRoot) env.DSJOBS_MOUNTS_ROOT = mountsRoot;
    const command = interpreterFor(target, req.pythonEnv);
    const multi = req.plan.multiNode ? this.multiNodeLaunch(req, command, env) : null;
    const launch = {
      argv: [...command, ...req.plan.args],
      env,
      cwd: work,
      graceSeconds: this.opts.graceMs / 1000,
      usageSeconds: Math.max(1, this.opts.usageSeconds ?? 5),
      // The run's DiskUtilization is of the block storage it asked for (not enforced on the node).
      diskLimitBytes: (req.plan.blockStorageSizeInGBs ?? 0) * 1024 ** 3,
      ...(this.opts.scratchDir ? { scratchBase: this.opts.scratchDir } : {}),
      ...(multi ? { supervisor: this.supervisorPath, multiNode: multi.spec } : {}),
    };
    // The run's variables may carry its secrets: readable by the job (run as the submitting user) alone.
    writeFileSync(path.join(runDir, 'launch.json'), JSON.stringify(launch), { mode: 0o600 });
    // There before the job starts: the logs room follows them from the first byte.
    const logFiles = { stdout: path.join(runDir, 'stdout.log'), stderr: path.join(runDir, 'stderr.log') };
    for (const f of Object.values(logFiles)) if (!existsSync(f)) writeFileSync(f, '');
    const batch = { graceMs: this.opts.graceMs, runDir };
    const options = multi ? sbatchMultiNodeOptions(req.plan, shape, multi.perNode, req.runId, batch) : sbatchOptions(req.plan, shape, req.runId, batch);
    const args = [...options, this.supervisorPath, runDir];
    const r = await this.cli.run('sbatch', args);
    // --parsable prints "id" or "id;cluster".
    const jobId = /^(\d+)(?:;\S+)?\s*$/.exec(r.stdout.trim())?.[1];
    if (r.code !== 0 || !jobId) throw new Error(`Slurm refused the job: ${toolMessage(r)}`);
    const handle: SlurmHandle = { v: SLURM_HANDLE_VERSION, jobId, cluster: this.cluster, runDir };
    writeFileSync(path.join(runDir, HANDLE_FILE), JSON.stringify(handle));
    const warnings = [
      `runs on Slurm cluster ${this.cluster} (partition ${shape.partition ?? 'default'}): Slurm allocates its CPUs and memory; no dsjobs sandbox on the node`,
      ...(multi ? [`one Slurm job of ${multi.spec.replicas.length} nodes, one replica per node`] : []),
      ...(mountsRoot ? [`storage mounts are links under DSJOBS_MOUNTS_ROOT (${mountsRoot}<destination>), not at their destinations: no sandbox on the node`] : []),
    ];
    return {
      handle: encodeSlurmHandle(handle),
      logFiles,
      isolation: {
        sandbox: 'NONE',
        network: 'HOST',
        cpuLimit: 'NOT_ENFORCED',
        memoryLimit: this.memoryLimited ? 'ENFORCED' : 'NOT_ENFORCED',
        processTree: 'PROCESS_GROUP',
        blockStorage: req.plan.blockStorageSizeInGBs ? 'DIRECTORY_LIMIT' : 'NOT_ENFORCED',
        gpus: [],
        warnings,
      },
    };
  }

  /**
   * What the node-side coordinator of a multi-node run is given: each replica's command, variables and share of its
   * node, in rank order (group after group), and the node size the job asks for (the largest group's). Each
   * replica's variables: the run's, its group's over them (the job's, the group's, the run's override), the run's
   * own identity and principal over those, and the distributed-training ones (the coordinator adds MASTER_ADDR,
   * MASTER_PORT and FQDN on the node).
   */
  private multiNodeLaunch(req: LaunchRequest, command: string[], env: Record<string, string>) {
    const plan = req.plan;
    const mn = plan.multiNode!;
    const worldSize = mn.groups.reduce((n, g) => n + g.replicas, 0);
    const own = Object.fromEntries(Object.entries(env).filter(([k]) => !(k in plan.env) || RUN_OWN.has(k)));
    const replicas: { group: number; argv: string[]; env: Record<string, string>; cpus: number; memMb: number; gpus: number }[] = [];
    const perNode = { cpus: 1, memMb: 1, gpus: 0 };
    mn.groups.forEach((g, gi) => {
      const shape = this.byShape.get(g.shapeName);
      if (!shape) throw new Error(`shape ${g.shapeName} (node group ${g.name}) is not served by the Slurm cluster`);
      const share = slurmResources(g.resources, shape);
      perNode.cpus = Math.max(perNode.cpus, share.cpus);
      perNode.memMb = Math.max(perNode.memMb, share.memMb);
      perNode.gpus = Math.max(perNode.gpus, share.gpus);
      for (let i = 0; i < g.replicas; i++) {
        const rank = replicas.length;
        const distributed = {
          RANK: String(rank),
          NODE_RANK: String(rank),
          LOCAL_RANK: '0',
          WORLD_SIZE: String(worldSize),
          NODE_COUNT: String(worldSize),
          INITIAL_CLUSTER_SIZE: String(worldSize),
          NODE_GROUP_NAME: g.name,
          CLUSTER_NODES_METADATA_FILE: path.join(this.runDir(req.runId), 'cluster-nodes.json'),
        };
        replicas.push({ group: gi, argv: [...command, ...g.args], env: { ...env, ...g.env, ...own, ...distributed }, ...share });
      }
    });
    const first = this.byShape.get(mn.groups[0]!.shapeName)!;
    return {
      perNode,
      spec: {
        startupOrder: mn.startupOrder,
        gres: first.gres,
        groups: mn.groups.map((g) => ({ name: g.name, replicas: g.replicas, minimumSuccessReplicas: g.minimumSuccessReplicas })),
        replicas,
      },
    };
  }

  /** A multi-node run's node groups as its node-side coordinator last recorded them (groups.json); null: none yet. */
  nodeGroups(h: ExecutorHandle): NodeGroupState[] | null {
    try {
      const list = JSON.parse(readFileSync(path.join(this.checked(h).runDir, 'groups.json'), 'utf8')) as NodeGroupState[];
      return Array.isArray(list) ? list : null;
    } catch {
      return null;
    }
  }

  /** Resolves once the run's process runs on a node (true) or its job ended unrun; `waiting` hears Slurm's reason. */
  untilRunning(h: ExecutorHandle, waiting: (details: string) => void): Promise<boolean> {
    const handle = this.checked(h);
    return this.watch.started(handle, path.basename(handle.runDir), waiting);
  }

  wait(h: ExecutorHandle): Promise<ExitStatus> {
    const handle = this.checked(h);
    return this.watch.exited(handle, path.basename(handle.runDir));
  }

  async signal(h: ExecutorHandle, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    let handle: SlurmHandle;
    try {
      handle = this.checked(h);
    } catch {
      return;
    }
    if (handle.cluster !== this.cluster) return; // another cluster's job: nothing of it can be reached from here
    const name = `--jobname=${path.basename(handle.runDir)}`;
    if (signal === 'SIGTERM') {
      // The supervisor passes TERM to the run's process group and SIGKILLs it after the grace period. A job still
      // pending has no supervisor yet (scancel --batch refuses it): it is canceled outright.
      if (existsSync(path.join(handle.runDir, 'started'))) {
        const r = await this.cli.run('scancel', ['--batch', '--signal=TERM', name, handle.jobId]);
        if (r.code === 0) return;
      }
      await this.cli.run('scancel', [name, handle.jobId]);
      return;
    }
    await this.cli.run('scancel', ['--full', '--signal=KILL', name, handle.jobId]);
    await this.cli.run('scancel', [name, handle.jobId]);
  }

  async find(runId: string): Promise<ExecutorHandle | null> {
    try {
      return JSON.parse(readFileSync(path.join(this.runDir(runId), HANDLE_FILE), 'utf8'));
    } catch {
      /* not written: sbatch may still have queued the job */
    }
    const r = await this.cli.run('squeue', ['-h', '-t', 'all', '-o', '%i|%T|%r|%j', `--name=${runId}`]);
    const job = r.code === 0 ? parseQueue(r.stdout).find((q) => q.name === runId) : undefined;
    return job ? encodeSlurmHandle({ v: SLURM_HANDLE_VERSION, jobId: job.jobId, cluster: this.cluster, runDir: this.runDir(runId) }) : null;
  }

  async recover(h: ExecutorHandle): Promise<Recovered> {
    let handle: SlurmHandle;
    try {
      handle = this.checked(h);
    } catch (e) {
      return { state: 'lost', reason: (e as Error).message };
    }
    if (handle.cluster !== this.cluster) {
      return { state: 'lost', reason: `its Slurm job ${handle.jobId} is of cluster ${handle.cluster}; this server submits to ${this.cluster}` };
    }
    const status = readStatus(handle.runDir);
    if (status) return { state: 'exited', status };
    // Pending, running, or ended with no status on disk yet: the watcher follows it from here and, for a job that
    // ended without one (the file may also lag on a shared file system), says what Slurm knows.
    return { state: 'running' };
  }

  async discard(runId: string): Promise<void> {
    if (this.opts.keepWorkDirs) return;
    for (const d of ['work', 'home', 'tmp', 'identity', 'root']) await fsp.rm(path.join(this.runDir(runId), d), { recursive: true, force: true });
  }

  async afterRecovery(): Promise<void> {
    // Nothing to sweep: Slurm jobs are only ever touched through a run's own handle.
  }

  async cleanup(h: ExecutorHandle, opts: CleanupOptions = {}): Promise<void> {
    const handle = this.checked(h);
    // The job ended (Slurm ends its processes with it); its run directory is on the file system nodes and server share.
    if (opts.beforeRelease) await opts.beforeRelease(path.join(handle.runDir, 'work'));
    // The job's processes are Slurm's to end with the job (its proctrack plugin); the run's files but its logs go.
    await this.discard(path.basename(handle.runDir));
  }

  /**
   * What the node-side supervisors last recorded (`usage`, a multi-node run's `nodes/<rank>.usage` of each running
   * replica): CPU percent of the CPUs Slurm gave it over the last interval, resident memory of the run's session and
   * its limit, the bytes its work and scratch directories take and its block storage size, its GPUs' use, its CPUs.
   * A multi-node run's figures are its replicas' together: CPU and memory summed (used over allotted), disk the
   * largest of any node, GPUs averaged.
   */
  async sample(runs: { runId: string; handle: ExecutorHandle; resources: Resources }[]): Promise<Map<string, ResourceSample>> {
    const out = new Map<string, ResourceSample>();
    for (const r of runs) {
      let dir: string;
      try {
        dir = this.checked(r.handle).runDir;
      } catch {
        continue;
      }
      const files = existsSync(path.join(dir, 'nodes'))
        ? (await fsp.readdir(path.join(dir, 'nodes')).catch(() => [])).filter((f) => f.endsWith('.usage')).map((f) => path.join(dir, 'nodes', f))
        : [path.join(dir, 'usage')];
      const readings: NodeUsage[] = [];
      for (const f of files) {
        const u = parseUsage(await fsp.readFile(f, 'utf8').catch(() => ''));
        if (u) readings.push(u);
      }
      if (readings.length > 0) out.set(r.runId, combineUsage(readings, r.resources.memoryInGBs * 1024 ** 3));
    }
    return out;
  }

  async forget(runId: string): Promise<void> {
    await fsp.rm(this.runDir(runId), { recursive: true, force: true });
  }

  protections(): { enforced: string[]; off: string[] } {
    return {
      enforced: [`Slurm (cluster ${this.cluster}) allocates each run's CPUs and memory and ends its processes with the job`],
      off: ['runs on Slurm nodes have no dsjobs sandbox and no block storage volume (a scratch directory on the node whose size, with the work directory\'s, the node-side supervisor holds to the run\'s block storage)'],
    };
  }

  private checked(h: ExecutorHandle): SlurmHandle {
    return decodeSlurmHandle(h, this.runsDir);
  }

  async close(): Promise<void> {
    this.watch.close();
  }
}

/** The command that runs the artifact's file: its interpreter by the file's extension, found on the node's PATH. */
function interpreterFor(file: string, pythonEnv: string | null): string[] {
  const lower = file.toLowerCase();
  if (lower.endsWith('.py')) return [pythonEnv ? path.join(pythonEnv, 'bin', 'python') : 'python3', file];
  if (lower.endsWith('.sh')) return ['bash', file];
  if (lower.endsWith('.jar')) return ['java', '-jar', file];
  chmodSync(file, 0o755);
  return [file];
}

/** One node's usage record: "cpu_percent rss limit [disk_bytes disk_limit gpu_percent gpu_memory_percent cpus]" ("-": none). */
export interface NodeUsage {
  cpu: number;
  rss: number;
  limit: number;
  disk: number | null;
  diskLimit: number;
  gpu: number | null;
  gpuMemory: number | null;
  cpus: number;
}

export function parseUsage(text: string): NodeUsage | null {
  const f = text.trim().split(/\s+/);
  const n = (i: number) => (f[i] === undefined || f[i] === '-' ? null : Number.isFinite(Number(f[i])) ? Number(f[i]) : null);
  const cpu = n(0);
  const rss = n(1);
  if (cpu === null || rss === null) return null;
  // Supervisors of earlier versions wrote the first three fields only.
  return { cpu, rss, limit: n(2) ?? 0, disk: n(3), diskLimit: n(4) ?? 0, gpu: n(5), gpuMemory: n(6), cpus: n(7) ?? 1 };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** The run's sample from its nodes' records (one for a single-node run); `memoryCap` where no limit was recorded. */
export function combineUsage(nodes: NodeUsage[], memoryCap: number): ResourceSample {
  const cpus = nodes.reduce((a, u) => a + u.cpus, 0);
  const rss = nodes.reduce((a, u) => a + u.rss, 0);
  const limits = nodes.every((u) => u.limit > 0) ? nodes.reduce((a, u) => a + u.limit, 0) : memoryCap * nodes.length;
  const disks = nodes.filter((u) => u.disk !== null);
  const diskBytes = disks.length === nodes.length ? Math.max(...disks.map((u) => u.disk!)) : null;
  const diskPercents = disks.filter((u) => u.diskLimit > 0).map((u) => (100 * u.disk!) / u.diskLimit);
  const avg = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length === 0 ? null : round2(v.reduce((a, b) => a + b, 0) / v.length);
  };
  return {
    cpuPercent: cpus > 0 ? round2(nodes.reduce((a, u) => a + u.cpu * u.cpus, 0) / cpus) : null,
    memoryPercent: limits > 0 ? round2((100 * rss) / limits) : null,
    memoryBytes: rss,
    diskPercent: diskBytes !== null && diskPercents.length === nodes.length ? round2(Math.max(...diskPercents)) : null,
    diskBytes,
    gpuPercent: avg(nodes.map((u) => u.gpu)),
    gpuMemoryPercent: avg(nodes.map((u) => u.gpuMemory)),
  };
}
