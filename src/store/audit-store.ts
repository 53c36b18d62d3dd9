import { sql, type Kysely, type Transaction } from 'kysely';
import type { Insertable, Selectable } from 'kysely';
import { CompiledInsert } from './compiled-insert.js';
import type { BatchedWriter } from './group-commit.js';
import type { AuditEventTable, Database } from './schema.js';
import type { Page } from './records.js';
import type { Store } from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

/** One audited request: where and when it acted, who made it, and the OCI AuditEvent as recorded (names are filled in when read). */
export interface AuditRecord {
  /** A UUIDv7 (time-ordered): the event's eventId (stored in the event only). */
  id: string;
  /** When the request was received (RFC 3339). */
  eventTime: string;
  compartmentId: string;
  /** The user (or run) that made the request; null when it was not authenticated. */
  principalId: string | null;
  event: Record<string, unknown>;
}

export interface AuditQuery {
  compartmentId: string;
  /** Inclusive. */
  startTime: string;
  /** Exclusive. */
  endTime: string;
  principalId?: string;
  limit: number;
  /** The previous page's opc-next-page. */
  page?: string;
}

type Row = Selectable<AuditEventTable>;

function fromRow(r: Row): AuditRecord {
  const event = JSON.parse(r.data) as Record<string, unknown>;
  return { id: String(event.eventId), eventTime: r.event_time, compartmentId: r.compartment_id, principalId: r.principal_id, event };
}

/** A page token: the (event_time, seq) of the last event given, base64url; the next page starts after it. */
const encodePage = (r: Row) => Buffer.from(`${r.event_time}|${r.seq}`).toString('base64url');

/** The (event_time, seq) a page token names, or null for a token this store did not make. */
export function decodeAuditPage(page: string): { time: string; seq: number } | null {
  const text = Buffer.from(page, 'base64url').toString('utf8');
  const bar = text.indexOf('|');
  if (bar < 0) return null;
  const time = text.slice(0, bar);
  const seq = Number(text.slice(bar + 1));
  return Number.isNaN(Date.parse(time)) || !Number.isSafeInteger(seq) ? null : { time, seq };
}

/** The audit trail: one insert per audited request, lists by compartment and time window, deletes by age. */
export class AuditStore {
  private readonly insertRow = new CompiledInsert('audit_events');
  /**
   * On PostgreSQL the events go with the batch's other deferred rows (a batch of creates: its runs and events), in
   * the same statement (GroupCommit.deferWrite): their own INSERT was a round trip of the batch.
   */
  private readonly batched: BatchedWriter<Insertable<Database['audit_events']>> = {
    writeMany: (tx, rows) => this.insertRow.runMany(tx, rows),
    statement: (tx, rows, first) => this.insertRow.statement(tx, rows, first),
  };

  constructor(readonly store: Store) {}

  /**
   * One statement for many events (SQLite binds at most 32,766 values: 4 a row, in chunks of 1,000 rows). On
   * PostgreSQL written at the end of the batch: not there to read in the transaction before then.
   */
  async insert(tx: Db, records: readonly AuditRecord[]): Promise<void> {
    const rows = records.map((r) => ({
      event_time: r.eventTime,
      compartment_id: r.compartmentId,
      principal_id: r.principalId,
      data: JSON.stringify(r.event),
    }));
    if (rows.length > 0 && this.store.deferWrite(tx, this.batched, rows[0]!)) {
      for (const row of rows.slice(1)) this.store.deferWrite(tx, this.batched, row);
      return;
    }
    for (let i = 0; i < rows.length; i += 1000) await tx.insertInto('audit_events').values(rows.slice(i, i + 1000)).execute();
  }

  /** Oldest first (in the order recorded within a millisecond); `page` must have been checked with decodeAuditPage. */
  async list(tx: Db, q: AuditQuery): Promise<Page<AuditRecord>> {
    let query = tx
      .selectFrom('audit_events')
      .selectAll()
      .where('compartment_id', '=', q.compartmentId)
      .where('event_time', '>=', q.startTime)
      .where('event_time', '<', q.endTime);
    if (q.principalId !== undefined) query = query.where('principal_id', '=', q.principalId);
    const after = q.page ? decodeAuditPage(q.page) : null;
    if (after) query = query.where(sql<boolean>`(event_time, seq) > (${after.time}, ${after.seq})`);
    const rows = await query.orderBy('event_time', 'asc').orderBy('seq', 'asc').limit(q.limit + 1).execute();
    const page = rows.slice(0, q.limit);
    return { items: page.map(fromRow), nextPage: rows.length > q.limit ? encodePage(page[page.length - 1]) : null };
  }

  /**
   * Deletes up to `limit` of the first-recorded events, as far as they were received before `beforeTime`; how many
   * it deleted. Events are recorded in about the order they were received (one that took long to answer comes after
   * quicker ones received after it), so the walk by seq stops at the first newer one: an old event recorded after it
   * goes in a later pass. It reads only what it deletes, with no index on the time.
   */
  async deleteOld(tx: Db, beforeTime: string, limit: number): Promise<number> {
    const first = await tx.selectFrom('audit_events').select(['seq', 'event_time']).orderBy('seq', 'asc').limit(limit).execute();
    const stop = first.findIndex((r) => r.event_time >= beforeTime);
    const old = stop < 0 ? first : first.slice(0, stop);
    if (old.length === 0) return 0;
    const r = await tx.deleteFrom('audit_events').where('seq', '<=', old[old.length - 1].seq).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
