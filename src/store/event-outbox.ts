import { timeOrderedUuid } from '../domain/ids.js';
import { CompiledInsert } from './compiled-insert.js';
import type { Db, GroupCommit } from './group-commit.js';
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

  constructor(private readonly commit: GroupCommit) {}

  /** Writes an event row; `tx` must be the transaction of the change it records (from `transaction()`). */
  async insert(tx: Db, e: EventInput): Promise<void> {
    await this.insertRow.run(tx, {
      id: timeOrderedUuid(),
      time: new Date().toISOString(),
      type: e.type,
      resource_id: e.resourceId,
      compartment_id: e.compartmentId,
      project_id: e.projectId,
      job_id: e.jobId,
      state: e.state,
      data: toJson(e.data),
    });
    this.commit.afterNextCommit(this.committed);
  }
}
