import { CompiledQuery, Kysely, type Insertable, sql } from 'kysely';
import { timeOrderedUuid } from '../domain/ids.js';
import { assertTransition, type RunState } from '../domain/run-states.js';
import type { DatabaseHealth } from './database-health.js';
import { GroupCommit, type Db, type Tx } from './group-commit.js';
import { listPage } from './paging.js';
import { RetryTokens } from './retry-tokens.js';
import { SqliteConnection, type SqliteOpenOptions } from './sqlite-connection.js';
import { migrate } from './migrations.js';
import type { Database, JobRunTable, JobTable, ProjectTable } from './schema.js';
import type { JobRecord, ListQuery, Page, ProjectRecord, RunPatch, RunRecord , MetricSample } from './records.js';

export type { Tx } from './group-commit.js';
export { keysetPage } from './paging.js';

const j = (v: unknown): string => JSON.stringify(v ?? null);
const pj = <T>(v: string | null): T => (v == null ? (null as T) : (JSON.parse(v) as T));

export interface EventInput {
  type: string;
  resourceId: string;
  compartmentId: string;
  projectId: string | null;
  jobId: string | null;
  /** The resource's lifecycle state after the change. */
  state: string | null;
  /** The resource as the API returns it. */
  data: Record<string, unknown>;
}

function projectFromRow(r: ProjectTable): ProjectRecord {
  return {
    id: r.id,
    compartmentId: r.compartment_id,
    displayName: r.display_name ?? '',
    description: r.description,
    lifecycleState: r.lifecycle_state as ProjectRecord['lifecycleState'],
    timeCreated: r.time_created,
    createdBy: r.created_by,
    freeformTags: pj(r.freeform_tags) ?? {},
    definedTags: pj(r.defined_tags) ?? {},
    version: r.version,
  };
}

function jobFromRow(r: JobTable): JobRecord {
  return {
    id: r.id,
    projectId: r.project_id,
    compartmentId: r.compartment_id,
    displayName: r.display_name ?? '',
    description: r.description,
    lifecycleState: r.lifecycle_state as JobRecord['lifecycleState'],
    lifecycleDetails: r.lifecycle_details,
    timeCreated: r.time_created,
    createdBy: r.created_by,
    jobConfigurationDetails: pj(r.configuration),
    jobInfrastructureConfigurationDetails: pj(r.infrastructure),
    jobEnvironmentConfigurationDetails: pj(r.environment_configuration),
    jobLogConfigurationDetails: pj(r.log_configuration),
    jobStorageMountConfigurationDetailsList: pj(r.storage_mounts),
    freeformTags: pj(r.freeform_tags) ?? {},
    definedTags: pj(r.defined_tags) ?? {},
    artifact:
      r.artifact_file_name == null
        ? null
        : {
            fileName: r.artifact_file_name,
            size: Number(r.artifact_size),
            md5: r.artifact_md5!,
            time: r.artifact_time!,
            contentDisposition: r.artifact_content_disposition ?? undefined,
            retryToken: r.artifact_retry_token ?? undefined,
          },
    version: r.version,
  };
}

type RunRow = Omit<JobRunTable, 'seq'> & { seq: number };

