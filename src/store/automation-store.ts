import type { Kysely, Transaction } from 'kysely';
import type { Database, ScheduleTable, SweepTable, SweepTrialTable, TriggerRuleTable } from './schema.js';
import { ListCache, writing } from './list-cache.js';
import type { Page } from './records.js';
import { keysetPage } from './paging.js';
import type { Store } from './store.js';
import type { EventFilter } from './webhook-store.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Overrides of a run started by automation; string values may hold {{...}} templates (triggers). */
export interface RunOverrides {
  displayName?: string;
  environmentVariables?: Record<string, string>;
  commandLineArguments?: string;
  maximumRuntimeInMinutes?: number;
}

export type RuleState = 'ACTIVE' | 'INACTIVE' | 'DELETED';

/** What a trigger rule and a schedule share: each starts runs of one job, with overrides, as its creator. */
export interface RuleBase {
  id: string;
  compartmentId: string;
  displayName: string;
  lifecycleState: RuleState;
  jobId: string;
  projectId: string;
  overrides: RunOverrides;
  /** The user it acts as (its creator): each run it starts needs that user's CreateJobRun; null: no check (made before authorization, or with authentication off). */
  createdBy: string | null;
  timeCreated: string;
  version: number;
}

export interface TriggerRuleRecord extends RuleBase {
  /** Events that start a run; null: only the rule's trigger URL does. */
  condition: EventFilter | null;
  secretHash: string;
}

export type MisfirePolicy = 'SKIP' | 'RUN_ONCE';

export interface ScheduleRecord extends RuleBase {
  cron: string;
  timeZone: string;
  misfirePolicy: MisfirePolicy;
  lastFireMs: number;
  lastRunId: string | null;
}

export interface SweepSpec {
  strategy: 'GRID' | 'RANDOM';
  /** Environment variable name -> candidate values. */
  environmentVariables: Record<string, string[]>;
  /** Candidate command line argument strings (one per trial, combined with the env grid). */
  commandLineArguments?: string[];
  /** RANDOM: how many trials; GRID: every combination (at most this many when given). */
  sampleCount?: number;
  /** RANDOM: seed for a reproducible sample. */
  seed?: number;
  metric: { name: string; goal: 'MINIMIZE' | 'MAXIMIZE' };
  /** Start this job (default: the sweep's job) once with the best parameters after all trials ended. */
  final?: { jobId?: string; overrides?: RunOverrides } | null;
  /** Overrides applied to every trial, under the trial's own parameters. */
  overrides?: RunOverrides;
}

export type SweepState = 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'CANCELING' | 'CANCELED';

export interface SweepRecord {
  id: string;
  compartmentId: string;
  projectId: string;
  jobId: string;
  displayName: string;
  spec: SweepSpec;
  maxParallel: number;
  lifecycleState: SweepState;
  lifecycleDetails: string | null;
  bestIndex: number | null;
  finalRunId: string | null;
  /** The user it acts as (its creator): each run it starts needs that user's CreateJobRun; null: no check (made before authorization, or with authentication off). */
  createdBy: string | null;
  timeCreated: string;
  timeFinished: string | null;
  version: number;
}

export interface TrialParams {
  environmentVariables: Record<string, string>;
  commandLineArguments?: string;
}

export interface TrialRecord {
  sweepId: string;
  index: number;
  params: TrialParams;
  runId: string | null;
  /** The run's final state once it ended (null while it has not). */
  state: string | null;
  metrics: Record<string, number> | null;
}

/** The columns of RuleBase, which trigger_rules and schedules both have. */
type RuleBaseRow = Pick<
  TriggerRuleTable,
  'id' | 'compartment_id' | 'display_name' | 'lifecycle_state' | 'job_id' | 'project_id' | 'overrides' | 'created_by' | 'time_created' | 'version'
>;

const ruleBaseFromRow = (r: RuleBaseRow): RuleBase => ({
  id: r.id,
  compartmentId: r.compartment_id,
  displayName: r.display_name,
  lifecycleState: r.lifecycle_state as RuleState,
  jobId: r.job_id,
  projectId: r.project_id,
  overrides: JSON.parse(r.overrides),
  createdBy: r.created_by ?? null,
  timeCreated: r.time_created,
  version: r.version,
});

const ruleBaseToRow = (r: RuleBase): RuleBaseRow => ({
  id: r.id,
  compartment_id: r.compartmentId,
  display_name: r.displayName,
  lifecycle_state: r.lifecycleState,
  job_id: r.jobId,
  project_id: r.projectId,
  overrides: JSON.stringify(r.overrides),
  created_by: r.createdBy,
  time_created: r.timeCreated,
  version: r.version,
});

