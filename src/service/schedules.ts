import type { Page } from '../store/records.js';
import { Cron } from 'croner';
import { DsError, invalid, notFound } from '../domain/errors.js';
import { newOcid } from '../domain/ids.js';
import { EVENT_TYPES } from '../events/types.js';
import type { AutomationStore, MisfirePolicy, RunOverrides, ScheduleRecord } from '../store/automation-store.js';
import type { Store } from '../store/store.js';
import { checkIfMatch, iso, type Clock, type ServerIdentity } from './common.js';
import type { JobsService } from './jobs.js';
import { checkOverrides, runInput } from './overrides.js';
import { checkCompartment, checkListCompartment, type ListPage } from './projects.js';
import type { RunsService } from './runs.js';
import { TAGS } from './triggers.js';

export interface CreateScheduleInput {
  compartmentId: string;
  displayName?: string;
  jobId: string;
  cron: string;
  timeZone?: string;
  misfirePolicy?: MisfirePolicy;
  overrides?: RunOverrides;
}

/** A fire counts as on time within this much of its planned time; later ones were missed (server down or busy). */
export const FIRE_GRACE_MS = 60_000;
/** Fires looked at per schedule and tick: a minutely cron down for a year is still one bounded pass. */
const MAX_FIRES_PER_TICK = 100_000;

function cronOf(expr: string, timeZone: string, field = 'cron'): Cron {
  try {
    return new Cron(expr, { timezone: timeZone, paused: true });
  } catch (e) {
    throw invalid(field, `'${expr}' is not a cron expression: ${(e as Error).message}`);
  }
}

function checkTimeZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw invalid('timeZone', `'${tz}' is not an IANA time zone (like UTC or Europe/Paris)`);
  }
  return tz;
}

/** The planned fire times after `afterMs` up to and including `untilMs`, oldest first. */
export function firesBetween(expr: string, timeZone: string, afterMs: number, untilMs: number): number[] {
  const c = cronOf(expr, timeZone);
  const out: number[] = [];
  let t = new Date(afterMs);
  while (out.length < MAX_FIRES_PER_TICK) {
    const n = c.nextRun(t);
    if (!n || n.getTime() > untilMs) break;
    out.push(n.getTime());
    t = n;
  }
  return out;
}

/**
 * What a tick does with the fires due since the last one: fires within FIRE_GRACE_MS of now are on time and run; older
 * ones were missed: SKIP drops them, RUN_ONCE makes them one run (none extra when an on-time fire runs anyway).
 * Pure, so tests drive it with any clock.
 */
export function planFires(fires: number[], nowMs: number, policy: MisfirePolicy): { run: boolean; fireMs: number | null; missed: number } {
  if (fires.length === 0) return { run: false, fireMs: null, missed: 0 };
  const latest = fires[fires.length - 1];
  const onTime = fires.filter((t) => nowMs - t <= FIRE_GRACE_MS);
  const missed = fires.length - onTime.length;
  if (onTime.length > 0) return { run: true, fireMs: latest, missed };
  return { run: policy === 'RUN_ONCE', fireMs: latest, missed };
}

/**
 * Cron schedules that start runs of a job. Each schedule remembers the planned time of the last fire it handled,
 * updated in the transaction that creates the run (and the run's retry token is derived from that time), so a
 * restart neither repeats nor loses a fire. The clock is injected: tests that start the server in-process drive it.
 */
