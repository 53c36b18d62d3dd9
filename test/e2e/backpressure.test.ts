/**
 * Back-pressure on requests in flight (issue 25), with a real server and real sockets: requests are held in flight by
 * sending their (signed) headers and only the start of their body. Past a client's own limit, or past the server's
 * limit while that client holds its share, the answer is 429 with retry-after; another client under its share is
 * still served, and once requests end the places come back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, type TestServer } from '../support/server.js';

let s: TestServer;
const open: net.Socket[] = [];

before(async () => {
  s = await startServer({ env: { DSJOBS_MAX_REQUESTS_IN_FLIGHT: '4', DSJOBS_MAX_REQUESTS_IN_FLIGHT_PER_CLIENT: '3' } });
});
after(async () => {
  for (const c of open) c.destroy();
  await s?.close();
});

/** A create whose body is still arriving: in flight until its socket closes. Resolves with what came back so far after 300 ms. */
async function held(localAddress: string): Promise<{ socket: net.Socket; received: () => string }> {
  const url = `${s.url}/20190101/projects`;
  const body = JSON.stringify({ compartmentId: s.compartmentId, displayName: 'held' }).padEnd(200);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  Object.assign(headers, s.sign({ method: 'POST', url, headers, body }));
  const socket = net.connect({ port: Number(new URL(s.url).port), host: '127.0.0.1', localAddress });
  open.push(socket);
  let data = '';
  socket.on('data', (d) => (data += d.toString()));
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.write(`POST /20190101/projects HTTP/1.1\r\nhost: ${new URL(url).host}\r\n${lines}\r\n${body.slice(0, 10)}`);
  await new Promise((r) => setTimeout(r, 300));
  return { socket, received: () => data };
}

const status = (r: { received: () => string }) => /^HTTP\/1\.1 (\d+)/.exec(r.received())?.[1] ?? 'still in flight';

test("a client past its own limit is refused with 429 and retry-after; at the server's limit, clients under their share are still served", async () => {
  const a = [await held('127.0.0.1'), await held('127.0.0.1'), await held('127.0.0.1')];
  for (const r of a) assert.equal(status(r), 'still in flight');
  const aFourth = await held('127.0.0.1');
  assert.equal(status(aFourth), '429', aFourth.received());
  assert.match(aFourth.received(), /retry-after: 1/i);
  assert.match(aFourth.received(), /maxRequestsInFlightPerClient/);

  // The server holds 3 of its 4; another client takes the 4th, and one more as it is under its share (4 / 2 clients).
  const b1 = await held('127.0.0.2');
  const b2 = await held('127.0.0.2');
  assert.equal(status(b1), 'still in flight');
  assert.equal(status(b2), 'still in flight', 'a client under its share is served at the limit');
  const b3 = await held('127.0.0.2');
  assert.equal(status(b3), '429', 'a client at its share is refused at the limit');
  assert.match(b3.received(), /maxRequestsInFlight /);
  // A third client is under its share (4 / 3): served, while the first, holding the most, still is not.
  const c1 = await held('127.0.0.3');
  assert.equal(status(c1), 'still in flight');

  // Places come back when requests end.
  for (const r of [...a, b1, b2, c1]) r.socket.destroy();
  await new Promise((r) => setTimeout(r, 300));
  const res = await s.fetch(`${s.url}/20190101/projects`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ compartmentId: s.compartmentId, displayName: 'after' }),
  });
  assert.equal(res.status, 200);
});

test('follows are not counted: a client can follow logs and events beside its requests', async () => {
  const follows = await Promise.all(
    [0, 1, 2, 3].map(async () => {
      const ac = new AbortController();
      const res = await s.fetch(`${s.url}/20190101/events?follow=true&compartmentId=${encodeURIComponent(s.compartmentId)}`, { signal: ac.signal });
      return { res, ac };
    }),
  );
  for (const f of follows) assert.equal(f.res.status, 200);
  const res = await s.fetch(`${s.url}/20190101/projects?compartmentId=${encodeURIComponent(s.compartmentId)}`);
  assert.equal(res.status, 200);
  for (const f of follows) f.ac.abort();
});