function runFromRow(r: RunRow): RunRecord {
  return {
    id: r.id,
    seq: Number(r.seq),
    jobId: r.job_id,
    projectId: r.project_id,
    compartmentId: r.compartment_id,
    displayName: r.display_name ?? '',
    lifecycleState: r.lifecycle_state as RunState,
    lifecycleDetails: r.lifecycle_details,
    timeAccepted: r.time_accepted,
    timeStarted: r.time_started,
    timeFinished: r.time_finished,
    createdBy: r.created_by,
    jobConfigurationOverrideDetails: pj(r.configuration_override),
    jobInfrastructureConfigurationDetails: pj(r.infrastructure),
    jobInfrastructureConfigurationOverrideDetails: pj(r.infrastructure_override),
    jobEnvironmentConfigurationOverrideDetails: pj(r.environment_override),
    jobLogConfigurationOverrideDetails: pj(r.log_override),
    jobStorageMountConfigurationDetailsList: pj(r.storage_mounts),
    jobStorageMountConfigurationOverrideDetailsList: pj(r.storage_mounts_override),
    freeformTags: pj(r.freeform_tags) ?? {},
    definedTags: pj(r.defined_tags) ?? {},
    launch: pj(r.launch),
    executor: r.executor,
    handle: pj(r.handle),
    deadlineMs: r.deadline_ms == null ? null : Number(r.deadline_ms),
    killAtMs: r.kill_at_ms == null ? null : Number(r.kill_at_ms),
    stopReason: r.stop_reason as RunRecord['stopReason'],
    exitCode: r.exit_code,
    exitSignal: r.exit_signal,
    outcomeReason: r.outcome_reason as RunRecord['outcomeReason'],
    isolation: pj(r.isolation),
    version: r.version,
    chain: { rootId: r.chain_root_id, depth: r.chain_depth },
  };
}

function runToRow(r: RunRecord): Omit<JobRunTable, 'seq'> {
  return {
    id: r.id,
    job_id: r.jobId,
    project_id: r.projectId,
    compartment_id: r.compartmentId,
    display_name: r.displayName,
    lifecycle_state: r.lifecycleState,
    lifecycle_details: r.lifecycleDetails,
    time_accepted: r.timeAccepted,
    time_started: r.timeStarted,
    time_finished: r.timeFinished,
    created_by: r.createdBy,
    configuration_override: j(r.jobConfigurationOverrideDetails),
    infrastructure: j(r.jobInfrastructureConfigurationDetails),
    infrastructure_override: j(r.jobInfrastructureConfigurationOverrideDetails),
    environment_override: j(r.jobEnvironmentConfigurationOverrideDetails),
    log_override: j(r.jobLogConfigurationOverrideDetails),
    storage_mounts: j(r.jobStorageMountConfigurationDetailsList),
    storage_mounts_override: j(r.jobStorageMountConfigurationOverrideDetailsList),
    freeform_tags: j(r.freeformTags),
    defined_tags: j(r.definedTags),
    launch: j(r.launch),
    executor: r.executor,
    handle: r.handle == null ? null : j(r.handle),
    deadline_ms: r.deadlineMs,
    kill_at_ms: r.killAtMs,
    stop_reason: r.stopReason,
    exit_code: r.exitCode,
    exit_signal: r.exitSignal,
    outcome_reason: r.outcomeReason,
    isolation: r.isolation == null ? null : j(r.isolation),
    version: r.version,
    chain_root_id: r.chain.rootId,
    chain_depth: r.chain.depth,
  };
}

const RUN_PATCH_COLUMNS: Record<keyof RunPatch, keyof JobRunTable> = {
  lifecycleDetails: 'lifecycle_details',
  timeStarted: 'time_started',
  timeFinished: 'time_finished',
  executor: 'executor',
  handle: 'handle',
  deadlineMs: 'deadline_ms',
  killAtMs: 'kill_at_ms',
  stopReason: 'stop_reason',
  exitCode: 'exit_code',
  exitSignal: 'exit_signal',
  outcomeReason: 'outcome_reason',
  displayName: 'display_name',
  freeformTags: 'freeform_tags',
  definedTags: 'defined_tags',
  isolation: 'isolation',
};
const JSON_PATCH = new Set<keyof RunPatch>(['handle', 'freeformTags', 'definedTags', 'isolation']);

/**
 * Persistence behind domain-level operations. Every run state change is a compare-and-set on the state plus its
 * event row, in one transaction. Async API over a synchronous driver so a PostgreSQL dialect fits the same code.
 */
