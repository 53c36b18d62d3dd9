import type { Resources } from '../domain/resources.js';
import type { ExitStatus } from '../domain/run-outcome.js';
import type { LaunchPlan } from '../domain/launch.js';

/** The one interface every engine implements (local processes now; Docker and Slurm next): `Executor` below. */

/**
 * An executor's handle of a run: plain JSON that start() returns and the service stores with the run, so that a
 * restarted server can re-attach to work it started before it died. Only the executor that wrote it reads its fields.
 * `v` is the version of its format: the executor checks it whenever it reads a handle back and reports one it does
 * not know (written by a newer dsjobs) instead of misreading it; a handle without `v` was written before handles had
 * versions, in the format of version 1.
 */
export interface ExecutorHandle {
  readonly v?: number;
  /** Never set: `{pending: true}` is what a run's handle column holds while its start is under way (StartPending). */
  readonly pending?: undefined;
  readonly [field: string]: unknown;
}

export interface LaunchRequest {
  runId: string;
  /**
   * The run's plan as compiled when it was created (domain/launch.ts), unchanged: its argument words, environment,
   * resources, storage mounts, block storage, networking, artifact name (which decides how it runs) and entrypoint.
   */
  plan: LaunchPlan;
  /** The stored artifact on the server's disk. */
  artifactPath: string;
  /** Variables given at start (the run's principal's), on top of the plan's: a job cannot set them. */
  startEnv?: Record<string, string>;
  /** A Python environment (a conda env or venv directory) to run .py artifacts with, instead of the system python. */
  pythonEnv: string | null;
  /**
   * Credentials for the run alone (its resource principal's token and private key): each is written to a file only
   * the run can read, never to its environment's values or the database, and `env` is set to the file's path.
   */
  privateFiles?: PrivateFile[];
}

export interface CleanupOptions {
  killStragglers?: boolean;
  beforeRelease?: (workDir: string) => Promise<void>;
}

/** A file handed to one run only (see LaunchRequest.privateFiles). */
export interface PrivateFile {
  /** The environment variable that names the file's path, as the run sees it. */
  env: string;
  /** The file's name (no slashes). */
  name: string;
  content: string;
}

/** What protected the run, as it was actually set up: shown with the run so nobody assumes more than was there. */
export interface RunIsolation {
  sandbox: 'NATIVE' | 'BUBBLEWRAP' | 'CONTAINER' | 'NONE';
  network: 'HOST' | 'NONE';
  cpuLimit: 'ENFORCED' | 'NOT_ENFORCED';
  memoryLimit: 'ENFORCED' | 'NOT_ENFORCED';
  /** How every process of the run is found and killed. */
  processTree: 'PID_NAMESPACE' | 'CGROUP' | 'PROCESS_GROUP';
  /** VOLUME: a volume of the size asked for; DIRECTORY_LIMIT: directories whose size a watcher holds to it (the run is
   * stopped past it); NOT_ENFORCED: neither. */
  blockStorage: 'VOLUME' | 'DIRECTORY_LIMIT' | 'NOT_ENFORCED';
  /** GPUs given to the run (ids as the host names them). */
  gpus: string[];
  /** One line per protection that is off or weaker than asked, and why. */
  warnings: string[];
}

export interface LaunchResult {
  handle: ExecutorHandle;
  /** Files the engine writes the run's stdout and stderr to; the logs room tails them. */
  logFiles: { stdout: string; stderr: string };
  isolation: RunIsolation;
}

/** How a process ended (the lifecycle's rule for what that means is domain/run-outcome.ts). */
export type { ExitStatus };

/** One reading of what a run uses now. Utilizations are percentages of what its shape gives it. */
export interface ResourceSample {
  cpuPercent: number | null;
  memoryPercent: number | null;
  memoryBytes: number | null;
  diskPercent: number | null;
  diskBytes: number | null;
  gpuPercent: number | null;
  gpuMemoryPercent: number | null;
}

/** One node group of a multi-node run, as OCI's NodeGroupDetails has it. */
export interface NodeGroupState {
  name: string;
  lifecycleState: 'CREATING' | 'ACTIVE' | 'DELETING' | 'DELETED' | 'FAILED';
  lifecycleDetails?: string;
}

/** After a restart: the run still going, how it ended, or lost: its handle cannot be read (`reason` says why). */
export type Recovered = { state: 'running' } | { state: 'exited'; status: ExitStatus } | { state: 'lost'; reason: string };

