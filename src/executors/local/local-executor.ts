import type { RunPriority } from './run-priority.js';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Resources } from '../../domain/resources.js';
import { RESOURCE_TYPES } from '../../domain/ids.js';
import { DEFAULT_BLOCK_STORAGE_GB } from '../../domain/job-config.js';
import type { ArchiveLimits } from '../../archive/archive.js';
import type { CleanupOptions, ExecutorHandle, ExitStatus, Executor, LaunchRequest, LaunchResult, Recovered, ResourceSample, RunIsolation } from '../executor.js';
import {
  checkRunCgroups,
  createRunCgroupsAsync,
  emptyAndRemoveCgroups,
  joinDirs,
  removeLeftoverCgroups,
  setRunLimits,
  cgroupNames,
  cgroupsNamed,
  removeRunCgroups,
  type CgroupHost,
  type CgroupLimits,
  type RunCgroups,
} from './cgroups.js';
import { exitStatusOf, readChildPid } from './exit-status.js';
import { gpuDeviceNodes, type GpuInfo } from './gpus.js';
import { GpuPool } from './gpu-pool.js';
import { decodeLocalHandle, encodeLocalHandle, LOCAL_HANDLE_VERSION, type LocalHandle } from './handle.js';
import { isRunSessionLeader, isSameProcessAlive, killGroup } from './proc.js';
import { hostWarnings, PIDS_FLOOR, protections, type HostProtections } from './protections.js';
import { giveMountToRun, type RunUser } from './run-user.js';
import { Sampler } from './sampling.js';
import { sandboxCommand, type SandboxHost } from './sandbox.js';
import { signalRun } from './signal-run.js';
import { NativeSpawner, NodeSpawner, type SpawnerClient, type SupervisorLaunch } from './spawners.js';
import { SupervisorCommands } from './supervisor-command.js';
import { hasMountsUnder, VolumePool, type Volume, type VolumeHost } from './volume.js';
import { warmLauncher, WARM_LIMITS } from './warm-launcher.js';
import { WarmSandboxes, type WarmLauncher, type WarmSandbox } from './warm-sandboxes.js';
import { discardSpace, makeSpaceDirs, placeArtifact, releaseSpace, runWorkDir, spaceDirs, takeSpace, writePrivateFiles, type TakenSpace } from './workspace.js';

export interface LocalExecutorOptions {
  runsDir: string;
  capacity: Resources;
  pythonCommand: string;
  bashCommand: string;
  javaCommand: string;
  archiveLimits: ArchiveLimits;
  keepWorkDirs: boolean;
  supervisor?: 'native' | 'sh';
  /** How often a re-attached run (one this process did not spawn) is checked for exit. */
  recoverPollMs?: number;
  /** The server's data directory: hidden from sandboxed runs (database, artifacts, other runs). */
  dataDir: string;
  sandbox: SandboxHost;
  cgroups: CgroupHost;
  volumes: VolumeHost;
  gpus: GpuInfo[];
  /** Processes one run may have at once (cgroup pids controller): pidsPerCpu per CPU of its shape, at least
   * PIDS_FLOOR, at most pidsMax. */
  pidsMax: number;
  pidsPerCpu: number;
  /** Processes of all runs together (the pids limit of the cgroup all runs' cgroups are in), or null: not set. */
  pidsMaxAllRuns: number | null;
  /** Open files of all runs together, kept by watching each sampling round (open-files.ts); null: not kept. */
  openFilesMaxAllRuns: number | null;
  /** Where no cgroup weighs runs below the server: the nice value (and lowest I/O priority) runs get instead. */
  runPriority?: RunPriority | null;
  /** What of runPriority could not be applied (logged; runs still start). */
  onPriorityProblem?: (problems: string[]) => void;
  /** Who sandboxed runs run as, and their open files limit (run-user.ts). */
  runUser: RunUser;
  nvidiaSmiCommand?: string;
  /** Block storage volumes kept ready per size (0: each run formats its own at start). */
  volumePoolSize?: number;
  /** Sandboxes set up ahead of runs on free pooled volumes (0: none); see warm-sandboxes.ts. */
  warmSandboxes?: number;
  /** Where to report what goes wrong off any run's path (a warm sandbox that could not be made). */
  onError?: (e: Error) => void;
  /** Told when a run is killed for the open files of all runs (the server logs it). */
  onOpenFilesKill?: (runId: string, files: number, ceiling: number) => void;
}

