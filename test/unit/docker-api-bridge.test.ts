/**
 * How container runs reach a loopback API (executors/docker/api-bridge.ts): the bridge's gateway takes connections
 * at the API's port and copies them to the API, only from the bridge's subnet; a non-loopback endpoint is left as it
 * is. Real sockets: 127.0.0.2 stands in for the gateway (Linux answers on all of 127.0.0.0/8).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ApiBridge, inSubnet } from '../../src/executors/docker/api-bridge.js';

test('inSubnet: IPv4 CIDR membership, also for IPv4-mapped IPv6 addresses; anything else is outside', () => {
  assert.ok(inSubnet('172.17.0.2', '172.17.0.0/16'));
  assert.ok(inSubnet('::ffff:172.17.255.254', '172.17.0.0/16'));
  assert.ok(!inSubnet('172.18.0.2', '172.17.0.0/16'));
  assert.ok(!inSubnet('192.168.1.5', '172.17.0.0/16'));
  assert.ok(inSubnet('10.1.2.3', '0.0.0.0/0'));
  for (const bad of ['', '::1', 'fe80::1', '300.1.1.1', 'x']) assert.ok(!inSubnet(bad, '172.17.0.0/16'), bad);
  assert.ok(!inSubnet('172.17.0.2', '172.17.0.0/33'));
});

/** An echo server on 127.0.0.1 (the "API"); its port. */
async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((c) => c.pipe(c));
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** What a connection to host:port gets back for `text` ('' when it is closed without an answer). */
function exchange(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host, port }, () => c.write(text));
    let got = '';
    c.on('data', (d) => {
      got += d.toString();
      if (got.length >= text.length) c.end();
    });
    c.on('close', () => resolve(got));
    c.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(got) : reject(e)));
  });
}

test('a loopback endpoint is forwarded from the gateway at the same port, for the subnet only; others are left alone', async () => {
  const api = await echoServer();
  const open = new ApiBridge();
  const closed = new ApiBridge();
  try {
    const endpoint = `http://127.0.0.1:${api.port}`;
    assert.equal(await open.start(endpoint, { gateway: '127.0.0.2', subnet: '127.0.0.0/8' }), `http://127.0.0.2:${api.port}`);
    assert.equal(open.endpointFor(endpoint), `http://127.0.0.2:${api.port}`);
    assert.equal(open.endpointFor('https://jobs.example.com'), 'https://jobs.example.com');
    assert.equal(await exchange('127.0.0.2', api.port, 'hello through the gateway'), 'hello through the gateway');
    // A connection from outside the bridge's subnet is closed unanswered.
    assert.equal(await closed.start(endpoint, { gateway: '127.0.0.3', subnet: '172.17.0.0/16' }), `http://127.0.0.3:${api.port}`);
    assert.equal(await exchange('127.0.0.3', api.port, 'from elsewhere'), '');
    // An API listening on all addresses is reached at the gateway directly.
    const direct = new ApiBridge();
    assert.equal(await direct.start(endpoint, { gateway: '172.17.0.1', subnet: '172.17.0.0/16' }, true), `http://172.17.0.1:${api.port}`);
    await direct.close();
    // A configured endpoint that is not loopback is reachable by its own name: nothing to forward.
    assert.equal(await new ApiBridge().start('https://jobs.example.com:8443', { gateway: '127.0.0.4', subnet: '127.0.0.0/8' }), null);
  } finally {
    await open.close();
    await closed.close();
    await api.close();
  }
});