/** The SET of a compare-and-set update of the shared columns a patch names: the version goes up by one. */
function ruleBasePatch(version: number, patch: Partial<Pick<RuleBase, 'displayName' | 'lifecycleState' | 'overrides'>>): Partial<RuleBaseRow> {
  const set: Partial<RuleBaseRow> = { version: version + 1 };
  if (patch.displayName !== undefined) set.display_name = patch.displayName;
  if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
  if (patch.overrides !== undefined) set.overrides = JSON.stringify(patch.overrides);
  return set;
}

const ruleFromRow = (r: TriggerRuleTable): TriggerRuleRecord => ({ ...ruleBaseFromRow(r), condition: JSON.parse(r.condition), secretHash: r.secret_hash });

const scheduleFromRow = (r: ScheduleTable): ScheduleRecord => ({
  ...ruleBaseFromRow(r),
  cron: r.cron,
  timeZone: r.time_zone,
  misfirePolicy: r.misfire_policy as MisfirePolicy,
  lastFireMs: Number(r.last_fire_ms),
  lastRunId: r.last_run_id,
});

const sweepFromRow = (r: SweepTable): SweepRecord => ({
  id: r.id,
  compartmentId: r.compartment_id,
  projectId: r.project_id,
  jobId: r.job_id,
  displayName: r.display_name,
  spec: JSON.parse(r.spec),
  maxParallel: r.max_parallel,
  lifecycleState: r.lifecycle_state as SweepState,
  lifecycleDetails: r.lifecycle_details,
  bestIndex: r.best_index,
  finalRunId: r.final_run_id,
  createdBy: r.created_by ?? null,
  timeCreated: r.time_created,
  timeFinished: r.time_finished,
  version: r.version,
});

const trialFromRow = (r: SweepTrialTable): TrialRecord => ({
  sweepId: r.sweep_id,
  index: r.idx,
  params: JSON.parse(r.params),
  runId: r.run_id,
  state: r.state,
  metrics: r.metrics == null ? null : JSON.parse(r.metrics),
});

/** Trigger rules, schedules and sweeps. */
export class AutomationStore {
  /** Rules and sweeps by state, as the trigger and sweep loops ask for them on every commit that wrote events. */
  private readonly rules: ListCache<TriggerRuleRecord>;
  private readonly sweeps: ListCache<SweepRecord>;

  constructor(private readonly store: Store) {
    // On PostgreSQL other servers may write these tables: nothing would tell this one, so nothing is kept.
    const keep = store.dialect === 'sqlite';
    this.rules = new ListCache(keep);
    this.sweeps = new ListCache(keep);
  }

  private get db(): Kysely<Database> {
    return this.store.db;
  }

  // ---- trigger rules ----
  async insertRule(tx: Db, r: TriggerRuleRecord): Promise<void> {
    await writing(this.rules, () => tx
      .insertInto('trigger_rules')
      .values({ ...ruleBaseToRow(r), condition: JSON.stringify(r.condition), secret_hash: r.secretHash })
      .execute(),
    );
  }

  async getRule(id: string): Promise<TriggerRuleRecord | null> {
    const r = await this.db.selectFrom('trigger_rules').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? ruleFromRow(r) : null;
  }

  /** Every rule in these states (the trigger loop's question), from the cache: do not modify the records. */
  async listRules(q: { states: RuleState[] }, tx: Db = this.db): Promise<TriggerRuleRecord[]> {
    const load = async () =>
      (await tx.selectFrom('trigger_rules').selectAll().where('lifecycle_state', 'in', q.states).orderBy('time_created').orderBy('id').execute()).map(ruleFromRow);
    // Inside a transaction, what it sees (its own writes included), never the cache.
    return tx !== this.db ? load() : this.rules.get(q.states.join(','), load);
  }

  /** A page of a compartment's rules (the API's list), oldest first. */
  pageRules(q: { compartmentId?: string; states: RuleState[]; page?: string; limit: number }): Promise<Page<TriggerRuleRecord>> {
    return this.pageOf('trigger_rules', q, ruleFromRow);
  }

  async updateRule(
    id: string,
    version: number,
    patch: Partial<Pick<TriggerRuleRecord, 'displayName' | 'lifecycleState' | 'condition' | 'overrides'>>,
    tx: Db = this.db,
  ): Promise<TriggerRuleRecord | null> {
    const set: Partial<TriggerRuleTable> = ruleBasePatch(version, patch);
    if (patch.condition !== undefined) set.condition = JSON.stringify(patch.condition);
    const r = await writing(this.rules, () =>
      tx.updateTable('trigger_rules').set(set).where('id', '=', id).where('version', '=', version).returningAll().executeTakeFirst(),
    );
    return r ? ruleFromRow(r) : null;
  }

