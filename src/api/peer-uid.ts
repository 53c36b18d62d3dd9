import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';

/**
 * The uid that owns the other end of a loopback TCP connection, read from the kernel's socket tables
 * (/proc/net/tcp, /proc/net/tcp6: the row whose local address is the peer's and whose remote address is ours). A job
 * run with default networking shares the host's network and reaches the API on 127.0.0.1 like any local client;
 * until requests carry an identity, the uid its sockets belong to (the run user) is what tells it apart. null: not
 * loopback. 'unknown': the peer's socket is gone or closed (TIME_WAIT rows say uid 0 whoever owned them): a client
 * that sent a request and closed at once is not told apart from a run, so callers refuse it.
 */
export async function loopbackPeerUid(sock: Socket): Promise<number | 'unknown' | null> {
  const { remoteAddress, remotePort, localAddress, localPort } = sock;
  // Node forgets the addresses of a socket that is already closed (a client that sent a request and reset the
  // connection): that sender cannot be told apart.
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return 'unknown';
  const v4 = /^(?:::ffff:)?(127\.\d+\.\d+\.\d+)$/.exec(remoteAddress);
  const local4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/.exec(localAddress);
  if (v4 && local4) {
    // An IPv4-mapped connection on a dual-stack socket is listed in tcp6 with the mapped address; try both.
    return (
      (await find('/proc/net/tcp', hex4(v4[1], remotePort), hex4(local4[1], localPort))) ??
      (await find('/proc/net/tcp6', hex6mapped(v4[1], remotePort), hex6mapped(local4[1], localPort))) ??
      'unknown'
    );
  }
  if (remoteAddress === '::1') return (await find('/proc/net/tcp6', hex6loopback(remotePort), hex6loopback(localPort))) ?? 'unknown';
  return null;
}

/**
 * Reading a table costs the kernel a walk over its whole connection hash (~3.5 ms here, on a loaded machine, with 135
 * connections): asynchronous, off the event loop, and once per connection (app.ts keeps the answer).
 */
async function find(table: string, localHex: string, remoteHex: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(table, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid ..."
    const f = line.trim().split(/\s+/);
    // State 06 is TIME_WAIT: no owner any more.
    if (f.length > 7 && f[1] === localHex && f[2] === remoteHex) return f[3] === '06' ? null : Number(f[7]);
  }
  return null;
}

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
