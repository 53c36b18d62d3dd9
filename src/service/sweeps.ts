import type { Page } from '../store/records.js';
import { prng } from '../domain/prng.js';
import { DsError, invalid, notFound } from '../domain/errors.js';
import { newOcid } from '../domain/ids.js';
import { isMetricName, parseMetricLine } from '../domain/metrics.js';
import { TERMINAL_RUN_STATES } from '../domain/run-states.js';
import type { EventFeed } from '../events/feed.js';
import { EVENT_TYPES } from '../events/types.js';
import {
  openTrials,
  type AutomationStore,
  type RunOverrides,
  type SweepRecord,
  type SweepSpec,
  type TrialParams,
  type TrialRecord,
} from '../store/automation-store.js';
import type { Store } from '../store/store.js';
import { bodyHash, checkIfMatch, iso, type Clock, type ServerIdentity } from './common.js';
import type { JobsService } from './jobs.js';
import { checkOverrides, runInput } from './overrides.js';
import { checkCompartment, checkListCompartment, type ListPage } from './projects.js';
import type { RunsService } from './runs.js';
import { TAGS } from './triggers.js';
import { SerialPass } from '../events/serial-pass.js';

export interface CreateSweepInput {
  compartmentId: string;
  displayName?: string;
  jobId: string;
  strategy?: 'GRID' | 'RANDOM';
  parameters: { environmentVariables?: Record<string, string[]>; commandLineArguments?: string[] };
  sampleCount?: number;
  seed?: number;
  maxParallel: number;
  metric: { name: string; goal: 'MINIMIZE' | 'MAXIMIZE' };
  overrides?: RunOverrides;
  final?: { jobId?: string; overrides?: RunOverrides } | null;
}

/** The trials of a sweep: every combination (GRID, in order) or sampleCount random picks (RANDOM). */
export function planTrials(spec: Pick<SweepSpec, 'strategy' | 'environmentVariables' | 'commandLineArguments' | 'sampleCount' | 'seed'>, maxTrials: number): TrialParams[] {
  const names = Object.keys(spec.environmentVariables);
  const args = spec.commandLineArguments;
  const dims: { name: string | null; values: string[] }[] = names.map((n) => ({ name: n, values: spec.environmentVariables[n] }));
  if (args?.length) dims.push({ name: null, values: args });
  const make = (pick: (d: { values: string[] }, i: number) => string): TrialParams => {
    const t: TrialParams = { environmentVariables: {} };
    dims.forEach((d, i) => {
      const v = pick(d, i);
      if (d.name === null) t.commandLineArguments = v;
      else t.environmentVariables[d.name] = v;
    });
    return t;
  };
  if (spec.strategy === 'RANDOM') {
    const n = spec.sampleCount!;
    if (n > maxTrials) throw invalid('sampleCount', `at most ${maxTrials} trials per sweep (config sweepMaxTrials), got ${n}`);
    const rnd = prng(spec.seed ?? Date.now());
    return Array.from({ length: n }, () => make((d) => d.values[Math.floor(rnd() * d.values.length)]));
  }
  const total = dims.reduce((p, d) => p * d.values.length, 1);
  const limit = spec.sampleCount ?? total;
  if (Math.min(total, limit) > maxTrials) {
    throw invalid('parameters', `the grid has ${total} combinations; at most ${maxTrials} trials per sweep (config sweepMaxTrials)`);
  }
  const out: TrialParams[] = [];
  for (let k = 0; k < Math.min(total, limit); k++) {
    let rest = k;
    const idx: number[] = [];
    for (let i = dims.length - 1; i >= 0; i--) {
      idx[i] = rest % dims[i].values.length;
      rest = Math.floor(rest / dims[i].values.length);
    }
    out.push(make((d, i) => d.values[idx[i]]));
  }
  return out;
}

/** Trials ordered best first by the sweep's metric; trials without the metric come last, in index order. */
export function rankTrials(trials: TrialRecord[], metric: SweepSpec['metric']): TrialRecord[] {
  const val = (t: TrialRecord) => t.metrics?.[metric.name];
  return [...trials].sort((a, b) => {
    const va = val(a);
    const vb = val(b);
    if (va === undefined && vb === undefined) return a.index - b.index;
    if (va === undefined) return 1;
    if (vb === undefined) return -1;
    if (va !== vb) return metric.goal === 'MINIMIZE' ? va - vb : vb - va;
    return a.index - b.index;
  });
}

const DONE_STATES = new Set<string>([...TERMINAL_RUN_STATES, 'DELETED']);

