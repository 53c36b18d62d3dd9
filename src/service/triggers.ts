import type { Page } from '../store/records.js';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DsError, invalid, notFound } from '../domain/errors.js';
import { newOcid } from '../domain/ids.js';
import { toCloudEvent } from '../events/cloud-event.js';
import type { EventFeed } from '../events/feed.js';
import { matchesFilter } from '../events/match.js';
import { EVENT_TYPES } from '../events/types.js';
import type { AutomationStore, RunOverrides, TriggerRuleRecord } from '../store/automation-store.js';
import type { EventRow, EventStore } from '../store/event-store.js';
import type { RunRecord } from '../store/records.js';
import type { Store, Tx } from '../store/store.js';
import type { EventFilter } from '../store/webhook-store.js';
import { checkIfMatch, iso, type Clock, type ServerIdentity } from './common.js';
import type { JobsService } from './jobs.js';
import { checkOverrides, runInput } from './overrides.js';
import { checkCompartment, checkListCompartment, type ListPage } from './projects.js';
import type { RunsService } from './runs.js';
import { checkEventFilter } from './webhooks.js';
import { SerialPass } from '../events/serial-pass.js';

/** Freeform tags on runs started by automation (visible in the runs list and usable in filters and templates). */
export const TAGS = {
  rule: 'dsjobs-trigger-rule',
  event: 'dsjobs-trigger-event',
  upstream: 'dsjobs-upstream-run',
  depth: 'dsjobs-chain-depth',
  schedule: 'dsjobs-schedule',
  sweep: 'dsjobs-sweep',
  trial: 'dsjobs-sweep-trial',
} as const;

export interface CreateRuleInput {
  compartmentId: string;
  displayName?: string;
  jobId: string;
  eventFilter?: EventFilter | null;
  overrides?: RunOverrides;
}

export const TRIGGERS_CURSOR = 'triggers';
const CURSOR = TRIGGERS_CURSOR;
/** Whether the rule follows events (the events pass reads them for it). */
export const listens = (r: TriggerRuleRecord) => r.lifecycleState === 'ACTIVE' && r.condition !== null;
const hashToken = (t: string) => createHash('sha256').update(t).digest();

/**
 * Trigger rules: a matching event starts a run of the rule's job with overrides templated from the event; so does a
 * POST to the rule's trigger URL with its token. Events are read from a cursor kept in the database; each run is
 * created with a retry token derived from (rule, event), so re-reading events after a kill starts nothing twice.
 * Chains (A succeeded -> B -> C ...) are bounded twice: in depth (maxChainDepth runs one after another) and in size
 * (maxChainRuns runs in all, counting the first): two rules on createjobrun.begin double the runs at every level, so
 * depth 10 alone let one run become 2,047. Both are read from store columns the server alone writes (the depth was
 * once a freeform tag, which a client could set to "x" and so make it NaN, which no limit stops). A rule held back by
 * either limit starts nothing; an io.dsjobs.triggerchainlimitreached event and a server log line say which and why.
 */
