import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientAddress } from './connection-guard.js';

export interface BackpressureLimits {
  /** Requests the server works on at once (read, being handled, being answered) before it refuses new ones. */
  maxRequestsInFlight: number;
  /** What one client address may have in flight at once, however idle the server is. */
  maxRequestsInFlightPerClient: number;
}


/** Long-lived reads (a log or event follow) would hold their place for as long as they stream: not counted. */
const isStream = (req: FastifyRequest) => req.method === 'GET' && String((req.query as { follow?: unknown } | undefined)?.follow) === 'true';

/**
 * Back-pressure on the requests the server works on. A burst of creates queues up inside the server (the event loop,
 * group commits) and every client's latency grows with it; past `maxRequestsInFlight` the server answers 429 with
 * `retry-after` instead (the official SDKs retry those), so the work waiting inside stays bounded. And it stays fair:
 * at the limit a client holding its share (the limit divided among the clients with requests in flight) or more is
 * refused first, so one client's burst cannot take every place while another waits; a client under its share is
 * still let in, up to twice the limit in all.
 */
export class Backpressure {
  private total = 0;
  private readonly perClient = new Map<string, number>();
  /** Refusals so far, for /metrics and the start-up check. */
  refused = 0;

  constructor(private readonly limits: BackpressureLimits) {}

  /** onRequest: refuses with 429, or counts the request until it is answered (or its client goes away). */
  admit(req: FastifyRequest, reply: FastifyReply): boolean {
    if (isStream(req)) return true;
    const client = clientAddress(req.socket);
    const mine = this.perClient.get(client) ?? 0;
    const clients = this.perClient.size + (mine === 0 ? 1 : 0);
    const fairShare = Math.max(1, Math.floor(this.limits.maxRequestsInFlight / clients));
    const full = this.total >= this.limits.maxRequestsInFlight && (mine >= fairShare || this.total >= 2 * this.limits.maxRequestsInFlight);
    if (full || mine >= this.limits.maxRequestsInFlightPerClient) {
      this.refused++;
      const why = full
        ? `the server is working on ${this.total} requests (config maxRequestsInFlight ${this.limits.maxRequestsInFlight}) and this address has ${mine} of them`
        : `this address already has ${mine} requests in flight (config maxRequestsInFlightPerClient)`;
      reply
        .code(429)
        .header('retry-after', '1')
        .send({ code: 'TooManyRequests', message: `Too many requests: ${why}; retry after a second` });
      return false;
    }
    this.total++;
    this.perClient.set(client, mine + 1);
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      this.total--;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
    };
    reply.raw.once('close', release);
    reply.raw.once('finish', release);
    return true;
  }

  inFlight(): number {
    return this.total;
  }
}
