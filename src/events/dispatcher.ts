import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { EventRow, EventStore } from '../store/event-store.js';
import type { Store } from '../store/store.js';
import type { DeliveryRecord, SubscriptionRecord, WebhookStore } from '../store/webhook-store.js';
import { toCloudEvent } from './cloud-event.js';
import type { EventFeed } from './feed.js';
import { matchesFilter } from './match.js';
import { webhookHeaders } from './signature.js';
import { postWebhook } from './webhook-client.js';
import { SerialPass } from './serial-pass.js';

export interface DispatcherOptions {
  allowPrivateTargets: boolean;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  concurrency: number;
  /** CloudEvents `source` of this server. */
  source: string;
  log: { error(obj: unknown, msg: string): void; warn(obj: unknown, msg: string): void };
  /** Whether a subscription may be sent an event (its creator may read the resource); absent: every match. */
  mayDeliver?: (sub: SubscriptionRecord, event: EventRow) => Promise<boolean>;
}

export const WEBHOOKS_CURSOR = 'webhooks';
const CURSOR = WEBHOOKS_CURSOR;

/** Exponential backoff with +-20% jitter, so retries to one target after an outage do not arrive in lockstep. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d * (0.8 + Math.random() * 0.4));
}

/**
 * Delivers events to webhook subscriptions, at least once and through restarts:
 * 1. fan-out: events after the dispatcher's cursor become one delivery row per matching subscription; the rows and
 *    the cursor move commit together, so a kill at any point loses nothing (a repeat is absorbed by the unique key);
 * 2. delivery: due PENDING rows are POSTed (signed, SSRF-guarded); each attempt is recorded on the row, a failure
 *    schedules the next attempt with backoff until maxAttempts, then the delivery is FAILED.
 * A kill during a POST leaves the row PENDING, so it is sent again after the restart (hence "at least once":
 * receivers de-duplicate on webhook-id, which is the delivery id and stays the same across retries).
 */
