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
  /** OCI jobNodeConfigurationDetails (JSON) of a multi-node job; null: a single-node job. */
  node_configuration: string | null;
  freeform_tags: string;
  defined_tags: string;
  artifact_file_name: string | null;
  artifact_size: number | null;
  artifact_md5: string | null;
  artifact_time: string | null;
  /** The content-disposition header as the upload sent it, returned byte for byte (null: stored before 008). */
  artifact_content_disposition: string | null;
  /** The upload's opc-retry-token: a retry with it and the same bytes gets the first upload's answer. */
  artifact_retry_token: string | null;
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
  /** OCI nodeGroupDetailsList (JSON) of a multi-node run; null: a single-node run. */
  node_groups: string | null;
  /** OCI jobNodeConfigurationOverrideDetails (JSON) the run was created with; null: none. */
  node_override: string | null;
  version: number;
  /** The first run of the trigger chain this run belongs to; null for a run no rule started from another run. */
  chain_root_id: string | null;
  /** Runs between this one and its chain's first run (0: not started from another run's event). */
  chain_depth: number;
  /** The OCI Logging log the run's output is seen in (logDetails), when its log configuration enables logging. */
  log_group_id: string | null;
  log_id: string | null;
  /** The replica whose executor runs it (several replicas on PostgreSQL); null on SQLite. */
  owner_replica: string | null;
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
  project_id: string | null;
  job_id: string | null;
  /** The resource's lifecycle state after the change. */
  state: string | null;
  /** The resource as the API returns it (JSON). */
  data: string;
}

export interface WebhookSubscriptionTable {
  id: string;
  compartment_id: string;
  display_name: string;
  url: string;
  /** whsec_<base64>: the signing key (Standard Webhooks). */
  secret: string;
  filter: string;
  lifecycle_state: string;
  /** Events up to this sequence number happened before the subscription and are not delivered to it. */
  start_seq: number;
  /** The user whose read permission decides which events it is sent; null: made before authorization. */
  created_by: string | null;
  time_created: string;
  version: number;
}

export interface WebhookDeliveryTable {
  id: string;
  subscription_id: string;
  event_id: string;
  event_seq: number;
  status: string;
  attempts: number;
  next_attempt_ms: number | null;
  last_status_code: number | null;
  last_error: string | null;
  /** JSON array of the last attempts: time, status code, error, duration. */
  attempt_log: string;
  time_created: string;
  time_updated: string;
}

export interface TriggerRuleTable {
  id: string;
  compartment_id: string;
  display_name: string;
  lifecycle_state: string;
  condition: string;
  job_id: string;
  project_id: string;
  overrides: string;
  /** sha256 (hex) of the rule's trigger URL token; the token itself is shown once. */
  secret_hash: string;
  /** The user that created it, whose permissions its runs are checked against; null: made before authorization. */
  created_by: string | null;
  time_created: string;
  version: number;
}

export interface ScheduleTable {
  id: string;
  compartment_id: string;
  display_name: string;
  lifecycle_state: string;
  cron: string;
  time_zone: string;
  misfire_policy: string;
  job_id: string;
  project_id: string;
  overrides: string;
  /** The planned time (epoch ms) of the last fire that was handled (run or skipped). */
  last_fire_ms: number;
  last_run_id: string | null;
  /** The user that created it, whose permissions its runs are checked against; null: made before authorization. */
  created_by: string | null;
  time_created: string;
  version: number;
}

export interface SweepTable {
  id: string;
  compartment_id: string;
  project_id: string;
  job_id: string;
  display_name: string;
  spec: string;
  max_parallel: number;
  lifecycle_state: string;
  lifecycle_details: string | null;
  best_index: number | null;
  final_run_id: string | null;
  /** The user that created it, whose permissions its runs are checked against; null: made before authorization. */
  created_by: string | null;
  time_created: string;
  time_finished: string | null;
  version: number;
}

export interface SweepTrialTable {
  sweep_id: string;
  idx: number;
  params: string;
  run_id: string | null;
  state: string | null;
  metrics: string | null;
}

export interface PolicyTable {
  id: string;
  compartment_id: string;
  name: string;
  /** The name lower-cased: names are unique in the tenancy regardless of case, as OCI's are. */
  name_key: string;
  description: string;
  /** JSON array of statement texts, as written. */
  statements: string;
  version_date: string | null;
  lifecycle_state: string;
  time_created: string;
  freeform_tags: string;
  defined_tags: string;
  version: number;
}

export interface DynamicGroupTable {
  id: string;
  compartment_id: string;
  name: string;
  name_key: string;
  description: string;
  matching_rule: string;
  lifecycle_state: string;
  time_created: string;
  freeform_tags: string;
  defined_tags: string;
  version: number;
}

/** OCI work requests: the record of an operation OCI runs asynchronously (job and project deletes). */
export interface WorkRequestTable {
  id: string;
  operation_type: string;
  status: string;
  compartment_id: string;
  percent_complete: number;
  /** JSON array of {actionType, entityType, identifier, entityUri}. */
  resources: string;
  /** JSON arrays of {code, message, timestamp} and {message, timestamp}. */
  errors: string;
  logs: string;
  time_accepted: string;
  time_started: string | null;
  time_finished: string | null;
  version: number;
}

