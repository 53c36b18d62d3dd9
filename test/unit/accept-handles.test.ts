import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { addAcceptHandles } from '../../src/api/accept-handles.js';

/** This process's child processes that are node (from /proc: every thread's list; tsx's esbuild is one more). */
function helpers(): number[] {
  return readdirSync('/proc/self/task')
    .flatMap((t) => readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === process.execPath;
      } catch {
        return false;
      }
    });
}

const listen = (server: net.Server) => new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));

/**
 * `n` connections that each sent a request and are waiting in the server's accept queue: made by another process
 * while this one's event loop is blocked (spawnSync), so they are all there before the server accepts any.
 */
function queueConnections(port: number, n: number): void {
  const client = `const net = require('net'); let done = 0;
for (let i = 0; i < ${n}; i++) net.connect(${port}, '127.0.0.1', function () {
  this.write('GET / HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n', () => { if (++done === ${n}) process.exit(0); });
});`;
  const r = spawnSync(process.execPath, ['-e', client], { timeout: 60_000 });
  assert.equal(r.status, 0, String(r.stderr));
}

/**
 * The event-loop iteration (counted by setImmediate) at which each of `n` queued connections was accepted, and
 * whether a copy rather than the server's own handle accepted it.
 */
async function acceptIterations(server: http.Server, port: number, n: number): Promise<{ at: number[]; byCopy: number; requests: number }> {
  let iteration = 0;
  const at: number[] = [];
  let byCopy = 0;
  let requests = 0;
  server.on('connection', (s: net.Socket & { _server?: net.Server }) => {
    at.push(iteration);
    // net sets _server to the handle's server that accepted (http then sets .server to its own).
    if (s._server !== server) byCopy++;
  });
  server.on('request', (_req, res) => {
    requests++;
    res.end();
  });
  queueConnections(port, n);
  await new Promise<void>((resolve) => {
    const tick = () => {
      iteration++;
      // A bound only for a broken build: a connection per iteration takes n iterations.
      if ((at.length === n && requests === n) || iteration > 10_000) resolve();
      else setImmediate(tick);
    };
    setImmediate(tick);
  });
  return { at, byCopy, requests };
}

test('with 8 handles, 15 connections waiting at once are accepted within 2 event-loop iterations, not one per iteration; the helper is gone', async () => {
  const server = http.createServer();
  const port = await listen(server);
  const warnings: string[] = [];
  const accepting = addAcceptHandles(server, 8, (w) => warnings.push(w));
  assert.equal(await accepting.ready, 8);
  assert.deepEqual(warnings, []);
  assert.deepEqual(helpers(), [], 'the helper process has exited');
  const { at, byCopy, requests } = await acceptIterations(server, port, 15);
  // Each handle accepts one connection per iteration: 8 in the first, 7 in the next (a third for a slow scheduler).
  assert.ok(Math.max(...at) - Math.min(...at) <= 2, `accepted at iterations ${at.join(' ')}`);
  assert.ok(byCopy >= 7, `${byCopy} of 15 accepted by the copies`);
  // The copies' connections are the HTTP server's: it parsed and answered their requests.
  assert.equal(requests, 15);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  // The copies closed with the server: the port is free, and nothing accepts on it.
  await assert.rejects(
    new Promise((resolve, reject) => net.connect(port, '127.0.0.1', () => resolve(null)).on('error', reject)),
    /ECONNREFUSED/,
  );
  const again = net.createServer();
  await new Promise<void>((resolve, reject) => again.once('error', reject).listen(port, '127.0.0.1', resolve));
  await new Promise((r) => again.close(r));
});

test('with 1 handle (the server alone), queued connections are accepted one per event-loop iteration', async () => {
  const server = http.createServer();
  const port = await listen(server);
  const accepting = addAcceptHandles(server, 1, () => {});
  assert.equal(await accepting.ready, 1);
  const { at, byCopy } = await acceptIterations(server, port, 15);
  assert.equal(byCopy, 0);
  // libuv 1.46 (Node 20): one accept() per listening handle per iteration, the behaviour the copies work around.
  assert.ok(Math.max(...at) - Math.min(...at) >= 10, `accepted at iterations ${at.join(' ')}`);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('when the copies cannot be had, the server accepts with its own handle and says why', async () => {
  const server = http.createServer((_req, res) => res.end('ok'));
  const port = await listen(server);
  const warnings: string[] = [];
  // No helper answers within 1 ms.
  const accepting = addAcceptHandles(server, 8, (w) => warnings.push(w), { timeoutMs: 1 });
  assert.equal(await accepting.ready, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /one listening handle accepts connections .*more could not be had \(the helper process sent 0 of 7 in 1 ms\)/);
  const body = await new Promise<string>((resolve, reject) =>
    http.get({ port, host: '127.0.0.1', agent: false }, (res) => res.setEncoding('utf8').on('data', resolve)).on('error', reject),
  );
  assert.equal(body, 'ok');
  await new Promise((r) => setTimeout(r, 0));
  await new Promise((r) => server.close(r));
  // The helper was killed; it is reaped in its own time.
  for (let i = 0; i < 500 && helpers().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(helpers(), []);
});

test('a server closed before its copies arrive closes them on arrival: the port is free', async () => {
  const server = http.createServer();
  const port = await listen(server);
  const accepting = addAcceptHandles(server, 8, () => {});
  await new Promise((r) => server.close(r));
  assert.equal(await accepting.ready, 1);
  const again = net.createServer();
  await new Promise<void>((resolve, reject) => again.once('error', reject).listen(port, '127.0.0.1', resolve));
  await new Promise((r) => again.close(r));
});
