import type { Page } from '../store/records.js';
import { DsError, invalid, notFound } from '../domain/errors.js';
import { isOcid, newOcid } from '../domain/ids.js';
import type { WebhookDispatcher } from '../events/dispatcher.js';
import { newWebhookSecret } from '../events/signature.js';
import { forbiddenAddressReason } from '../events/ssrf.js';
import { ALL_EVENT_TYPES } from '../events/types.js';
import { webhookUrlProblem } from '../events/webhook-client.js';
import type { EventStore } from '../store/event-store.js';
import type { Store } from '../store/store.js';
import type { DeliveryRecord, DeliveryStatus, EventFilter, SubscriptionRecord, WebhookStore } from '../store/webhook-store.js';
import { checkIfMatch, iso, type Clock, type ServerIdentity } from './common.js';
import { checkCompartment, checkListCompartment, type ListPage } from './projects.js';

export interface CreateSubscriptionInput {
  compartmentId: string;
  displayName?: string;
  url: string;
  filter?: EventFilter;
}

/** Checks an event filter's fields (shared by webhook subscriptions and trigger rules). */
export function checkEventFilter(f: EventFilter | undefined, field: string): EventFilter {
  const out: EventFilter = {};
  if (!f) return out;
  if (f.eventTypes !== undefined) {
    if (!Array.isArray(f.eventTypes)) throw invalid(`${field}.eventTypes`, 'must be a list of event types');
    for (const t of f.eventTypes) {
      if (!ALL_EVENT_TYPES.includes(t)) throw invalid(`${field}.eventTypes`, `'${t}' is not an event type of dsjobs (see docs/events.md)`);
    }
    if (f.eventTypes.length) out.eventTypes = [...f.eventTypes];
  }
  for (const k of ['compartmentId', 'projectId', 'jobId'] as const) {
    if (f[k] !== undefined && f[k] !== null) {
      if (!isOcid(f[k])) throw invalid(`${field}.${k}`, 'must be an OCID');
      out[k] = f[k];
    }
  }
  if (f.lifecycleStates !== undefined) {
    if (!Array.isArray(f.lifecycleStates) || f.lifecycleStates.some((s) => typeof s !== 'string' || !/^[A-Z_]+$/.test(s))) {
      throw invalid(`${field}.lifecycleStates`, 'must be a list of lifecycle states such as SUCCEEDED, FAILED');
    }
    if (f.lifecycleStates.length) out.lifecycleStates = [...f.lifecycleStates];
  }
  return out;
}

/** Webhook subscriptions: CRUD, pause/resume, a test POST, and the deliveries with each attempt. */
export class WebhooksService {
  constructor(
    private readonly store: Store,
    private readonly events: EventStore,
    private readonly hooks: WebhookStore,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
    private readonly opts: { allowPrivateTargets: boolean },
    private readonly dispatcher: WebhookDispatcher,
  ) {}

  private checkUrl(url: unknown): string {
    if (typeof url !== 'string') throw invalid('url', 'is required');
    const problem = webhookUrlProblem(url);
    if (problem) throw invalid('url', problem);
    if (!this.opts.allowPrivateTargets) {
      const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      const why = /^localhost$|\.localhost$/i.test(host) ? 'loopback' : forbiddenAddressReason(host);
      // Names are checked again on every delivery, on the address actually connected to.
      if (why && why !== 'not an IP address') {
        throw invalid('url', `${host} is a ${why} address; webhooks may not target it unless the server config sets webhookAllowPrivateTargets`);
      }
    }
    return url;
  }

  async create(input: CreateSubscriptionInput, createdBy: string | null = null): Promise<SubscriptionRecord> {
    checkCompartment(input.compartmentId);
    const url = this.checkUrl(input.url);
    const filter = checkEventFilter(input.filter, 'filter');
    const now = this.clock.now();
    const rec = await this.store.transaction(async (tx) => {
      const rec: SubscriptionRecord = {
        id: newOcid('dsjobswebhooksubscription', this.identity.region),
        compartmentId: input.compartmentId,
        displayName: input.displayName ?? `webhook-${iso(now).slice(0, 19).replace(/[-:T]/g, '')}`,
        url,
        secret: newWebhookSecret(),
        filter,
        lifecycleState: 'ACTIVE',
        // Only events from now on: a new subscription does not replay history.
        startSeq: await this.events.maxSeq(tx),
        createdBy,
        timeCreated: iso(now),
        version: 1,
      };
      await this.hooks.insertSubscription(tx, rec);
      return rec;
    });
    return rec;
  }

