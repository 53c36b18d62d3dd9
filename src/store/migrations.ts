import { type Kysely, sql } from 'kysely';

/**
 * Ordered, append-only migrations written with Kysely's schema builder so the same list serves SQLite and
 * PostgreSQL. Each runs once, in a transaction, recorded in the meta table.
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
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
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
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
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
        .addColumn('cpu', 'real')
        .addColumn('memory', 'real')
        .addColumn('memory_bytes', 'bigint')
        .addColumn('disk', 'real')
        .addColumn('disk_bytes', 'bigint')
        .addColumn('gpu', 'real')
        .addColumn('gpu_memory', 'real')
        .addPrimaryKeyConstraint('run_metrics_pk', ['run_id', 'time_ms'])
        .execute();
    },
  },
];

export async function migrate(db: Kysely<any>): Promise<void> {
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
    await db.transaction().execute(async (tx) => {
      await m.up(tx);
      await tx.insertInto('meta').values({ key, value: new Date().toISOString() }).execute();
    });
  }
}
