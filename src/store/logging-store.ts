import { sql, type Kysely, type SelectQueryBuilder, type Transaction } from 'kysely';
import type { Database, LogEntryTable, LogGroupTable, LogTable } from './schema.js';
import type { DefinedTags, Page, Tags } from './records.js';
import type { Store } from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface LogGroupRecord {
  id: string;
  compartmentId: string;
  displayName: string;
  description: string | null;
  freeformTags: Tags;
  definedTags: DefinedTags;
  lifecycleState: string;
  timeCreated: string;
  timeLastModified: string;
  version: number;
}

export interface LogRecord {
  id: string;
  logGroupId: string;
  compartmentId: string;
  displayName: string;
  logType: 'CUSTOM' | 'SERVICE';
  isEnabled: boolean;
  configuration: Record<string, unknown> | null;
  retentionDuration: number;
  freeformTags: Tags;
  definedTags: DefinedTags;
  lifecycleState: string;
  timeCreated: string;
  timeLastModified: string;
  version: number;
}

/** An entry pushed with PutLogs. `n`: its insertion order, the tie-break between entries of the same time. */
export interface LogEntryRecord {
  n: number;
  logId: string;
  time: string;
  ingested: string;
  entryId: string;
  source: string;
  type: string;
  subject: string | null;
  data: string;
}

export interface LogListQuery {
  sortBy: 'timeCreated' | 'displayName';
  sortOrder: 'ASC' | 'DESC';
  limit: number;
  /** The offset of the page's first item, as the previous page's opc-next-page gave it. */
  page?: string;
  displayName?: string;
}

const groupFromRow = (r: LogGroupTable): LogGroupRecord => ({
  id: r.id,
  compartmentId: r.compartment_id,
  displayName: r.display_name,
  description: r.description,
  freeformTags: JSON.parse(r.freeform_tags),
  definedTags: JSON.parse(r.defined_tags),
  lifecycleState: r.lifecycle_state,
  timeCreated: r.time_created,
  timeLastModified: r.time_last_modified,
  version: r.version,
});

const groupToRow = (g: LogGroupRecord): LogGroupTable => ({
  id: g.id,
  compartment_id: g.compartmentId,
  display_name: g.displayName,
  description: g.description,
  freeform_tags: JSON.stringify(g.freeformTags),
  defined_tags: JSON.stringify(g.definedTags),
  lifecycle_state: g.lifecycleState,
  time_created: g.timeCreated,
  time_last_modified: g.timeLastModified,
  version: g.version,
});

const logFromRow = (r: LogTable): LogRecord => ({
  id: r.id,
  logGroupId: r.log_group_id,
  compartmentId: r.compartment_id,
  displayName: r.display_name,
  logType: r.log_type as LogRecord['logType'],
  isEnabled: r.is_enabled === 1,
  configuration: r.configuration === null ? null : JSON.parse(r.configuration),
  retentionDuration: r.retention_duration,
  freeformTags: JSON.parse(r.freeform_tags),
  definedTags: JSON.parse(r.defined_tags),
  lifecycleState: r.lifecycle_state,
  timeCreated: r.time_created,
  timeLastModified: r.time_last_modified,
  version: r.version,
});

const logToRow = (l: LogRecord): LogTable => ({
  id: l.id,
  log_group_id: l.logGroupId,
  compartment_id: l.compartmentId,
  display_name: l.displayName,
  log_type: l.logType,
  is_enabled: l.isEnabled ? 1 : 0,
  configuration: l.configuration === null ? null : JSON.stringify(l.configuration),
  retention_duration: l.retentionDuration,
  freeform_tags: JSON.stringify(l.freeformTags),
  defined_tags: JSON.stringify(l.definedTags),
  lifecycle_state: l.lifecycleState,
  time_created: l.timeCreated,
  time_last_modified: l.timeLastModified,
  version: l.version,
});

const entryFromRow = (r: LogEntryTable & { n: number }): LogEntryRecord => ({
  n: Number(r.n),
  logId: r.log_id,
  time: r.time,
  ingested: r.ingested,
  entryId: r.entry_id,
  source: r.source,
  type: r.type,
  subject: r.subject,
  data: r.data,
});

