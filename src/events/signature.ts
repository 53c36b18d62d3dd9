import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the secret is `whsec_` + base64 of the key; the
 * signature is base64 HMAC-SHA256 over `${id}.${timestamp}.${body}`, sent as `webhook-signature: v1,<sig>` with
 * `webhook-id` and `webhook-timestamp` (Unix seconds).
 */
export function newWebhookSecret(): string {
  // 24 bytes: Standard Webhooks asks for 24 to 64 bytes of key.
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export function webhookSignature(secret: string, id: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
}

export function webhookHeaders(secret: string, id: string, timestampSec: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': webhookSignature(secret, id, timestampSec, body),
  };
}
