import type { EventQuery, EventRow, EventStore } from '../store/event-store.js';
import { bindFence } from '../store/fence.js';

/**
 * Wakes readers of the event log when new events have committed. The store calls notify() after each committing
 * transaction that wrote events; readers then read the table from their own sequence number, so a missed or
 * spurious wake-up costs nothing but a query (and readers also re-check on a timer as a safety net).
 */
export class EventFeed {
  private waiters = new Set<() => void>();
  private readonly listeners = new Set<() => void>();

  constructor(readonly events: EventStore) {}

  notify(): void {
    const w = this.waiters;
    this.waiters = new Set();
    for (const fn of w) fn();
    for (const fn of this.listeners) {
      try {
        fn();
      } catch {
        /* a listener's failure is its own; the others still hear about the event */
      }
    }
  }

  /** fn is called after every commit that wrote events. Returns an unsubscribe function. */
  onEvents(fn: () => void): () => void {
    // Called in the context of whoever committed: bound to the listener's own, so the coordinator's work a listener
    // kicks stays under its fence (store/fence.ts) whoever's commit woke it.
    const bound = bindFence(fn);
    this.listeners.add(bound);
    return () => this.listeners.delete(bound);
  }

  /** Resolves at the next notify, after `ms`, or when `signal` aborts, whichever is first. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Events matching `q` after `afterSeq`, then every new one as it commits, until `signal` aborts. */
  async *follow(q: Omit<EventQuery, 'afterSeq' | 'limit'>, afterSeq: number, signal: AbortSignal): AsyncGenerator<EventRow> {
    let seq = afterSeq;
    while (!signal.aborted) {
      // Arm the wake-up before reading, so an event committed between the read and the wait is not slept through.
      const woke = this.wait(1000, signal);
      const rows = await this.events.list({ ...q, afterSeq: seq, limit: 500 });
      for (const r of rows) {
        seq = r.seq;
        yield r;
      }
      if (rows.length === 500) continue;
      await woke;
    }
  }
}
