import type { Kysely, Transaction } from 'kysely';
import type { Database, WebhookDeliveryTable, WebhookSubscriptionTable } from './schema.js';
import { ListCache, writing } from './list-cache.js';
import type { Page } from './records.js';
import { keysetPage } from './paging.js';
import type { Store } from './store.js';
import { SecretBox, SecretKeyError } from './secret-box.js';
import { unlinkSync } from 'node:fs';

type Db = Kysely<Database> | Transaction<Database>;

/** Which events a subscription (or trigger rule) wants; every given field must match. */
export interface EventFilter {
  eventTypes?: string[];
  compartmentId?: string;
  projectId?: string;
  jobId?: string;
  /** The resource's lifecycle state after the change (e.g. a run's SUCCEEDED). */
  lifecycleStates?: string[];
}

export type SubscriptionState = 'ACTIVE' | 'PAUSED' | 'DELETED';

export interface SubscriptionRecord {
  id: string;
  compartmentId: string;
  displayName: string;
  url: string;
  secret: string;
  filter: EventFilter;
  lifecycleState: SubscriptionState;
  startSeq: number;
  /** The user it delivers as: only events about resources that user may read now are sent; null: every match. */
  createdBy: string | null;
  timeCreated: string;
  version: number;
}

export type DeliveryStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED';

export interface DeliveryAttempt {
  time: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface DeliveryRecord {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventSeq: number;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptMs: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  attemptLog: DeliveryAttempt[];
  timeCreated: string;
  timeUpdated: string;
}

const subFromRow = (r: WebhookSubscriptionTable, box: SecretBox): SubscriptionRecord => ({
  id: r.id,
  compartmentId: r.compartment_id,
  displayName: r.display_name,
  url: r.url,
  secret: box.open(r.secret),
  filter: JSON.parse(r.filter),
  lifecycleState: r.lifecycle_state as SubscriptionState,
  startSeq: Number(r.start_seq),
  createdBy: r.created_by ?? null,
  timeCreated: r.time_created,
  version: r.version,
});

const deliveryFromRow = (r: WebhookDeliveryTable): DeliveryRecord => ({
  id: r.id,
  subscriptionId: r.subscription_id,
  eventId: r.event_id,
  eventSeq: Number(r.event_seq),
  status: r.status as DeliveryStatus,
  attempts: r.attempts,
  nextAttemptMs: r.next_attempt_ms == null ? null : Number(r.next_attempt_ms),
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  attemptLog: JSON.parse(r.attempt_log),
  timeCreated: r.time_created,
  timeUpdated: r.time_updated,
});

/** Keep the last attempts of a delivery only: a target down for days must not grow a row without bound. */
const MAX_ATTEMPT_LOG = 20;

/** Webhook subscriptions and their deliveries (one row per subscription and event: at least once, durable). */
export class WebhookStore {
  /** Subscriptions by state, as the dispatcher asks for them on every commit that wrote events. */
  private readonly subscriptions = new ListCache<SubscriptionRecord>();

  /** `box` seals the subscriptions' signing secrets in the database (see secret-box.ts). */
  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
  ) {}

  /**
   * At start, before anything reads a subscription: secrets stored in plain text (by versions before sealing) are
   * sealed, and a key that cannot open the sealed ones stops the start with what to do, rather than every delivery
   * failing later. A key file this start had to make while sealed secrets exist is removed again: the next start
   * then says the same, instead of finding a key that opens nothing.
   */
  async prepareSecrets(): Promise<void> {
    const rows = await this.db.selectFrom('webhook_subscriptions').select(['id', 'secret']).execute();
    const sealed = rows.filter((r) => SecretBox.isSealed(r.secret));
    if (sealed.length > 0) {
      if (this.box.created) {
        unlinkSync(this.box.file);
        throw new SecretKeyError(
          `the secrets key file ${this.box.file} is missing, and ${sealed.length} webhook secret(s) in the database are sealed with it: put the original key file back (or point secretsKeyFile at it)`,
        );
      }
      this.box.open(sealed[0].secret);
    }
    const plain = rows.filter((r) => !SecretBox.isSealed(r.secret));
    if (plain.length === 0) return;
    await writing(this.subscriptions, () =>
      this.store.transaction(async (tx) => {
        for (const r of plain) await tx.updateTable('webhook_subscriptions').set({ secret: this.box.seal(r.secret) }).where('id', '=', r.id).execute();
      }),
    );
  }