  /** A page of a compartment's rules or schedules in these states (the API's list), oldest first. */
  private pageOf<R>(table: 'trigger_rules' | 'schedules', q: { compartmentId?: string; states: RuleState[]; page?: string; limit: number }, fromRow: (r: any) => R): Promise<Page<R>> {
    let query = (this.db as unknown as Kysely<any>).selectFrom(table).selectAll().where('lifecycle_state', 'in', q.states);
    if (q.compartmentId) query = query.where('compartment_id', '=', q.compartmentId);
    return keysetPage(query, { column: 'time_created', desc: false, page: q.page, limit: q.limit }, fromRow);
  }

  // ---- schedules ----
  async insertSchedule(tx: Db, s: ScheduleRecord): Promise<void> {
    await tx
      .insertInto('schedules')
      .values({
        ...ruleBaseToRow(s),
        cron: s.cron,
        time_zone: s.timeZone,
        misfire_policy: s.misfirePolicy,
        last_fire_ms: s.lastFireMs,
        last_run_id: s.lastRunId,
      })
      .execute();
  }

  async getSchedule(id: string, tx: Db = this.db): Promise<ScheduleRecord | null> {
    const r = await tx.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? scheduleFromRow(r) : null;
  }

  /** Every schedule in these states (the schedule timers'). */
  async listSchedules(q: { states: RuleState[] }): Promise<ScheduleRecord[]> {
    return (await this.db.selectFrom('schedules').selectAll().where('lifecycle_state', 'in', q.states).orderBy('time_created').orderBy('id').execute()).map(scheduleFromRow);
  }

  /** A page of a compartment's schedules (the API's list), oldest first. */
  pageSchedules(q: { compartmentId?: string; states: RuleState[]; page?: string; limit: number }): Promise<Page<ScheduleRecord>> {
    return this.pageOf('schedules', q, scheduleFromRow);
  }

  async updateSchedule(
    id: string,
    version: number,
    patch: Partial<Pick<ScheduleRecord, 'displayName' | 'lifecycleState' | 'cron' | 'timeZone' | 'misfirePolicy' | 'overrides' | 'lastFireMs' | 'lastRunId'>>,
    tx: Db = this.db,
  ): Promise<ScheduleRecord | null> {
    const set: Partial<ScheduleTable> = ruleBasePatch(version, patch);
    if (patch.cron !== undefined) set.cron = patch.cron;
    if (patch.timeZone !== undefined) set.time_zone = patch.timeZone;
    if (patch.misfirePolicy !== undefined) set.misfire_policy = patch.misfirePolicy;
    if (patch.lastFireMs !== undefined) set.last_fire_ms = patch.lastFireMs;
    if (patch.lastRunId !== undefined) set.last_run_id = patch.lastRunId;
    const r = await tx.updateTable('schedules').set(set).where('id', '=', id).where('version', '=', version).returningAll().executeTakeFirst();
    return r ? scheduleFromRow(r) : null;
  }

  // ---- sweeps ----
  insertSweep(tx: Db, s: SweepRecord, trials: TrialParams[]): Promise<void> {
    return writing(this.sweeps, () => this.insertSweepRows(tx, s, trials));
  }

  private async insertSweepRows(tx: Db, s: SweepRecord, trials: TrialParams[]): Promise<void> {
    await tx
      .insertInto('sweeps')
      .values({
        id: s.id,
        compartment_id: s.compartmentId,
        project_id: s.projectId,
        job_id: s.jobId,
        display_name: s.displayName,
        spec: JSON.stringify(s.spec),
        max_parallel: s.maxParallel,
        lifecycle_state: s.lifecycleState,
        lifecycle_details: s.lifecycleDetails,
        best_index: null,
        final_run_id: null,
        created_by: s.createdBy,
        time_created: s.timeCreated,
        time_finished: null,
        version: s.version,
      })
      .execute();
    // Chunks: SQLite limits the variables of one statement.
    for (let i = 0; i < trials.length; i += 100) {
      await tx
        .insertInto('sweep_trials')
        .values(trials.slice(i, i + 100).map((p, k) => ({ sweep_id: s.id, idx: i + k, params: JSON.stringify(p), run_id: null, state: null, metrics: null })))
        .execute();
    }
  }

  async getSweep(id: string, tx: Db = this.db): Promise<SweepRecord | null> {
    const r = await tx.selectFrom('sweeps').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? sweepFromRow(r) : null;
  }

  /** Every sweep in these states (the sweep loop's question), from the cache: do not modify the records. */
  async listSweeps(q: { states: SweepState[] }): Promise<SweepRecord[]> {
    return this.sweeps.get(q.states.join(','), async () =>
      (await this.db.selectFrom('sweeps').selectAll().where('lifecycle_state', 'in', q.states).orderBy('time_created', 'desc').orderBy('id').execute()).map(sweepFromRow),
    );
  }

