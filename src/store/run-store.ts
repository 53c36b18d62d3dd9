import { completePlan } from '../domain/launch.js';
import { sql, type Insertable, type Kysely } from 'kysely';
import { assertTransition, type RunState } from '../domain/run-states.js';
import { CompiledInsert } from './compiled-insert.js';
import type { EventInput, EventOutbox } from './event-outbox.js';
import type { BatchedWriter, Db, GroupCommit, Tx } from './group-commit.js';
import { fromJson, toJson } from './json-columns.js';
import { listPage } from './paging.js';
import type { ListQuery, Page, RunPatch, RunRecord } from './records.js';
import type { Database, JobRunTable } from './schema.js';

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
    jobConfigurationOverrideDetails: fromJson(r.configuration_override),
    jobInfrastructureConfigurationDetails: fromJson(r.infrastructure),
    jobInfrastructureConfigurationOverrideDetails: fromJson(r.infrastructure_override),
    jobEnvironmentConfigurationOverrideDetails: fromJson(r.environment_override),
    jobLogConfigurationOverrideDetails: fromJson(r.log_override),
    jobStorageMountConfigurationDetailsList: fromJson(r.storage_mounts),
    jobStorageMountConfigurationOverrideDetailsList: fromJson(r.storage_mounts_override),
    freeformTags: fromJson(r.freeform_tags) ?? {},
    definedTags: fromJson(r.defined_tags) ?? {},
    launch: completePlan(fromJson(r.launch)),
    executor: r.executor,
    handle: fromJson(r.handle),
    deadlineMs: r.deadline_ms == null ? null : Number(r.deadline_ms),
    killAtMs: r.kill_at_ms == null ? null : Number(r.kill_at_ms),
    stopReason: r.stop_reason as RunRecord['stopReason'],
    exitCode: r.exit_code,
    exitSignal: r.exit_signal,
    outcomeReason: r.outcome_reason as RunRecord['outcomeReason'],
    isolation: fromJson(r.isolation),
    nodeGroups: r.node_groups == null ? null : fromJson(r.node_groups),
    jobNodeConfigurationOverrideDetails: r.node_override == null ? null : fromJson(r.node_override),
    version: r.version,
    chain: { rootId: r.chain_root_id, depth: r.chain_depth },
    logDetails: r.log_id && r.log_group_id ? { logGroupId: r.log_group_id, logId: r.log_id } : null,
    owner: r.owner_replica,
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
    configuration_override: toJson(r.jobConfigurationOverrideDetails),
    infrastructure: toJson(r.jobInfrastructureConfigurationDetails),
    infrastructure_override: toJson(r.jobInfrastructureConfigurationOverrideDetails),
    environment_override: toJson(r.jobEnvironmentConfigurationOverrideDetails),
    log_override: toJson(r.jobLogConfigurationOverrideDetails),
    storage_mounts: toJson(r.jobStorageMountConfigurationDetailsList),
    storage_mounts_override: toJson(r.jobStorageMountConfigurationOverrideDetailsList),
    freeform_tags: toJson(r.freeformTags),
    defined_tags: toJson(r.definedTags),
    launch: toJson(r.launch),
    executor: r.executor,
    handle: r.handle == null ? null : toJson(r.handle),
    deadline_ms: r.deadlineMs,
    kill_at_ms: r.killAtMs,
    stop_reason: r.stopReason,
    exit_code: r.exitCode,
    exit_signal: r.exitSignal,
    outcome_reason: r.outcomeReason,
    isolation: r.isolation == null ? null : toJson(r.isolation),
    node_groups: r.nodeGroups == null ? null : toJson(r.nodeGroups),
    node_override: r.jobNodeConfigurationOverrideDetails == null ? null : toJson(r.jobNodeConfigurationOverrideDetails),
    version: r.version,
    chain_root_id: r.chain.rootId,
    chain_depth: r.chain.depth,
    log_group_id: r.logDetails?.logGroupId ?? null,
    log_id: r.logDetails?.logId ?? null,
    owner_replica: r.owner ?? null,
  };
}

/** The column of each field a transition may change; those in JSON_PATCH are kept as JSON text. */
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
  nodeGroups: 'node_groups',
  compartmentId: 'compartment_id',
};
const JSON_PATCH = new Set<keyof RunPatch>(['handle', 'freeformTags', 'definedTags', 'isolation', 'nodeGroups']);

/** Table `job_runs`: every run state change is a compare-and-set on the state plus its event row. */
export class RunStore {
  private readonly insertRow = new CompiledInsert('job_runs');
  /**
   * On PostgreSQL the runs created in a batch go in one INSERT at its end (GroupCommit.deferWrite): a create that
   * writes nothing else (its event is deferred too) then costs its batch no round trip of its own.
   */
  private readonly batched: BatchedWriter<Insertable<Database['job_runs']>> = {
    writeMany: (tx, rows) => this.insertRow.runMany(tx, rows),
    statement: (tx, rows, first) => this.insertRow.statement(tx, rows, first),
  };

