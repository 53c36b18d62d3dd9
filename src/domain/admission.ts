import { type Resources, fits, subtract, shortfall, describe } from './resources.js';

export interface QueuedRun {
  id: string;
  needs: Resources;
}

export interface AdmissionPlan {
  /** Runs to start now, in queue order. */
  start: string[];
  /** The first run that did not fit, and what it is short of; it blocks everything behind it. */
  blocker: { id: string; short: string[] } | null;
}

/**
 * Strict FIFO admission: runs start in the order they were accepted, and the first run that does not fit blocks the
 * ones behind it. No backfill on purpose: a large run at the head is never starved by a stream of small ones.
 * Pure: the scheduler calls it with its queue and the free capacity, tests call it directly. Stops at the first
 * run that does not fit, so a pass costs O(started + 1), not O(queue).
 */
export function planAdmission(queue: readonly QueuedRun[], free: Resources): AdmissionPlan {
  const start: string[] = [];
  let left = free;
  for (const run of queue) {
    if (!fits(run.needs, left)) return { start, blocker: { id: run.id, short: shortfall(run.needs, left) } };
    start.push(run.id);
    left = subtract(left, run.needs);
  }
  return { start, blocker: null };
}

/** lifecycleDetails of a queued run at 1-based `position` among `waiting` runs. */
export function describeWait(
  run: QueuedRun,
  position: number,
  waiting: number,
  blocker: AdmissionPlan['blocker'],
): string {
  const what =
    blocker && blocker.id === run.id
      ? `Waiting for capacity: short of ${blocker.short.join(' and ')}.`
      : `Waiting for capacity: queued behind ${position - 1} earlier job run${position === 2 ? '' : 's'} (needs ${describe(run.needs)}).`;
  return `${what} Position ${position} of ${waiting} in the queue.`;
}
