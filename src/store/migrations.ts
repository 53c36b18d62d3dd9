import { type ColumnDataType, type CreateTableBuilder, type Kysely, sql } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * A primary key the database numbers (the order rows were written in: events, runs, log entries). SQLite's is its
 * rowid (`INTEGER PRIMARY KEY`, with AUTOINCREMENT where a number must never be reused); PostgreSQL refuses
 * AUTOINCREMENT and numbers with a sequence (bigserial: read back as a number, see postgres-connection.ts).
 */
function counterKey(db: Kysely<any>, name: string, neverReused: boolean) {
  return (t: CreateTableBuilder<any, any>) =>
    isPostgres(db)
      ? t.addColumn(name, 'bigserial', (c) => c.primaryKey())
      : t.addColumn(name, 'integer', (c) => (neverReused ? c.primaryKey().autoIncrement() : c.primaryKey()));
}

/** A float: SQLite's REAL is 8 bytes; PostgreSQL's `real` is 4 (0.1 would come back 0.100000001), so double there. */
const float = (db: Kysely<any>): ColumnDataType => (isPostgres(db) ? 'double precision' : 'real');

/**
 * Ordered, append-only migrations written with Kysely's schema builder so the same list serves SQLite and
 * PostgreSQL (what they spell differently goes through counterKey and float). Each runs once, in a transaction,
 * recorded in the meta table.
 */