export class TriggersService {
  private readonly loop = new SerialPass(() => this.pass());
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly store: Store,
    private readonly events: EventStore,
    private readonly automation: AutomationStore,
    private readonly feed: EventFeed,
    private readonly jobs: JobsService,
    private readonly runs: RunsService,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
    private readonly opts: {
      maxChainDepth: number;
      maxChainRuns: number;
      source: string;
      log: { error(o: unknown, m: string): void; warn(o: unknown, m: string): void };
    },
  ) {}

  // ---------------------------------------------------------------- CRUD

  async create(input: CreateRuleInput, createdBy: string | null = null): Promise<{ rule: TriggerRuleRecord; token: string }> {
    checkCompartment(input.compartmentId);
    const job = await this.jobs.getNamed(input.jobId, 'jobId');
    if (job.lifecycleState === 'DELETED') throw invalid('jobId', `job ${input.jobId} is DELETED`);
    const condition = input.eventFilter ? checkEventFilter(input.eventFilter, 'eventFilter') : null;
    const overrides = checkOverrides(input.overrides, 'overrides', true);
    const token = `dstr_${randomBytes(24).toString('base64url')}`;
    const now = this.clock.now();
    const rule: TriggerRuleRecord = {
      id: newOcid('dsjobstriggerrule', this.identity.region),
      compartmentId: input.compartmentId,
      displayName: input.displayName ?? `rule-${iso(now).slice(0, 19).replace(/[-:T]/g, '')}`,
      lifecycleState: 'ACTIVE',
      condition,
      jobId: job.id,
      projectId: job.projectId,
      overrides,
      secretHash: hashToken(token).toString('hex'),
      createdBy,
      timeCreated: iso(now),
      version: 1,
    };
    await this.store.transaction(async (tx) => {
      if (condition) await this.catchUpIfNoneListen(tx);
      await this.automation.insertRule(tx, rule);
    });
    return { rule, token };
  }

  async get(id: string): Promise<TriggerRuleRecord> {
    const r = await this.automation.getRule(id);
    if (!r || r.lifecycleState === 'DELETED') throw notFound('Trigger rule', id);
    return r;
  }

  list(q: ListPage): Promise<Page<TriggerRuleRecord>> {
    checkListCompartment(q);
    return this.automation.pageRules({ ...q, states: ['ACTIVE', 'INACTIVE'] });
  }

  async update(
    id: string,
    patch: { displayName?: string; eventFilter?: EventFilter | null; overrides?: RunOverrides; lifecycleState?: 'ACTIVE' | 'INACTIVE' | 'DELETED' },
    ifMatch?: string,
  ): Promise<TriggerRuleRecord> {
    const r = await this.get(id);
    checkIfMatch(ifMatch, r.id, r.version);
    const condition = patch.eventFilter === undefined ? undefined : patch.eventFilter ? checkEventFilter(patch.eventFilter, 'eventFilter') : null;
    const overrides = patch.overrides === undefined ? undefined : checkOverrides(patch.overrides, 'overrides', true);
    const listensAfter = (patch.lifecycleState ?? r.lifecycleState) === 'ACTIVE' && Boolean(condition === undefined ? r.condition : condition);
    const u = await this.store.transaction(async (tx) => {
      if (listensAfter && !listens(r)) await this.catchUpIfNoneListen(tx);
      return this.automation.updateRule(id, r.version, { displayName: patch.displayName, condition, overrides, lifecycleState: patch.lifecycleState }, tx);
    });
    if (!u) throw new DsError('Conflict', `Trigger rule ${id} was changed concurrently; get it again and retry`);
    return u;
  }

  // ---------------------------------------------------------------- firing

  /** POST to the rule's trigger URL: the token is checked in constant time; a wrong one reads as not found. */
  async fireByUrl(id: string, token: string | undefined, body: unknown, retryToken?: string): Promise<RunRecord> {
    const rule = await this.automation.getRule(id);
    const given = hashToken(token ?? '');
    if (!rule || rule.lifecycleState === 'DELETED' || !timingSafeEqual(given, Buffer.from(rule.secretHash, 'hex'))) {
      throw notFound('Trigger rule', id);
    }
    if (rule.lifecycleState !== 'ACTIVE') throw new DsError('IncorrectState', `Trigger rule ${id} is ${rule.lifecycleState}; activate it first`);
    const input = runInput(rule, rule.overrides, { body: body ?? {} }, { [TAGS.rule]: rule.id, [TAGS.depth]: '1' });
    return this.runs.create(input, retryToken ? `trigger-url:${rule.id}:${retryToken}` : undefined, { chain: { rootId: null, depth: 1 }, actingAs: rule.createdBy });
  }

  start(): Promise<void> {
    return (async () => {
      if ((await this.events.getCursor(CURSOR)) === null) {
        await this.store.transaction(async (tx) => this.events.setCursor(tx, CURSOR, await this.events.maxSeq(tx)));
      }
      this.unsubscribe = this.feed.onEvents(() => this.kick());
      this.kick();
    })();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.loop.stop();
  }

  private kick(): void {
    this.loop.kick();
  }

  private get stopped(): boolean {
    return this.loop.stopped;
  }

  /**
   * A rule starts listening (created, activated, or given a condition) while no other does: the cursor, left where
   * it was while nothing listened, jumps to the end in the same transaction, so the rule fires on what happens after
   * it and on nothing before. While no rule listens, a pass reads and writes nothing (it ran on every commit).
   */
  private async catchUpIfNoneListen(tx: Tx): Promise<void> {
    if ((await this.automation.listRules({ states: ['ACTIVE'] }, tx)).some(listens)) return;
    await this.events.setCursor(tx, CURSOR, await this.events.maxSeq(tx));
  }

  /** Forward only: a catch-up (above) during this pass may have moved it past the rows this pass has read. */
  private moveCursor(seq: number): Promise<void> {
    return this.store.transaction(async (tx) => {
      if (((await this.events.getCursor(CURSOR, tx)) ?? 0) < seq) await this.events.setCursor(tx, CURSOR, seq);
    });
  }

  private async pass(): Promise<void> {
    try {
      for (;;) {
        const rules = (await this.automation.listRules({ states: ['ACTIVE'] })).filter(listens);
        if (rules.length === 0) break;
        const cursor = (await this.events.getCursor(CURSOR)) ?? 0;
        const rows = await this.events.list({ afterSeq: cursor, limit: 200 });
        if (rows.length === 0 || this.stopped) break;
        let last = cursor;
        for (const row of rows) {
          if (this.stopped) return;
          // The rules' own diagnostics never fire rules: a catch-all rule would otherwise restart the chain it broke.
          const matching = row.type === EVENT_TYPES.triggerChainLimit || row.type === EVENT_TYPES.triggerFailed ? [] : rules.filter((r) => matchesFilter(r.condition!, row));
          for (const rule of matching) await this.fireFromEvent(rule, row);
          last = row.seq;
          // After a start the cursor moves at once; events that started nothing move it once per batch (one write).
          if (matching.length) await this.moveCursor(last);
        }
        await this.moveCursor(last);
      }
    } catch (e) {
      this.opts.log.error({ err: e }, 'trigger rules pass failed; retrying in 1 s');
      this.loop.kickAfter(1000);
    }
  }

  private async fireFromEvent(rule: TriggerRuleRecord, row: EventRow): Promise<void> {
    const token = `trigger:${rule.id}:${row.id}`;
    const upstream = row.resourceId.includes('.datasciencejobrun.') ? await this.store.getRun(row.resourceId) : null;
    // A run no rule started from another run's event is the first of its chain.
    const chain = { rootId: upstream ? (upstream.chain.rootId ?? upstream.id) : null, depth: (upstream?.chain.depth ?? 0) + 1 };
    const depth = chain.depth;
    const base = { ruleId: rule.id, ruleName: rule.displayName, eventId: row.id, eventType: row.type, upstreamRunId: upstream?.id ?? null, jobId: rule.jobId };
    const limits = { depth, maxChainDepth: this.opts.maxChainDepth, maxChainRuns: this.opts.maxChainRuns };
    let held: string | null = null;
    if (depth > this.opts.maxChainDepth) {
      held = `the chain would reach depth ${depth}, over the limit of ${this.opts.maxChainDepth} (config triggerMaxChainDepth); a rule probably starts its own upstream.`;
    } else if (chain.rootId) {
      // The passes are serial, so no other start of this chain can come between the count and the create.
      const runs = 1 + (await this.store.countChainRuns(chain.rootId));
      if (runs >= this.opts.maxChainRuns) {
        held = `the chain started by run ${chain.rootId} has ${runs} runs, the limit is ${this.opts.maxChainRuns} (config triggerMaxChainRuns); rules probably start each other's runs more than once.`;
        Object.assign(limits, { chainRootRunId: chain.rootId, chainRuns: runs });
      }
    }
    if (held) {
      const message = `Trigger rule ${rule.displayName} did not start job ${rule.jobId}: ${held}`;
      if (await this.recordOnce(token, rule, EVENT_TYPES.triggerChainLimit, { ...base, ...limits, message })) {
        this.opts.log.warn({ ruleId: rule.id, eventId: row.id, upstreamRunId: upstream?.id ?? null }, message);
      }
      return;
    }
    const ctx = {
      event: toCloudEvent(row, this.opts.source),
      run: upstream
        ? { id: upstream.id, jobId: upstream.jobId, projectId: upstream.projectId, lifecycleState: upstream.lifecycleState, exitCode: upstream.exitCode, env: upstream.launch.env, tags: upstream.freeformTags }
        : {},
      body: {},
    };
    const tags: Record<string, string> = { [TAGS.rule]: rule.id, [TAGS.event]: row.id, [TAGS.depth]: String(depth) };
    if (upstream) tags[TAGS.upstream] = upstream.id;
    try {
      await this.runs.create(runInput(rule, rule.overrides, ctx, tags), token, { chain, actingAs: rule.createdBy });
    } catch (e) {
      if (!(e instanceof DsError)) throw e;
      await this.recordOnce(token, rule, EVENT_TYPES.triggerFailed, {
        ...base,
        message: `Trigger rule ${rule.displayName} could not start job ${rule.jobId}: ${e.message}`,
      });
    }
  }

  /**
   * Writes an event about a rule at most once per (rule, event), through the retry-token table; false when it was
   * written before (a pass re-reading events after a restart).
   */
  private async recordOnce(token: string, rule: TriggerRuleRecord, type: string, data: Record<string, unknown>): Promise<boolean> {
    const { replayed } = await this.store.idempotent(type, token, type, async (tx) => {
      await this.store.insertEvent(tx, {
        type,
        resourceId: rule.id,
        compartmentId: rule.compartmentId,
        projectId: rule.projectId,
        jobId: rule.jobId,
        state: rule.lifecycleState,
        data: { id: rule.id, ...data },
      });
      return rule.id;
    });
    return !replayed;
  }
}
