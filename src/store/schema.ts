import type { Generated } from 'kysely';

/** Table types for Kysely. JSON columns are TEXT holding JSON; times are ISO-8601 UTC strings (sortable). */
export interface MetaTable {
  key: string;
  value: string;
}

export interface ProjectTable {
  id: string;
  compartment_id: string;
  display_name: string | null;
  description: string | null;
  lifecycle_state: string;
  time_created: string;
  created_by: string;
  freeform_tags: string;
  defined_tags: string;
  version: number;
}

export interface JobTable {
  id: string;
  project_id: string;
  compartment_id: string;
  display_name: string | null;
  description: string | null;
  lifecycle_state: string;
  lifecycle_details: string | null;
  time_created: string;
  created_by: string;
  configuration: string;
  infrastructure: string;
  environment_configuration: string | null;
  log_configuration: string | null;
  storage_mounts: string | null;
  freeform_tags: string;
  defined_tags: string;
  artifact_file_name: string | null;
  artifact_size: number | null;
  artifact_md5: string | null;
  artifact_time: string | null;
  version: number;
}

export interface JobRunTable {
  id: string;
  /** Acceptance order: FIFO admission and a stable tie-break. */
  seq: Generated<number>;
  job_id: string;
  project_id: string;
  compartment_id: string;
  display_name: string | null;
  lifecycle_state: string;
  lifecycle_details: string | null;
  time_accepted: string;
  time_started: string | null;
  time_finished: string | null;
  created_by: string;
  configuration_override: string;
  infrastructure: string;
  infrastructure_override: string | null;
  environment_override: string | null;
  log_override: string | null;
  storage_mounts: string | null;
  storage_mounts_override: string | null;
  freeform_tags: string;
  defined_tags: string;
  /** Everything the executor needs, frozen at creation: merged env, argv words, resources, artifact. */
  launch: string;
  executor: string | null;
  /** Executor handle (JSON), set when the executor took the run; enough to re-attach after a restart. */
  handle: string | null;
  /** Absolute epoch ms at which the maximum runtime is reached; set when the run starts. */
  deadline_ms: number | null;
  /** Absolute epoch ms at which a run being stopped gets SIGKILL. */
  kill_at_ms: number | null;
  stop_reason: string | null;
  exit_code: number | null;
  exit_signal: string | null;
  outcome_reason: string | null;
  /** RunIsolation (JSON): what protected the run, as set up. */
  isolation: string | null;
  version: number;
}

export interface RunMetricTable {
  run_id: string;
  time_ms: number;
  cpu: number | null;
  memory: number | null;
  memory_bytes: number | null;
  disk: number | null;
  disk_bytes: number | null;
  gpu: number | null;
  gpu_memory: number | null;
}

export interface RetryTokenTable {
  token: string;
  operation: string;
  body_hash: string;
  resource_id: string;
  created_ms: number;
}

export interface EventTable {
  seq: Generated<number>;
  id: string;
  time: string;
  type: string;
  resource_id: string;
  compartment_id: string;
  data: string;
}

export interface Database {
  meta: MetaTable;
  projects: ProjectTable;
  jobs: JobTable;
  job_runs: JobRunTable;
  retry_tokens: RetryTokenTable;
  events: EventTable;
  run_metrics: RunMetricTable;
}

