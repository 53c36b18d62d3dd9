import { accessSync, chmodSync, constants as fsc, copyFileSync, existsSync, mkdirSync, promises as fsp, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Resources } from '../../domain/resources.js';
import { RESOURCE_TYPES } from '../../domain/ids.js';
import { DEFAULT_BLOCK_STORAGE_GB } from '../../domain/job-config.js';
import type { ExecutorHandle, ExitStatus, Executor, LaunchRequest, LaunchResult, Recovered, ResourceSample, RunIsolation } from '../executor.js';
import { archiveKindOf, extractArchive, type ArchiveLimits } from '../../archive/archive.js';
import {
  checkRunCgroups,
  createRunCgroups,
  joinDirs,
  removeLeftoverCgroups,
  setRunLimits,
  cgroupNames,
  cgroupsNamed,
  killRunCgroups,
  readUsage,
  removeRunCgroups,
  runPids,
  type CgroupHost,
  type RunCgroups,
} from './cgroups.js';
import { gpuDeviceNodes, readGpus, type GpuInfo } from './gpus.js';
import { isAlive, isRunSessionLeader, isSameProcessAlive, killGroup, procStat, scanProcesses } from './proc.js';
import { resolvConf, sandboxArgs, sandboxCommand, SECCOMP_SUMMARY, socketDirs, type SandboxHost } from './sandbox.js';
import { describeRunUser, giveMountToRun, giveToRun, giveTreeToRun, runUserCanExecute, runUserOption, type RunUser } from './run-user.js';
import { hasMountsUnder, spaceUsage, VolumePool, type VolumeHost } from './volume.js';
import { NativeSpawner, NodeSpawner, type SpawnerClient, type SupervisorLaunch } from './spawners.js';
import { nativeSupervisor, which } from './which.js';
import { WarmSandboxes, type WarmSandbox } from './warm-sandboxes.js';
import { hostOpenFiles, openFilesOf, runsOverCeiling } from './open-files.js';
import { startEnvironment, type LaunchPlan } from '../../domain/launch.js';
import { decodeLocalHandle, encodeLocalHandle, LOCAL_HANDLE_VERSION, type LocalHandle } from './handle.js';

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
  /** Who sandboxed runs run as, and their open files limit (run-user.ts). */
  runUser: RunUser;
  nvidiaSmiCommand?: string;
  /** Block storage volumes kept ready per size (0: each run formats its own at start). */
  volumePoolSize?: number;
  /** Sandboxes set up ahead of runs on free pooled volumes (0: none); see warm-sandboxes.ts. */
  warmSandboxes?: number;
  /** Where to report what goes wrong off any run's path (a warm sandbox that could not be made). */
  onError?: (e: Error) => void;
}

/** The run's space, inside runDir: mounted volume (or plain directory) holding the working directory, home and tmp. */
const SPACE = 'space';
/** Inside the run's space: the files only the run may read (privateFiles: its resource principal). */
const IDENTITY_DIR = 'identity';
/** A run that failed with less than this left on its volume ran out of block storage. */
const VOLUME_FULL_BYTES = 1024 * 1024;

/**
 * The supervisor: a POSIX shell that starts the run in a new session (setsid, so the run's process group is its
 * own and can be signalled as a whole), records the child's pid, waits, and writes the exit status. The server
 * can die at any moment: the supervisor outlives it and the status file tells a restarted server how the run
 * ended. Arguments reach the run as argv through "$@": no shell ever evaluates them. dash's `wait` reports a
 * signal death as 128+N, as every POSIX shell does.
 */
const SUPERVISOR = [
  'd=$1; shift',
  '"$SETSID_BIN" "$@" &',
  'c=$!',
  'echo "$c" > "$d/child.pid"',
  'wait "$c"',
  'echo "$?" > "$d/exit.status"',
].join('\n');

/**
 * With the sh supervisor: joins the run's cgroups, then becomes the program. Arguments: N, N cgroup directories,
 * the program and its arguments. Exit 126 if a cgroup cannot be joined, as a shell does for "cannot execute".
 */
const JOIN_CGROUPS = [
  'n=$1; shift',
  'while [ "$n" -gt 0 ]; do echo 0 > "$1/cgroup.procs" || exit 126; shift; n=$((n - 1)); done',
  'exec "$@"',
].join('\n');

