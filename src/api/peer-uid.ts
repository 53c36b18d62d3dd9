import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';

/**
 * The uid that owns the other end of a loopback TCP connection, read from the kernel's socket tables
 * (/proc/net/tcp, /proc/net/tcp6: the row whose local address is the peer's and whose remote address is ours). A job
 * run with default networking shares the host's network and reaches the API on 127.0.0.1 like any local client;
 * until requests carry an identity, the uid its sockets belong to (the run user) is what tells it apart. null: not
 * loopback. 'unknown': the peer's socket is gone or closed (TIME_WAIT rows say uid 0 whoever owned them): a client
 * that sent a request and closed at once is not told apart from a run, so callers refuse it. `since`: a moment
 * (performance.now()) when the connection already existed, such as when it was accepted: any read of the tables
 * begun since then lists it (default: now).
 */
export async function loopbackPeerUid(sock: Socket, since: number = performance.now()): Promise<number | 'unknown' | null> {
  const { remoteAddress, remotePort, localAddress, localPort } = sock;
  // Node forgets the addresses of a socket that is already closed (a client that sent a request and reset the
  // connection): that sender cannot be told apart.
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return 'unknown';
  const v4 = /^(?:::ffff:)?(127\.\d+\.\d+\.\d+)$/.exec(remoteAddress);
  const local4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/.exec(localAddress);
  if (v4 && local4) {
    // An IPv4-mapped connection on a dual-stack socket is listed in tcp6 with the mapped address; try both.
    return (
      (await find('/proc/net/tcp', hex4(v4[1], remotePort), hex4(local4[1], localPort), since)) ??
      (await find('/proc/net/tcp6', hex6mapped(v4[1], remotePort), hex6mapped(local4[1], localPort), since)) ??
      'unknown'
    );
  }
  if (remoteAddress === '::1') return (await find('/proc/net/tcp6', hex6loopback(remotePort), hex6loopback(localPort), since)) ?? 'unknown';
  return null;
}

/**
 * Reading a table costs the kernel a walk over its whole connection hash (~3.5 ms here, on a loaded machine, with 135
 * connections; 5-17 ms with ~750) and comes one page per read(): ~30 system calls for 750 connections. Through the
 * thread pool, each of those calls queued behind the run starts' cgroup and directory work there, and a burst of 16
 * new connections waited 275-440 ms each for its answer (benchmark 10's burst, the whole of its p99). So the tables
 * are read by a thread of their own (readFileSync there, never on the event loop), and one read answers every lookup
 * asked before it began, and those asked while it is under way for connections accepted before it began. Once per
 * connection (app.ts keeps the answer).
 */
async function find(table: string, localHex: string, remoteHex: string, since: number): Promise<number | null> {
  return (await tables.rows(table, since))?.get(`${localHex} ${remoteHex}`) ?? null;
}

/** A table's rows: "local remote" -> the owner's uid; null for TIME_WAIT rows (state 06), which have no owner any more. */
export function parseSocketTable(text: string): Map<string, number | null> {
  const rows = new Map<string, number | null>();
  for (const line of text.split('\n')) {
    // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid ..."
    const f = line.trim().split(/\s+/);
    if (f.length > 7 && f[0] !== 'sl' && !rows.has(`${f[1]} ${f[2]}`)) rows.set(`${f[1]} ${f[2]}`, f[3] === '06' ? null : Number(f[7]));
  }
  return rows;
}

/** The reading thread's code, inline (eval) so that it runs the same from dist/ and under tsx. */
const THREAD_CODE = `
const { parentPort } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
parentPort.on('message', ({ id, table }) => {
  let text = null;
  try { text = readFileSync(table, 'utf8'); } catch {}
  parentPort.postMessage({ id, text });
});
`;

/**
 * Reads of the socket tables, shared: a lookup joins the read of its table under way if that read began after
 * `since` (its connection was in the table by then), else the next read to begin. null: the table cannot be read.
 * Connections accepted together (8 per event-loop iteration: accept-handles.ts) thus share the read begun for the
 * first of their requests, where each later group had waited for the read before it to end (benchmark 10's burst:
 * 55 ms, then 206 ms, for two groups of 8, with the machine loaded).
 */
export class SocketTables {
  private worker: Worker | null = null;
  /** The read of each table under way: when it began (performance.now()), and its answer. */
  private readonly reading = new Map<string, { began: number; rows: Promise<Map<string, number | null> | null> }>();
  private readonly waiting = new Map<string, ((rows: Map<string, number | null> | null) => void)[]>();
  private readonly answers = new Map<number, { table: string; resolve: (text: string | null) => void }>();
  private nextId = 0;
  /** How many reads were made (for tests). */
  reads = 0;

  rows(table: string, since: number = performance.now()): Promise<Map<string, number | null> | null> {
    const underway = this.reading.get(table);
    if (underway && underway.began > since) return underway.rows;
    return new Promise((resolve) => {
      const list = this.waiting.get(table) ?? [];
      list.push(resolve);
      this.waiting.set(table, list);
      if (!this.reading.has(table)) this.begin(table);
    });
  }

  private begin(table: string): void {
    const takers = this.waiting.get(table) ?? [];
    this.waiting.delete(table);
    this.reads++;
    const began = performance.now();
    const rows = this.readNow(table).then((text) => (text === null ? null : parseSocketTable(text)));
    this.reading.set(table, { began, rows });
    void rows.then((r) => {
      this.reading.delete(table);
      for (const t of takers) t(r);
      if (this.waiting.has(table)) this.begin(table);
    });
  }

  private readNow(table: string): Promise<string | null> {
    const worker = this.thread();
    if (!worker) return readFile(table, 'utf8').catch(() => null);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.answers.set(id, { table, resolve });
      worker.ref();
      worker.postMessage({ id, table });
    });
  }

  private thread(): Worker | null {
    if (this.worker) return this.worker;
    try {
      // No execArgv: the code needs no loader (under tsx, its hooks would be set up in the thread too).
    const w = new Worker(THREAD_CODE, { eval: true, execArgv: [] });
      w.on('message', ({ id, text }: { id: number; text: string | null }) => {
        this.answers.get(id)?.resolve(text);
        this.answers.delete(id);
        if (this.answers.size === 0) w.unref();
      });
      w.on('error', () => this.lost(w));
      w.on('exit', () => this.lost(w));
      // Holds the process open only while a read is under way (after the listeners: adding one refs the thread); a
      // thread that fails is started afresh for the next read.
      w.unref();
      this.worker = w;
      return w;
    } catch {
      return null;
    }
  }

  private lost(w: Worker): void {
    if (this.worker !== w) return;
    this.worker = null;
    // The reads it still owed are made here instead.
    for (const { table, resolve } of this.answers.values()) void readFile(table, 'utf8').then(resolve, () => resolve(null));
    this.answers.clear();
  }
}

const tables = new SocketTables();

const port = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');

/** 127.0.0.1:8420 -> "0100007F:20E4" (the address as a little-endian 32-bit word). */
function hex4(addr: string, p: number): string {
  const b = addr.split('.').map(Number);
  const word = b.reverse().map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join('');
  return `${word}:${port(p)}`;
}

/** ::ffff:127.0.0.1 as the kernel prints it: four little-endian 32-bit words. */
function hex6mapped(addr: string, p: number): string {
  return `0000000000000000FFFF0000${hex4(addr, p).slice(0, 8)}:${port(p)}`;
}

function hex6loopback(p: number): string {
  return `00000000000000000000000001000000:${port(p)}`;
}
