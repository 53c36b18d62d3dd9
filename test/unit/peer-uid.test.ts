import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loopbackPeerUid, parseSocketTable, SocketTables } from '../../src/api/peer-uid.js';

const linux = process.platform === 'linux';

/** A loopback server and `n` client connections to it; the server's ends, accepted. */
async function connections(n: number): Promise<{ server: net.Server; ends: net.Socket[]; clients: net.Socket[] }> {
  const ends: net.Socket[] = [];
  const server = net.createServer((s) => ends.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const clients = await Promise.all(Array.from({ length: n }, () => new Promise<net.Socket>((r) => { const c = net.connect(port, '127.0.0.1', () => r(c)); })));
  while (ends.length < n) await new Promise((r) => setTimeout(r, 10));
  return { server, ends, clients };
}

test('a socket table: the first row of a pair is its owner, TIME_WAIT rows have none', () => {
  const rows = parseSocketTable(
    [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1001        0 1 1 0000 20 4 30 10 -1',
      '   1: 0100007F:1F91 0100007F:C351 06 00000000:00000000 00:00000000 00000000     0        0 0 3 0000',
      '   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     7        0 1 1 0000 20 4 30 10 -1',
    ].join('\n'),
  );
  assert.equal(rows.get('0100007F:1F90 0100007F:C350'), 1001);
  assert.equal(rows.get('0100007F:1F91 0100007F:C351'), null);
  assert.equal(rows.size, 2);
});

test('lookups asked together share one read of the table, and each gets its own answer', { skip: !linux && 'reads /proc/net/tcp' }, async () => {
  const { server, ends, clients } = await connections(8);
  try {
    const tables = new SocketTables();
    const rows = await Promise.all(ends.map(() => tables.rows('/proc/net/tcp')));
    // The first lookup begins a read; the seven asked after it began share the next.
    assert.ok(tables.reads <= 2, `${tables.reads} reads for eight lookups`);
    const uid = process.getuid!();
    for (const [i, s] of ends.entries()) {
      const key = (a: string, p: number) => `${a.split('.').reverse().map((b) => Number(b).toString(16).toUpperCase().padStart(2, '0')).join('')}:${p.toString(16).toUpperCase().padStart(4, '0')}`;
      assert.equal(rows[i]!.get(`${key(s.remoteAddress!, s.remotePort!)} ${key(s.localAddress!, s.localPort!)}`), uid);
    }
    for (const s of ends) assert.equal(await loopbackPeerUid(s), uid);
  } finally {
    for (const c of clients) c.destroy();
    server.close();
  }
});

test('lookups for connections accepted before a read began share that read; one accepted after it waits for the next', { skip: !linux && 'reads /proc/net/tcp' }, async () => {
  const { server, ends, clients } = await connections(8);
  const accepted = performance.now();
  try {
    const tables = new SocketTables();
    const first = tables.rows('/proc/net/tcp', accepted);
    // Asked while the first read is under way: it began after these connections were accepted, so it lists them.
    const rest = ends.slice(1).map(() => tables.rows('/proc/net/tcp', accepted));
    const rows = await Promise.all([first, ...rest]);
    assert.equal(tables.reads, 1, `${tables.reads} reads for eight lookups`);
    for (const r of rows) assert.equal(r, rows[0]);
    // A connection known only from now on may be newer than a read under way: it waits for a read begun later.
    const again = tables.rows('/proc/net/tcp', accepted);
    const later = tables.rows('/proc/net/tcp');
    await Promise.all([again, later]);
    assert.equal(tables.reads, 3);
    for (const s of ends) assert.equal(await loopbackPeerUid(s, accepted), process.getuid!());
  } finally {
    for (const c of clients) c.destroy();
    server.close();
  }
});

test("a connection's owner is found while the thread pool is taken up by blocked file system calls", { skip: !linux && 'reads /proc/net/tcp' }, async () => {
  // Run starts keep libuv's thread pool busy with cgroup and directory work; a FIFO opened for reading blocks a pool
  // thread until a writer comes, so four of them hold the whole (default) pool.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-peer-uid-'));
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const blocked = Array.from({ length: poolSize }, () => open(fifo, 'r'));
  const { server, ends, clients } = await connections(1);
  try {
    const answer = await Promise.race([loopbackPeerUid(ends[0]!), new Promise<'no answer'>((r) => setTimeout(() => r('no answer'), 20_000).unref())]);
    assert.equal(answer, process.getuid!());
  } finally {
    for (const c of clients) c.destroy();
    server.close();
    // A writer releases the blocked opens (synchronously: the pool has no thread free for it).
    closeSync(openSync(fifo, 'w'));
    for (const h of await Promise.all(blocked)) await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
