import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostCheck } from '../../src/api/host-check.js';
import { listenUrl } from '../../src/server.js';

test('HostCheck: addresses, localhost and configured names pass; other names do not', () => {
  const check = new HostCheck(['jobs.example.com', '.corp.example'], '127.0.0.1');
  const table: [string | undefined, boolean][] = [
    [undefined, true],
    ['127.0.0.1:8420', true],
    ['[::1]:8420', true],
    ['10.1.2.3', true],
    ['localhost:8420', true],
    ['LOCALHOST.', true],
    ['app.localhost', true],
    ['jobs.example.com:443', true],
    ['corp.example', true],
    ['x.y.corp.example', true],
    ['evil.example', false],
    ['jobs.example.com.evil.example', false],
    ['notcorp.example', false],
    ['localhost.evil.example', false],
  ];
  for (const [host, ok] of table) assert.equal(check.allows(host), ok, String(host));
  assert.equal(new HostCheck([], 'myhost.lan').allows('myhost.lan:8420'), true, 'the listen name');
  assert.equal(new HostCheck(['*'], '127.0.0.1').allows('evil.example'), true, '"*" allows any');
});

test('listenUrl: the bound address, and a warning beyond loopback', () => {
  assert.deepEqual(listenUrl('http://127.0.0.1:8420', { address: '127.0.0.1', family: 'IPv4', port: 8420 }), { url: 'http://127.0.0.1:8420', exposure: null });
  assert.deepEqual(listenUrl('http://[::1]:8420', { address: '::1', family: 'IPv6', port: 8420 }), { url: 'http://localhost:8420', exposure: null });
  const wide = listenUrl('http://127.0.0.1:8420', { address: '0.0.0.0', family: 'IPv4', port: 8420 });
  assert.equal(wide.url, 'http://0.0.0.0:8420');
  assert.match(wide.exposure!, /every network interface/);
  // Each missing guard is named with what it exposes and what turns it on; a server with both gives no warning.
  assert.match(wide.exposure!, /with authentication off and without TLS: anyone who can reach this machine can use the API, and anyone on the network path can read/);
  const bound = { address: '0.0.0.0', family: 'IPv4', port: 8420 };
  const noTls = listenUrl('http://127.0.0.1:8420', bound, { authentication: true, tls: false }).exposure!;
  assert.match(noTls, /beyond this machine, without TLS: .*\(signatures stop tampering, not eavesdropping\)\. Give --tls-cert and --tls-key, or listen on 127\.0\.0\.1/);
  assert.doesNotMatch(noTls, /authentication/);
  const noAuth = listenUrl('https://127.0.0.1:8420', bound, { authentication: false, tls: true }).exposure!;
  assert.match(noAuth, /beyond this machine, with authentication off: anyone who can reach this machine can use the API\. Turn authentication on/);
  assert.doesNotMatch(noAuth, /TLS/);
  assert.equal(listenUrl('https://127.0.0.1:8420', bound, { authentication: true, tls: true }).exposure, null);
  assert.equal(listenUrl('http://[::]:8420', { address: '::', family: 'IPv6', port: 8420 }).url, 'http://[::]:8420');
  assert.match(listenUrl('http://192.0.2.7:8420', { address: '192.0.2.7', family: 'IPv4', port: 8420 }).exposure!, /address 192\.0\.2\.7/);
});
