import type { Kysely, Transaction } from 'kysely';
import { invalid } from '../domain/errors.js';
import type { Database, EventTable } from './schema.js';
import type { EventInput } from './event-outbox.js';
import type { Store } from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

/** An event as stored: what was written (`EventInput`) with its place in the log, id and time. */
export interface EventRow extends EventInput {
  seq: number;
  id: string;
  time: string;
}

export interface EventQuery {
  compartmentId?: string;
  types?: string[];
  resourceId?: string;
  projectId?: string;
  jobId?: string;
  /** Only events after this sequence number. */
  afterSeq?: number;
  limit: number;
}

type EventDbRow = Omit<EventTable, 'seq'> & { seq: number };

export function eventFromRow(r: EventDbRow): EventRow {
  return {
    seq: Number(r.seq),
    id: r.id,
    time: r.time,
    type: r.type,
    resourceId: r.resource_id,
    compartmentId: r.compartment_id,
    projectId: r.project_id,
    jobId: r.job_id,
    state: r.state,
    data: JSON.parse(r.data),
  };
}

/** The event log (outbox), oldest first: readers keep a sequence number and ask for what came after it. */
export class EventStore {
  constructor(private readonly store: Store) {}

  private get db(): Kysely<Database> {
    return this.store.db;
  }

  async list(q: EventQuery, tx: Db = this.db): Promise<EventRow[]> {
    let query = tx.selectFrom('events').selectAll();
    if (q.afterSeq !== undefined) query = query.where('seq', '>', q.afterSeq);
    if (q.compartmentId) query = query.where('compartment_id', '=', q.compartmentId);
    if (q.types?.length) query = query.where('type', 'in', q.types);
    if (q.resourceId) query = query.where('resource_id', '=', q.resourceId);
    if (q.projectId) query = query.where('project_id', '=', q.projectId);
    if (q.jobId) query = query.where('job_id', '=', q.jobId);
    const rows = await query.orderBy('seq', 'asc').limit(q.limit).execute();
    return rows.map((r) => eventFromRow(r as EventDbRow));
  }

  /** The sequence number of an event id, for resuming after it. */
  async seqOf(id: string, field = 'after'): Promise<number> {
    const r = await this.db.selectFrom('events').select('seq').where('id', '=', id).executeTakeFirst();
    if (!r) throw invalid(field, `event ${id} was not found (events are kept for eventRetentionDays, 30 by default)`);
    return Number(r.seq);
  }

  async maxSeq(tx: Db = this.db): Promise<number> {
    const r = await tx
      .selectFrom('events')
      .select((eb) => eb.fn.max<number>('seq').as('m'))
      .executeTakeFirst();
    return Number(r?.m ?? 0);
  }

  /**
   * Deletes up to `limit` of the oldest events, those before `beforeTime` (ISO) and below `belowSeq`, oldest first,
   * stopping at the first newer one. Returns how many went and whether older ones may be left.
   */
  async deleteOld(tx: Db, q: { beforeTime: string; belowSeq: number; limit: number }): Promise<{ deleted: number; more: boolean }> {
    const rows = await tx.selectFrom('events').select(['seq', 'time']).where('seq', '<', q.belowSeq).orderBy('seq', 'asc').limit(q.limit).execute();
    // Sequence order is commit order, so times only grow along it (to the millisecond): stop at the first newer one.
    let last = -1;
    for (const r of rows) {
      if (r.time >= q.beforeTime) break;
      last = Number(r.seq);
    }
    if (last < 0) return { deleted: 0, more: false };
    // The rows read are the oldest ones: everything up to `last` is exactly them.
    const res = await tx.deleteFrom('events').where('seq', '<=', last).executeTakeFirst();
    const deleted = Number(res.numDeletedRows);
    return { deleted, more: rows.length === q.limit && Number(rows[rows.length - 1]!.seq) === last };
  }

  async getCursor(name: string, tx: Db = this.db): Promise<number | null> {
    const r = await tx.selectFrom('meta').select('value').where('key', '=', `cursor:${name}`).executeTakeFirst();
    return r ? Number(r.value) : null;
  }

  async setCursor(tx: Db, name: string, seq: number): Promise<void> {
    await tx
      .insertInto('meta')
      .values({ key: `cursor:${name}`, value: String(seq) })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(seq) }))
      .execute();
  }
}