/** OCI Vault secrets (docs/secrets.md): the secret's metadata; its contents are the versions, sealed. */
export interface SecretTable {
  id: string;
  compartment_id: string;
  vault_id: string;
  key_id: string;
  secret_name: string;
  description: string | null;
  /** JSON objects. */
  freeform_tags: string;
  defined_tags: string;
  metadata: string;
  lifecycle_state: string;
  current_version: number;
  /** The version that was current before the last change of the current one (OCI's PREVIOUS stage). */
  previous_version: number | null;
  latest_version: number;
  time_created: string;
  time_of_deletion: string | null;
  /** Optimistic concurrency (etag). */
  version: number;
}

/** One version of a secret's contents: the Base64 text sealed with the server's key (SecretBox), never plain. */
export interface SecretVersionTable {
  secret_id: string;
  version_number: number;
  name: string | null;
  sealed_content: string;
  time_created: string;
}

/** A secret value a run has read: its log masks it, also after a restart (sealed like the version it copies). */
export interface RunSecretMaskTable {
  run_id: string;
  secret_id: string;
  version_number: number;
  sealed_content: string;
}

/** One audited request (011_audit); `data` is OCI Audit's AuditEvent.data as JSON, names resolved when read. */
export interface AuditEventTable {
  seq: Generated<number>;
  event_time: string;
  compartment_id: string;
  principal_id: string | null;
  data: string;
}

export interface LogGroupTable {
  id: string;
  compartment_id: string;
  display_name: string;
  description: string | null;
  freeform_tags: string;
  defined_tags: string;
  lifecycle_state: string;
  time_created: string;
  time_last_modified: string;
  version: number;
}

export interface LogTable {
  id: string;
  log_group_id: string;
  compartment_id: string;
  display_name: string;
  log_type: string;
  is_enabled: number;
  configuration: string | null;
  retention_duration: number;
  freeform_tags: string;
  defined_tags: string;
  lifecycle_state: string;
  time_created: string;
  time_last_modified: string;
  version: number;
}

/** An entry pushed with PutLogs (run output is not here: it is read from the run's own log file). */
export interface LogEntryTable {
  n: Generated<number>;
  log_id: string;
  time: string;
  ingested: string;
  entry_id: string;
  source: string;
  type: string;
  subject: string | null;
  data: string;
}

/** An Object Storage bucket (one namespace per server: names are unique server-wide). */
export interface OsBucketTable {
  name: string;
  id: string;
  compartment_id: string;
  created_by: string;
  time_created: string;
  version: number;
  public_access_type: string;
  storage_tier: string;
  metadata: string;
  freeform_tags: string;
  defined_tags: string;
}

/** An object: its bytes are the file `blob` names under the data dir's objectstorage/blobs. */
export interface OsObjectTable {
  bucket: string;
  name: string;
  blob: string;
  size: number;
  md5: string;
  /** Multipart objects: md5 of the parts' md5s with "-<parts>" (OCI's opc-multipart-md5); null otherwise. */
  multipart_md5: string | null;
  etag: string;
  content_type: string;
  content_language: string | null;
  content_encoding: string | null;
  content_disposition: string | null;
  cache_control: string | null;
  metadata: string;
  time_created: string;
  time_modified: string;
}

export interface OsUploadTable {
  upload_id: string;
  bucket: string;
  object: string;
  time_created: string;
  /** The object's headers and metadata as CreateMultipartUpload gave them (JSON). */
  details: string;
}

export interface OsUploadPartTable {
  upload_id: string;
  part_num: number;
  size: number;
  md5: string;
  etag: string;
}

export interface OsParTable {
  id: string;
  /** SHA-256 of the access URI's secret: the secret itself is shown once, at creation. */
  token_hash: string;
  name: string;
  bucket: string;
  object_name: string | null;
  access_type: string;
  bucket_listing_action: string;
  time_created: string;
  time_expires: string;
}

export interface Database {
  os_buckets: OsBucketTable;
  os_objects: OsObjectTable;
  os_uploads: OsUploadTable;
  os_upload_parts: OsUploadPartTable;
  os_pars: OsParTable;
  log_groups: LogGroupTable;
  logs: LogTable;
  log_entries: LogEntryTable;
  secrets: SecretTable;
  secret_versions: SecretVersionTable;
  run_secret_masks: RunSecretMaskTable;
  audit_events: AuditEventTable;
  work_requests: WorkRequestTable;
  meta: MetaTable;
  projects: ProjectTable;
  jobs: JobTable;
  job_runs: JobRunTable;
  replicas: ReplicaTable;
  leases: LeaseTable;
  retry_tokens: RetryTokenTable;
  events: EventTable;
  run_metrics: RunMetricTable;
  webhook_subscriptions: WebhookSubscriptionTable;
  webhook_deliveries: WebhookDeliveryTable;
  trigger_rules: TriggerRuleTable;
  schedules: ScheduleTable;
  sweeps: SweepTable;
  sweep_trials: SweepTrialTable;
  policies: PolicyTable;
  dynamic_groups: DynamicGroupTable;
}


/** A server replica sharing a PostgreSQL database: where its API answers, and when it last said it was alive. */
export interface ReplicaTable {
  id: string;
  api_url: string;
  started_ms: number;
  heartbeat_ms: number;
}

/** A lease (the coordinator's): who holds it, its fencing epoch (one more at every change of holder), until when. */
export interface LeaseTable {
  name: string;
  holder: string;
  epoch: number;
  expires_ms: number;
}