export class Store {
  readonly db: Kysely<Database>;
  /** OK, or DAMAGED from the first corruption error SQLite answered (what the health endpoint reports). */
  readonly health: DatabaseHealth;
  private readonly commit: GroupCommit;
  private readonly retryTokens: RetryTokens;

  private constructor(private readonly connection: SqliteConnection) {
    this.db = connection.db;
    this.health = connection.health;
    this.commit = new GroupCommit(connection);
    this.retryTokens = new RetryTokens(this.commit);
  }

  /** Opens (and checks, and migrates) the SQLite database `file`: see `SqliteConnection.open`. */
  static async openSqlite(file: string, opts: SqliteOpenOptions = {}): Promise<Store> {
    return new Store(await SqliteConnection.open(file, opts, migrate));
  }

  async close(): Promise<void> {
    // Transactions already asked for still get their batch (and their callers an answer) before the database closes.
    await this.commit.drain();
    await this.connection.close();
  }

  /**
   * Called after a transaction that wrote events has committed (never before: a reader woken by it must find the
   * rows). A transaction that rolled back after writing an event only causes a spurious wake-up.
   */
  onEventsCommitted: (() => void) | null = null;
  private readonly eventsCommitted = () => this.onEventsCommitted?.();

  /** Runs `fn` in a transaction, grouped with the others asked for in the same turn: see `GroupCommit.transaction`. */
  transaction<T>(fn: (tx: Tx) => Promise<T>, opts: { tx?: Db } = {}): Promise<T> {
    return this.commit.transaction(fn, opts);
  }

