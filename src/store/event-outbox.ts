import { timeOrderedUuid } from '../domain/ids.js';
import { CompiledInsert } from './compiled-insert.js';
import type { Insertable } from 'kysely';
import type { BatchedWriter, Db, GroupCommit } from './group-commit.js';
import type { Database } from './schema.js';
import { toJson } from './json-columns.js';

/** An event to record with the change it describes. */
export interface EventInput {
  type: string;
  resourceId: string;
  compartmentId: string;
  projectId: string | null;
  jobId: string | null;
  /** The resource's lifecycle state after the change. */
  state: string | null;
  /** The resource as the API returns it. */
  data: Record<string, unknown>;
}

/** The writing side of the event log (table `events`; event-store.ts reads it): rows written with their change. */
export class EventOutbox {
  private readonly insertRow = new CompiledInsert('events');

  /**
   * Called after a transaction that wrote events has committed (never before: a reader woken by it must find the
   * rows). A transaction that rolled back after writing an event only causes a spurious wake-up.
   */
  onEventsCommitted: (() => void) | null = null;
  private readonly committed = () => this.onEventsCommitted?.();

  /**
   * On PostgreSQL the events of a batch go in one INSERT at its end (GroupCommit.deferWrite): a create's event was a
   * round trip of its own.
   */
  private readonly batched: BatchedWriter<Insertable<Database['events']>> = {
    writeMany: (tx, rows) => this.insertRow.runMany(tx, rows),
    statement: (tx, rows, first) => this.insertRow.statement(tx, rows, first),
  };

  constructor(private readonly commit: GroupCommit) {}

  /**
   * Writes an event row; `tx` must be the transaction of the change it records (from `transaction()`). On PostgreSQL
   * the row is written at the end of the batch (see `batched`), its `seq` drawn then, in the order events were given.
   */
  async insert(tx: Db, e: EventInput): Promise<void> {
    const row = {
      id: timeOrderedUuid(),
      time: new Date().toISOString(),
      type: e.type,
      resource_id: e.resourceId,
      compartment_id: e.compartmentId,
      project_id: e.projectId,
      job_id: e.jobId,
      state: e.state,
      data: toJson(e.data),
    };
    if (!this.commit.deferWrite(tx, this.batched, row)) await this.insertRow.run(tx, row);
    this.commit.afterNextCommit(this.committed);
  }
}