export const MIGRATIONS: { name: string; up: (db: Kysely<any>) => Promise<void> }[] = [
  {
    name: '001_initial',
    async up(db) {
      await db.schema
        .createTable('projects')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text')
        .addColumn('description', 'text')
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('projects_by_compartment').on('projects').columns(['compartment_id', 'time_created', 'id']).execute();

      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text')
        .addColumn('description', 'text')
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('lifecycle_details', 'text')
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('configuration', 'text', (c) => c.notNull())
        .addColumn('infrastructure', 'text', (c) => c.notNull())
        .addColumn('environment_configuration', 'text')
        .addColumn('log_configuration', 'text')
        .addColumn('storage_mounts', 'text')
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('artifact_file_name', 'text')
        .addColumn('artifact_size', 'bigint')
        .addColumn('artifact_md5', 'text')
        .addColumn('artifact_time', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('jobs_by_compartment').on('jobs').columns(['compartment_id', 'time_created', 'id']).execute();
      await db.schema.createIndex('jobs_by_project').on('jobs').columns(['project_id', 'time_created', 'id']).execute();

      await db.schema
        .createTable('job_runs')
        .$call(counterKey(db, 'seq', true))
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text')
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('lifecycle_details', 'text')
        .addColumn('time_accepted', 'text', (c) => c.notNull())
        .addColumn('time_started', 'text')
        .addColumn('time_finished', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('configuration_override', 'text', (c) => c.notNull())
        .addColumn('infrastructure', 'text', (c) => c.notNull())
        .addColumn('infrastructure_override', 'text')
        .addColumn('environment_override', 'text')
        .addColumn('log_override', 'text')
        .addColumn('storage_mounts', 'text')
        .addColumn('storage_mounts_override', 'text')
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('launch', 'text', (c) => c.notNull())
        .addColumn('executor', 'text')
        .addColumn('handle', 'text')
        .addColumn('deadline_ms', 'bigint')
        .addColumn('kill_at_ms', 'bigint')
        .addColumn('stop_reason', 'text')
        .addColumn('exit_code', 'integer')
        .addColumn('exit_signal', 'text')
        .addColumn('outcome_reason', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('runs_by_compartment').on('job_runs').columns(['compartment_id', 'time_accepted', 'id']).execute();
      await db.schema.createIndex('runs_by_job').on('job_runs').columns(['job_id', 'time_accepted', 'id']).execute();
      await db.schema.createIndex('runs_by_state').on('job_runs').columns(['lifecycle_state', 'seq']).execute();

      await db.schema
        .createTable('retry_tokens')
        .addColumn('token', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('body_hash', 'text', (c) => c.notNull())
        .addColumn('resource_id', 'text', (c) => c.notNull())
        .addColumn('created_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('retry_tokens_pk', ['token', 'operation'])
        .execute();

      await db.schema
        .createTable('events')
        .$call(counterKey(db, 'seq', true))
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('resource_id', 'text', (c) => c.notNull())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
      await sql`select 1`.execute(db);
    },
  },
  {
    name: '002_run_isolation_and_metrics',
    async up(db) {
      // What protected the run, as the executor set it up (JSON); null before it started.
      await db.schema.alterTable('job_runs').addColumn('isolation', 'text').execute();
      // Resource samples: one row per run per interval (5 s by default): ~17,000 rows for a day-long run.
      await db.schema
        .createTable('run_metrics')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('time_ms', 'bigint', (c) => c.notNull())
        .addColumn('cpu', float(db))
        .addColumn('memory', float(db))
        .addColumn('memory_bytes', 'bigint')
        .addColumn('disk', float(db))
        .addColumn('disk_bytes', 'bigint')
        .addColumn('gpu', float(db))
        .addColumn('gpu_memory', float(db))
        .addPrimaryKeyConstraint('run_metrics_pk', ['run_id', 'time_ms'])
        .execute();
    },
  },
  {
    // Events become CloudEvents with the resource as the API returns it; filters by project, job and state.
    // Webhook subscriptions and their durable deliveries; trigger rules, schedules and sweeps.
    name: '003_events_automation',
    async up(db) {
      await db.schema.alterTable('events').addColumn('project_id', 'text').execute();
      await db.schema.alterTable('events').addColumn('job_id', 'text').execute();
      await db.schema.alterTable('events').addColumn('state', 'text').execute();
      await db.schema.createIndex('events_by_compartment').on('events').columns(['compartment_id', 'seq']).execute();
      await db.schema.createIndex('events_by_resource').on('events').columns(['resource_id', 'seq']).execute();
      await db.schema.createIndex('events_by_job').on('events').columns(['job_id', 'seq']).execute();

      await db.schema
        .createTable('webhook_subscriptions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('filter', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('start_seq', 'bigint', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('subscription_id', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('event_seq', 'bigint', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_ms', 'bigint')
        .addColumn('last_status_code', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('attempt_log', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('time_updated', 'text', (c) => c.notNull())
        .addUniqueConstraint('webhook_deliveries_once', ['subscription_id', 'event_id'])
        .execute();
      await db.schema.createIndex('deliveries_due').on('webhook_deliveries').columns(['status', 'next_attempt_ms']).execute();
      await db.schema.createIndex('deliveries_by_subscription').on('webhook_deliveries').columns(['subscription_id', 'event_seq']).execute();

      await db.schema
        .createTable('trigger_rules')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('condition', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('overrides', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('schedules')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('cron', 'text', (c) => c.notNull())
        .addColumn('time_zone', 'text', (c) => c.notNull())
        .addColumn('misfire_policy', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('overrides', 'text', (c) => c.notNull())
        .addColumn('last_fire_ms', 'bigint', (c) => c.notNull())
        .addColumn('last_run_id', 'text')
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('sweeps')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('max_parallel', 'integer', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('lifecycle_details', 'text')
        .addColumn('best_index', 'integer')
        .addColumn('final_run_id', 'text')
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('time_finished', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sweep_trials')
        .addColumn('sweep_id', 'text', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text')
        .addColumn('state', 'text')
        .addColumn('metrics', 'text')
        .addPrimaryKeyConstraint('sweep_trials_pk', ['sweep_id', 'idx'])
        .execute();
      await db.schema.createIndex('sweep_trials_by_run').on('sweep_trials').column('run_id').execute();
    },
  },
  {
    // Where a run sits in a chain of trigger rules, kept out of the user's reach (it was a freeform tag, which any
    // client could set to "x", making the depth NaN and the limit void).
    name: '004_run_chains',
    async up(db) {
      await db.schema.alterTable('job_runs').addColumn('chain_root_id', 'text').execute();
      await db.schema.alterTable('job_runs').addColumn('chain_depth', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.createIndex('job_runs_by_chain').on('job_runs').column('chain_root_id').execute();
    },
  },
  {
    // Identity: policies (statements in OCI's language, attached to a compartment) and dynamic groups (matching
    // rules for run principals). Names are unique in the tenancy, case-insensitively.
    name: '005_policies',
    async up(db) {
      await db.schema
        .createTable('policies')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('name_key', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('statements', 'text', (c) => c.notNull())
        .addColumn('version_date', 'text')
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('policies_by_compartment').on('policies').columns(['compartment_id', 'time_created', 'id']).execute();
      await db.schema
        .createTable('dynamic_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('name_key', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('matching_rule', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
    },
  },
  {
    // Identity: the compartment tree (the tenancy is its root, parent null), users, groups, memberships, API keys.
    name: '006_identity_authn',
    async up(db) {
      await db.schema
        .createTable('compartments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('parent_id', 'text')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('compartments_by_parent').on('compartments').columns(['parent_id', 'name']).execute();
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('blocked', 'integer', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('user_group_memberships')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('group_id', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('memberships_by_user').on('user_group_memberships').columns(['user_id', 'group_id']).execute();
      await db.schema.createIndex('memberships_by_group').on('user_group_memberships').columns(['group_id']).execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('key_value', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('api_keys_pk', ['user_id', 'fingerprint'])
        .execute();
    },
  },
  {
    // Console passwords (scrypt hashes), one per user: OCI's "UI password"; console sessions (by token hash), so a
    // restart does not log the console out.
    name: '007_console_passwords',
    async up(db) {
      await db.schema
        .createTable('user_passwords')
        .addColumn('user_id', 'text', (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('time_set', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('console_sessions')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('csrf_token', 'text', (c) => c.notNull())
        .addColumn('expires_ms', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  {
    // Automation acts as the user that made it (docs/policies.md): its runs are authorized as that user when they
    // start, and a webhook subscription is sent only the events that user may read.
    name: '008_automation_creators',
    async up(db) {
      for (const table of ['trigger_rules', 'schedules', 'sweeps', 'webhook_subscriptions']) await db.schema.alterTable(table).addColumn('created_by', 'text').execute();
    },
  },
  {
    // The artifact's content-disposition as sent (Terraform compares it byte for byte) and the upload's retry token
    // (a retried upload with the same token and bytes gets the first answer, not 409).
    name: '009_artifact_disposition',
    async up(db) {
      await db.schema.alterTable('jobs').addColumn('artifact_content_disposition', 'text').execute();
      await db.schema.alterTable('jobs').addColumn('artifact_retry_token', 'text').execute();
    },
  },
  {
    // OCI work requests (GetWorkRequest and the rest): one per job or project delete, listed by compartment.
    name: '010_work_requests',
    async up(db) {
      await db.schema
        .createTable('work_requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('operation_type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('percent_complete', float(db), (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull())
        .addColumn('errors', 'text', (c) => c.notNull())
        .addColumn('logs', 'text', (c) => c.notNull())
        .addColumn('time_accepted', 'text', (c) => c.notNull())
        .addColumn('time_started', 'text')
        .addColumn('time_finished', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('work_requests_by_compartment').on('work_requests').columns(['compartment_id', 'time_accepted']).execute();
    },
  },
  {
    // The audit trail (OCI Audit's ListEvents): one row per mutating or denied request, listed by compartment and
    // time, optionally by principal; retention deletes the oldest.
    name: '011_audit',
    async up(db) {
      await db.schema
        .createTable('audit_events')
        // The order events were recorded in: events received in the same millisecond are listed in it.
        .$call(counterKey(db, 'seq', false))
        .addColumn('event_time', 'text', (c) => c.notNull())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('principal_id', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_by_compartment').on('audit_events').columns(['compartment_id', 'event_time', 'seq']).execute();
      await db.schema.createIndex('audit_events_by_principal').on('audit_events').columns(['principal_id', 'event_time', 'seq']).execute();
      // No index on the time alone, none on the event's id (it is in `data`; nothing looks events up by it): rows are
      // inserted in about time order, so retention walks them by seq instead. Each index cost about 4 us of the
      // ~28 us an event's insert took.
    },
  },
  {
    // OCI Vault secrets (docs/secrets.md): secrets, their versions (contents sealed with the server's key) and the
    // values each run has read, which its log masks.
    name: '012_secrets',
    async up(db) {
      await db.schema
        .createTable('secrets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('vault_id', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('secret_name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('current_version', 'integer', (c) => c.notNull())
        .addColumn('previous_version', 'integer')
        .addColumn('latest_version', 'integer', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('time_of_deletion', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      // A secret's name is unique in its vault (OCI's rule), which also makes GetSecretBundleByName one lookup.
      await db.schema.createIndex('secrets_by_vault_name').unique().on('secrets').columns(['vault_id', 'secret_name']).execute();
      await db.schema.createIndex('secrets_by_compartment').on('secrets').columns(['compartment_id', 'time_created']).execute();
      await db.schema
        .createTable('secret_versions')
        .addColumn('secret_id', 'text', (c) => c.notNull())
        .addColumn('version_number', 'integer', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('sealed_content', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('secret_versions_pk', ['secret_id', 'version_number'])
        .execute();
      await db.schema
        .createTable('run_secret_masks')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('secret_id', 'text', (c) => c.notNull())
        .addColumn('version_number', 'integer', (c) => c.notNull())
        .addColumn('sealed_content', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_secret_masks_pk', ['run_id', 'secret_id', 'version_number'])
        .execute();
    },
  },
  {
    // OCI Logging subset (docs/logging.md): log groups, logs, entries pushed with PutLogs; a run's log is named on
    // the run (log_group_id, log_id) and its output is read from the run's own log file, never copied.
    name: '014_logging',
    async up(db) {
      await db.schema
        .createTable('log_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('time_last_modified', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('log_groups_by_compartment').on('log_groups').columns(['compartment_id', 'time_created']).execute();
      await db.schema
        .createTable('logs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('log_group_id', 'text', (c) => c.notNull())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('log_type', 'text', (c) => c.notNull())
        .addColumn('is_enabled', 'integer', (c) => c.notNull())
        .addColumn('configuration', 'text')
        .addColumn('retention_duration', 'integer', (c) => c.notNull())
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .addColumn('lifecycle_state', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('time_last_modified', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('logs_by_group').on('logs').columns(['log_group_id', 'time_created']).execute();
      await db.schema
        .createTable('log_entries')
        .$call(counterKey(db, 'n', true))
        .addColumn('log_id', 'text', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('ingested', 'text', (c) => c.notNull())
        .addColumn('entry_id', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('subject', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('log_entries_by_log_time').on('log_entries').columns(['log_id', 'time', 'n']).execute();
      await db.schema.createIndex('log_entries_by_time').on('log_entries').columns(['time']).execute();
      await db.schema.alterTable('job_runs').addColumn('log_group_id', 'text').execute();
      await db.schema.alterTable('job_runs').addColumn('log_id', 'text').execute();
      await db.schema.createIndex('job_runs_by_log').on('job_runs').columns(['log_id', 'seq']).where(sql.ref('log_id'), 'is not', null).execute();
    },
  },
  {
    // Object Storage (docs/object-storage.md): metadata here, bytes in files under <dataDir>/objectstorage.
    name: '015_object_storage',
    async up(db) {
      await db.schema
        .createTable('os_buckets')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('compartment_id', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('public_access_type', 'text', (c) => c.notNull())
        .addColumn('storage_tier', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('freeform_tags', 'text', (c) => c.notNull())
        .addColumn('defined_tags', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('os_buckets_by_compartment').on('os_buckets').columns(['compartment_id', 'name']).execute();
      await db.schema
        .createTable('os_objects')
        .addColumn('bucket', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('blob', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('md5', 'text', (c) => c.notNull())
        .addColumn('multipart_md5', 'text')
        .addColumn('etag', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('content_language', 'text')
        .addColumn('content_encoding', 'text')
        .addColumn('content_disposition', 'text')
        .addColumn('cache_control', 'text')
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('time_modified', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('os_objects_pk', ['bucket', 'name'])
        .execute();
      await db.schema
        .createTable('os_uploads')
        .addColumn('upload_id', 'text', (c) => c.primaryKey())
        .addColumn('bucket', 'text', (c) => c.notNull())
        .addColumn('object', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('details', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('os_uploads_by_bucket').on('os_uploads').columns(['bucket', 'object', 'time_created']).execute();
      await db.schema
        .createTable('os_upload_parts')
        .addColumn('upload_id', 'text', (c) => c.notNull())
        .addColumn('part_num', 'integer', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('md5', 'text', (c) => c.notNull())
        .addColumn('etag', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('os_upload_parts_pk', ['upload_id', 'part_num'])
        .execute();
      await db.schema
        .createTable('os_pars')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('bucket', 'text', (c) => c.notNull())
        .addColumn('object_name', 'text')
        .addColumn('access_type', 'text', (c) => c.notNull())
        .addColumn('bucket_listing_action', 'text', (c) => c.notNull())
        .addColumn('time_created', 'text', (c) => c.notNull())
        .addColumn('time_expires', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('os_pars_by_bucket').on('os_pars').columns(['bucket', 'time_created']).execute();
    },
  },
  {
    // Multi-node jobs (docs/slurm.md): a job's OCI jobNodeConfigurationDetails, and each run's nodeGroupDetailsList
    // (its node groups' states, as the executor last reported them).
    name: '016_multi_node',
    async up(db) {
      await db.schema.alterTable('jobs').addColumn('node_configuration', 'text').execute();
      await db.schema.alterTable('job_runs').addColumn('node_groups', 'text').execute();
    },
  },
  {
    // Several server replicas on one PostgreSQL database (docs/deployment.md#several-replicas): who they are, the
    // lease of the one doing the work that must happen once, and which replica's executor a run is on. Times are ms
    // since the epoch of the database's clock, so replicas on machines whose clocks differ compare them alike.
    name: '017_replicas',
    async up(db) {
      await db.schema
        .createTable('replicas')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('api_url', 'text', (c) => c.notNull())
        .addColumn('started_ms', 'bigint', (c) => c.notNull())
        .addColumn('heartbeat_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('leases')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('epoch', 'bigint', (c) => c.notNull())
        .addColumn('expires_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.alterTable('job_runs').addColumn('owner_replica', 'text').execute();
      await db.schema.createIndex('job_runs_by_owner').on('job_runs').columns(['owner_replica', 'lifecycle_state']).execute();
    },
  },
  {
    // A run's jobNodeConfigurationOverrideDetails (docs/slurm.md#multi-node-jobs), returned by GetJobRun as given.
    name: '018_run_node_override',
    async up(db) {
      await db.schema.alterTable('job_runs').addColumn('node_override', 'text').execute();
    },
  },
];

/** The advisory lock the migrations of a PostgreSQL database run under (any constant; "dsjobs" in ASCII). */
const MIGRATION_LOCK = 0x64736a6f6273;

/**
 * Brings the database to the last migration. On PostgreSQL several servers may start at the same moment: all of it
 * runs in one transaction under an advisory lock (PostgreSQL's DDL is transactional), so the first server migrates
 * and the others, once it has committed, find every migration recorded and do nothing. SQLite has one server per
 * file (data-dir-lock.ts); each migration commits on its own there.
 */
export async function migrate(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return migrateIn(db, (up) => db.transaction().execute(up));
  await db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(tx);
    await migrateIn(tx, (up) => up(tx));
  });
}

async function migrateIn(db: Kysely<any>, inTransaction: (up: (tx: Kysely<any>) => Promise<void>) => Promise<void>): Promise<void> {
  await db.schema
    .createTable('meta')
    .ifNotExists()
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
  for (const m of MIGRATIONS) {
    const key = `migration:${m.name}`;
    const done = await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    if (done) continue;
    await inTransaction(async (tx) => {
      await m.up(tx);
      await tx.insertInto('meta').values({ key, value: new Date().toISOString() }).execute();
    });
  }
}
