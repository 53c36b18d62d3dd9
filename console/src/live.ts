// Live views: GET /events?follow=true (NDJSON CloudEvents whose `data` is the resource as the API returns it),
// filtered to what a view shows. The view loads its page once the stream stands, then applies each event to it.
// A dropped connection resumes with after= the last event id seen, so no event is missed or applied twice; without
// a resume point (nothing seen yet, the id no longer known to the server, or a long gap) the view loads its page
// again once, with events that arrive meanwhile held back and applied after it.
import type { CloudEvent } from '../../src/sdk/client';
import { API } from './api';
import { ndjsonBatches } from './ndjson';

export type { CloudEvent };

export interface EventFilter {
  compartmentId?: string;
  types?: string[];
  resourceId?: string;
  projectId?: string;
  jobId?: string;
}

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

export interface FollowEventsOptions {
  filter: EventFilter;
  /** Start right after this event (history the view has listed itself); without it the view is loaded by resync. */
  after?: string;
  onEvents: (events: CloudEvent[]) => void;
  /**
   * Loads the view's data; called once the stream stands and there is no resume point, so nothing that changes
   * between the load and the stream is lost. Events received while it runs are delivered after it.
   */
  resync: () => Promise<void>;
  onStatus?: (s: LiveStatus, detail?: string) => void;
}

const MIN_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;
/**
 * After this long without a connection the view is loaded again instead of resumed: the backlog could be long
 * (every change of every run in the compartment), and one page request costs less than replaying it.
 */
export const RESUME_MAX_GAP_MS = 60_000;

export const RUN_EVENT_TYPES = [
  'com.oraclecloud.datascience.createjobrun.begin',
  'com.oraclecloud.datascience.createjobrun.end',
  'com.oraclecloud.datascience.succeededjobrun',
  'com.oraclecloud.datascience.failedjobrun',
  'com.oraclecloud.datascience.timeoutjobrun',
  'com.oraclecloud.datascience.canceljobrun.begin',
  'com.oraclecloud.datascience.canceljobrun.end',
  'io.dsjobs.needsattentionjobrun',
  'com.oraclecloud.datascience.updatejobrun',
  'com.oraclecloud.datascience.deletejobrun',
];

export const JOB_EVENT_TYPES = [
  'com.oraclecloud.datascience.createjob',
  'io.dsjobs.createjobartifact',
  'com.oraclecloud.datascience.updatejob',
  'com.oraclecloud.datascience.deletejob.begin',
  'com.oraclecloud.datascience.deletejob.end',
];

/** A run event's resource is a run (subject `…datasciencejobrun…`), not the job or project it names. */
export const isRunEvent = (e: CloudEvent) => RUN_EVENT_TYPES.includes(e.type);
export const isJobEvent = (e: CloudEvent) => JOB_EVENT_TYPES.includes(e.type);

function eventsUrl(f: EventFilter, after?: string): string {
  const q = new URLSearchParams({ follow: 'true' });
  if (f.compartmentId) q.set('compartmentId', f.compartmentId);
  if (f.types?.length) q.set('type', f.types.join(','));
  if (f.resourceId) q.set('resourceId', f.resourceId);
  if (f.projectId) q.set('projectId', f.projectId);
  if (f.jobId) q.set('jobId', f.jobId);
  if (after) q.set('after', after);
  return `${API}/events?${q}`;
}

/** Follows events until the returned function is called. */
export function followEvents(opts: FollowEventsOptions): () => void {
  const abort = new AbortController();
  let lastId = opts.after;
  let lostAt: number | null = null;
  let retryMs = MIN_RETRY_MS;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const once = async (): Promise<void> => {
    const longGap = lostAt !== null && Date.now() - lostAt > RESUME_MAX_GAP_MS;
    const resume = longGap ? undefined : lastId;
    const res = await fetch(eventsUrl(opts.filter, resume), { signal: abort.signal, cache: 'no-store' });
    if (res.status === 400 && resume) {
      // The only 400 a well-formed follow gets: the resume id is not in the server's log (another data directory,
      // or events removed). Start over from now, with the view loaded again.
      await res.body?.cancel();
      lastId = undefined;
      throw new Error('resume point no longer available');
    }
    if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
    lostAt = null;
    retryMs = MIN_RETRY_MS;
    opts.onStatus?.('live');
    // Held back while the view loads: they may be older than what the load returns, or newer; applied after it.
    let held: CloudEvent[] | null = null;
    if (!resume) {
      held = [];
      void opts
        .resync()
        .catch(() => undefined) // the view shows its own load error
        .finally(() => {
          const h = held ?? [];
          held = null;
          if (h.length && !abort.signal.aborted) opts.onEvents(h);
        });
    }
    for await (const events of ndjsonBatches<CloudEvent>(res.body)) {
      const batch: CloudEvent[] = [];
      for (const ev of events) {
        lastId = ev.id;
        if (held) held.push(ev);
        else batch.push(ev);
      }
      if (batch.length && !abort.signal.aborted) opts.onEvents(batch);
    }
    // The server ended the stream (it is shutting down): resume like after any other drop.
    throw new Error('the event stream ended');
  };

  void (async () => {
    opts.onStatus?.('connecting');
    while (!abort.signal.aborted) {
      try {
        await once();
      } catch (e) {
        if (abort.signal.aborted) return;
        lostAt ??= Date.now();
        opts.onStatus?.('reconnecting', e instanceof Error ? e.message : String(e));
      }
      await sleep(retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
  })();
  return () => abort.abort();
}

/**
 * How far a run is along its lifecycle. An event older than what a view shows (a page loaded while the event was
 * on its way) must not move a run back; same-rank changes (name, tags) are applied.
 */
const RUN_STATE_RANK: Record<string, number> = {
  ACCEPTED: 0,
  IN_PROGRESS: 1,
  NEEDS_ATTENTION: 1,
  CANCELING: 2,
  SUCCEEDED: 3,
  FAILED: 3,
  CANCELED: 3,
  DELETED: 4,
};
export function runIsNotOlder(next: { lifecycleState: string }, shown: { lifecycleState: string }): boolean {
  return (RUN_STATE_RANK[next.lifecycleState] ?? 0) >= (RUN_STATE_RANK[shown.lifecycleState] ?? 0);
}

const JOB_STATE_RANK: Record<string, number> = { CREATING: 0, ACTIVE: 1, FAILED: 1, DELETING: 2, DELETED: 3 };
/** As runIsNotOlder, for jobs. */
export function jobIsNotOlder(next: { lifecycleState: string }, shown: { lifecycleState: string }): boolean {
  return (JOB_STATE_RANK[next.lifecycleState] ?? 0) >= (JOB_STATE_RANK[shown.lifecycleState] ?? 0);
}
