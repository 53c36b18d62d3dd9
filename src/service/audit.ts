import { invalid } from '../domain/errors.js';
import type { AuditRecord, AuditStore } from '../store/audit-store.js';
import { decodeAuditPage } from '../store/audit-store.js';
import type { Store } from '../store/store.js';

/** OCI Audit keeps 365 days; a list asks for one window of at most this many days (a year and a leap day). */
export const MAX_AUDIT_WINDOW_DAYS = 366;
const DAY_MS = 86_400_000;
/** Events per page when the request does not say (`limit` is a dsjobs extension; OCI's SDKs page by opc-next-page). */
export const DEFAULT_AUDIT_PAGE = 100;

/**
 * RFC 3339 date-time: date, T, time, optional fraction, Z or an offset. The hour may have one digit: the official
 * OCI TypeScript SDK writes a Date query parameter without padding the hour (`2026-12-06T9:05:03Z`), and OCI takes it.
 */
const RFC3339 = /^(\d{4}-\d{2}-\d{2}[Tt])(\d{1,2})(:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2}))$/;

export interface AuditListQuery {
  compartmentId: string;
  startTime?: string;
  endTime?: string;
  principalId?: string;
  limit?: number;
  page?: string;
}

export interface AuditServiceOptions {
  /** The friendly name of a principal (a user's name), read when events are listed; undefined when unknown. */
  principalName(principalId: string): Promise<string | undefined>;
  log: { error(o: unknown, m: string): void };
}

function time(field: string, v: string | undefined): string {
  if (v === undefined || v === '') throw invalid(field, 'is required');
  const m = RFC3339.exec(v);
  const ms = m ? Date.parse(`${m[1]}${m[2].padStart(2, '0')}${m[3]}`) : NaN;
  if (Number.isNaN(ms)) throw invalid(field, `must be an RFC 3339 date-time (such as 2024-05-01T00:00:00Z), got '${v.slice(0, 64)}'`);
  return new Date(ms).toISOString();
}

/**
 * The audit trail (OCI Audit): the API records one event per mutating or denied request, and administrators list them
 * by compartment and time window. Recording never holds a request up: the insert joins the store's next group commit
 * (one more statement in a transaction that commits anyway) and a failure to record is logged.
 */
export class AuditService {
  constructor(
    private readonly store: Store,
    private readonly audits: AuditStore,
    private readonly opts: AuditServiceOptions,
  ) {}

  /** Events waiting for the transaction queued by the first of them. */
  private pending: AuditRecord[] = [];
  /** The last transaction queued to insert events, until it has committed (or failed). */
  private inserting: Promise<void> | null = null;

  /**
   * Queues the event and returns at once. The first event of a batch queues one transaction, which inserts every
   * event recorded until it runs with one statement: one more statement in the group commit, not a savepoint and an
   * insert per request. Queued before the request's response is sent, so a list the client sends after that response
   * is ordered after the insert (a list waits for it to commit).
   */
  record(r: AuditRecord): void {
    this.pending.push(r);
    if (this.pending.length > 1) return;
    const inserting = this.store
      .transaction((tx) => {
        const batch = this.pending;
        this.pending = [];
        return this.audits.insert(tx, batch);
      })
      .catch((err) => this.opts.log.error({ err }, 'recording audit events failed; they are lost'))
      .finally(() => {
        if (this.inserting === inserting) this.inserting = null;
      });
    this.inserting = inserting;
  }

  /** A page of events, oldest first, with the principals' names filled in. */
  async list(q: AuditListQuery): Promise<{ items: Record<string, unknown>[]; nextPage: string | null }> {
    const startTime = time('startTime', q.startTime);
    const endTime = time('endTime', q.endTime);
    if (endTime <= startTime) throw invalid('endTime', `must be after startTime (${startTime}), got ${endTime}`);
    if (Date.parse(endTime) - Date.parse(startTime) > MAX_AUDIT_WINDOW_DAYS * DAY_MS) {
      throw invalid('endTime', `the window from startTime to endTime must be at most ${MAX_AUDIT_WINDOW_DAYS} days`);
    }
    if (q.page !== undefined && decodeAuditPage(q.page) === null) throw invalid('page', 'is not a page token this server gave (opc-next-page)');
    const query = { compartmentId: q.compartmentId, startTime, endTime, principalId: q.principalId, limit: q.limit ?? DEFAULT_AUDIT_PAGE, page: q.page };
    // After the insert of the events recorded before this request arrived has committed: on PostgreSQL its rows are
    // written at the end of their batch, so a list in the same batch would not see them.
    await this.inserting;
    const page = await this.store.transaction((tx) => this.audits.list(tx, query));
    const names = new Map<string, string | undefined>();
    for (const r of page.items) if (r.principalId && !names.has(r.principalId)) names.set(r.principalId, await this.opts.principalName(r.principalId));
    const items = page.items.map((r) => {
      const data = r.event.data as { identity?: Record<string, unknown> };
      const name = r.principalId ? names.get(r.principalId) : undefined;
      if (!name || !data?.identity) return r.event;
      return { ...r.event, data: { ...data, identity: { principalName: name, ...data.identity } } };
    });
    return { items, nextPage: page.nextPage };
  }

  /** Retention: deletes up to `limit` events older than `beforeTime`; how many it deleted. */
  deleteOld(beforeTime: string, limit: number): Promise<number> {
    return this.store.transaction((tx) => this.audits.deleteOld(tx, beforeTime, limit));
  }
}
