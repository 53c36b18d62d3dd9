/**
 * Receiving dsjobs webhooks (server side, Node): verify a delivery's Standard Webhooks signature before trusting it.
 * Zero dependencies beyond node:crypto; copy this file into a receiver if you do not use the SDK. A module of its own,
 * not re-exported by client.ts, so the client stays usable in browsers (the console bundles it).
 *
 *   const event = verifyWebhook(secret, req.headers, rawBody); // throws WebhookVerificationError when it is not ours
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

type Headers = Record<string, string | string[] | undefined> | { get(name: string): string | null };

function headerOf(h: Headers, name: string): string | undefined {
  if (typeof (h as { get?: unknown }).get === 'function') return (h as { get(n: string): string | null }).get(name) ?? undefined;
  const v = (h as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Checks webhook-id, webhook-timestamp (within `toleranceSec` of now, against replays) and webhook-signature
 * (any of its space-separated v1 signatures may match, so secrets can be rotated) over the raw body bytes.
 * Returns the parsed body.
 */
export function verifyWebhook<T = unknown>(
  secret: string,
  headers: Headers,
  rawBody: string | Buffer,
  opts: { toleranceSec?: number; nowSec?: number } = {},
): T {
  const id = headerOf(headers, 'webhook-id');
  const ts = headerOf(headers, 'webhook-timestamp');
  const sigs = headerOf(headers, 'webhook-signature');
  if (!id || !ts || !sigs) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature header');
  if (!/^\d+$/.test(ts)) throw new WebhookVerificationError('webhook-timestamp is not a Unix time in seconds');
  const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
  const tolerance = opts.toleranceSec ?? 300;
  if (Math.abs(now - Number(ts)) > tolerance) throw new WebhookVerificationError(`webhook-timestamp is more than ${tolerance} s away from now`);
  const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  const ok = sigs.split(' ').some((s) => {
    const [version, value] = s.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!ok) throw new WebhookVerificationError('no webhook-signature matches the body and secret');
  return JSON.parse(body) as T;
}
