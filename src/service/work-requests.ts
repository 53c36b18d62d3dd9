import { DsError, invalid, notFound } from '../domain/errors.js';
import { newOcid } from '../domain/ids.js';
import type { Page } from '../store/records.js';
import type { Store, Tx } from '../store/store.js';
import {
  FINISHED_WORK_REQUEST_STATES,
  WorkRequestStore,
  type WorkRequestQuery,
  type WorkRequestRecord,
  type WorkRequestResource,
} from '../store/work-request-store.js';
import { checkIfMatch, iso, type Clock, type ServerIdentity } from './common.js';

export const WORK_REQUEST_TYPE = 'datascienceworkrequest';

/**
 * OCI's work requests for the operations OCI runs asynchronously (JOB_DELETE, PROJECT_DELETE). Here those operations
 * are done by the time their request is answered, so a work request is written with the operation (in its
 * transaction) and is finished when the client first reads it: the SDKs' forWorkRequest waiter returns at once.
 */
export class WorkRequestsService {
  readonly store: WorkRequestStore;

  constructor(
    private readonly db: Store,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
  ) {
    this.store = new WorkRequestStore(db);
  }

  /** Records an operation that is already done, in a transaction of its own (Object Storage's CopyObject). */
  recordDone(op: { operationType: string; compartmentId: string; resources: WorkRequestResource[]; log: string }): Promise<WorkRequestRecord> {
    return this.db.transaction((tx) => this.begin(tx, { ...op, done: true }));
  }

  /**
   * Records an operation in `tx`: SUCCEEDED at once, or IN_PROGRESS when part of it follows the transaction
   * (`finish` ends it).
   */
  async begin(
    tx: Tx,
    op: { operationType: string; compartmentId: string; resources: WorkRequestResource[]; log: string; done: boolean },
  ): Promise<WorkRequestRecord> {
    const now = iso(this.clock.now());
    const w: WorkRequestRecord = {
      id: newOcid(WORK_REQUEST_TYPE, this.identity.region),
      operationType: op.operationType,
      status: op.done ? 'SUCCEEDED' : 'IN_PROGRESS',
      compartmentId: op.compartmentId,
      percentComplete: op.done ? 100 : 0,
      resources: op.resources,
      errors: [],
      logs: [{ message: op.log, timestamp: now }],
      timeAccepted: now,
      timeStarted: now,
      timeFinished: op.done ? now : null,
      version: 1,
    };
    await this.store.insert(tx, w);
    return w;
  }

  /** Ends an IN_PROGRESS work request: SUCCEEDED, or FAILED with the error that stopped it. */
  async finish(tx: Tx, id: string, outcome: { log: string; error?: { code: string; message: string } }): Promise<void> {
    const w = await this.store.get(id, tx);
    if (!w || FINISHED_WORK_REQUEST_STATES.includes(w.status)) return;
    const now = iso(this.clock.now());
    await this.store.update(
      tx,
      {
        ...w,
        status: outcome.error ? 'FAILED' : 'SUCCEEDED',
        percentComplete: 100,
        timeFinished: now,
        logs: [...w.logs, { message: outcome.log, timestamp: now }],
        errors: outcome.error ? [...w.errors, { ...outcome.error, timestamp: now }] : w.errors,
      },
      w.version,
    );
  }

  async get(id: string): Promise<WorkRequestRecord> {
    const w = await this.store.get(id);
    if (!w) throw notFound('Work request', id);
    return w;
  }

  list(q: WorkRequestQuery): Promise<Page<WorkRequestRecord>> {
    if (!q.compartmentId) throw invalid('compartmentId', 'is required');
    return this.store.list(q);
  }

  /** A work request's errors or log entries, a page at a time (offset pages, as its lists are short). */
  async entries<K extends 'errors' | 'logs'>(id: string, kind: K, limit: number, page?: string): Promise<Page<WorkRequestRecord[K][number]>> {
    const all = (await this.get(id))[kind] as WorkRequestRecord[K][number][];
    const start = page ? Number(page) || 0 : 0;
    return { items: all.slice(start, start + limit), nextPage: start + limit < all.length ? String(start + limit) : null };
  }

  /**
   * CancelWorkRequest: only a work request not yet started can be canceled, as on OCI. Ours start with their
   * operation, so a cancel is refused with the state the work request is in.
   */
  async cancel(id: string, ifMatch?: string): Promise<void> {
    const w = await this.get(id);
    checkIfMatch(ifMatch, w.id, w.version);
    if (w.status !== 'ACCEPTED') {
      throw new DsError(
        'IncorrectState',
        `Work request ${id} is ${w.status}: only an ACCEPTED work request can be canceled, and this one's operation ${FINISHED_WORK_REQUEST_STATES.includes(w.status) ? 'has finished' : 'is under way'}`,
      );
    }
    const now = iso(this.clock.now());
    const done = await this.store.store.transaction((tx) =>
      this.store.update(tx, { ...w, status: 'CANCELED', timeFinished: now, logs: [...w.logs, { message: 'Canceled', timestamp: now }] }, w.version),
    );
    if (!done) throw new DsError('Conflict', `Work request ${id} changed while it was being canceled; get it again and retry`);
  }
}
