/**
 * A real webhook receiver on loopback for tests: verifies each delivery's Standard Webhooks signature with the SDK's
 * verifyWebhook, records what it accepted (and what it refused), and can be told to answer with failures.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../src/sdk/webhooks.js';
import type { CloudEvent } from '../../src/sdk/client.js';

export interface Received {
  webhookId: string;
  event: CloudEvent;
  at: number;
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  readonly refused: string[] = [];
  /** Requests of any kind, path included (to see that a redirect target was never asked for). */
  readonly requests: string[] = [];
  secret = '';
  /** Decides the status of each verified delivery attempt; n counts earlier attempts of it (default 200). */
  respond: (r: Received, n: number) => number | { status: number; headers?: Record<string, string> } = () => 200;
  private waiters: (() => void)[] = [];
  /** Verified attempts per webhook-id, accepted or not. */
  private readonly attempts = new Map<string, number>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let self!: WebhookReceiver;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => self.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    self = new WebhookReceiver(server, `http://127.0.0.1:${port}/hook`);
    return self;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    this.requests.push(req.url ?? '');
    let event: CloudEvent;
    try {
      event = verifyWebhook<CloudEvent>(this.secret, req.headers, body);
    } catch (e) {
      this.refused.push((e as Error).message);
      res.writeHead(401).end();
      return;
    }
    const r: Received = { webhookId: String(req.headers['webhook-id']), event, at: performance.now() };
    const n = this.attempts.get(r.webhookId) ?? 0;
    this.attempts.set(r.webhookId, n + 1);
    const answer = this.respond(r, n);
    const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
    if (status >= 200 && status < 300) this.received.push(r);
    res.writeHead(status, headers).end('ok');
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `pred` holds over what was received (checked after every request). */
  async waitFor(pred: (rs: Received[]) => boolean, timeoutMs = 20_000, what = 'webhooks'): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred(this.received)) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received ${this.received.length}: ${this.received.map((r) => r.event.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