export class SchedulesService {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private ticking: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly automation: AutomationStore,
    private readonly jobs: JobsService,
    private readonly runs: RunsService,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
    private readonly log: { error(o: unknown, m: string): void },
  ) {}

  async create(input: CreateScheduleInput, createdBy: string | null = null): Promise<ScheduleRecord> {
    checkCompartment(input.compartmentId);
    const timeZone = checkTimeZone(input.timeZone ?? 'UTC');
    if (typeof input.cron !== 'string' || !input.cron.trim()) throw invalid('cron', 'is required, e.g. "0 2 * * *"');
    cronOf(input.cron, timeZone);
    const policy = input.misfirePolicy ?? 'SKIP';
    if (policy !== 'SKIP' && policy !== 'RUN_ONCE') throw invalid('misfirePolicy', 'must be SKIP or RUN_ONCE');
    const job = await this.jobs.getNamed(input.jobId, 'jobId');
    if (job.lifecycleState === 'DELETED') throw invalid('jobId', `job ${input.jobId} is DELETED`);
    const now = this.clock.now();
    const rec: ScheduleRecord = {
      id: newOcid('dsjobsschedule', this.identity.region),
      compartmentId: input.compartmentId,
      displayName: input.displayName ?? `schedule-${iso(now).slice(0, 19).replace(/[-:T]/g, '')}`,
      lifecycleState: 'ACTIVE',
      cron: input.cron.trim(),
      timeZone,
      misfirePolicy: policy,
      jobId: job.id,
      projectId: job.projectId,
      overrides: checkOverrides(input.overrides, 'overrides', false),
      lastFireMs: now,
      lastRunId: null,
      createdBy,
      timeCreated: iso(now),
      version: 1,
    };
    await this.store.transaction((tx) => this.automation.insertSchedule(tx, rec));
    this.kick();
    return rec;
  }

  async get(id: string): Promise<ScheduleRecord> {
    const s = await this.automation.getSchedule(id);
    if (!s || s.lifecycleState === 'DELETED') throw notFound('Schedule', id);
    return s;
  }

  list(q: ListPage): Promise<Page<ScheduleRecord>> {
    checkListCompartment(q);
    return this.automation.pageSchedules({ ...q, states: ['ACTIVE', 'INACTIVE'] });
  }

  /** The next `n` planned fire times (ISO), from now: what an ACTIVE schedule will do. */
  nextFireTimes(s: ScheduleRecord, n = 5): string[] {
    if (s.lifecycleState !== 'ACTIVE') return [];
    const from = new Date(Math.max(s.lastFireMs, this.clock.now()));
    return cronOf(s.cron, s.timeZone).nextRuns(n, from).map((d) => d.toISOString());
  }

  async update(
    id: string,
    patch: { displayName?: string; cron?: string; timeZone?: string; misfirePolicy?: MisfirePolicy; overrides?: RunOverrides },
    ifMatch?: string,
  ): Promise<ScheduleRecord> {
    const s = await this.get(id);
    checkIfMatch(ifMatch, s.id, s.version);
    const tz = patch.timeZone !== undefined ? checkTimeZone(patch.timeZone) : s.timeZone;
    if (patch.cron !== undefined || patch.timeZone !== undefined) cronOf(patch.cron ?? s.cron, tz);
    if (patch.misfirePolicy !== undefined && patch.misfirePolicy !== 'SKIP' && patch.misfirePolicy !== 'RUN_ONCE') {
      throw invalid('misfirePolicy', 'must be SKIP or RUN_ONCE');
    }
    const u = await this.automation.updateSchedule(id, s.version, {
      displayName: patch.displayName,
      cron: patch.cron?.trim(),
      timeZone: patch.timeZone === undefined ? undefined : tz,
      misfirePolicy: patch.misfirePolicy,
      overrides: patch.overrides === undefined ? undefined : checkOverrides(patch.overrides, 'overrides', false),
    });
    if (!u) throw new DsError('Conflict', `Schedule ${id} was changed concurrently; get it again and retry`);
    this.kick();
    return u;
  }

  /** Paused schedules start nothing; on resume, the fires of the pause are not made up (they were asked not to run). */
  async setState(id: string, to: 'ACTIVE' | 'INACTIVE' | 'DELETED', ifMatch?: string): Promise<ScheduleRecord> {
    const s = await this.get(id);
    checkIfMatch(ifMatch, s.id, s.version);
    if (s.lifecycleState === to) return s;
    const u = await this.automation.updateSchedule(id, s.version, {
      lifecycleState: to,
      ...(to === 'ACTIVE' ? { lastFireMs: Math.max(s.lastFireMs, this.clock.now()) } : {}),
    });
    if (!u) throw new DsError('Conflict', `Schedule ${id} was changed concurrently; retry`);
    this.kick();
    return u;
  }

  start(): void {
    this.started = true;
    this.kick();
  }

  /**
   * Looks at the schedules again now (their next fire included): the coordinator calls it every second, since a
   * schedule created or changed through another replica does not kick this one (service/replicas.ts).
   */
  wake(): void {
    this.kick();
  }

  /**
   * Fires only once started: with several replicas only the lease holder starts it, and a create or an update through
   * another replica must not make that one fire schedules too.
   */
  private started = false;

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }

  private kick(): void {
    if (this.stopped || !this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), 0);
  }

  /** Handles every due fire at the clock's now, then sleeps until the next one (at most a minute). */
  async tick(): Promise<void> {
    while (this.ticking) await this.ticking;
    if (this.stopped) return;
    let done!: () => void;
    this.ticking = new Promise((r) => (done = r));
    try {
      const now = this.clock.now();
      let next = Infinity;
      for (const s of await this.automation.listSchedules({ states: ['ACTIVE'] })) {
        try {
          await this.fire(s, now);
        } catch (e) {
          this.log.error({ err: e, scheduleId: s.id }, 'schedule fire failed');
        }
        const n = cronOf(s.cron, s.timeZone).nextRun(new Date(Math.max(now, s.lastFireMs)));
        if (n) next = Math.min(next, n.getTime());
      }
      if (!this.stopped) {
        if (this.timer) clearTimeout(this.timer);
        // Re-checked at least every minute, so a changed wall clock (or a test's clock) is noticed.
        this.timer = setTimeout(() => void this.tick(), Math.min(Math.max(0, next - now), 60_000));
      }
    } finally {
      this.ticking = null;
      done();
    }
  }

  private async fire(s: ScheduleRecord, now: number): Promise<void> {
    const fires = firesBetween(s.cron, s.timeZone, s.lastFireMs, now);
    const plan = planFires(fires, now, s.misfirePolicy);
    if (plan.fireMs === null) return;
    const fireMs = plan.fireMs;
    const note = async (tx: Parameters<Parameters<Store['transaction']>[0]>[0], runId: string | null) => {
      const u = await this.automation.updateSchedule(s.id, s.version, { lastFireMs: fireMs, lastRunId: runId ?? undefined }, tx);
      if (!u) throw new DsError('Conflict', `schedule ${s.id} changed while firing`);
      if (plan.missed > 0) {
        await this.store.insertEvent(tx, {
          type: EVENT_TYPES.scheduleMissed,
          resourceId: s.id,
          compartmentId: s.compartmentId,
          projectId: s.projectId,
          jobId: s.jobId,
          state: s.lifecycleState,
          data: {
            id: s.id,
            displayName: s.displayName,
            missedFires: plan.missed,
            misfirePolicy: s.misfirePolicy,
            ranOnce: plan.run,
            message: `Schedule ${s.displayName} missed ${plan.missed} start(s) while the server was down or busy; ${plan.run ? 'one run was started for them' : 'they were skipped (misfirePolicy SKIP)'}.`,
          },
        });
      }
    };
    if (!plan.run) {
      await this.store.transaction((tx) => note(tx, null));
      return;
    }
    const input = runInput(s, s.overrides, null, { [TAGS.schedule]: s.id });
    input.displayName ??= `${s.displayName}-${iso(fireMs).slice(0, 16).replace(/[-:T]/g, '')}`;
    try {
      await this.runs.create(input, `schedule:${s.id}:${fireMs}`, { inTx: (tx, run) => note(tx, run.id), actingAs: s.createdBy });
    } catch (e) {
      if (!(e instanceof DsError) || e.code === 'Conflict') throw e;
      // The job cannot run (deleted, say): the fire is handled, and an event says why nothing started.
      await this.store.transaction(async (tx) => {
        await note(tx, null);
        await this.store.insertEvent(tx, {
          type: EVENT_TYPES.scheduleFailed,
          resourceId: s.id,
          compartmentId: s.compartmentId,
          projectId: s.projectId,
          jobId: s.jobId,
          state: s.lifecycleState,
          data: { id: s.id, displayName: s.displayName, fireTime: iso(fireMs), message: `Schedule ${s.displayName} could not start job ${s.jobId}: ${e.message}` },
        });
      });
    }
  }
}