/**
 * Parallel sweeps: N ordinary runs of a job over a grid or a random sample of env var / argument values, at most K
 * at a time, then (optionally) one final run with the best parameters. The count of runs in flight is read from the
 * database on every pass (a trial's run id is written in the transaction that creates the run), so the bound holds
 * across restarts. Runs report metrics with DSJOBS_METRIC lines on stdout, read from the run's log when it ends.
 */
export class SweepsService {
  private readonly loop = new SerialPass(() => this.pass());
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly store: Store,
    private readonly automation: AutomationStore,
    private readonly feed: EventFeed,
    private readonly jobs: JobsService,
    private readonly runs: RunsService,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
    private readonly opts: { maxTrials: number; log: { error(o: unknown, m: string): void } },
  ) {}

  async create(input: CreateSweepInput, retryToken?: string, createdBy: string | null = null): Promise<SweepRecord> {
    checkCompartment(input.compartmentId);
    const job = await this.jobs.getNamed(input.jobId, 'jobId');
    if (job.lifecycleState !== 'ACTIVE') throw invalid('jobId', `job ${job.id} is ${job.lifecycleState}; sweeps run ACTIVE jobs`);
    const strategy = input.strategy ?? 'GRID';
    const env = input.parameters?.environmentVariables ?? {};
    for (const [k, vs] of Object.entries(env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw invalid('parameters.environmentVariables', `'${k}' is not a valid variable name`);
      if (!Array.isArray(vs) || vs.length === 0) throw invalid(`parameters.environmentVariables.${k}`, 'must be a non-empty list of values');
    }
    const args = input.parameters?.commandLineArguments;
    if (args !== undefined && (!Array.isArray(args) || args.length === 0)) throw invalid('parameters.commandLineArguments', 'must be a non-empty list of argument strings');
    if (Object.keys(env).length === 0 && !args) throw invalid('parameters', 'give environmentVariables and/or commandLineArguments to sweep over');
    if (strategy === 'RANDOM' && !input.sampleCount) throw invalid('sampleCount', 'is required for a RANDOM sweep');
    if (!Number.isInteger(input.maxParallel) || input.maxParallel < 1) throw invalid('maxParallel', 'must be an integer of at least 1');
    if (!isMetricName(input.metric?.name ?? '')) throw invalid('metric.name', 'must be a metric name (letters, digits, _ . -)');
    let finalJobId: string | undefined;
    if (input.final?.jobId) {
      const fj = await this.jobs.getNamed(input.final.jobId, 'final.jobId');
      if (fj.lifecycleState !== 'ACTIVE') throw invalid('final.jobId', `job ${fj.id} is ${fj.lifecycleState}`);
      finalJobId = fj.id;
    }
    const spec: SweepSpec = {
      strategy,
      environmentVariables: env,
      commandLineArguments: args,
      sampleCount: input.sampleCount,
      seed: input.seed ?? (strategy === 'RANDOM' ? Math.floor(Math.random() * 2 ** 31) : undefined),
      metric: input.metric,
      overrides: checkOverrides(input.overrides, 'overrides', false),
      final: input.final ? { jobId: finalJobId, overrides: checkOverrides(input.final.overrides, 'final.overrides', false) } : null,
    };
    const trials = planTrials(spec, this.opts.maxTrials);
    const now = this.clock.now();
    const { id } = await this.store.idempotent('createSweep', retryToken, bodyHash(input), async (tx) => {
      const rec: SweepRecord = {
        id: newOcid('dsjobssweep', this.identity.region),
        compartmentId: input.compartmentId,
        projectId: job.projectId,
        jobId: job.id,
        displayName: input.displayName ?? `sweep-${iso(now).slice(0, 19).replace(/[-:T]/g, '')}`,
        spec,
        maxParallel: input.maxParallel,
        lifecycleState: 'IN_PROGRESS',
        lifecycleDetails: `${trials.length} trials, at most ${input.maxParallel} at a time.`,
        bestIndex: null,
        finalRunId: null,
        createdBy,
        timeCreated: iso(now),
        timeFinished: null,
        version: 1,
      };
      await this.automation.insertSweep(tx, rec, trials);
      await this.store.insertEvent(tx, this.event(EVENT_TYPES.sweepCreated, rec));
      return rec.id;
    });
    this.kick();
    return this.get(id);
  }

  private event(type: string, s: SweepRecord) {
    return {
      type,
      resourceId: s.id,
      compartmentId: s.compartmentId,
      projectId: s.projectId,
      jobId: s.jobId,
      state: s.lifecycleState,
      data: { id: s.id, displayName: s.displayName, jobId: s.jobId, lifecycleState: s.lifecycleState, lifecycleDetails: s.lifecycleDetails, bestIndex: s.bestIndex, finalRunId: s.finalRunId },
    };
  }

  async get(id: string): Promise<SweepRecord> {
    const s = await this.automation.getSweep(id);
    if (!s) throw notFound('Sweep', id);
    return s;
  }

  list(q: ListPage & { jobId?: string }): Promise<Page<SweepRecord>> {
    checkListCompartment(q);
    return this.automation.pageSweeps(q);
  }

  trials(id: string): Promise<TrialRecord[]> {
    return this.automation.trials(id);
  }

  /** The trials of a page of sweeps, in one query. */
  trialsOf(ids: string[]): Promise<Map<string, TrialRecord[]>> {
    return this.automation.trialsOfSweeps(ids);
  }

  async cancel(id: string, ifMatch?: string): Promise<void> {
    const s = await this.get(id);
    checkIfMatch(ifMatch, s.id, s.version);
    if (s.lifecycleState !== 'IN_PROGRESS') {
      if (s.lifecycleState === 'CANCELING' || s.lifecycleState === 'CANCELED') return;
      throw new DsError('IncorrectState', `Sweep ${id} is ${s.lifecycleState}`);
    }
    await this.store.transaction((tx) => this.automation.updateSweep(tx, id, { lifecycleState: 'CANCELING', lifecycleDetails: 'Sweep cancellation in progress.' }, ['IN_PROGRESS']));
    for (const t of await openTrials(this.store, id)) {
      await this.runs.cancel(t.runId).catch(() => {});
    }
    this.kick();
  }

  start(): void {
    this.started = true;
    this.unsubscribe = this.feed.onEvents(() => this.kick());
    this.kick();
  }

  /**
   * Passes run only once started: with several replicas only the lease holder starts it, and a create or cancel
   * through another replica must not make that one run trials too (the holder hears of it from the event log).
   */
  private started = false;

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.loop.stop();
  }

  kick(): void {
    if (this.started) this.loop.kick();
  }

  private get stopped(): boolean {
    return this.loop.stopped;
  }

  private async pass(): Promise<void> {
    try {
      for (const s of await this.automation.listSweeps({ states: ['IN_PROGRESS', 'CANCELING'] })) {
        if (this.stopped) break;
        try {
          await this.advance(s);
        } catch (e) {
          this.opts.log.error({ err: e, sweepId: s.id }, 'advancing a sweep failed; retrying in 1 s');
          this.loop.kickAfter(1000);
        }
      }
    } catch (e) {
      this.opts.log.error({ err: e }, 'listing sweeps failed; retrying in 1 s');
      this.loop.kickAfter(1000);
    }
  }

  /** Settles ended trials, starts more up to maxParallel, and finishes the sweep when every trial has ended. */
  private async advance(s: SweepRecord): Promise<void> {
    let active = 0;
    for (const t of await openTrials(this.store, s.id)) {
      if (DONE_STATES.has(t.state)) await this.automation.settleTrial(s.id, t.index, t.state, await this.metricsOf(t.runId));
      else active++;
    }
    if (s.lifecycleState === 'IN_PROGRESS' && active < s.maxParallel) {
      for (const t of await this.automation.pendingTrials(s.id, s.maxParallel - active)) {
        if (this.stopped) return;
        if (await this.startTrial(s, t)) active++;
      }
    }
    if (active > 0) return;
    const open = await this.automation.unsettledCounts(s.id);
    if (open.withRun > 0 || (s.lifecycleState === 'IN_PROGRESS' && open.withoutRun > 0)) return;
    await this.finish(s, await this.automation.trials(s.id));
  }

  /** Starts a trial's run; false when the run could not be created (the trial is settled FAILED instead). */
  private async startTrial(s: SweepRecord, t: TrialRecord): Promise<boolean> {
    const o = s.spec.overrides ?? {};
    const overrides: RunOverrides = {
      ...o,
      displayName: `${s.displayName}-${t.index}`,
      environmentVariables: { ...(o.environmentVariables ?? {}), ...t.params.environmentVariables },
      commandLineArguments: t.params.commandLineArguments ?? o.commandLineArguments,
    };
    const input = runInput(s, overrides, null, { [TAGS.sweep]: s.id, [TAGS.trial]: String(t.index) });
    try {
      await this.runs.create(input, `sweep:${s.id}:${t.index}`, { inTx: (tx, run) => this.automation.setTrialRun(tx, s.id, t.index, run.id), actingAs: s.createdBy });
      return true;
    } catch (e) {
      if (!(e instanceof DsError)) throw e;
      // The job cannot run any more (deleted, say): the trial ends without a run, the sweep goes on with the rest.
      await this.automation.settleTrial(s.id, t.index, 'FAILED', {});
      this.opts.log.error({ err: e, sweepId: s.id, trial: t.index }, 'a sweep trial could not start');
      return false;
    }
  }

  private async finish(s: SweepRecord, trials: TrialRecord[]): Promise<void> {
    const now = iso(this.clock.now());
    if (s.lifecycleState === 'CANCELING') {
      await this.store.transaction(async (tx) => {
        const u = await this.automation.updateSweep(tx, s.id, { lifecycleState: 'CANCELED', lifecycleDetails: 'Sweep canceled.', timeFinished: now }, ['CANCELING']);
        if (u) await this.store.insertEvent(tx, this.event(EVENT_TYPES.sweepCanceled, u));
      });
      return;
    }
    const ranked = rankTrials(trials, s.spec.metric);
    const best = ranked[0]?.metrics?.[s.spec.metric.name] !== undefined ? ranked[0] : null;
    if (!best) {
      await this.store.transaction(async (tx) => {
        const u = await this.automation.updateSweep(
          tx,
          s.id,
          {
            lifecycleState: 'FAILED',
            lifecycleDetails: `No trial reported the metric ${s.spec.metric.name} (a stdout line "DSJOBS_METRIC ${s.spec.metric.name}=<number>").`,
            timeFinished: now,
          },
          ['IN_PROGRESS'],
        );
        if (u) await this.store.insertEvent(tx, this.event(EVENT_TYPES.sweepFailed, u));
      });
      return;
    }
    const value = best.metrics![s.spec.metric.name];
    const details = `Best: trial ${best.index} with ${s.spec.metric.name}=${value} (${s.spec.metric.goal === 'MINIMIZE' ? 'lowest' : 'highest'} of ${trials.length}).`;
    const succeed = async (tx: Parameters<Parameters<Store['transaction']>[0]>[0], finalRunId: string | null) => {
      const u = await this.automation.updateSweep(
        tx,
        s.id,
        { lifecycleState: 'SUCCEEDED', lifecycleDetails: finalRunId ? `${details} Final run ${finalRunId} started.` : details, bestIndex: best.index, finalRunId, timeFinished: now },
        ['IN_PROGRESS'],
      );
      if (!u) throw new DsError('Conflict', `sweep ${s.id} changed while finishing`);
      await this.store.insertEvent(tx, this.event(EVENT_TYPES.sweepSucceeded, u));
    };
    if (!s.spec.final) {
      await this.store.transaction((tx) => succeed(tx, null));
      return;
    }
    const fo = s.spec.final.overrides ?? {};
    const overrides: RunOverrides = {
      ...(s.spec.overrides ?? {}),
      ...fo,
      displayName: fo.displayName ?? `${s.displayName}-final`,
      environmentVariables: { ...(s.spec.overrides?.environmentVariables ?? {}), ...best.params.environmentVariables, ...(fo.environmentVariables ?? {}) },
      commandLineArguments: fo.commandLineArguments ?? best.params.commandLineArguments ?? s.spec.overrides?.commandLineArguments,
    };
    const job = await this.jobs.get(s.spec.final.jobId ?? s.jobId);
    const input = runInput({ projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id }, overrides, null, { [TAGS.sweep]: s.id, [TAGS.trial]: 'final' });
    try {
      await this.runs.create(input, `sweep:${s.id}:final`, { inTx: (tx, run) => succeed(tx, run.id), actingAs: s.createdBy });
    } catch (e) {
      if (!(e instanceof DsError) || e.code === 'Conflict') throw e;
      await this.store.transaction(async (tx) => {
        const u = await this.automation.updateSweep(
          tx,
          s.id,
          { lifecycleState: 'FAILED', lifecycleDetails: `${details} The final run could not start: ${e.message}`, bestIndex: best.index, timeFinished: now },
          ['IN_PROGRESS'],
        );
        if (u) await this.store.insertEvent(tx, this.event(EVENT_TYPES.sweepFailed, u));
      });
    }
  }

  /** DSJOBS_METRIC lines of the run's stdout (its whole log is read once, when it has ended). */
  private async metricsOf(runId: string): Promise<Record<string, number>> {
    const metrics: Record<string, number> = {};
    let stream;
    try {
      stream = await this.runs.readLogs(runId, 0, false);
    } catch {
      return metrics; // a DELETED run has no readable log
    }
    let buf = '';
    for await (const chunk of stream) {
      buf += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.includes('DSJOBS_METRIC')) continue;
        const rec = JSON.parse(line) as { stream: string; message: string };
        if (rec.stream === 'stdout') parseMetricLine(rec.message, metrics);
      }
    }
    return metrics;
  }
}

