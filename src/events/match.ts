import type { EventRow } from '../store/event-store.js';
import type { EventFilter } from '../store/webhook-store.js';

/** Whether an event passes a filter: every field the filter gives must match. */
export function matchesFilter(f: EventFilter, e: EventRow): boolean {
  if (f.eventTypes?.length && !f.eventTypes.includes(e.type)) return false;
  if (f.compartmentId && f.compartmentId !== e.compartmentId) return false;
  if (f.projectId && f.projectId !== e.projectId) return false;
  if (f.jobId && f.jobId !== e.jobId) return false;
  if (f.lifecycleStates?.length && (e.state === null || !f.lifecycleStates.includes(e.state))) return false;
  return true;
}
