import { WEBHOOKS_CURSOR } from '../events/dispatcher.js';
import type { LogService } from '../logs/log-service.js';
import type { AutomationStore } from '../store/automation-store.js';
import type { EventStore } from '../store/event-store.js';
import type { Store } from '../store/store.js';
import type { WebhookStore } from '../store/webhook-store.js';
import type { Clock } from './common.js';
import type { AuditService } from './audit.js';
import { listens, TRIGGERS_CURSOR } from './triggers.js';

const DAY_MS = 86_400_000;
/** Rows per transaction: a batch takes milliseconds, and the event loop serves requests between batches. */
const BATCH = 5000;
/** Run ids per query when looking for deleted runs' directories (SQLite binds at most 32,766 values). */
const DIR_BATCH = 500;

export interface RetentionResult {
  events: number;
  deliveries: number;
  retryTokens: number;
  /** Finished runs' logs removed, and the bytes that freed on disk. */
  logs: number;
  logBytes: number;
  /** Directories of deleted runs removed (left by a stop between a run's deletion and their removal, or by versions before deletion freed them). */
  runDirs: number;
  /** Audit events older than `auditRetentionDays` removed. */
  auditEvents: number;
  /** By each OCI Logging log's retentionDuration: pushed entries and the runs' logs it shows that went. */
  logEntries?: number;
}

export interface RetentionOptions {
  eventRetentionDays: number;
  /** Days finished runs' logs are kept (unset: until the run is deleted). */
  logRetentionDays?: number;
  logs?: LogService;
  /** The audit trail, whose events go after `auditRetentionDays` (default 365, as OCI Audit keeps them). */
  audit?: AuditService;
  auditRetentionDays?: number;
  /** Removes a deleted run's files (its log and run directory: the executor's part). */
  forgetRun?: (runId: string) => Promise<void>;
  /** Applies each OCI Logging log's retentionDuration (service/logging.ts applyRetention). */
  logging?: () => Promise<{ entries: number; runLogs: number }>;
  /** Between passes (default one hour). */
  intervalMs?: number;
  /** From start to the first pass (default one minute: not in the way of the start itself). */
  firstAfterMs?: number;
  log: { error(o: unknown, m: string): void; info(o: unknown, m: string): void };
}

/**
 * Keeps the tables that grow with every run bounded: events (three or more per run), finished webhook deliveries
 * and expired retry tokens (the OCI SDKs send one with every create).
 * - Events older than `eventRetentionDays` go, oldest first, except what something still needs: the event of a
 *   PENDING delivery and everything after it, and everything after the webhook dispatcher's cursor (while a
 *   subscription exists) or the trigger rules' cursor (while a rule listens).
 * - SUCCEEDED and FAILED deliveries go once not updated for `eventRetentionDays`.
 * - Retry tokens go after their 24 hours (one reused later is checked against its age anyway).
 * - With `logRetentionDays`, the logs of runs that ended longer ago go (the runs stay; their logs read empty).
 * - Each OCI Logging log's retentionDuration: pushed entries older than it, and the logs of runs it shows that ended
 *   before then.
 * - The directories of deleted runs that are still there go.
 * - Audit events older than `auditRetentionDays` go.
 * In batches, one transaction each, with the event loop free in between; a pass an hour, the first a minute after
 * start.
 */
