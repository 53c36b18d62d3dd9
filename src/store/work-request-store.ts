import { sql, type Kysely, type Transaction } from 'kysely';
import { isPostgres } from './dialect.js';
import type { Database, WorkRequestTable } from './schema.js';
import type { Page } from './records.js';
import type { Store } from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

export type WorkRequestStatus = 'ACCEPTED' | 'IN_PROGRESS' | 'FAILED' | 'SUCCEEDED' | 'CANCELING' | 'CANCELED';
export const FINISHED_WORK_REQUEST_STATES: readonly WorkRequestStatus[] = ['FAILED', 'SUCCEEDED', 'CANCELED'];

export interface WorkRequestResource {
  actionType: 'CREATED' | 'UPDATED' | 'DELETED' | 'RELATED' | 'IN_PROGRESS';
  entityType: string;
  identifier: string;
  entityUri?: string;
}

export interface WorkRequestRecord {
  id: string;
  operationType: string;
  status: WorkRequestStatus;
  compartmentId: string;
  percentComplete: number;
  resources: WorkRequestResource[];
  errors: { code: string; message: string; timestamp: string }[];
  logs: { message: string; timestamp: string }[];
  timeAccepted: string;
  timeStarted: string | null;
  timeFinished: string | null;
  version: number;
}

export interface WorkRequestQuery {
  compartmentId: string;
  id?: string;
  resourceId?: string;
  operationType?: string;
  /** Only work requests of these operation types (each service's API lists its own). */
  operationTypes?: readonly string[];
  status?: string;
  sortBy: 'timeAccepted' | 'operationType' | 'status';
  sortOrder: 'ASC' | 'DESC';
  limit: number;
  /** The offset of the page's first item, as the previous page's opc-next-page gave it. */
  page?: string;
}

const fromRow = (r: WorkRequestTable): WorkRequestRecord => ({
  id: r.id,
  operationType: r.operation_type,
  status: r.status as WorkRequestStatus,
  compartmentId: r.compartment_id,
  percentComplete: r.percent_complete,
  resources: JSON.parse(r.resources),
  errors: JSON.parse(r.errors),
  logs: JSON.parse(r.logs),
  timeAccepted: r.time_accepted,
  timeStarted: r.time_started,
  timeFinished: r.time_finished,
  version: r.version,
});

const toRow = (w: WorkRequestRecord): WorkRequestTable => ({
  id: w.id,
  operation_type: w.operationType,
  status: w.status,
  compartment_id: w.compartmentId,
  percent_complete: w.percentComplete,
  resources: JSON.stringify(w.resources),
  errors: JSON.stringify(w.errors),
  logs: JSON.stringify(w.logs),
  time_accepted: w.timeAccepted,
  time_started: w.timeStarted,
  time_finished: w.timeFinished,
  version: w.version,
});

const SORT_COLUMN = { timeAccepted: 'time_accepted', operationType: 'operation_type', status: 'status' } as const;

/** Work requests: written in the transaction of the operation they record, read by the work request API. */
export class WorkRequestStore {
  constructor(readonly store: Store) {}

  async insert(tx: Db, w: WorkRequestRecord): Promise<void> {
    await tx.insertInto('work_requests').values(toRow(w)).execute();
  }

  /** Compare-and-set on the version; null when it changed meanwhile. */
  async update(tx: Db, w: WorkRequestRecord, expectedVersion: number): Promise<WorkRequestRecord | null> {
    const next = { ...w, version: expectedVersion + 1 };
    const { id: _id, ...row } = toRow(next);
    const r = await tx.updateTable('work_requests').set(row).where('id', '=', w.id).where('version', '=', expectedVersion).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? next : null;
  }

  async get(id: string, tx?: Db): Promise<WorkRequestRecord | null> {
    const r = await (tx ?? this.store.db).selectFrom('work_requests').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? fromRow(r) : null;
  }

  async list(q: WorkRequestQuery): Promise<Page<WorkRequestRecord>> {
    const offset = q.page ? Number(q.page) : 0;
    let query = this.store.db.selectFrom('work_requests').selectAll().where('compartment_id', '=', q.compartmentId);
    if (q.id) query = query.where('id', '=', q.id);
    if (q.operationType) query = query.where('operation_type', '=', q.operationType);
    if (q.operationTypes) query = query.where('operation_type', 'in', [...q.operationTypes]);
    if (q.status) query = query.where('status', '=', q.status);
    if (q.resourceId) {
      // The resources are a JSON array in a TEXT column; each dialect has its own way to look inside it.
      query = query.where(
        isPostgres(this.store.db)
          ? sql<boolean>`exists (select 1 from jsonb_array_elements(work_requests.resources::jsonb) r where r->>'identifier' = ${q.resourceId})`
          : sql<boolean>`exists (select 1 from json_each(work_requests.resources) where json_extract(value, '$.identifier') = ${q.resourceId})`,
      );
    }
    const dir = q.sortOrder === 'ASC' ? 'asc' : 'desc';
    const rows = await query
      .orderBy(SORT_COLUMN[q.sortBy], dir)
      .orderBy('id', dir)
      .limit(q.limit + 1)
      .offset(offset)
      .execute();
    const items = rows.slice(0, q.limit).map(fromRow);
    return { items, nextPage: rows.length > q.limit ? String(offset + q.limit) : null };
  }
}
