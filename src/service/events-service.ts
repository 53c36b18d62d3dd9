import { Readable } from 'node:stream';
import { invalid } from '../domain/errors.js';
import { toCloudEvent, type CloudEvent } from '../events/cloud-event.js';
import type { EventFeed } from '../events/feed.js';
import { ALL_EVENT_TYPES } from '../events/types.js';
import type { EventQuery, EventStore } from '../store/event-store.js';

export interface EventListInput {
  compartmentId?: string;
  /** Comma-separated event types. */
  type?: string;
  resourceId?: string;
  projectId?: string;
  jobId?: string;
  /** Resume after this event id. */
  after?: string;
  page?: string;
  limit?: number;
}

/** Reading the event log: pages of CloudEvents, or a live NDJSON stream that can be resumed from an event id. */
export class EventsService {
  constructor(
    private readonly events: EventStore,
    private readonly feed: EventFeed,
    private readonly source: string,
  ) {}

  private filters(q: EventListInput): Omit<EventQuery, 'afterSeq' | 'limit'> {
    let types: string[] | undefined;
    if (q.type) {
      types = q.type.split(',').map((t) => t.trim()).filter(Boolean);
      for (const t of types) {
        if (!ALL_EVENT_TYPES.includes(t)) throw invalid('query type', `'${t}' is not an event type of dsjobs (see docs/events.md)`);
      }
    }
    return { compartmentId: q.compartmentId, types, resourceId: q.resourceId, projectId: q.projectId, jobId: q.jobId };
  }

  private async startSeq(q: EventListInput): Promise<number | undefined> {
    if (q.page !== undefined) {
      if (!/^\d+$/.test(q.page)) throw invalid('query page', 'is not a page token returned by this server (opc-next-page)');
      return Number(q.page);
    }
    if (q.after !== undefined) return this.events.seqOf(q.after, 'query after');
    return undefined;
  }

  /** Oldest first. nextPage is the last sequence number when more may follow. */
  async list(q: EventListInput): Promise<{ items: CloudEvent[]; nextPage: string | null }> {
    const limit = q.limit ?? 100;
    const rows = await this.events.list({ ...this.filters(q), afterSeq: await this.startSeq(q), limit: limit + 1 });
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      items: page.map((r) => toCloudEvent(r, this.source)),
      nextPage: more ? String(page[page.length - 1].seq) : null,
    };
  }

  /**
   * NDJSON of CloudEvents: those after `after` (an event id) or, without it, only events from now on; then every new
   * one as it commits, until the client goes away.
   */
  async follow(q: EventListInput, signal: AbortSignal, visible?: (e: CloudEvent) => Promise<boolean>): Promise<Readable> {
    const filters = this.filters(q);
    const start = (await this.startSeq(q)) ?? (await this.events.maxSeq());
    const feed = this.feed;
    const source = this.source;
    return Readable.from(
      (async function* () {
        // An empty first chunk makes the server send the response head now, before any event exists: the
        // follower then knows its stream stands and where it starts (the console loads its page only after that,
        // so no change between the two is missed). An empty chunk adds no bytes to the body.
        yield '';
        for await (const row of feed.follow(filters, start, signal)) {
          const event = toCloudEvent(row, source);
          // Decided as each event comes: a policy change applies to a stream already open.
          if (visible && !(await visible(event))) continue;
          yield JSON.stringify(event) + '\n';
        }
      })(),
    );
  }
}
