import type { JobConfigurationDetails, JobInfrastructureConfigurationDetails } from '../domain/job-config.js';
import type { Resources } from '../domain/resources.js';
import type { RunState, OutcomeReason } from '../domain/run-states.js';
import type { LaunchPlan } from '../domain/launch.js';

export type Tags = Record<string, string>;

/** A run's handle while its start is claimed and its process not yet there: `{pending: true}`, as every version wrote it. */
export interface StartPending {
  readonly pending: true;
}

/** An executor's handle as stored: JSON that only its executor reads (executors/executor.ts, ExecutorHandle). */
export interface StoredExecutorHandle {
  readonly v?: number;
  readonly pending?: undefined;
  readonly [field: string]: unknown;
}
export type DefinedTags = Record<string, Record<string, unknown>>;

export interface ProjectRecord {
  id: string;
  compartmentId: string;
  displayName: string;
  description: string | null;
  lifecycleState: 'ACTIVE' | 'DELETING' | 'DELETED';
  timeCreated: string;
  createdBy: string;
  freeformTags: Tags;
  definedTags: DefinedTags;
  version: number;
}

export interface ArtifactInfo {
  fileName: string;
  size: number;
  /** base64 MD5, as OCI's content-md5 header carries it. */
  md5: string;
  time: string;
  /** The content-disposition header as sent (absent for artifacts stored before it was kept). */
  contentDisposition?: string;
  /** The upload's opc-retry-token, if it had one. */
  retryToken?: string;
}

export interface JobRecord {
  id: string;
  projectId: string;
  compartmentId: string;
  displayName: string;
  description: string | null;
  lifecycleState: 'CREATING' | 'ACTIVE' | 'DELETING' | 'DELETED' | 'FAILED';
  lifecycleDetails: string | null;
  timeCreated: string;
  createdBy: string;
  jobConfigurationDetails: JobConfigurationDetails;
  jobInfrastructureConfigurationDetails: JobInfrastructureConfigurationDetails;
  jobEnvironmentConfigurationDetails: Record<string, unknown> | null;
  jobLogConfigurationDetails: Record<string, unknown> | null;
  jobStorageMountConfigurationDetailsList: Record<string, unknown>[] | null;
  /** OCI's jobNodeConfigurationDetails (MULTI_NODE) of a multi-node job; null otherwise. */
  jobNodeConfigurationDetails?: Record<string, unknown> | null;
  freeformTags: Tags;
  definedTags: DefinedTags;
  artifact: ArtifactInfo | null;
  version: number;
}

/** Frozen at run creation: what the executor is asked to run. */
/** A run's compiled plan, stored with it (domain/launch.ts makes it). */
export type LaunchSpec = LaunchPlan;

export interface RunRecord {
  id: string;
  seq: number;
  jobId: string;
  projectId: string;
  compartmentId: string;
  displayName: string;
  lifecycleState: RunState;
  lifecycleDetails: string | null;
  timeAccepted: string;
  timeStarted: string | null;
  timeFinished: string | null;
  createdBy: string;
  jobConfigurationOverrideDetails: JobConfigurationDetails;
  jobInfrastructureConfigurationDetails: JobInfrastructureConfigurationDetails;
  jobInfrastructureConfigurationOverrideDetails: JobInfrastructureConfigurationDetails | null;
  jobEnvironmentConfigurationOverrideDetails: Record<string, unknown> | null;
  jobLogConfigurationOverrideDetails: Record<string, unknown> | null;
  jobStorageMountConfigurationDetailsList: Record<string, unknown>[] | null;
  jobStorageMountConfigurationOverrideDetailsList: Record<string, unknown>[] | null;
  freeformTags: Tags;
  definedTags: DefinedTags;
  launch: LaunchSpec;
  executor: string | null;
  /** null until a start claims the run; StartPending until the executor returned its handle; then that handle. */
  handle: StartPending | StoredExecutorHandle | null;
  deadlineMs: number | null;
  killAtMs: number | null;
  stopReason: 'cancel' | 'timeout' | null;
  exitCode: number | null;
  exitSignal: string | null;
  outcomeReason: OutcomeReason | null;
  /** What protected the run, as the executor set it up; null until it started. */
  isolation: RunIsolationRecord | null;
  /** OCI's nodeGroupDetailsList of a multi-node run: each node group's state; null for a single-node run. */
  nodeGroups?: NodeGroupDetailsRecord[] | null;
  /** OCI's jobNodeConfigurationOverrideDetails as the run was created with it (a multi-node job's); null: none. */
  jobNodeConfigurationOverrideDetails?: Record<string, unknown> | null;
  version: number;
  /**
   * Its place in a chain of trigger rules, set by the server only (never from a request): the chain's first run
   * (null: this run is one) and how many rule-started runs lie between them.
   */
  chain: RunChain;
  /** The OCI Logging log that shows the run's output (its log configuration enabled logging); OCI's logDetails. */
  logDetails?: { logGroupId: string; logId: string } | null;
  /** The replica whose executor runs it, with several replicas on one PostgreSQL database; null or absent otherwise. */
  owner?: string | null;
}

/** One node group of a multi-node run, as OCI's NodeGroupDetails has it. */
export interface NodeGroupDetailsRecord {
  name: string;
  lifecycleState: 'CREATING' | 'ACTIVE' | 'DELETING' | 'DELETED' | 'FAILED';
  lifecycleDetails?: string;
}

export interface RunChain {
  rootId: string | null;
  depth: number;
}

/** The executor's RunIsolation, as stored (the store does not depend on the executors room). */
export interface RunIsolationRecord {
  sandbox: string;
  network: string;
  cpuLimit: string;
  memoryLimit: string;
  processTree: string;
  blockStorage: string;
  gpus: string[];
  warnings: string[];
}

export interface MetricSample {
  runId: string;
  timeMs: number;
  cpu: number | null;
  memory: number | null;
  memoryBytes: number | null;
  disk: number | null;
  diskBytes: number | null;
  gpu: number | null;
  gpuMemory: number | null;
}

/** Fields a run transition may set alongside the state. */
export type RunPatch = Partial<
  Pick<
    RunRecord,
    | 'lifecycleDetails'
    | 'timeStarted'
    | 'timeFinished'
    | 'executor'
    | 'handle'
    | 'deadlineMs'
    | 'killAtMs'
    | 'stopReason'
    | 'exitCode'
    | 'exitSignal'
    | 'outcomeReason'
    | 'displayName'
    | 'freeformTags'
    | 'definedTags'
    | 'isolation'
    | 'nodeGroups'
    | 'compartmentId'
  >
>;

export interface ListQuery {
  compartmentId?: string;
  filters: Record<string, string | undefined>;
  sortBy: 'timeCreated' | 'displayName';
  sortOrder: 'ASC' | 'DESC';
  limit: number;
  page?: string;
}

export interface Page<T> {
  items: T[];
  nextPage: string | null;
}