  /** A page of sweeps (the API's list), newest first. */
  pageSweeps(q: { compartmentId?: string; jobId?: string; page?: string; limit: number }): Promise<Page<SweepRecord>> {
    let query = this.db.selectFrom('sweeps').selectAll();
    if (q.compartmentId) query = query.where('compartment_id', '=', q.compartmentId);
    if (q.jobId) query = query.where('job_id', '=', q.jobId);
    return keysetPage(query, { column: 'time_created', desc: true, page: q.page, limit: q.limit }, sweepFromRow);
  }

  async updateSweep(
    tx: Db,
    id: string,
    patch: Partial<Pick<SweepRecord, 'lifecycleState' | 'lifecycleDetails' | 'bestIndex' | 'finalRunId' | 'timeFinished'>>,
    fromStates?: SweepState[],
  ): Promise<SweepRecord | null> {
    const set: Record<string, unknown> = {};
    if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
    if (patch.lifecycleDetails !== undefined) set.lifecycle_details = patch.lifecycleDetails;
    if (patch.bestIndex !== undefined) set.best_index = patch.bestIndex;
    if (patch.finalRunId !== undefined) set.final_run_id = patch.finalRunId;
    if (patch.timeFinished !== undefined) set.time_finished = patch.timeFinished;
    let q = tx.updateTable('sweeps').set({ ...set, version: (eb: any) => eb('version', '+', 1) } as any).where('id', '=', id);
    if (fromStates) q = q.where('lifecycle_state', 'in', fromStates);
    const r = await writing(this.sweeps, () => q.returningAll().executeTakeFirst());
    return r ? sweepFromRow(r) : null;
  }

  /** The trials of several sweeps in one query (a page of the sweeps list), by sweep id, each in index order. */
  async trialsOfSweeps(sweepIds: string[]): Promise<Map<string, TrialRecord[]>> {
    const out = new Map<string, TrialRecord[]>(sweepIds.map((id) => [id, []]));
    if (sweepIds.length === 0) return out;
    const rows = await this.db.selectFrom('sweep_trials').selectAll().where('sweep_id', 'in', sweepIds).orderBy('sweep_id').orderBy('idx').execute();
    for (const r of rows) out.get(r.sweep_id)?.push(trialFromRow(r));
    return out;
  }

  async trials(sweepId: string, tx: Db = this.db): Promise<TrialRecord[]> {
    const rows = await tx.selectFrom('sweep_trials').selectAll().where('sweep_id', '=', sweepId).orderBy('idx').execute();
    return rows.map(trialFromRow);
  }

  /** The next trials without a run, in index order. */
  async pendingTrials(sweepId: string, limit: number): Promise<TrialRecord[]> {
    const rows = await this.db
      .selectFrom('sweep_trials')
      .selectAll()
      .where('sweep_id', '=', sweepId)
      .where('run_id', 'is', null)
      .where('state', 'is', null)
      .orderBy('idx')
      .limit(limit)
      .execute();
    return rows.map(trialFromRow);
  }

  /** Trials not settled yet: with a run still going (or not yet seen to end), and without a run. */
  async unsettledCounts(sweepId: string): Promise<{ withRun: number; withoutRun: number }> {
    const rows = await this.db
      .selectFrom('sweep_trials')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.count<number>('run_id').as('withRun')])
      .where('sweep_id', '=', sweepId)
      .where('state', 'is', null)
      .executeTakeFirstOrThrow();
    return { withRun: Number(rows.withRun), withoutRun: Number(rows.n) - Number(rows.withRun) };
  }

  async trialOfRun(runId: string): Promise<TrialRecord | null> {
    const r = await this.db.selectFrom('sweep_trials').selectAll().where('run_id', '=', runId).executeTakeFirst();
    return r ? trialFromRow(r) : null;
  }

  async setTrialRun(tx: Db, sweepId: string, index: number, runId: string): Promise<void> {
    await tx.updateTable('sweep_trials').set({ run_id: runId }).where('sweep_id', '=', sweepId).where('idx', '=', index).execute();
  }

  async settleTrial(sweepId: string, index: number, state: string, metrics: Record<string, number>): Promise<void> {
    await this.db
      .updateTable('sweep_trials')
      .set({ state, metrics: JSON.stringify(metrics) })
      .where('sweep_id', '=', sweepId)
      .where('idx', '=', index)
      .execute();
  }
}

/** Trials of a sweep whose run has started and not been settled, with the run's current state. */
export async function openTrials(store: Store, sweepId: string): Promise<{ index: number; runId: string; state: string }[]> {
  const rows = await store.db
    .selectFrom('sweep_trials as t')
    .innerJoin('job_runs as r', 'r.id', 't.run_id')
    .select(['t.idx', 't.run_id', 'r.lifecycle_state'])
    .where('t.sweep_id', '=', sweepId)
    .where('t.state', 'is', null)
    .execute();
  return rows.map((r) => ({ index: r.idx, runId: r.run_id!, state: r.lifecycle_state }));
}