  private get db(): Kysely<Database> {
    return this.store.db;
  }

  async insertSubscription(tx: Db, s: SubscriptionRecord): Promise<void> {
    await writing(this.subscriptions, () => tx
      .insertInto('webhook_subscriptions')
      .values({
        id: s.id,
        compartment_id: s.compartmentId,
        display_name: s.displayName,
        url: s.url,
        secret: this.box.seal(s.secret),
        filter: JSON.stringify(s.filter),
        lifecycle_state: s.lifecycleState,
        start_seq: s.startSeq,
        created_by: s.createdBy,
        time_created: s.timeCreated,
        version: s.version,
      })
      .execute(),
    );
  }

  async getSubscription(id: string): Promise<SubscriptionRecord | null> {
    const r = await this.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? subFromRow(r, this.box) : null;
  }

  /** Every subscription in these states (the dispatcher's question), from the cache: do not modify the records. */
  async listSubscriptions(q: { states: SubscriptionState[] }): Promise<SubscriptionRecord[]> {
    return this.subscriptions.get(q.states.join(','), async () =>
      (await this.db.selectFrom('webhook_subscriptions').selectAll().where('lifecycle_state', 'in', q.states).orderBy('time_created', 'asc').orderBy('id').execute()).map((r) => subFromRow(r, this.box)),
    );
  }

  /** A page of a compartment's subscriptions (the API's list), oldest first. */
  pageSubscriptions(q: { compartmentId?: string; states: SubscriptionState[]; page?: string; limit: number }): Promise<Page<SubscriptionRecord>> {
    let query = this.db.selectFrom('webhook_subscriptions').selectAll().where('lifecycle_state', 'in', q.states);
    if (q.compartmentId) query = query.where('compartment_id', '=', q.compartmentId);
    return keysetPage(query, { column: 'time_created', desc: false, page: q.page, limit: q.limit }, (r) => subFromRow(r, this.box));
  }

  async updateSubscription(
    id: string,
    version: number,
    patch: Partial<Pick<SubscriptionRecord, 'displayName' | 'url' | 'filter' | 'lifecycleState' | 'startSeq'>>,
    tx?: Db,
  ): Promise<SubscriptionRecord | null> {
    const set: Partial<WebhookSubscriptionTable> = { version: version + 1 };
    if (patch.displayName !== undefined) set.display_name = patch.displayName;
    if (patch.url !== undefined) set.url = patch.url;
    if (patch.filter !== undefined) set.filter = JSON.stringify(patch.filter);
    if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
    if (patch.startSeq !== undefined) set.start_seq = patch.startSeq;
    const r = await writing(this.subscriptions, () =>
      (tx ?? this.db).updateTable('webhook_subscriptions').set(set).where('id', '=', id).where('version', '=', version).returningAll().executeTakeFirst(),
    );
    return r ? subFromRow(r, this.box) : null;
  }

  /** Creates a delivery unless this subscription already has one for the event (fan-out may be repeated). */
  async insertDelivery(tx: Db, d: { id: string; subscriptionId: string; eventId: string; eventSeq: number; nowMs: number }): Promise<void> {
    const now = new Date(d.nowMs).toISOString();
    await tx
      .insertInto('webhook_deliveries')
      .values({
        id: d.id,
        subscription_id: d.subscriptionId,
        event_id: d.eventId,
        event_seq: d.eventSeq,
        status: 'PENDING',
        attempts: 0,
        next_attempt_ms: d.nowMs,
        last_status_code: null,
        last_error: null,
        attempt_log: '[]',
        time_created: now,
        time_updated: now,
      })
      .onConflict((oc) => oc.columns(['subscription_id', 'event_id']).doNothing())
      .execute();
  }