const SORT_COLUMN = { timeCreated: 'time_created', displayName: 'display_name' } as const;

/** A page of log groups or logs: an offset into the list sorted as asked, ties broken by id (the page is the offset). */
async function offsetPage<R, T>(query: SelectQueryBuilder<Database, any, R>, q: LogListQuery, fromRow: (r: R) => T): Promise<Page<T>> {
  const offset = q.page ? Number(q.page) || 0 : 0;
  const dir = q.sortOrder === 'ASC' ? 'asc' : 'desc';
  const rows = await (query as unknown as SelectQueryBuilder<any, any, R>)
    .orderBy(SORT_COLUMN[q.sortBy], dir)
    .orderBy('id', dir)
    .limit(q.limit + 1)
    .offset(offset)
    .execute();
  return { items: rows.slice(0, q.limit).map(fromRow), nextPage: rows.length > q.limit ? String(offset + q.limit) : null };
}

/** A table whose records are written whole: insert, compare-and-set of the whole row on its version, get by id. */
export class WholeRows<T extends { id: string; version: number }, Row extends { id: string }> {
  constructor(
    private readonly store: Store,
    private readonly table: 'log_groups' | 'logs',
    private readonly toRow: (rec: T) => Row,
    private readonly fromRow: (row: Row) => T,
  ) {}

  async insert(tx: Db, rec: T): Promise<void> {
    await (tx as unknown as Kysely<any>).insertInto(this.table).values(this.toRow(rec)).execute();
  }