const EXIT_FILE = 'exit.status';
/** Whether a directory's file system takes writes (access(2) answers EROFS for a read-only one). */
function writable(dir: string): boolean {
  try {
    accessSync(dir, fsc.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** supervisor.c's REPORT_FD. */
const REPORT_FD = 63;

/**
 * What a process expects from its host and gets on an OCI job too: a PATH, a HOME, a locale, a temp dir. Taken
 * from the server's own environment (nothing else of it leaks into runs); the job's and run's variables win.
 */
const BASE_ENV: Record<string, string> = Object.fromEntries(
  ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']
    .map((k) => [k, process.env[k]] as const)
    .filter((e): e is readonly [string, string] => typeof e[1] === 'string'),
);
const CHILD_PID_FILE = 'child.pid';
/** Written in a run's directory before it is killed for the open files of all runs: its outcome then says why. */
const OPEN_FILES_KILL_FILE = 'killed.open-files';
/** The fewest processes a run gets, whatever its shape: a shell pipeline and an interpreter's helper threads. */
const PIDS_FLOOR = 256;
/** A warm sandbox's cgroup limits until its run's replace them: room for bwrap and the waiting supervisor. */
const WARM_LIMITS = { cpus: 1, memoryBytes: 256 * 1024 ** 2, pidsMax: 64 };
const HANDLE_FILE = 'handle.json';
/** Run cgroups are named after the run (its OCID); warm sandboxes' start with `warm-`. */
const RUN_CGROUP_PREFIX = `ocid1.${RESOURCE_TYPES.jobRun}.`;

export class LocalExecutor implements Executor {
  readonly name = 'local';
  private readonly commands: {
    python: string | null;
    bash: string | null;
    java: string | null;
    setsid: string;
    sh: string;
    /** The native supervisor (supervisor.c, built by npm run build); null: the sh supervisor is used. */
    supervisor: string | null;
  };
  private closed = false;
  private readonly volumes: VolumePool;
  private readonly warm: WarmSandboxes | null;
  private readonly warmOps = this.warmLauncher();
  /**
   * Warm sandboxes' cgroups are named `warm-<tag>-<hex>`, the tag from this data directory: a start removes only what
   * a previous server of the same data directory left, never another server's (they share the cgroup base).
   */
  private readonly warmPrefix: string;
  /** Warm cgroups this server made before its second sweep for leftovers (see init): that sweep leaves them. */
  private ownWarmCgroups: Set<string> | null = new Set();

  constructor(private readonly opts: LocalExecutorOptions) {
    this.warmPrefix = `warm-${createHash('sha256').update(path.resolve(opts.dataDir)).digest('hex').slice(0, 8)}-`;
    this.volumes = new VolumePool(path.join(opts.dataDir, 'volumes'), opts.volumePoolSize ?? 0);
    const setsid = which('setsid');
    const sh = which('sh') ?? '/bin/sh';
    if (!setsid) throw new Error('setsid (util-linux) is required to run local jobs and was not found on PATH');
    // A sandboxed run's interpreter must be one the run user can execute.
    const runnable = (f: string) => !opts.sandbox.program || runUserCanExecute(opts.runUser, f);
    this.commands = {
      python: which(opts.pythonCommand, undefined, runnable),
      bash: which(opts.bashCommand, undefined, runnable),
      java: which(opts.javaCommand, undefined, runnable),
      setsid,
      sh,
      supervisor: opts.supervisor === 'sh' ? null : nativeSupervisor(),
    };
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

  runDir(runId: string): string {
    return path.join(this.opts.runsDir, runId);
  }

  logFiles(handle: ExecutorHandle): { stdout: string; stderr: string } {
    const dir = this.checked(handle).runDir;
    return { stdout: path.join(dir, 'stdout.log'), stderr: path.join(dir, 'stderr.log') };
  }

  private interpreter(kind: 'python' | 'bash' | 'java'): string {
    const cmd = this.commands[kind];
    if (!cmd) {
      const configured = { python: this.opts.pythonCommand, bash: this.opts.bashCommand, java: this.opts.javaCommand }[kind];
      throw new Error(`the ${kind} interpreter '${configured}' was not found on the server's PATH (among those the run user can execute)`);
    }
    return cmd;
  }

  /**
   * argv for a file by its extension: .py with python (the run's Python environment's when it has one), .sh with
   * bash, .jar with java -jar, else run it directly.
   */
  private argvFor(file: string, pythonEnv: string | null): string[] {
    const lower = file.toLowerCase();
    if (lower.endsWith('.py')) return [pythonEnv ? path.join(pythonEnv, 'bin', 'python') : this.interpreter('python'), file];
    if (lower.endsWith('.sh')) return [this.interpreter('bash'), file];
    if (lower.endsWith('.jar')) return [this.interpreter('java'), '-jar', file];
    return [file];
  }

  async start(req: LaunchRequest): Promise<LaunchResult> {
    const runDir = this.runDir(req.runId);
    // Synchronous on purpose: small metadata operations take ~0.6 ms in all here, while the same through the
    // thread pool took ~5 ms of start latency (a round trip per call).
    mkdirIfMissing(runDir);
    const warnings = [...this.hostWarnings(req)];
    let volume: LocalHandle['volume'] = null;
    let space = path.join(runDir, SPACE);
    let warm: WarmSandbox | null = null;
    if (req.plan.blockStorageSizeInGBs && this.opts.volumes.available) {
      const w = this.warm;
      // A run whose sandbox would be the standard one takes a volume with a warm sandbox, any other run one without.
      const standard = w !== null && req.plan.mounts.length === 0 && !req.pythonEnv && req.plan.resources.gpus <= 0 && req.plan.network;
      for (let tries = 1; ; tries++) {
        volume = await this.volumes.take(req.plan.blockStorageSizeInGBs * 1024 ** 3, w ? (v) => w.has(v.mountPoint) === standard : undefined);
        if (writable(volume.mountPoint)) break;
        // ext4 turns read-only after a write error, e.g. when the data disk under its sparse image filled up: such
        // a volume is never handed out again (the runs it went to failed with EROFS until a restart).
        w?.take(volume.mountPoint, false);
        await this.volumes.discard(volume).catch(() => {});
        if (tries === 3) throw new Error("the run's block storage volume is read-only (is the data disk full?)");
      }
      space = volume.mountPoint;
      if (w) {
        warm = w.take(volume.mountPoint, standard);
        // Another free volume takes the place of the one used.
        for (const v of this.volumes.freeVolumes()) w.offer(v);
      }
    } else {
      mkdirIfMissing(space);
    }
    const work = path.join(space, 'work');
    try {
      return await this.startInSpace(req, runDir, space, work, volume, warnings, warm);
    } catch (e) {
      if (volume) await this.volumes.discard(volume).catch(() => {});
      throw e;
    }
  }

  /** Starts, gives up and disposes of warm sandboxes for WarmSandboxes (see warm-sandboxes.ts). */
  private warmLauncher() {
    const removeCgroups = async (cg: RunCgroups | null) => {
      if (cg) await emptyAndRemoveCgroups(cg);
    };
    const exited = (w: WarmSandbox) => this.spawnerClient?.exited(w.pid) ?? null;
    return {
      start: async (v: { mountPoint: string }): Promise<WarmSandbox> => {
        const space = v.mountPoint;
        const work = path.join(space, 'work');
        const runDirs = [work, path.join(space, 'tmp'), path.join(space, 'home')];
        for (const d of runDirs) mkdirIfMissing(d);
        giveToRun(this.opts.runUser, [space, ...runDirs]);
        const name = `${this.warmPrefix}${randomBytes(6).toString('hex')}`;
        this.ownWarmCgroups?.add(name);
        const cgroups = this.opts.cgroups.mode !== 'none' ? createRunCgroups(this.opts.cgroups, name, WARM_LIMITS) : null;
        const supervisor = this.commands.supervisor!;
        const sandbox = this.sandboxFor(space, { mounts: [], network: true, pythonEnv: null, devices: [] });
        const { argv, supervisorOptions } = sandboxCommand(this.opts.sandbox, sandbox, work, [supervisor, '-w', ...runUserOption(this.opts.runUser)]);
        try {
          const { pid, startTime } = await this.nativeSpawner().warm({
            args: [...(cgroups ? joinDirs(cgroups) : []).flatMap((d) => ['-g', d]), '-R', ...supervisorOptions, '-W', ...argv],
            cwd: '/',
            env: { PATH: BASE_ENV.PATH ?? '/usr/bin:/bin' },
            // What the sandbox says if it fails before any run is there.
            stdout: '/dev/null',
            stderr: path.join(this.opts.dataDir, 'warm-sandboxes.log'),
          });
          return { pid, startTime, cgroups };
        } catch (e) {
          await removeCgroups(cgroups);
          throw e;
        }
      },
      giveUp: async (w: WarmSandbox) => {
        (this.spawnerClient as NativeSpawner | null)?.giveUp(w.pid);
        const gone = exited(w);
        if (gone) {
          // A timer that holds the event loop: at shutdown nothing else does (the spawner's pipes are unref'd).
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 2000)))]);
          clearTimeout(timer);
        }
        await removeCgroups(w.cgroups);
      },
      exited,
      dispose: (w: WarmSandbox) => removeCgroups(w.cgroups),
    };
  }

  private nativeSpawner(): NativeSpawner {
    this.spawnerClient ??= new NativeSpawner(this.commands.supervisor!);
    return this.spawnerClient as NativeSpawner;
  }

  /** The sandbox's arguments (bwrap's command line) for a run's space (the volume or directory it works in). */
  private sandboxFor(space: string, run: { mounts: LaunchPlan['mounts']; network: boolean; pythonEnv: string | null; devices: string[] }): string[] {
    return sandboxArgs({
      hide: [this.opts.dataDir],
      space,
      tmp: path.join(space, 'tmp'),
      mounts: run.mounts,
      network: run.network,
      // The inner supervisor runs inside: shown at its own path even where the sandbox hides the host's (a
      // checkout under /tmp); a cached conda pack lives in the hidden data directory.
      readOnly: [...(this.commands.supervisor ? [this.commands.supervisor] : []), ...(run.pythonEnv ? [run.pythonEnv] : []), ...resolvConf()],
      devices: run.devices,
    });
  }

  private async startInSpace(
    req: LaunchRequest,
    runDir: string,
    space: string,
    work: string,
    volume: LocalHandle['volume'],
    warnings: string[],
    warm: WarmSandbox | null,
  ): Promise<LaunchResult> {
    const runDirs = [work, path.join(space, 'tmp'), path.join(space, 'home')];
    if (!warm) {
      // (A warm sandbox's were made with it.)
      for (const d of runDirs) mkdirIfMissing(d);
    }
    const sandboxed = this.opts.sandbox.program !== null;
    // Sandboxed runs are not root: what they write is theirs, their volume's root included (a recycled volume's
    // are already).
    if (sandboxed) giveToRun(this.opts.runUser, [space, ...runDirs]);
    let target: string;
    const kind = archiveKindOf(req.plan.artifactFileName);
    if (kind) {
      if (!req.plan.entrypoint) {
        throw new Error(`JOB_RUN_ENTRYPOINT must name the file to run inside the archive ${req.plan.artifactFileName}`);
      }
      // A leftover from an attempt that died before the supervisor started: start clean.
      await fsp.rm(work, { recursive: true, force: true });
      await fsp.mkdir(work, { recursive: true });
      await extractArchive(req.artifactPath, kind, work, this.opts.archiveLimits);
      if (sandboxed) giveTreeToRun(this.opts.runUser, work);
      const resolved = path.resolve(work, req.plan.entrypoint);
      if (!resolved.startsWith(work + path.sep)) {
        throw new Error(`JOB_RUN_ENTRYPOINT '${req.plan.entrypoint}' points outside the unpacked artifact`);
      }
      const st = await fsp.lstat(resolved).catch(() => null);
      if (!st || !st.isFile()) {
        throw new Error(`JOB_RUN_ENTRYPOINT '${req.plan.entrypoint}' is not a file in the artifact ${req.plan.artifactFileName}`);
      }
      target = resolved;
    } else {
      target = path.join(work, path.basename(req.plan.artifactFileName));
      // FICLONE: a copy-on-write clone where the file system can, a plain copy elsewhere. A copy (not a link) so
      // a run that rewrites its own script cannot change the job's immutable artifact.
      copyFileSync(req.artifactPath, target, fsc.COPYFILE_FICLONE);
      chmodSync(target, 0o755);
      if (sandboxed) giveToRun(this.opts.runUser, [target]);
    }
    const gpus = this.assignGpus(req.runId, req.plan.resources.gpus);
    const limits = { cpus: req.plan.resources.cpus, memoryBytes: Math.round(req.plan.resources.memoryInGBs * 1024 ** 3), pidsMax: this.pidsMaxFor(req.plan.resources.cpus) };
    if (sandboxed) {
      for (const m of req.plan.mounts) {
        const w = giveMountToRun(this.opts.runUser, m.source);
        if (w) warnings.push(w);
      }
    }
    const program = [...this.argvFor(target, req.pythonEnv), ...req.plan.args];
    const env: Record<string, string> = {
      ...BASE_ENV,
      ...(sandboxed ? { USER: this.opts.runUser.name, LOGNAME: this.opts.runUser.name } : {}),
      HOME: path.join(space, 'home'),
      TMPDIR: sandboxed ? '/tmp' : path.join(space, 'tmp'),
      ...startEnvironment(req.plan, req.startEnv),
    };
    if (req.pythonEnv) {
      env.PATH = `${path.join(req.pythonEnv, 'bin')}:${env.PATH ?? BASE_ENV.PATH ?? '/usr/bin:/bin'}`;
      env.CONDA_PREFIX = req.pythonEnv;
    }
    if (req.privateFiles?.length) Object.assign(env, this.writePrivateFiles(space, req.privateFiles, sandboxed));
    // After the job's own variables: a run must not pick GPUs it was not given.
    env.CUDA_VISIBLE_DEVICES = gpus.length > 0 ? gpus.join(',') : '';
    env.NVIDIA_VISIBLE_DEVICES = gpus.length > 0 ? gpus.join(',') : 'void';
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
    if (warm) {
      const handle: LocalHandle = { v: LOCAL_HANDLE_VERSION, runDir, pid: 0, startTime: 0, space, sandboxed: true, cgroups: warm.cgroups, volume, gpus };
      try {
        if (warm.cgroups) setRunLimits(warm.cgroups, limits, { memoryBytes: WARM_LIMITS.memoryBytes });
        const { pid, startTime } = await this.nativeSpawner().use(warm.pid, {
          file: this.commands.supervisor!,
          args: program,
          runDir,
          cwd: work,
          env,
          stdout: logFiles.stdout,
          stderr: logFiles.stderr,
          handleFile: path.join(runDir, HANDLE_FILE),
          handle: encodeLocalHandle(handle),
        });
        handle.pid = pid;
        handle.startTime = startTime;
        return { handle: encodeLocalHandle(handle), logFiles, isolation: isolation(warm.cgroups) };
      } catch {
        // Gone before its run reached it (or its limits could not be set): this run makes its own sandbox.
        this.nativeSpawner().giveUp(warm.pid);
        void this.warmOps.dispose(warm);
      }
    }
    let cgroups: RunCgroups | null = null;
    if (this.opts.cgroups.mode !== 'none') {
      try {
        cgroups = createRunCgroups(this.opts.cgroups, req.runId, limits);
      } catch (e) {
        warnings.push(`CPU and memory limits are off for this run: its cgroup could not be made (${(e as Error).message})`);
      }
    }
    let argv = program;
    let supervisorOptions: string[] = [];
    if (sandboxed) {
      const args = this.sandboxFor(space, { mounts: req.plan.mounts, network: req.plan.network, pythonEnv: req.pythonEnv, devices: gpus.length > 0 ? gpuDeviceNodes() : [] });
      // With the native supervisor, its inner half runs inside and reports signals as signals (bwrap alone turns a
      // death by signal N into exit code 128+N).
      const inner = this.commands.supervisor ? [this.commands.supervisor, '-r', String(REPORT_FD), ...runUserOption(this.opts.runUser)] : [];
      ({ argv, supervisorOptions } = sandboxCommand(this.opts.sandbox, args, work, [...inner, ...program]));
    }
    const native = this.commands.supervisor;
    const cgDirs = cgroups ? joinDirs(cgroups) : [];
    const handle: LocalHandle = { v: LOCAL_HANDLE_VERSION, runDir, pid: 0, startTime: 0, space, sandboxed, cgroups, volume, gpus };
    try {
      const { pid, startTime } = await this.spawnSupervisor({
        file: native ?? this.commands.sh,
        args: native
          ? [...cgDirs.flatMap((d) => ['-g', d]), ...(sandboxed ? ['-R'] : []), ...supervisorOptions, runDir, ...argv]
          : ['-c', SUPERVISOR, 'dsjobs-supervisor', runDir, this.commands.sh, '-c', JOIN_CGROUPS, 'join', String(cgDirs.length), ...cgDirs, ...argv],
        cwd: work,
        env: native ? env : { ...env, SETSID_BIN: this.commands.setsid },
        stdout: logFiles.stdout,
        stderr: logFiles.stderr,
        handleFile: path.join(runDir, HANDLE_FILE),
        handle: encodeLocalHandle(handle),
      });
      handle.pid = pid;
      handle.startTime = startTime;
    } catch (e) {
      this.releaseGpus(req.runId);
      if (cgroups) removeRunCgroups(cgroups);
      throw e;
    }
    return { handle: encodeLocalHandle(handle), logFiles, isolation: isolation(cgroups) };
  }

  /**
   * Writes a run's private files (its resource principal's token and key) to `<space>/identity/`: a directory of mode
   * 0700 and files of mode 0600, owned by the run user when the run is sandboxed (other runs are that user too, but
   * each one's sandbox hides the data directory this lives under), else by the server's user. The
   * space is bound at its own path in the sandbox, so the paths returned (the variables naming them) hold in the run.
   * Created exclusively: a name already there (a symbolic link planted in a reused space) is removed first, never
   * followed.
   */
  private writePrivateFiles(space: string, files: NonNullable<LaunchRequest['privateFiles']>, sandboxed: boolean): Record<string, string> {
    const dir = path.join(space, IDENTITY_DIR);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
    const env: Record<string, string> = {};
    for (const f of files) {
      if (f.name.includes('/') || f.name.startsWith('.')) throw new Error(`a private file's name must be a plain name: ${f.name}`);
      const file = path.join(dir, f.name);
      writeFileSync(file, f.content, { mode: 0o600, flag: 'wx' });
      if (sandboxed) giveToRun(this.opts.runUser, [file]);
      env[f.env] = file;
    }
    if (sandboxed) giveToRun(this.opts.runUser, [dir]);
    return env;
  }

  /** The uid sandboxed runs run as, where it is not the server's own (the server is root); else null. */
  runUid(): number | null {
    return this.opts.sandbox.program && this.commands.supervisor ? this.opts.runUser.uid : null;
  }

  /** A run's pids limit, from its shape's CPUs. */
  pidsMaxFor(cpus: number): number {
    return Math.min(this.opts.pidsMax, Math.max(PIDS_FLOOR, Math.ceil(cpus * this.opts.pidsPerCpu)));
  }

  /** What this host cannot give this run, in words. */
  private hostWarnings(req: LaunchRequest): string[] {
    const out: string[] = [];
    if (this.opts.sandbox.program && this.opts.sandbox.unverified) out.push(`the sandbox failed its start-up check: ${this.opts.sandbox.unverified}`);
    if (this.opts.sandbox.program && !this.commands.supervisor) {
      out.push('runs as root without a seccomp filter: the native supervisor (npm run build, with a C compiler) makes sandboxed runs another user');
    }
    if (!this.opts.sandbox.program) {
      out.push(`not sandboxed: ${this.opts.sandbox.note ?? 'no sandbox'}; the run can read the server's files`);
      if (!req.plan.network) out.push('networking NONE was asked for but cannot be enforced without the sandbox: the run has the host network');
      if (req.plan.mounts.length > 0) out.push('storage mounts need the sandbox: the mounted directories are not visible at their destinations');
    }
    if (this.opts.cgroups.mode === 'none') out.push(`CPU and memory limits are off: ${this.opts.cgroups.notes.join('; ')}`);
    if (req.plan.blockStorageSizeInGBs && !this.opts.volumes.available) {
      out.push(`block storage of ${req.plan.blockStorageSizeInGBs} GB is not enforced: ${this.opts.volumes.note ?? 'no volumes'}`);
    }
    return out;
  }

  // ---- GPUs: which run holds which (by UUID); admission already made sure enough are free ----
  private readonly gpuOwners = new Map<string, string>();

  private assignGpus(runId: string, count: number): string[] {
    if (count <= 0) return [];
    const free = this.opts.gpus.filter((g) => !this.gpuOwners.has(g.uuid));
    if (free.length < count) throw new Error(`${count} GPU(s) needed, ${free.length} free on this server`);
    const picked = free.slice(0, count).map((g) => g.uuid);
    for (const u of picked) this.gpuOwners.set(u, runId);
    return picked;
  }

  private releaseGpus(runId: string): void {
    for (const [u, owner] of this.gpuOwners) if (owner === runId) this.gpuOwners.delete(u);
  }

  /** GPU UUID -> the run holding it. */
  gpuAssignments(): Map<string, string> {
    return new Map(this.gpuOwners);
  }

  // ---- the spawner process (see spawners.ts for why) ----
  private spawnerClient: SpawnerClient | null = null;

  private spawnSupervisor(m: SupervisorLaunch): Promise<{ pid: number; startTime: number }> {
    if (this.commands.supervisor) return this.nativeSpawner().spawn(m);
    this.spawnerClient ??= new NodeSpawner();
    return this.spawnerClient.spawn(m);
  }

  private readExit(runDir: string): ExitStatus {
    try {
      return parseExitStatus(readFileSync(path.join(runDir, EXIT_FILE), 'utf8'));
    } catch {
      return { exitCode: null, signal: null };
    }
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
    const status = this.readExit(handle.runDir);
    if (status.exitCode === 0) return status;
    const cg = this.cgroupsOf(handle);
    if (cg && readUsage(cg).oomKills > 0) return { ...status, exhausted: 'memory' };
    if (existsSync(path.join(handle.runDir, OPEN_FILES_KILL_FILE))) return { ...status, exhausted: 'openFiles' };
    if (handle.volume) {
      const u = spaceUsage(handle.volume.mountPoint);
      if (u && u.availableBytes < VOLUME_FULL_BYTES) return { ...status, exhausted: 'blockStorage' };
    }
    return status;
  }

  private cgroupsOf(handle: LocalHandle): RunCgroups | null {
    return handle.cgroups ? checkRunCgroups(this.opts.cgroups, handle.cgroups) : null;
  }

  private childPid(handle: LocalHandle): number | null {
    try {
      const n = Number(readFileSync(path.join(handle.runDir, CHILD_PID_FILE), 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : null;
    } catch {
      return null;
    }
  }

  async signal(h: ExecutorHandle, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const handle = this.checked(h);
    let pgid = this.childPid(handle);
    // The supervisor writes the pid a moment after it starts the run: give it up to ~200 ms.
    for (let i = 0; pgid === null && i < 40 && isSameProcessAlive(handle.pid, handle.startTime); i++) {
      await new Promise((r) => setTimeout(r, 5));
      pgid = this.childPid(handle);
    }
    const cg = this.cgroupsOf(handle);
    if (signal === 'SIGKILL') {
      // The group first: in a sandbox that kills bwrap, and the kernel then kills everything in the pid namespace.
      if (pgid !== null) killGroup(pgid, 'SIGKILL');
      if (cg) killRunCgroups(cg);
      return;
    }
    if (handle.sandboxed && pgid !== null) {
      // Not to bwrap itself: it would die of SIGTERM at once and take the run down without its grace period.
      // Every process of the run instead (setsid or double-forked ones included, when the cgroup lists them).
      const pids = cg ? runPids(cg) : scanProcesses().filter((p) => p.pgid === pgid).map((p) => p.pid);
      for (const pid of pids) {
        const st = procStat(pid);
        // comm is cut at 15 characters: 'dsjobs-supervis' is the inner supervisor.
        if (!st || st.comm === 'bwrap' || st.comm.startsWith('dsjobs-supervis')) continue;
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      return;
    }
    if (pgid === null) return;
    if (cg) {
      for (const pid of runPids(cg)) {
        try {
          process.kill(pid, signal);
        } catch {
          /* gone */
        }
      }
      return;
    }
    // The pid is recorded just before the child's setsid() has made its process group: for that instant the
    // group does not exist yet (ESRCH) though the process does. Retry briefly, then signal the process itself.
    for (let i = 0; i < 40; i++) {
      if (killGroup(pgid, signal)) return;
      if (!isAlive(pgid)) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    try {
      process.kill(pgid, signal);
    } catch {
      /* gone */
    }
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
      const runId = path.basename(handle.runDir);
      for (const u of handle.gpus ?? []) if (this.opts.gpus.some((g) => g.uuid === u)) this.gpuOwners.set(u, runId);
      return { state: 'running' };
    }
    return { state: 'exited', status: this.exitOf(handle) };
  }

  async discard(runId: string): Promise<void> {
    const runDir = this.runDir(runId);
    // Cgroups named after the run (a start makes them before its supervisor exists); rmdir refuses a busy one.
    const host = this.opts.cgroups;
    if (host.mode !== 'none') removeRunCgroups(cgroupsNamed(host.mode, host.bases, runId));
    this.releaseGpus(runId);
    if (!this.opts.keepWorkDirs) {
      await fsp.rm(path.join(runDir, SPACE), { recursive: true, force: true });
      await fsp.rm(path.join(runDir, 'work'), { recursive: true, force: true });
    }
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

  async cleanup(h: ExecutorHandle, opts: { killStragglers?: boolean } = {}): Promise<void> {
    const handle = this.checked(h);
    const cg = this.cgroupsOf(handle);
    if (cg) {
      // The cgroup is the run's alone, whatever happened to pids meanwhile: always safe to empty.
      await emptyAndRemoveCgroups(cg);
    } else {
      const pgid = this.childPid(handle);
      // The main process is gone; anything left in its group (background children) goes with it. After a restart
      // the group id may have been reused: then only a group whose leader is provably the run's is killed.
      if (pgid !== null && (opts.killStragglers !== false || isRunSessionLeader(pgid, handle.startTime))) {
        killGroup(pgid, 'SIGKILL');
      }
    }
    this.releaseGpus(path.basename(handle.runDir));
    // The run's credentials go whatever is kept of its space (keepWorkDirs): they are worthless once it ended, but
    // nothing needs them either.
    if (handle.space) await fsp.rm(path.join(handle.space, IDENTITY_DIR), { recursive: true, force: true }).catch(() => {});
    if (handle.volume && this.volumes.owns(handle.volume.mountPoint)) {
      if (this.opts.keepWorkDirs) {
        await this.volumes.discard(handle.volume, { keepImage: true });
      } else {
        // Up to 16 emptied volumes per size wait for the next runs: a burst of short runs stops formatting.
        await this.volumes.recycle(handle.volume, 16);
      }
    } else if (!this.opts.keepWorkDirs) {
      // Only ever the run's own directory: a handle is data.
      const space = handle.space && path.resolve(handle.space).startsWith(handle.runDir + path.sep) ? handle.space : path.join(handle.runDir, 'work');
      await fsp.rm(space, { recursive: true, force: true });
      await fsp.rm(path.join(handle.runDir, SPACE), { recursive: true, force: true });
    }
  }

  /** Kills the runs holding the most open files while all runs together hold more than openFilesMaxAllRuns. */
  private async keepOpenFilesCeiling(runs: { runId: string; handle: ExecutorHandle }[]): Promise<void> {
    const ceiling = this.opts.openFilesMaxAllRuns;
    if (ceiling === null) return;
    const host = hostOpenFiles();
    if (host !== null && host <= ceiling) return;
    const counts = new Map<string, number>();
    const handles = new Map<string, LocalHandle>();
    for (const r of runs) {
      const handle = this.readable(r.handle);
      const cg = handle && this.cgroupsOf(handle);
      if (!handle || !cg) continue;
      counts.set(r.runId, openFilesOf(runPids(cg)));
      handles.set(r.runId, handle);
    }
    for (const runId of runsOverCeiling(counts, ceiling)) {
      const handle = handles.get(runId)!;
      writeFileSync(path.join(handle.runDir, OPEN_FILES_KILL_FILE), `${counts.get(runId)} of ${ceiling}\n`);
      this.opts.onError?.(new Error(`run ${runId} held ${counts.get(runId)} open files while all runs together held more than openFilesMaxAllRuns (${ceiling}): killed`));
      await this.signal(encodeLocalHandle(handle), 'SIGKILL');
    }
  }

  // ---- monitoring ----
  private readonly lastCpu = new Map<string, { cpuNs: number; atNs: bigint }>();

  async sample(runs: { runId: string; handle: ExecutorHandle; resources: Resources }[]): Promise<Map<string, ResourceSample>> {
    // The round that sees every active run also keeps their open files under the ceiling (see open-files.ts).
    await this.keepOpenFilesCeiling(runs);
    const out = new Map<string, ResourceSample>();
    const readable = runs.flatMap((r) => {
      const handle = this.readable(r.handle);
      return handle ? [{ ...r, handle }] : [];
    });
    const needGpus = readable.some((r) => (r.handle.gpus ?? []).length > 0);
    const gpuReadings = needGpus ? new Map((await readGpus(this.opts.nvidiaSmiCommand)).map((g) => [g.uuid, g])) : new Map();
    // Runs without a cgroup are measured from /proc: one scan for all of them, grouped by session.
    let bySession: Map<number, { cpuTicks: number; rssBytes: number }> | null = null;
    const seen = new Set<string>();
    for (const { runId, handle, resources } of readable) {
      const r = { runId, resources };
      seen.add(r.runId);
      const cg = this.cgroupsOf(handle);
      let cpuNs: number | null = null;
      let memoryBytes: number | null = null;
      if (cg) {
        const u = readUsage(cg);
        cpuNs = u.cpuNs;
        memoryBytes = u.memoryBytes;
      } else {
        const pgid = this.childPid(handle);
        if (pgid !== null) {
          bySession ??= sessionTotals();
          const t = bySession.get(pgid);
          cpuNs = t ? (t.cpuTicks * 1e9) / CLOCK_TICKS : 0;
          memoryBytes = t ? t.rssBytes : 0;
        }
      }
      const now = process.hrtime.bigint();
      let cpuPercent: number | null = null;
      const prev = this.lastCpu.get(r.runId);
      if (cpuNs !== null) {
        if (prev && r.resources.cpus > 0) {
          const wallNs = Number(now - prev.atNs);
          if (wallNs > 0) cpuPercent = round2((100 * Math.max(0, cpuNs - prev.cpuNs)) / (wallNs * r.resources.cpus));
        }
        this.lastCpu.set(r.runId, { cpuNs, atNs: now });
      }
      const memLimit = r.resources.memoryInGBs * 1024 ** 3;
      let diskBytes: number | null = null;
      let diskPercent: number | null = null;
      if (handle.volume) {
        const u = spaceUsage(handle.volume.mountPoint);
        if (u && u.totalBytes > 0) {
          diskBytes = u.usedBytes;
          diskPercent = round2((100 * u.usedBytes) / u.totalBytes);
        }
      } else {
        diskBytes = await directoryBytes(handle.space ?? path.join(handle.runDir, 'work'));
      }
      let gpuPercent: number | null = null;
      let gpuMemoryPercent: number | null = null;
      const mine = (handle.gpus ?? []).map((u) => gpuReadings.get(u)).filter((g) => g !== undefined);
      if (mine.length > 0) {
        gpuPercent = round2(avg(mine.map((g) => g.utilizationPercent)));
        gpuMemoryPercent = round2(
          avg(mine.map((g) => (g.memoryUsedMiB !== null && g.memoryTotalMiB ? (100 * g.memoryUsedMiB) / g.memoryTotalMiB : null))),
        );
      }
      out.set(r.runId, {
        cpuPercent,
        memoryBytes,
        memoryPercent: memoryBytes !== null && memLimit > 0 ? round2((100 * memoryBytes) / memLimit) : null,
        diskBytes,
        diskPercent,
        gpuPercent: Number.isNaN(gpuPercent) ? null : gpuPercent,
        gpuMemoryPercent: Number.isNaN(gpuMemoryPercent) ? null : gpuMemoryPercent,
      });
    }
    for (const id of this.lastCpu.keys()) if (!seen.has(id)) this.lastCpu.delete(id);
    return out;
  }

  protections(): { enforced: string[]; off: string[] } {
    const enforced: string[] = [];
    const off: string[] = [];
    const engine = this.opts.sandbox.engine === 'native' ? 'native namespaces (dsjobs-supervisor -B)' : 'bubblewrap';
    const why = this.opts.sandbox.engine === 'bwrap' && this.opts.sandbox.note ? ` (not the native engine: ${this.opts.sandbox.note})` : '';
    const unverified = this.opts.sandbox.unverified;
    if (this.opts.sandbox.program && unverified) {
      // The sandbox is used, but the start-up check saw it otherwise than what follows would claim: nothing claimed.
      enforced.push(`sandbox: ${engine} (${this.opts.sandbox.program})${why}; read-only system, private /tmp and pid namespace, networking NONE available`);
      off.push(`sandbox: the start-up check failed, so the data directory, /run, the run user and the seccomp filter are not as they should be: ${unverified}`);
    } else if (this.opts.sandbox.program) {
      const hidden = ['data directory', ...socketDirs()].join(', ');
      enforced.push(`sandbox: ${engine} (${this.opts.sandbox.program})${why}; read-only system, private /tmp and pid namespace, ${hidden} hidden, networking NONE available`);
      if (this.commands.supervisor) {
        enforced.push(`run user: ${describeRunUser(this.opts.runUser)}; the run's supervisor (pid 1) is uid 0 and not dumpable`);
        enforced.push(`seccomp: ${SECCOMP_SUMMARY}`);
      } else {
        off.push('run user and seccomp: runs are root (without capabilities) and have no seccomp filter: the native supervisor is not built (npm run build, with a C compiler)');
      }
    } else off.push(`sandbox: ${this.opts.sandbox.note}`);
    const u = this.opts.runUser;
    const limitsLine = `open files ${u.openFilesMax} per process; processes per run ${this.opts.pidsPerCpu} per CPU of the shape (${PIDS_FLOOR} to ${this.opts.pidsMax})`;
    if (this.opts.cgroups.mode !== 'none') {
      const all = this.opts.pidsMaxAllRuns !== null ? `, ${this.opts.pidsMaxAllRuns} for all runs together` : '';
      const files = this.opts.openFilesMaxAllRuns !== null ? `; open files ${this.opts.openFilesMaxAllRuns} for all runs together (checked each metrics round)` : '';
      enforced.push(`CPU, memory and process limits: cgroups ${this.opts.cgroups.mode} (${Object.values(this.opts.cgroups.bases).join(', ')}); ${limitsLine}${all}${files}`);
      for (const n of this.opts.cgroups.notes) off.push(`cgroups: ${n}`);
    } else off.push(`CPU and memory limits: ${this.opts.cgroups.notes.join('; ')}`);
    if (this.opts.volumes.available) {
      enforced.push('block storage: a loop-mounted ext4 volume of blockStorageSizeInGBs per run');
      if (this.volumes.propagationNote) {
        off.push(`block storage: ${this.volumes.propagationNote}; a discarded volume stays held (loop device and blocks) until the runs that started while it was mounted end`);
      }
    } else off.push(`block storage: ${this.opts.volumes.note}`);
    if (this.warm) enforced.push(`warm sandboxes: up to ${this.opts.warmSandboxes} set up ahead of runs on free volumes`);
    if (this.opts.gpus.length > 0) enforced.push(`GPUs: ${this.opts.gpus.map((g) => `${g.index} ${g.name} (${g.uuid})`).join(', ')}`);
    return { enforced, off };
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

const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([name, n]) => [n as number, name]));

/** "N\n" (exit code) or "signal N\n"; anything else, or a status cut short before its newline, is unknown. */
export function parseExitStatus(text: string): ExitStatus {
  if (!text.endsWith('\n')) return { exitCode: null, signal: null };
  const m = /^(?:(\d+)|signal (\d+))\n$/.exec(text);
  if (!m) return { exitCode: null, signal: null };
  if (m[1] !== undefined) return { exitCode: Number(m[1]), signal: null };
  const n = Number(m[2]);
  return { exitCode: null, signal: SIGNAL_NAMES.get(n) ?? `signal ${n}` };
}

const CLOCK_TICKS = 100; // USER_HZ: 100 on every Linux architecture Node supports

/** CPU ticks and resident memory of every process, summed per session (a run's session is its supervisor child). */
function sessionTotals(): Map<number, { cpuTicks: number; rssBytes: number }> {
  const out = new Map<number, { cpuTicks: number; rssBytes: number }>();
  const page = 4096;
  for (const p of scanProcesses()) {
    const t = out.get(p.session) ?? { cpuTicks: 0, rssBytes: 0 };
    t.cpuTicks += p.cpuTicks;
    t.rssBytes += p.rssPages * page;
    out.set(p.session, t);
  }
  return out;
}

/** Bytes under a directory, or null past 20,000 entries (a run's space without a volume is not worth a long walk). */
async function directoryBytes(dir: string): Promise<number | null> {
  let total = 0;
  let entries = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let list;
    try {
      list = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of list) {
      if (++entries > 20_000) return null;
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) total += (await fsp.lstat(p).catch(() => null))?.blocks ?? 0;
    }
  }
  return total * 512;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
function avg(xs: (number | null)[]): number {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

/** Kills what is left in a run's (or warm sandbox's) cgroups and removes them once empty (up to ~1 s). */
async function emptyAndRemoveCgroups(cg: RunCgroups): Promise<void> {
  killRunCgroups(cg);
  for (let i = 0; i < 100 && !removeRunCgroups(cg); i++) await new Promise((r) => setTimeout(r, 10));
}

function mkdirIfMissing(dir: string): void {
  // A recycled volume keeps its run directories: a stat is cheaper than the exception of mkdir's EEXIST.
  if (existsSync(dir)) return;
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}