  /** Pending deliveries due by `nowMs` of active subscriptions, oldest event first. */
  async dueDeliveries(nowMs: number, limit: number, exclude: ReadonlySet<string>): Promise<DeliveryRecord[]> {
    const rows = await this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_subscriptions as s', 's.id', 'd.subscription_id')
      .selectAll('d')
      .where('d.status', '=', 'PENDING')
      .where('d.next_attempt_ms', '<=', nowMs)
      .where('s.lifecycle_state', '=', 'ACTIVE')
      .orderBy('d.next_attempt_ms', 'asc')
      .orderBy('d.event_seq', 'asc')
      .limit(limit + exclude.size)
      .execute();
    return rows.map(deliveryFromRow).filter((d) => !exclude.has(d.id)).slice(0, limit);
  }

  /** The oldest event a PENDING delivery still needs (its sequence number), or null. */
  async oldestPendingEventSeq(): Promise<number | null> {
    const r = await this.db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.min<number>('event_seq').as('m'))
      .where('status', '=', 'PENDING')
      .executeTakeFirst();
    return r?.m == null ? null : Number(r.m);
  }

  /** Deletes up to `limit` finished (SUCCEEDED or FAILED) deliveries last updated before `beforeTime` (ISO). */
  async deleteFinished(tx: Db, q: { beforeTime: string; limit: number }): Promise<number> {
    const ids = (
      await tx
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('status', 'in', ['SUCCEEDED', 'FAILED'])
        .where('time_updated', '<', q.beforeTime)
        .limit(q.limit)
        .execute()
    ).map((r) => r.id);
    if (ids.length === 0) return 0;
    const res = await tx.deleteFrom('webhook_deliveries').where('id', 'in', ids).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** When the next pending delivery of an active subscription is due (epoch ms), or null. */
  async nextDueMs(): Promise<number | null> {
    const r = await this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_subscriptions as s', 's.id', 'd.subscription_id')
      .select((eb) => eb.fn.min<number>('d.next_attempt_ms').as('m'))
      .where('d.status', '=', 'PENDING')
      .where('s.lifecycle_state', '=', 'ACTIVE')
      .executeTakeFirst();
    return r?.m == null ? null : Number(r.m);
  }

  async recordAttempt(
    d: DeliveryRecord,
    attempt: DeliveryAttempt,
    outcome: { status: DeliveryStatus; nextAttemptMs: number | null },
  ): Promise<void> {
    const log = [...d.attemptLog, attempt].slice(-MAX_ATTEMPT_LOG);
    // A transaction, so that the fence of the dispatching replica (fence.ts) is checked with the write: a replica that
    // lost the coordinator's lease mid-send records nothing, and the new holder's result is the one that counts.
    await this.store.transaction((tx) => tx
      .updateTable('webhook_deliveries')
      .set({
        status: outcome.status,
        attempts: d.attempts + 1,
        next_attempt_ms: outcome.nextAttemptMs,
        last_status_code: attempt.statusCode,
        last_error: attempt.error,
        attempt_log: JSON.stringify(log),
        time_updated: attempt.time,
      })
      .where('id', '=', d.id)
      .where('status', '=', 'PENDING')
      .execute(),
    );
  }

  async listDeliveries(q: { subscriptionId: string; status?: DeliveryStatus; afterSeq?: number; limit: number }): Promise<DeliveryRecord[]> {
    let query = this.db.selectFrom('webhook_deliveries').selectAll().where('subscription_id', '=', q.subscriptionId);
    if (q.status) query = query.where('status', '=', q.status);
    if (q.afterSeq !== undefined) query = query.where('event_seq', '>', q.afterSeq);
    const rows = await query.orderBy('event_seq', 'asc').limit(q.limit).execute();
    return rows.map(deliveryFromRow);
  }
}