const HANDLE_FILE = 'handle.json';
/** Run cgroups are named after the run (its OCID); warm sandboxes' start with `warm-`. */
const RUN_CGROUP_PREFIX = `ocid1.${RESOURCE_TYPES.jobRun}.`;

/**
 * Runs as local processes under a supervisor that outlives the server: the Executor interface, putting together the
 * run's space (workspace.ts), its GPUs (gpu-pool.ts), cgroups, sandbox and command line (supervisor-command.ts),
 * the spawner that starts it (spawners.ts), and reading back how it ended (exit-status.ts) and what it uses
 * (sampling.ts).
 */
/** The host's GPUs, lent to another engine's runs (see LocalExecutor.sharedGpus): one pool, so no GPU is given twice. */
export interface SharedGpus {
  /** GPUs the host has. */
  readonly count: number;
  /** Gives the run `count` free GPUs (their UUIDs), or throws saying how many are free. */
  assign(runId: string, count: number): string[];
  /** A re-attached run keeps the GPUs it holds. */
  hold(runId: string, uuids: readonly string[]): void;
  release(runId: string): void;
}

/** Block storage volumes of the local executor's pool, lent to another engine (see LocalExecutor.sharedVolumes). */
export interface SharedVolumes {
  take(bytes: number): Promise<Volume>;
  /** A volume a re-attached run still holds (so the sweep after a restart leaves it). */
  hold(mountPoint: string): void;
  owns(mountPoint: string): boolean;
  /** The run is done with it: emptied back to the pool, or (keep: work directories are kept) unmounted, image kept. */
  release(v: Volume, keep: boolean): Promise<void>;
}

export class LocalExecutor implements Executor {
  readonly name = 'local';
  private readonly commands: SupervisorCommands;
  private closed = false;
  private readonly volumes: VolumePool;
  private readonly gpus: GpuPool;
  private readonly sampler: Sampler;
  private readonly warm: WarmSandboxes | null;
  private readonly warmOps: WarmLauncher;
  /**
   * Warm sandboxes' cgroups are named `warm-<tag>-<hex>`, the tag from this data directory: a start removes only what
   * a previous server of the same data directory left, never another server's (they share the cgroup base).
   */
  private readonly warmPrefix: string;
  /** Warm cgroups this server made before its second sweep for leftovers (see init): that sweep leaves them. */
  private ownWarmCgroups: Set<string> | null = new Set();
  /** The spawner process (see spawners.ts for why), made on first use. */
  private spawnerClient: SpawnerClient | null = null;

  constructor(private readonly opts: LocalExecutorOptions) {
    this.warmPrefix = `warm-${createHash('sha256').update(path.resolve(opts.dataDir)).digest('hex').slice(0, 8)}-`;
    this.volumes = new VolumePool(path.join(opts.dataDir, 'volumes'), opts.volumePoolSize ?? 0);
    this.commands = new SupervisorCommands(opts);
    this.gpus = new GpuPool(opts.gpus);
    this.sampler = new Sampler({
      cgroupsOf: (h) => this.cgroupsOf(h),
      kill: (h) => signalRun(h, this.cgroupsOf(h), 'SIGKILL'),
      openFilesMaxAllRuns: opts.openFilesMaxAllRuns,
      nvidiaSmiCommand: opts.nvidiaSmiCommand,
      onOpenFilesKill: opts.onOpenFilesKill,
    });
    this.warmOps = warmLauncher({
      runUser: opts.runUser,
      cgroups: opts.cgroups,
      sandbox: opts.sandbox,
      dataDir: opts.dataDir,
      commands: this.commands,
      spawner: () => this.nativeSpawner(),
      running: () => this.spawnerClient as NativeSpawner | null,
      cgroupName: () => {
        const name = `${this.warmPrefix}${randomBytes(6).toString('hex')}`;
        this.ownWarmCgroups?.add(name);
        return name;
      },
    });
    // Needs what a warm sandbox is made of: the native supervisor (its -W and -w modes), a sandbox and pooled volumes.
    const warmable = (opts.warmSandboxes ?? 0) > 0 && this.commands.supervisor && opts.sandbox.program && opts.volumes.available;
    this.warm = warmable ? new WarmSandboxes(opts.warmSandboxes!, this.warmOps, opts.onError) : null;
    if (this.warm) {
      const warm = this.warm;
      this.volumes.onFree = (v) => warm.offer(v);
      this.volumes.beforeRemove = (v) => warm.release(v.mountPoint);
    }
  }