  constructor(
    private readonly db: Kysely<Database>,
    private readonly commit: GroupCommit,
    private readonly events: EventOutbox,
  ) {}

  /**
   * Writes a new run; `tx` must be the transaction of its create. On PostgreSQL the row is written at the end of the
   * batch (see `batched`), so it is not there to read in the transaction before then: `countChain` adds it.
   */
  async insert(tx: Db, r: RunRecord): Promise<void> {
    const row = runToRow(r);
    if (!this.commit.deferWrite(tx, this.batched, row)) await this.insertRow.run(tx, row);
  }

  async get(id: string, tx: Db = this.db): Promise<RunRecord | null> {
    const r = await tx.selectFrom('job_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? runFromRow(r as RunRow) : null;
  }

  /**
   * Runs of the trigger chain that started from run `rootId`, the root itself not counted. `tx`: counted inside a
   * transaction (a create that checks the count before its insert).
   */
  async countChain(rootId: string, tx?: Tx): Promise<number> {
    const r = await (tx ?? this.db).selectFrom('job_runs').select((eb) => eb.fn.countAll<number>().as('n')).where('chain_root_id', '=', rootId).executeTakeFirst();
    const deferred = tx ? this.commit.deferredRows(tx, this.batched).filter((row) => row.chain_root_id === rootId).length : 0;
    return Number(r?.n ?? 0) + deferred;
  }

  list(q: ListQuery): Promise<Page<RunRecord>> {
    return listPage(this.db, 'job_runs', 'time_accepted', { compartment_id: q.compartmentId, ...q.filters }, q, (r) => runFromRow(r as RunRow));
  }

  /** Runs per state (the runs_by_state index answers it without reading rows). */
  async countByState(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('job_runs')
      .select(['lifecycle_state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('lifecycle_state')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.lifecycle_state, Number(r.n)]));
  }

  /** Runs in the given states, oldest first. */
  /** `owner`: only the runs of that replica (several replicas on PostgreSQL). */
  async inStates(states: readonly RunState[], owner?: string): Promise<RunRecord[]> {
    let q = this.db.selectFrom('job_runs').selectAll().where('lifecycle_state', 'in', states as RunState[]);
    if (owner !== undefined) q = q.where('owner_replica', '=', owner);
    const rows = await q.orderBy('seq', 'asc').execute();
    return rows.map((r) => runFromRow(r as RunRow));
  }

  /** Which of these run ids are DELETED runs. */
  async deletedIds(ids: readonly string[]): Promise<string[]> {
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
  async finishedBefore(beforeTime: string, afterSeq: number, limit: number): Promise<{ id: string; seq: number }[]> {
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

  async idsOfJob(jobId: string, states: readonly RunState[]): Promise<string[]> {
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
  async transition(
    id: string,
    from: readonly RunState[],
    to: RunState | null,
    patch: RunPatch,
    event: ((run: RunRecord) => EventInput) | null,
    opts: { version?: number; tx?: Db; unclaimed?: boolean; owner?: string } = {},
  ): Promise<RunRecord | null> {
    // The transition table is the rule: a compare-and-set may only name moves it allows.
    if (to) for (const f of from) assertTransition(f, to);
    const run = async (tx: Db) => {
      const set: Record<string, unknown> = { version: sql`version + 1` };
      if (to) set.lifecycle_state = to;
      for (const [k, v] of Object.entries(patch) as [keyof RunPatch, unknown][]) {
        if (v === undefined) continue;
        set[RUN_PATCH_COLUMNS[k]] = JSON_PATCH.has(k) && v !== null ? toJson(v) : v;
      }
      let q = tx
        .updateTable('job_runs')
        .set(set as any)
        .where('id', '=', id)
        .where('lifecycle_state', 'in', from as RunState[]);
      if (opts.version !== undefined) q = q.where('version', '=', opts.version);
      if (opts.unclaimed) q = q.where('handle', 'is', null);
      // Only the replica that owns a run starts it: another one adopting it meanwhile (its owner was lost) wins.
      if (opts.owner !== undefined) q = q.where('owner_replica', '=', opts.owner);
      const row = await q.returningAll().executeTakeFirst();
      if (!row) return null;
      const rec = runFromRow(row as RunRow);
      if (event) await this.events.insert(tx, event(rec));
      return rec;
    };
    if (opts.tx) return run(opts.tx);
    return event ? this.commit.transaction(run) : run(this.db);
  }
}
