import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newWebhookSecret, webhookHeaders } from '../../src/events/signature.js';
import { forbiddenAddressReason } from '../../src/events/ssrf.js';
import { postWebhook } from '../../src/events/webhook-client.js';
import { retryDelayMs } from '../../src/events/dispatcher.js';
import { verifyWebhook, WebhookVerificationError } from '../../src/sdk/webhooks.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

test('a signed delivery verifies; tampered body, wrong secret, stale timestamp and missing headers are refused', () => {
  const secret = newWebhookSecret();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  const body = JSON.stringify({ id: 'e1', type: 'x' });
  const now = Math.floor(Date.now() / 1000);
  const h = webhookHeaders(secret, 'msg_1', now, body);
  assert.match(h['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
  assert.deepEqual(verifyWebhook(secret, h, body), { id: 'e1', type: 'x' });
  // Several signatures (secret rotation): any one may match.
  assert.ok(verifyWebhook(secret, { ...h, 'webhook-signature': `v1,AAAA ${h['webhook-signature']}` }, body));
  const refuses = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof WebhookVerificationError && re.test((e as Error).message));
  refuses(() => verifyWebhook(secret, h, body.replace('e1', 'e2')), /no webhook-signature matches/);
  refuses(() => verifyWebhook(newWebhookSecret(), h, body), /no webhook-signature matches/);
  refuses(() => verifyWebhook(secret, { ...h, 'webhook-id': 'msg_2' }, body), /no webhook-signature matches/);
  const old = webhookHeaders(secret, 'msg_1', now - 3600, body);
  refuses(() => verifyWebhook(secret, old, body), /more than 300 s/);
  refuses(() => verifyWebhook(secret, { ...h, 'webhook-signature': undefined }, body), /missing/);
  refuses(() => verifyWebhook(secret, { ...h, 'webhook-signature': 'v2,' + h['webhook-signature'].slice(3) }, body), /no webhook-signature/);
});

test('SSRF corpus: internal address forms are refused, public ones allowed', () => {
  const refused = [
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1',
    '169.254.169.254', '169.254.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '192.0.2.10', '198.18.0.1',
    '::1', '::', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::127.0.0.1',
    '0:0:0:0:0:ffff:7f00:0001', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd00:ec2::254', 'ff02::1', 'fec0::1',
    '64:ff9b::7f00:1', '64:ff9b::169.254.169.254', '2002:7f00:1::1', '2002:a9fe:a9fe::', '2001:db8::1', '[::1]',
  ];
  for (const a of refused) assert.ok(forbiddenAddressReason(a), `${a} must be refused`);
  for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2002:0808:0808::']) {
    assert.equal(forbiddenAddressReason(a), null, `${a} must be allowed`);
  }
  assert.ok(forbiddenAddressReason('not-an-ip'));
});

test('postWebhook refuses every spelling of an internal address before sending, and connects when allowed', async () => {
  const r = await WebhookReceiver.start();
  try {
    r.secret = newWebhookSecret();
    const port = new URL(r.url).port;
    const forms = [
      `http://127.0.0.1:${port}/hook`,
      `http://2130706433:${port}/hook`, // decimal
      `http://0x7f000001:${port}/hook`, // hex
      `http://0x7f.0.0.1:${port}/hook`,
      `http://0177.0.0.1:${port}/hook`, // octal
      `http://017700000001:${port}/hook`,
      `http://127.1:${port}/hook`, // short form
      `http://[::ffff:127.0.0.1]:${port}/hook`, // IPv4-mapped IPv6
      `http://[::ffff:7f00:1]:${port}/hook`,
      `http://[::1]:${port}/hook`,
      `http://localhost:${port}/hook`, // a name: refused on the resolved address
      `http://169.254.169.254/latest/meta-data/`,
      `http://[fd00:ec2::254]/latest/meta-data/`,
    ];
    const body = '{}';
    for (const u of forms) {
      const res = await postWebhook(u, body, webhookHeaders(r.secret, 'msg_x', Math.floor(Date.now() / 1000), body), { timeoutMs: 2000, allowPrivate: false });
      assert.equal(res.ok, false, u);
      assert.match(res.error ?? '', /webhooks may not target it/, `${u}: ${res.error}`);
    }
    assert.equal(r.requests.length, 0, 'nothing reached the receiver');
    const ok = await postWebhook(r.url, body, webhookHeaders(r.secret, 'msg_y', Math.floor(Date.now() / 1000), body), { timeoutMs: 2000, allowPrivate: true });
    assert.equal(ok.ok, true, ok.error ?? '');
    assert.equal(ok.statusCode, 200);
    // Redirects are not followed.
    r.respond = () => ({ status: 302, headers: { location: '/elsewhere' } });
    const red = await postWebhook(r.url, body, webhookHeaders(r.secret, 'msg_z', Math.floor(Date.now() / 1000), body), { timeoutMs: 2000, allowPrivate: true });
    assert.equal(red.ok, false);
    assert.match(red.error ?? '', /redirect \(302\) not followed/);
    assert.deepEqual(r.requests, ['/hook', '/hook']);
  } finally {
    await r.close();
  }
});

test('retry delays grow exponentially with jitter and are capped', () => {
  for (let a = 1; a <= 20; a++) {
    const d = retryDelayMs(a, 1000, 60_000);
    const nominal = Math.min(60_000, 1000 * 2 ** (a - 1));
    assert.ok(d >= nominal * 0.8 - 1 && d <= nominal * 1.2 + 1, `attempt ${a}: ${d}`);
  }
});