  capacity(): Resources {
    return this.opts.capacity;
  }

  /**
   * This host's pooled block storage volumes, for another engine's runs (a container's working directory), or null
   * where the host has none. A volume taken here carries no warm sandbox (one on it is given up).
   */
  sharedVolumes(): SharedVolumes | null {
    if (!this.opts.volumes.available) return null;
    const pool = this.volumes;
    const warm = this.warm;
    return {
      take: async (bytes) => {
        const v = await pool.take(bytes, warm ? (x) => !warm.has(x.mountPoint) : undefined);
        if (warm) {
          warm.take(v.mountPoint, false);
          for (const f of pool.freeVolumes()) warm.offer(f);
        }
        return v;
      },
      hold: (mountPoint) => pool.hold(mountPoint),
      owns: (mountPoint) => pool.owns(mountPoint),
      release: (v, keep) => (keep ? pool.discard(v, { keepImage: true }) : pool.recycle(v, 16)),
    };
  }

  /** This host's GPUs, for another engine's runs (a container's device requests), from the pool local runs use. */
  sharedGpus(): SharedGpus {
    const pool = this.gpus;
    return {
      count: this.opts.gpus.length,
      assign: (runId, count) => pool.assign(runId, count),
      hold: (runId, uuids) => pool.hold(runId, uuids),
      release: (runId) => pool.release(runId),
    };
  }

  runDir(runId: string): string {
    return path.join(this.opts.runsDir, runId);
  }

  logFiles(handle: ExecutorHandle): { stdout: string; stderr: string } {
    const dir = this.checked(handle).runDir;
    return { stdout: path.join(dir, 'stdout.log'), stderr: path.join(dir, 'stderr.log') };
  }