  // ---- meta ----
  async getMeta(key: string): Promise<string | null> {
    const r = await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value ?? null;
  }
  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    await this.db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).execute();
    return (await this.getMeta(key))!;
  }

  // ---- run metrics ----
  /** One sampling round, one transaction (sharing its COMMIT with whatever else commits in that turn). */
  async insertMetrics(samples: MetricSample[]): Promise<void> {
    if (samples.length === 0) return;
    await this.transaction(async (tx) => {
      // 9 values per row; SQLite allows 32,766 parameters per statement.
      for (let i = 0; i < samples.length; i += 500) {
        await tx
          .insertInto('run_metrics')
          .values(
            samples.slice(i, i + 500).map((m) => ({
              run_id: m.runId,
              time_ms: m.timeMs,
              cpu: m.cpu,
              memory: m.memory,
              memory_bytes: m.memoryBytes,
              disk: m.disk,
              disk_bytes: m.diskBytes,
              gpu: m.gpu,
              gpu_memory: m.gpuMemory,
            })),
          )
          .onConflict((oc) => oc.columns(['run_id', 'time_ms']).doNothing())
          .execute();
      }
    });
  }

  async listMetrics(runId: string, sinceMs: number, limit: number): Promise<MetricSample[]> {
    const rows = await this.db
      .selectFrom('run_metrics')
      .selectAll()
      .where('run_id', '=', runId)
      .where('time_ms', '>', sinceMs)
      .orderBy('time_ms', 'asc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      runId: r.run_id,
      timeMs: Number(r.time_ms),
      cpu: r.cpu,
      memory: r.memory,
      memoryBytes: r.memory_bytes == null ? null : Number(r.memory_bytes),
      disk: r.disk,
      diskBytes: r.disk_bytes == null ? null : Number(r.disk_bytes),
      gpu: r.gpu,
      gpuMemory: r.gpu_memory,
    }));
  }

  async deleteMetrics(runId: string): Promise<void> {
    await this.db.deleteFrom('run_metrics').where('run_id', '=', runId).execute();
  }

  // ---- events (outbox) ----
  /** Writes an event row; `tx` must be the transaction of the change it records (from this.transaction). */
  async insertEvent(tx: Db, e: EventInput): Promise<void> {
    await this.insertRow(tx, 'events', {
      id: timeOrderedUuid(),
      time: new Date().toISOString(),
      type: e.type,
      resource_id: e.resourceId,
      compartment_id: e.compartmentId,
      project_id: e.projectId,
      job_id: e.jobId,
      state: e.state,
      data: j(e.data),
    });
    this.commit.afterNextCommit(this.eventsCommitted);
  }

  /**
   * The INSERTs of every create (the run, its event) with their SQL compiled once per table: building and compiling
   * the query each time was ~10% of the server's CPU per create. `row` must always carry the same columns, each with
   * a value (null, never undefined); the compiled SQL is the dialect's own, only the parameters change.
   */
  private readonly compiledInserts = new Map<string, { sql: string; columns: string[] }>();
  private async insertRow<T extends 'job_runs' | 'events'>(tx: Db, table: T, row: Insertable<Database[T]>): Promise<void> {
    let c = this.compiledInserts.get(table);
    if (!c) {
      const columns = Object.keys(row);
      if (columns.some((k) => (row as Record<string, unknown>)[k] === undefined)) throw new Error(`insert into ${table}: a column is undefined`);
      c = { sql: tx.insertInto(table).values(row as never).compile().sql, columns };
      this.compiledInserts.set(table, c);
    }
    const values = row as Record<string, unknown>;
    if (Object.keys(values).length !== c.columns.length) {
      await tx.insertInto(table).values(row as never).execute();
      return;
    }
    const parameters = c.columns.map((k) => values[k] ?? null);
    await tx.executeQuery(CompiledQuery.raw(c.sql, parameters));
  }

  // ---- retry tokens (retry-tokens.ts) ----
  idempotent(...a: Parameters<RetryTokens['idempotent']>) {
    return this.retryTokens.idempotent(...a);
  }
  deleteExpiredRetryTokens(...a: Parameters<RetryTokens['deleteExpired']>) {
    return this.retryTokens.deleteExpired(...a);
  }

  // ---- projects ----
  async insertProject(tx: Db, p: ProjectRecord): Promise<void> {
    await tx
      .insertInto('projects')
      .values({
        id: p.id,
        compartment_id: p.compartmentId,
        display_name: p.displayName,
        description: p.description,
        lifecycle_state: p.lifecycleState,
        time_created: p.timeCreated,
        created_by: p.createdBy,
        freeform_tags: j(p.freeformTags),
        defined_tags: j(p.definedTags),
        version: p.version,
      })
      .execute();
  }

  async getProject(id: string, tx: Db = this.db): Promise<ProjectRecord | null> {
    const r = await tx.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? projectFromRow(r) : null;
  }

  listProjects(q: ListQuery): Promise<Page<ProjectRecord>> {
    return listPage(this.db, 'projects',
      'time_created',
      { compartment_id: q.compartmentId, ...q.filters },
      q,
      projectFromRow,
    );
  }

  /** Compare-and-set on version: returns null when the project changed (or vanished) meanwhile. */
  async updateProject(
    tx: Db,
    id: string,
    version: number,
    patch: Partial<Pick<ProjectRecord, 'displayName' | 'description' | 'freeformTags' | 'definedTags' | 'lifecycleState'>>,
  ): Promise<ProjectRecord | null> {
    const set: Partial<ProjectTable> = { version: version + 1 };
    if (patch.displayName !== undefined) set.display_name = patch.displayName;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.freeformTags !== undefined) set.freeform_tags = j(patch.freeformTags);
    if (patch.definedTags !== undefined) set.defined_tags = j(patch.definedTags);
    if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
    const r = await tx
      .updateTable('projects')
      .set(set)
      .where('id', '=', id)
      .where('version', '=', version)
      .returningAll()
      .executeTakeFirst();
    return r ? projectFromRow(r) : null;
  }

  async countJobsInProject(projectId: string): Promise<number> {
    const r = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('project_id', '=', projectId)
      .where('lifecycle_state', 'not in', ['DELETED'])
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  // ---- jobs ----
  async insertJob(tx: Db, r: JobRecord): Promise<void> {
    await tx
      .insertInto('jobs')
      .values({
        id: r.id,
        project_id: r.projectId,
        compartment_id: r.compartmentId,
        display_name: r.displayName,
        description: r.description,
        lifecycle_state: r.lifecycleState,
        lifecycle_details: r.lifecycleDetails,
        time_created: r.timeCreated,
        created_by: r.createdBy,
        configuration: j(r.jobConfigurationDetails),
        infrastructure: j(r.jobInfrastructureConfigurationDetails),
        environment_configuration: j(r.jobEnvironmentConfigurationDetails),
        log_configuration: j(r.jobLogConfigurationDetails),
        storage_mounts: j(r.jobStorageMountConfigurationDetailsList),
        freeform_tags: j(r.freeformTags),
        defined_tags: j(r.definedTags),
        artifact_file_name: null,
        artifact_size: null,
        artifact_md5: null,
        artifact_time: null,
        version: r.version,
      })
      .execute();
  }

  async getJob(id: string, tx: Db = this.db): Promise<JobRecord | null> {
    const r = await tx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? jobFromRow(r) : null;
  }

  listJobs(q: ListQuery): Promise<Page<JobRecord>> {
    return listPage(this.db, 'jobs', 'time_created', { compartment_id: q.compartmentId, ...q.filters }, q, jobFromRow);
  }

  async updateJob(
    tx: Db,
    id: string,
    version: number,
    patch: Partial<
      Pick<
        JobRecord,
        | 'displayName'
        | 'description'
        | 'jobInfrastructureConfigurationDetails'
        | 'jobStorageMountConfigurationDetailsList'
        | 'freeformTags'
        | 'definedTags'
        | 'lifecycleState'
        | 'lifecycleDetails'
        | 'artifact'
      >
    >,
  ): Promise<JobRecord | null> {
    const set: Partial<JobTable> = { version: version + 1 };
    if (patch.displayName !== undefined) set.display_name = patch.displayName;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.jobInfrastructureConfigurationDetails !== undefined)
      set.infrastructure = j(patch.jobInfrastructureConfigurationDetails);
    if (patch.jobStorageMountConfigurationDetailsList !== undefined)
      set.storage_mounts = j(patch.jobStorageMountConfigurationDetailsList);
    if (patch.freeformTags !== undefined) set.freeform_tags = j(patch.freeformTags);
    if (patch.definedTags !== undefined) set.defined_tags = j(patch.definedTags);
    if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
    if (patch.lifecycleDetails !== undefined) set.lifecycle_details = patch.lifecycleDetails;
    if (patch.artifact) {
      set.artifact_file_name = patch.artifact.fileName;
      set.artifact_size = patch.artifact.size;
      set.artifact_md5 = patch.artifact.md5;
      set.artifact_time = patch.artifact.time;
      set.artifact_content_disposition = patch.artifact.contentDisposition ?? null;
      set.artifact_retry_token = patch.artifact.retryToken ?? null;
    }
    const r = await tx
      .updateTable('jobs')
      .set(set)
      .where('id', '=', id)
      .where('version', '=', version)
      .returningAll()
      .executeTakeFirst();
    return r ? jobFromRow(r) : null;
  }

  // ---- runs ----
  async insertRun(tx: Db, r: RunRecord): Promise<void> {
    await this.insertRow(tx, 'job_runs', runToRow(r));
  }

  async getRun(id: string, tx: Db = this.db): Promise<RunRecord | null> {
    const r = await tx.selectFrom('job_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? runFromRow(r as RunRow) : null;
  }

  /** Runs of the trigger chain that started from run `rootId`, the root itself not counted. */
  /** `tx`: counted inside a transaction (a create that checks the count before its insert). */
  async countChainRuns(rootId: string, tx?: Tx): Promise<number> {
    const r = await (tx ?? this.db).selectFrom('job_runs').select((eb) => eb.fn.countAll<number>().as('n')).where('chain_root_id', '=', rootId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  listRuns(q: ListQuery): Promise<Page<RunRecord>> {
    return listPage(this.db, 'job_runs',
      'time_accepted',
      { compartment_id: q.compartmentId, ...q.filters },
      q,
      (r) => runFromRow(r as RunRow),
    );
  }

  /** Runs in the given states, oldest first. */
  /** Runs per state (the runs_by_state index answers it without reading rows). */
  async countRunsByState(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('job_runs')
      .select(['lifecycle_state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('lifecycle_state')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.lifecycle_state, Number(r.n)]));
  }

  async runsInStates(states: readonly RunState[]): Promise<RunRecord[]> {
    const rows = await this.db
      .selectFrom('job_runs')
      .selectAll()
      .where('lifecycle_state', 'in', states as RunState[])
      .orderBy('seq', 'asc')
      .execute();
    return rows.map((r) => runFromRow(r as RunRow));
  }

  /** Which of these run ids are DELETED runs. */
  async deletedRunIds(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('job_runs')
      .select('id')
      .where('id', 'in', ids as string[])
      .where('lifecycle_state', '=', 'DELETED')
      .execute();
    return rows.map((r) => r.id);
  }

  /** Runs that ended (not deleted) before `beforeTime`, after `afterSeq` in creation order: log retention's pages. */
  async finishedRunsBefore(beforeTime: string, afterSeq: number, limit: number): Promise<{ id: string; seq: number }[]> {
    return this.db
      .selectFrom('job_runs')
      .select(['id', 'seq'])
      .where('lifecycle_state', 'in', ['SUCCEEDED', 'FAILED', 'CANCELED'])
      .where('seq', '>', afterSeq)
      .where('time_finished', '<', beforeTime)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
  }

  async runIdsOfJob(jobId: string, states: readonly RunState[]): Promise<string[]> {
    const rows = await this.db
      .selectFrom('job_runs')
      .select('id')
      .where('job_id', '=', jobId)
      .where('lifecycle_state', 'in', states as RunState[])
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Compare-and-set: moves the run to `to` (or keeps its state when `to` is null) only if it is in one of `from`
   * (and at `version` when given), applying `patch`, with the event row in the same transaction. Returns the new
   * record, or null when the run was not in an expected state.
   */
  async transitionRun(
    id: string,
    from: readonly RunState[],
    to: RunState | null,
    patch: RunPatch,
    event: ((run: RunRecord) => EventInput) | null,
    opts: { version?: number; tx?: Db; unclaimed?: boolean } = {},
  ): Promise<RunRecord | null> {
    // The transition table is the rule: a compare-and-set may only name moves it allows.
    if (to) for (const f of from) assertTransition(f, to);
    const run = async (tx: Db) => {
      const set: Record<string, unknown> = { version: sql`version + 1` };
      if (to) set.lifecycle_state = to;
      for (const [k, v] of Object.entries(patch) as [keyof RunPatch, unknown][]) {
        if (v === undefined) continue;
        set[RUN_PATCH_COLUMNS[k]] = JSON_PATCH.has(k) && v !== null ? j(v) : v;
      }
      let q = tx
        .updateTable('job_runs')
        .set(set as any)
        .where('id', '=', id)
        .where('lifecycle_state', 'in', from as RunState[]);
      if (opts.version !== undefined) q = q.where('version', '=', opts.version);
      if (opts.unclaimed) q = q.where('handle', 'is', null);
      const row = await q.returningAll().executeTakeFirst();
      if (!row) return null;
      const rec = runFromRow(row as RunRow);
      if (event) await this.insertEvent(tx, event(rec));
      return rec;
    };
    if (opts.tx) return run(opts.tx);
    return event ? this.transaction(run) : run(this.db);
  }
}