export class RetentionService {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly events: EventStore,
    private readonly hooks: WebhookStore,
    private readonly automation: AutomationStore,
    private readonly clock: Clock,
    private readonly opts: RetentionOptions,
  ) {}

  start(): void {
    this.schedule(this.opts.firstAfterMs ?? 60_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .then((r) => {
          if (r.events + r.deliveries + r.retryTokens + r.logs + r.runDirs + r.auditEvents + (r.logEntries ?? 0) > 0) {
            this.opts.log.info(r, 'retention: old events, deliveries, retry tokens, run logs, deleted runs\' directories, audit events and pushed log entries removed (logBytes: disk space the logs freed)');
          }
        })
        .catch((e) => this.opts.log.error({ err: e }, 'retention pass failed; the next one is in an hour'))
        .finally(() => {
          this.running = null;
          this.schedule(this.opts.intervalMs ?? 3_600_000);
        });
    }, ms);
    this.timer.unref();
  }

  /** One pass; what it deleted. */
  async pass(): Promise<RetentionResult> {
    const now = this.clock.now();
    const before = new Date(now - this.opts.eventRetentionDays * DAY_MS).toISOString();
    const out: RetentionResult = { events: 0, deliveries: 0, retryTokens: 0, logs: 0, logBytes: 0, runDirs: 0, auditEvents: 0 };
    const belowSeq = await this.eventsStillNeededFrom();
    for (let more = true; more && !this.stopped; await breathe()) {
      const r = await this.store.transaction((tx) => this.events.deleteOld(tx, { beforeTime: before, belowSeq, limit: BATCH }));
      out.events += r.deleted;
      more = r.more;
    }
    // A full batch may leave more; a token deletes all its expired rows (one per operation), so >=.
    for (let n = BATCH; n >= BATCH && !this.stopped; await breathe()) {
      n = await this.store.transaction((tx) => this.hooks.deleteFinished(tx, { beforeTime: before, limit: BATCH }));
      out.deliveries += n;
    }
    for (let n = BATCH; n >= BATCH && !this.stopped; await breathe()) {
      n = await this.store.transaction((tx) => this.store.deleteExpiredRetryTokens(tx, now, BATCH));
      out.retryTokens += n;
    }
    const { logRetentionDays: days, logs } = this.opts;
    if (days !== undefined && logs) {
      const logsBefore = new Date(now - days * DAY_MS).toISOString();
      for (let after = 0, more = true; more && !this.stopped; await breathe()) {
        const page = await this.store.finishedRunsBefore(logsBefore, after, BATCH);
        for (const r of page) {
          if (!logs.hasLog(r.id)) continue;
          out.logBytes += logs.remove(r.id);
          out.logs++;
        }
        more = page.length === BATCH;
        after = page.at(-1)?.seq ?? after;
      }
    }
    const { audit } = this.opts;
    if (audit) {
      const auditBefore = new Date(now - (this.opts.auditRetentionDays ?? 365) * DAY_MS).toISOString();
      for (let n = BATCH; n >= BATCH && !this.stopped; await breathe()) {
        n = await audit.deleteOld(auditBefore, BATCH);
        out.auditEvents += n;
      }
    }
    if (this.opts.logging && !this.stopped) {
      const r = await this.opts.logging();
      out.logEntries = r.entries;
      out.logs += r.runLogs;
    }
    const { forgetRun } = this.opts;
    if (logs && forgetRun) {
      const dirs = logs.runIds();
      for (let i = 0; i < dirs.length && !this.stopped; i += DIR_BATCH, await breathe()) {
        for (const id of await this.store.deletedRunIds(dirs.slice(i, i + DIR_BATCH))) {
          try {
            logs.remove(id);
            await forgetRun(id);
            out.runDirs++;
          } catch (e) {
            this.opts.log.error({ err: e, runId: id }, "removing a deleted job run's files failed");
          }
        }
      }
    }
    return out;
  }

  /**
   * The first event something still needs (kept whatever its age). Asked for before deleting: whatever starts
   * needing events meanwhile (a new subscription, a rule that starts listening) only wants newer ones.
   */
  private async eventsStillNeededFrom(): Promise<number> {
    let from = Number.MAX_SAFE_INTEGER;
    const pending = await this.hooks.oldestPendingEventSeq();
    if (pending !== null) from = Math.min(from, pending);
    if ((await this.hooks.listSubscriptions({ states: ['ACTIVE', 'PAUSED'] })).length > 0) {
      from = Math.min(from, ((await this.events.getCursor(WEBHOOKS_CURSOR)) ?? 0) + 1);
    }
    if ((await this.automation.listRules({ states: ['ACTIVE'] })).some(listens)) {
      from = Math.min(from, ((await this.events.getCursor(TRIGGERS_CURSOR)) ?? 0) + 1);
    }
    return from;
  }
}

const breathe = () => new Promise<void>((r) => setImmediate(r));