  async start(req: LaunchRequest): Promise<LaunchResult> {
    const runDir = this.runDir(req.runId);
    // The run directory is new: its mkdir goes through the thread pool, as it blocked the event loop for up to 8.6 ms
    // on this host's disk (benchmark 10's burst, loaded host; see "This machine's disk" in docs/benchmarks.md). The
    // other small metadata operations of a start stay synchronous: through the pool each is a round trip of start
    // latency (~5 ms for all of them, measured), on the loop ~0.6 ms in all.
    await fsp.mkdir(runDir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const warnings = hostWarnings(this.host(), req.plan);
    const taken = await takeSpace(runDir, req, this.opts.volumes.available ? this.volumes : null, this.warm);
    try {
      return await this.startInSpace(req, runDir, taken, warnings);
    } catch (e) {
      if (taken.volume) await this.volumes.discard(taken.volume).catch(() => {});
      throw e;
    }
  }

  private async startInSpace(req: LaunchRequest, runDir: string, taken: TakenSpace, warnings: string[]): Promise<LaunchResult> {
    const { space, volume, warm } = taken;
    const work = spaceDirs(space).work;
    const sandboxed = this.opts.sandbox.program !== null;
    const user = sandboxed ? this.opts.runUser : null;
    makeSpaceDirs(space, user, warm !== null);
    const target = await placeArtifact(req, work, this.opts.archiveLimits, user);
    const gpus = this.gpus.assign(req.runId, req.plan.resources.gpus);
    const limits = { cpus: req.plan.resources.cpus, memoryBytes: Math.round(req.plan.resources.memoryInGBs * 1024 ** 3), pidsMax: this.pidsMaxFor(req.plan.resources.cpus) };
    if (user) {
      for (const m of req.plan.mounts) {
        const w = giveMountToRun(user, m.source);
        if (w) warnings.push(w);
      }
    }
    const program = [...this.commands.argvFor(target, req.pythonEnv), ...req.plan.args];
    const privateEnv = req.privateFiles?.length ? writePrivateFiles(space, req.privateFiles, user) : {};
    const env = this.commands.environment({ plan: req.plan, startEnv: req.startEnv, pythonEnv: req.pythonEnv, space, sandboxed, privateEnv, gpus });
    // Files, not pipes: the run never blocks on a slow or dead server, and the output survives a restart.
    const logFiles = { stdout: path.join(runDir, 'stdout.log'), stderr: path.join(runDir, 'stderr.log') };
    const isolation = (cgroups: RunCgroups | null): RunIsolation => ({
      sandbox: !sandboxed ? 'NONE' : this.opts.sandbox.engine === 'native' ? 'NATIVE' : 'BUBBLEWRAP',
      network: req.plan.network || !sandboxed ? 'HOST' : 'NONE',
      cpuLimit: cgroups ? 'ENFORCED' : 'NOT_ENFORCED',
      memoryLimit: cgroups ? 'ENFORCED' : 'NOT_ENFORCED',
      processTree: sandboxed ? 'PID_NAMESPACE' : cgroups ? 'CGROUP' : 'PROCESS_GROUP',
      blockStorage: volume ? 'VOLUME' : 'NOT_ENFORCED',
      gpus,
      warnings,
    });
    const launch = { cwd: work, stdout: logFiles.stdout, stderr: logFiles.stderr, handleFile: path.join(runDir, HANDLE_FILE) };
    if (warm) {
      const handle: LocalHandle = { v: LOCAL_HANDLE_VERSION, runDir, pid: 0, startTime: 0, space, sandboxed: true, cgroups: warm.cgroups, volume, gpus };
      if (await this.startInWarm(warm, limits, { ...launch, runDir, file: this.commands.supervisor!, args: program, env, handle: encodeLocalHandle(handle) }, handle)) {
        return { handle: encodeLocalHandle(handle), logFiles, isolation: isolation(warm.cgroups) };
      }
    }
    let cgroups: RunCgroups | null = null;
    if (this.opts.cgroups.mode !== 'none') {
      try {
        cgroups = await createRunCgroupsAsync(this.opts.cgroups, req.runId, limits);
      } catch (e) {
        warnings.push(`CPU and memory limits are off for this run: its cgroup could not be made (${(e as Error).message})`);
      }
    }
    let argv = program;
    let supervisorOptions: string[] = [];
    if (sandboxed) {
      const args = this.commands.sandboxFor(space, { mounts: req.plan.mounts, network: req.plan.network, pythonEnv: req.pythonEnv, devices: gpus.length > 0 ? gpuDeviceNodes() : [] });
      ({ argv, supervisorOptions } = sandboxCommand(this.opts.sandbox, args, work, [...this.commands.innerSupervisor(), ...program]));
    }
    const handle: LocalHandle = { v: LOCAL_HANDLE_VERSION, runDir, pid: 0, startTime: 0, space, sandboxed, cgroups, volume, gpus };
    const command = this.commands.supervise({ runDir, argv, env, cgroupDirs: cgroups ? joinDirs(cgroups) : [], sandboxed, supervisorOptions });
    try {
      const { pid, startTime } = await this.spawnSupervisor({ ...launch, ...command, handle: encodeLocalHandle(handle) });
      handle.pid = pid;
      handle.startTime = startTime;
    } catch (e) {
      this.gpus.release(req.runId);
      if (cgroups) removeRunCgroups(cgroups);
      throw e;
    }
    return { handle: encodeLocalHandle(handle), logFiles, isolation: isolation(cgroups) };
  }

  /**
   * Hands the run to a warm sandbox (its cgroups get the run's limits first); fills in the handle's pid and start
   * time. False when the sandbox was gone before the run reached it (or its limits could not be set): the run then
   * makes its own sandbox.
   */
  private async startInWarm(warm: WarmSandbox, limits: CgroupLimits, m: SupervisorLaunch & { runDir: string }, handle: LocalHandle): Promise<boolean> {
    try {
      if (warm.cgroups) setRunLimits(warm.cgroups, limits, { memoryBytes: WARM_LIMITS.memoryBytes });
      const { pid, startTime } = await this.nativeSpawner().use(warm.pid, m);
      handle.pid = pid;
      handle.startTime = startTime;
      return true;
    } catch {
      this.nativeSpawner().giveUp(warm.pid);
      void this.warmOps.dispose(warm);
      return false;
    }
  }

  private nativeSpawner(): NativeSpawner {
    this.spawnerClient ??= this.prioritized(new NativeSpawner(this.commands.supervisor!));
    return this.spawnerClient as NativeSpawner;
  }

  private spawnSupervisor(m: SupervisorLaunch): Promise<{ pid: number; startTime: number }> {
    if (this.commands.supervisor) return this.nativeSpawner().spawn(m);
    this.spawnerClient ??= this.prioritized(new NodeSpawner());
    return this.spawnerClient.spawn(m);
  }

  private prioritized<S extends SpawnerClient>(spawner: S): S {
    spawner.runPriority = this.opts.runPriority ?? null;
    if (this.opts.onPriorityProblem) spawner.onPriorityProblem = this.opts.onPriorityProblem;
    return spawner;
  }

  /** The uid sandboxed runs run as, where it is not the server's own (the server is root); else null. */
  runUid(): number | null {
    return this.opts.sandbox.program && this.commands.supervisor ? this.opts.runUser.uid : null;
  }

  /** A run's pids limit, from its shape's CPUs. */
  pidsMaxFor(cpus: number): number {
    return Math.min(this.opts.pidsMax, Math.max(PIDS_FLOOR, Math.ceil(cpus * this.opts.pidsPerCpu)));
  }

  /** GPU UUID -> the run holding it. */
  gpuAssignments(): Map<string, string> {
    return this.gpus.assignments();
  }

  async wait(h: ExecutorHandle): Promise<ExitStatus> {
    const handle = this.checked(h);
    const exited = this.spawnerClient?.exited(handle.pid);
    if (exited) await exited;
    // Not (or no longer) reported by the spawner, e.g. re-attached after a restart: poll pid + start time.
    const every = this.opts.recoverPollMs ?? 200;
    while (!this.closed && isSameProcessAlive(handle.pid, handle.startTime)) {
      await new Promise((r) => setTimeout(r, every).unref());
    }
    if (this.closed) return new Promise(() => {}); // shutting down: never settle
    return this.exitOf(handle);
  }

  /** The recorded exit status, and whether the run ran out of memory or block storage on the way. */
  private exitOf(handle: LocalHandle): ExitStatus {
    return exitStatusOf({ runDir: handle.runDir, cgroups: this.cgroupsOf(handle), volumeMountPoint: handle.volume?.mountPoint ?? null });
  }

  private cgroupsOf(handle: LocalHandle): RunCgroups | null {
    return handle.cgroups ? checkRunCgroups(this.opts.cgroups, handle.cgroups) : null;
  }

  async signal(h: ExecutorHandle, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const handle = this.checked(h);
    await signalRun(handle, this.cgroupsOf(handle), signal);
  }

  async find(runId: string): Promise<ExecutorHandle | null> {
    try {
      return JSON.parse(readFileSync(path.join(this.runDir(runId), HANDLE_FILE), 'utf8'));
    } catch {
      return null;
    }
  }

  async recover(h: ExecutorHandle): Promise<Recovered> {
    let handle: LocalHandle;
    try {
      handle = this.checked(h);
    } catch (e) {
      return { state: 'lost', reason: (e as Error).message };
    }
    // Its volume stays its own until its cleanup (afterRecovery removes only volumes no run holds).
    if (handle.volume && this.volumes.owns(handle.volume.mountPoint)) this.volumes.hold(handle.volume.mountPoint);
    if (isSameProcessAlive(handle.pid, handle.startTime)) {
      // Its GPUs are still its own.
      this.gpus.hold(path.basename(handle.runDir), handle.gpus ?? []);
      return { state: 'running' };
    }
    return { state: 'exited', status: this.exitOf(handle) };
  }

  async discard(runId: string): Promise<void> {
    // Cgroups named after the run (a start makes them before its supervisor exists); rmdir refuses a busy one.
    const host = this.opts.cgroups;
    if (host.mode !== 'none') removeRunCgroups(cgroupsNamed(host.mode, host.bases, runId));
    this.gpus.release(runId);
    if (!this.opts.keepWorkDirs) await discardSpace(this.runDir(runId));
  }

  async forget(runId: string): Promise<void> {
    await this.discard(runId);
    const runDir = this.runDir(runId);
    // A volume its cleanup could not unmount stays where it is (a recursive removal would empty it first).
    if (hasMountsUnder(runDir)) throw new Error(`${runDir} still has a mount below it; it is left in place`);
    await fsp.rm(runDir, { recursive: true, force: true });
  }

  async afterRecovery(ended: (runIds: readonly string[]) => Promise<ReadonlySet<string>>): Promise<void> {
    if (this.opts.volumes.available) await this.volumes.sweepOrphans({ keepImage: this.opts.keepWorkDirs });
    // A run that ended while its cleanup was cut short (the server killed between the run's end and its cleanup)
    // keeps its run-named cgroups, with whatever it left running in them: the cleanup the run missed, now. Every
    // active run was re-attached before this, so none of these is in use by a run.
    const host = this.opts.cgroups;
    if (host.mode === 'none') return;
    const names = cgroupNames(host, (n) => n.startsWith(RUN_CGROUP_PREFIX));
    if (names.size === 0) return;
    for (const name of await ended([...names])) await emptyAndRemoveCgroups(cgroupsNamed(host.mode, host.bases, name));
  }

  async cleanup(h: ExecutorHandle, opts: CleanupOptions = {}): Promise<void> {
    const handle = this.checked(h);
    const cg = this.cgroupsOf(handle);
    if (cg) {
      // The cgroup is the run's alone, whatever happened to pids meanwhile: always safe to empty.
      await emptyAndRemoveCgroups(cg);
    } else {
      const pgid = readChildPid(handle.runDir);
      // The main process is gone; anything left in its group (background children) goes with it. After a restart
      // the group id may have been reused: then only a group whose leader is provably the run's is killed.
      if (pgid !== null && (opts.killStragglers !== false || isRunSessionLeader(pgid, handle.startTime))) {
        killGroup(pgid, 'SIGKILL');
      }
    }
    this.gpus.release(path.basename(handle.runDir));
    const work = opts.beforeRelease ? runWorkDir(handle, this.volumes) : null;
    if (work) await opts.beforeRelease!(work);
    await releaseSpace(handle, this.volumes, this.opts.keepWorkDirs);
  }

  async sample(runs: { runId: string; handle: ExecutorHandle; resources: Resources }[]): Promise<Map<string, ResourceSample>> {
    return this.sampler.sample(
      runs.flatMap((r) => {
        const handle = this.readable(r.handle);
        return handle ? [{ runId: r.runId, handle, resources: r.resources }] : [];
      }),
    );
  }

  protections(): { enforced: string[]; off: string[] } {
    return protections(this.host());
  }

  /** What this host gives runs, for the start-up report and each run's warnings. */
  private host(): HostProtections {
    return {
      ...this.opts,
      nativeSupervisor: this.commands.supervisor !== null,
      volumePropagationNote: this.volumes.propagationNote,
      warmSandboxes: this.warm ? (this.opts.warmSandboxes ?? 0) : 0,
    };
  }

  /** A handle is data from the database or a file: read with its version checked, acting only under runsDir. */
  private checked(h: ExecutorHandle): LocalHandle {
    return decodeLocalHandle(h, this.opts.runsDir);
  }

  /** The handle, or null where it cannot be read (a sampling round leaves such a run out). */
  private readable(h: ExecutorHandle): LocalHandle | null {
    try {
      return this.checked(h);
    } catch {
      return null;
    }
  }

  /** Removes free volumes a previous server left; call once at start. */
  async init(): Promise<void> {
    if (this.opts.volumes.available) {
      await this.volumes.clean();
      // The default size (OCI's 50 GB) gets its pool now, and with it the warm sandboxes: the first run after a
      // start does not wait for mkfs and a sandbox's set-up. In the background; close() waits for it.
      void this.volumes.prefill(DEFAULT_BLOCK_STORAGE_GB * 1024 ** 3);
    }
    // A previous server's warm sandboxes go with its spawner (a moment after it, when it was killed): their cgroups
    // are left, empty. Those of runs that started in one are busy while the run lives and stay. The second sweep
    // leaves this server's own: one made a moment ago is empty until its supervisor joins it.
    if (this.opts.cgroups.mode !== 'none') {
      const host = this.opts.cgroups;
      removeLeftoverCgroups(host, this.warmPrefix, new Set());
      setTimeout(() => {
        removeLeftoverCgroups(host, this.warmPrefix, this.ownWarmCgroups ?? new Set());
        this.ownWarmCgroups = null;
      }, 3000).unref();
    } else this.ownWarmCgroups = null;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.warm?.close();
    await this.volumes.close();
    this.spawnerClient?.close();
    this.spawnerClient = null;
  }
}