export interface Executor {
  readonly name: string;
  /** Total resources this engine can hand out. */
  capacity(): Resources;
  /** Prepares and starts the run; rejects with a user-facing message if it cannot. */
  start(req: LaunchRequest): Promise<LaunchResult>;
  /**
   * Engines that queue runs themselves (a cluster scheduler): resolves once the run's process is running (true) or
   * its job ended without it ever running (false: canceled while queued); until then the run stays ACCEPTED and
   * `waiting` is told why it waits (the scheduler's reason, the job's id), for its lifecycleDetails. Engines without
   * it run what they start at once.
   */
  untilRunning?(handle: ExecutorHandle, waiting: (details: string) => void): Promise<boolean>;
  /**
   * Engines that run multi-node runs (a cluster's): each node group's state as the run's nodes last reported it
   * (OCI's nodeGroupDetailsList); null while nothing is reported yet.
   */
  nodeGroups?(handle: ExecutorHandle): NodeGroupState[] | null;
  /**
   * Engines whose runs see only some storage (a cluster's nodes mount what they mount): why a mount of the plan
   * cannot reach its runs (`index` into plan.mounts), null when all can. Asked when a run is created.
   */
  refusesMount?(plan: LaunchPlan): { index: number; reason: string } | null;
  /**
   * Engines whose runs do not see the server's data directory: where this server's own buckets are staged for the
   * run (a directory its hosts see); absent: under the server's data directory.
   */
  mountStagingDir?(runId: string): string;
  /**
   * Engines whose runs outlive the server that started them (several replicas, docs/deployment.md#executors): the
   * handle another server's executor wrote for the run, made this server's (where this one keeps the run's log copy
   * and files), for it to re-attach to. Absent: the handle serves any server as it is.
   */
  adopt?(handle: ExecutorHandle, runId: string): Promise<ExecutorHandle>;
  /**
   * Another replica took the run over (this one was silent past replicaLostAfterMs): this server stops copying its log
   * and leaves everything of it alone. Absent: the engine has nothing of the run to stop here.
   */
  letGo?(handle: ExecutorHandle): void;
  /** Resolves when the run's main process has ended (works for started and recovered handles). */
  wait(handle: ExecutorHandle): Promise<ExitStatus>;
  /** Sends a signal to every process of the run. Never throws for a run that is already gone. */
  signal(handle: ExecutorHandle, signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** The handle of a run whose start was interrupted before the handle was stored, if a process was started. */
  find(runId: string): Promise<ExecutorHandle | null>;
  /** After a restart: is the run still going, or how did it end? Lost when the handle cannot be read (never misread). */
  recover(handle: ExecutorHandle): Promise<Recovered>;
  /**
   * A run whose start was interrupted with no process recorded (find() found none): frees what the start may already
   * have made for it (its cgroups, its workspace). Logs are kept. Never touches a resource a process still uses.
   */
  discard(runId: string): Promise<void>;
  /**
   * After a restart, once every run the store says is active was re-attached (recover) or discarded: frees what no
   * run holds any more, left by a start or cleanup the previous server's death interrupted (mounted volumes, the
   * cgroups of runs that had ended). `ended` answers which of the given run ids this store knows as ended: what is
   * named after a run it does not know (another server's, on a shared host) is left alone.
   */
  afterRecovery(ended: (runIds: readonly string[]) => Promise<ReadonlySet<string>>): Promise<void>;
  /**
   * After the run ended: kill stragglers (unless told not to: after a restart the run's group id may belong to
   * someone else by now), release its workspace. Logs are kept. `beforeRelease` is called once nothing of the run
   * runs any more and before its workspace goes, with the run's working directory on this host (absent: nothing
   * of it is left), so the service can copy its outputs out without any process of the run still writing them.
   */
  cleanup(handle: ExecutorHandle, opts?: CleanupOptions): Promise<void>;
  /**
   * Reads what each run uses now (CPU over the time since the previous call for that handle). Runs whose reading
   * fails are left out.
   */
  sample(handles: { runId: string; handle: ExecutorHandle; resources: Resources }[]): Promise<Map<string, ResourceSample>>;
  /** The run was deleted (it ended and was cleaned up): everything of it on disk goes, its run directory too. */
  forget(runId: string): Promise<void>;
  /** What this engine enforces on this host, and what it cannot; for the start-up report and /metrics. */
  protections(): { enforced: string[]; off: string[] };
  /** Log files for a handle (also after a restart). */
  logFiles(handle: ExecutorHandle): { stdout: string; stderr: string };
  /** Stops watching (server shutdown); runs keep going. */
  close(): Promise<void>;
}