  /** Writes `rec` at version `expectedVersion + 1`; false when the row changed (or went) meanwhile. */
  async update(tx: Db, rec: T, expectedVersion: number): Promise<boolean> {
    const { id, ...rest } = this.toRow({ ...rec, version: expectedVersion + 1 });
    const r = await (tx as unknown as Kysely<any>).updateTable(this.table).set(rest).where('id', '=', id).where('version', '=', expectedVersion).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async get(id: string, tx: Db = this.store.db): Promise<T | null> {
    const r = await (tx as unknown as Kysely<any>).selectFrom(this.table).selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.fromRow(r as Row) : null;
  }
}

/** A LIKE pattern for a search's `*`-wildcard value (`%`, `_` and `\` taken literally). */
export function likePattern(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

/** Log groups, logs and pushed log entries (the OCI Logging subset, service/logging.ts). */
export class LoggingStore {
  readonly groups: WholeRows<LogGroupRecord, LogGroupTable>;
  readonly logs: WholeRows<LogRecord, LogTable>;

  constructor(readonly store: Store) {
    this.groups = new WholeRows(store, 'log_groups', groupToRow, groupFromRow);
    this.logs = new WholeRows(store, 'logs', logToRow, logFromRow);
  }

  async deleteGroup(tx: Db, id: string): Promise<void> {
    await tx.deleteFrom('log_groups').where('id', '=', id).execute();
  }

  async listGroups(compartmentIds: string[], q: LogListQuery): Promise<Page<LogGroupRecord>> {
    if (compartmentIds.length === 0) return { items: [], nextPage: null };
    let query = this.store.db.selectFrom('log_groups').selectAll().where('compartment_id', 'in', compartmentIds);
    if (q.displayName !== undefined) query = query.where('display_name', '=', q.displayName);
    return offsetPage(query, q, groupFromRow);
  }

  /** Deletes a log and the entries pushed to it (run output stays with its runs). */
  async deleteLog(tx: Db, id: string): Promise<void> {
    await tx.deleteFrom('log_entries').where('log_id', '=', id).execute();
    await tx.deleteFrom('logs').where('id', '=', id).execute();
  }

  async countLogs(groupId: string, tx: Db = this.store.db): Promise<number> {
    const r = await tx.selectFrom('logs').select((eb) => eb.fn.countAll<number>().as('n')).where('log_group_id', '=', groupId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async listLogs(groupId: string, q: LogListQuery & { logType?: string; lifecycleState?: string }): Promise<Page<LogRecord>> {
    let query = this.store.db.selectFrom('logs').selectAll().where('log_group_id', '=', groupId);
    if (q.displayName !== undefined) query = query.where('display_name', '=', q.displayName);
    if (q.logType !== undefined) query = query.where('log_type', '=', q.logType);
    if (q.lifecycleState !== undefined) query = query.where('lifecycle_state', '=', q.lifecycleState);
    return offsetPage(query, q, logFromRow);
  }

  async insertEntries(tx: Db, entries: Omit<LogEntryRecord, 'n'>[]): Promise<void> {
    for (let i = 0; i < entries.length; i += 500) {
      const rows = entries.slice(i, i + 500).map((e) => ({
        log_id: e.logId,
        time: e.time,
        ingested: e.ingested,
        entry_id: e.entryId,
        source: e.source,
        type: e.type,
        subject: e.subject,
        data: e.data,
      }));
      await tx.insertInto('log_entries').values(rows).execute();
    }
  }

  /**
   * Up to `limit` pushed entries of these logs in time order, strictly after (asc) or before (desc) the keyset
   * position `after` ([time, n]), within [timeStart, timeEnd), whose source matches `sourceLike` (a LIKE pattern).
   */
  async entries(q: {
    logIds: string[];
    order: 'asc' | 'desc';
    timeStart: string;
    timeEnd: string;
    after: [string, number] | null;
    sourceLike?: string;
    subjectLike?: string;
    limit: number;
  }): Promise<LogEntryRecord[]> {
    if (q.logIds.length === 0) return [];
    let query = this.store.db
      .selectFrom('log_entries')
      .selectAll()
      .where('log_id', 'in', q.logIds)
      .where('time', '>=', q.timeStart)
      .where('time', '<', q.timeEnd);
    if (q.sourceLike !== undefined) query = query.where(sql<boolean>`source like ${q.sourceLike} escape '\\'`);
    if (q.subjectLike !== undefined) query = query.where(sql<boolean>`coalesce(subject, '') like ${q.subjectLike} escape '\\'`);
    if (q.after) {
      const [t, n] = q.after;
      query =
        q.order === 'asc'
          ? query.where((eb) => eb.or([eb('time', '>', t), eb.and([eb('time', '=', t), eb('n', '>', n)])]))
          : query.where((eb) => eb.or([eb('time', '<', t), eb.and([eb('time', '=', t), eb('n', '<', n)])]));
    }
    const rows = await query.orderBy('time', q.order).orderBy('n', q.order).limit(q.limit).execute();
    return rows.map((r) => entryFromRow(r as LogEntryTable & { n: number }));
  }

  /** Removes entries of `logId` older than `before`, at most `limit`; how many went. */
  async deleteEntriesBefore(tx: Db, logId: string, before: string, limit: number): Promise<number> {
    const r = await tx
      .deleteFrom('log_entries')
      .where('n', 'in', (eb) => eb.selectFrom('log_entries').select('n').where('log_id', '=', logId).where('time', '<', before).limit(limit))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Every log with its retention (the retention pass walks them). */
  async logRetentions(): Promise<{ id: string; retentionDuration: number }[]> {
    const rows = await this.store.db.selectFrom('logs').select(['id', 'retention_duration']).execute();
    return rows.map((r) => ({ id: r.id, retentionDuration: r.retention_duration }));
  }

  /** The runs whose output a log shows (not deleted), in acceptance order. */
  async runsOfLog(logId: string): Promise<{ id: string; compartmentId: string; timeAccepted: string; timeFinished: string | null }[]> {
    const rows = await this.store.db
      .selectFrom('job_runs')
      .select(['id', 'compartment_id', 'time_accepted', 'time_finished'])
      .where('log_id', '=', logId)
      .where('lifecycle_state', '!=', 'DELETED')
      .orderBy('seq')
      .execute();
    return rows.map((r) => ({ id: r.id, compartmentId: r.compartment_id, timeAccepted: r.time_accepted, timeFinished: r.time_finished }));
  }
}