export class WebhookDispatcher {
  private readonly inFlight = new Set<string>();
  private readonly sending = new Set<Promise<void>>();
  private readonly loop = new SerialPass(() => this.pass());
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 8 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 8 }),
  };

  constructor(
    private readonly store: Store,
    private readonly events: EventStore,
    private readonly hooks: WebhookStore,
    private readonly feed: EventFeed,
    private readonly opts: DispatcherOptions,
  ) {}

  async start(): Promise<void> {
    // A new installation (or one from before webhooks existed) starts at the current end of the log.
    if ((await this.events.getCursor(CURSOR)) === null) {
      await this.store.transaction(async (tx) => this.events.setCursor(tx, CURSOR, await this.events.maxSeq(tx)));
    }
    this.started = true;
    this.unsubscribe = this.feed.onEvents(() => this.kick());
    this.kick();
  }

  /**
   * Passes run only once started: with several replicas only the lease holder starts it, and a subscription resumed
   * through another replica must not make that one deliver too (the holder hears of it from the event log).
   */
  private started = false;

  async stop(): Promise<void> {
    this.loop.halt();
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    // Abort POSTs in flight: their rows stay PENDING and are sent again after the restart.
    this.agents.http.destroy();
    this.agents.https.destroy();
    await this.loop.stop();
    await Promise.allSettled([...this.sending]);
  }

  private get stopped(): boolean {
    return this.loop.stopped;
  }

  /** Something changed (an event, a subscription resumed): run a pass soon; bursts make one pass. */
  kick(): void {
    if (this.started) this.loop.kick();
  }

  private async pass(): Promise<void> {
    try {
      // Deliveries go only to ACTIVE subscriptions: with none (a server without webhooks), a pass asks nothing more.
      if (!(await this.fanOut())) {
        this.clearTimer();
        return;
      }
      await this.deliverDue();
      await this.armTimer();
    } catch (e) {
      this.opts.log.error({ err: e }, 'webhook dispatch pass failed; retrying in 1 s');
      if (!this.stopped) this.timer = setTimeout(() => this.kick(), 1000);
    }
  }

  /** Events after the cursor become deliveries. Whether some subscription is ACTIVE. */
  private async fanOut(): Promise<boolean> {
    for (;;) {
      const all = await this.hooks.listSubscriptions({ states: ['ACTIVE', 'PAUSED'] });
      // No subscription: nothing to fan out, and the cursor can stay where it is (a new subscription only wants
      // events after its startSeq), which saves a write per commit on a server without webhooks. A paused one keeps
      // the cursor moving, so that the events of its pause are not delivered when it is resumed.
      if (all.length === 0) return false;
      const subs = all.filter((s) => s.lifecycleState === 'ACTIVE');
      const cursor = Math.max((await this.events.getCursor(CURSOR)) ?? 0, Math.min(...all.map((s) => s.startSeq)));
      const rows = await this.events.list({ afterSeq: cursor, limit: 500 });
      if (rows.length === 0) return subs.length > 0;
      const now = Date.now();
      // Decided before the transaction (the first decision after a policy change reads the policies).
      const deliver: [SubscriptionRecord, EventRow][] = [];
      for (const e of rows) {
        for (const s of subs) {
          if (e.seq > s.startSeq && matchesFilter(s.filter, e) && (!this.opts.mayDeliver || (await this.opts.mayDeliver(s, e)))) deliver.push([s, e]);
        }
      }
      await this.store.transaction(async (tx) => {
        for (const [s, e] of deliver) {
          await this.hooks.insertDelivery(tx, { id: `msg_${randomUUID()}`, subscriptionId: s.id, eventId: e.id, eventSeq: e.seq, nowMs: now });
        }
        await this.events.setCursor(tx, CURSOR, rows[rows.length - 1].seq);
      });
      if (rows.length < 500) return subs.length > 0;
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async deliverDue(): Promise<void> {
    const free = this.opts.concurrency - this.inFlight.size;
    if (free <= 0) return;
    const due = await this.hooks.dueDeliveries(Date.now(), free, this.inFlight);
    for (const d of due) {
      this.inFlight.add(d.id);
      const p: Promise<void> = this.send(d)
        .catch((e) => {
          if (!this.stopped) this.opts.log.error({ err: e, deliveryId: d.id }, 'webhook delivery failed unexpectedly');
        })
        .finally(() => {
          this.inFlight.delete(d.id);
          this.sending.delete(p);
          this.kick();
        });
      this.sending.add(p);
    }
  }

  private async armTimer(): Promise<void> {
    if (this.stopped) return;
    const next = await this.hooks.nextDueMs();
    this.clearTimer();
    if (next === null) return;
    // Re-check at least every 30 s (a subscription resumed elsewhere kicks too; this is a safety net).
    const delay = Math.min(Math.max(0, next - Date.now()), 30_000);
    this.timer = setTimeout(() => this.kick(), delay);
  }

  private async send(d: DeliveryRecord): Promise<void> {
    const sub = await this.hooks.getSubscription(d.subscriptionId);
    if (!sub || sub.lifecycleState !== 'ACTIVE' || this.stopped) return;
    const [row] = await this.events.list({ afterSeq: d.eventSeq - 1, limit: 1 });
    const time = new Date().toISOString();
    if (!row || row.id !== d.eventId) {
      await this.hooks.recordAttempt(d, { time, statusCode: null, error: 'the event no longer exists', durationMs: 0 }, { status: 'FAILED', nextAttemptMs: null });
      return;
    }
    const body = JSON.stringify(toCloudEvent(row, this.opts.source));
    const headers = {
      ...webhookHeaders(sub.secret, d.id, Math.floor(Date.now() / 1000), body),
      'content-type': 'application/cloudevents+json',
    };
    const r = await postWebhook(sub.url, body, headers, {
      timeoutMs: this.opts.timeoutMs,
      allowPrivate: this.opts.allowPrivateTargets,
      agent: this.agents,
    });
    if (this.stopped) return; // the server is going down: the row stays PENDING and is sent again after the restart
    const attempt = { time, statusCode: r.statusCode, error: r.error, durationMs: r.durationMs };
    if (r.ok) {
      await this.hooks.recordAttempt(d, attempt, { status: 'SUCCEEDED', nextAttemptMs: null });
    } else if (d.attempts + 1 >= this.opts.maxAttempts) {
      this.opts.log.warn({ deliveryId: d.id, subscriptionId: sub.id, error: r.error }, 'webhook delivery failed for good');
      await this.hooks.recordAttempt(d, attempt, { status: 'FAILED', nextAttemptMs: null });
    } else {
      const next = Date.now() + retryDelayMs(d.attempts + 1, this.opts.retryBaseMs, this.opts.retryMaxMs);
      await this.hooks.recordAttempt(d, attempt, { status: 'PENDING', nextAttemptMs: next });
    }
  }

  /** One signed POST of a test event to a subscription's URL, now; nothing is stored. */
  async test(sub: { url: string; secret: string; id: string; compartmentId: string }) {
    const time = new Date().toISOString();
    const id = `msg_test_${randomUUID()}`;
    const body = JSON.stringify({
      specversion: '1.0',
      id,
      source: this.opts.source,
      type: 'io.dsjobs.webhooktest',
      subject: sub.id,
      time,
      datacontenttype: 'application/json',
      compartmentid: sub.compartmentId,
      data: { message: 'dsjobs webhook test' },
    });
    const headers = { ...webhookHeaders(sub.secret, id, Math.floor(Date.now() / 1000), body), 'content-type': 'application/cloudevents+json' };
    return postWebhook(sub.url, body, headers, { timeoutMs: this.opts.timeoutMs, allowPrivate: this.opts.allowPrivateTargets });
  }
}