  async get(id: string): Promise<SubscriptionRecord> {
    const s = await this.hooks.getSubscription(id);
    if (!s || s.lifecycleState === 'DELETED') throw notFound('Webhook subscription', id);
    return s;
  }

  list(q: ListPage): Promise<Page<SubscriptionRecord>> {
    checkListCompartment(q);
    return this.hooks.pageSubscriptions({ ...q, states: ['ACTIVE', 'PAUSED'] });
  }

  async update(id: string, patch: { displayName?: string; url?: string; filter?: EventFilter }, ifMatch?: string): Promise<SubscriptionRecord> {
    const s = await this.get(id);
    checkIfMatch(ifMatch, s.id, s.version);
    const r = await this.hooks.updateSubscription(id, s.version, {
      displayName: patch.displayName,
      url: patch.url === undefined ? undefined : this.checkUrl(patch.url),
      filter: patch.filter === undefined ? undefined : checkEventFilter(patch.filter, 'filter'),
    });
    if (!r) throw new DsError('Conflict', `Webhook subscription ${id} was changed concurrently; get it again and retry`);
    return r;
  }

  private async setState(id: string, to: 'ACTIVE' | 'PAUSED' | 'DELETED', ifMatch?: string): Promise<SubscriptionRecord> {
    const s = await this.get(id);
    checkIfMatch(ifMatch, s.id, s.version);
    if (s.lifecycleState === to) return s;
    const r =
      to === 'ACTIVE' && s.lifecycleState === 'PAUSED'
        ? // Resumed: events from now on, as for a new subscription. The dispatcher fans events out a moment after
          // they commit, so the events of the pause may not have been looked at yet; by then the subscription is
          // active again and would get them. (The price: events from just before the pause that the dispatcher had
          // not reached when the subscription was paused are not delivered either.)
          await this.store.transaction(async (tx) =>
            this.hooks.updateSubscription(id, s.version, { lifecycleState: to, startSeq: await this.events.maxSeq(tx) }, tx),
          )
        : await this.hooks.updateSubscription(id, s.version, { lifecycleState: to });
    if (!r) throw new DsError('Conflict', `Webhook subscription ${id} was changed concurrently; retry`);
    if (to === 'ACTIVE') this.dispatcher.kick();
    return r;
  }

  /** Paused: no new deliveries are made for it and pending ones wait until it is resumed. */
  pause(id: string, ifMatch?: string) {
    return this.setState(id, 'PAUSED', ifMatch);
  }
  resume(id: string, ifMatch?: string) {
    return this.setState(id, 'ACTIVE', ifMatch);
  }
  async delete(id: string, ifMatch?: string): Promise<void> {
    await this.setState(id, 'DELETED', ifMatch);
  }

  async test(id: string) {
    const s = await this.get(id);
    return this.dispatcher.test(s);
  }

  async deliveries(id: string, q: { status?: DeliveryStatus; page?: string; limit: number }): Promise<{ items: DeliveryRecord[]; nextPage: string | null }> {
    await this.get(id);
    if (q.page !== undefined && !/^\d+$/.test(q.page)) throw invalid('query page', 'is not a page token returned by this server (opc-next-page)');
    const rows = await this.hooks.listDeliveries({
      subscriptionId: id,
      status: q.status,
      afterSeq: q.page === undefined ? undefined : Number(q.page),
      limit: q.limit + 1,
    });
    const more = rows.length > q.limit;
    const items = more ? rows.slice(0, q.limit) : rows;
    return { items, nextPage: more ? String(items[items.length - 1].eventSeq) : null };
  }
}
