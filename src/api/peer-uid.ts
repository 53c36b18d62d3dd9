import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

/**
 * The uid that owns the other end of a loopback TCP connection, read from the kernel's socket tables
 * (/proc/net/tcp, /proc/net/tcp6: the row whose local address is the peer's and whose remote address is ours). A job
 * run with default networking shares the host's network and reaches the API on 127.0.0.1 like any local client;
 * until requests carry an identity, the uid its sockets belong to (the run user) is what tells it apart. null: not
 * loopback, or not found (the connection already gone).
 */
export function loopbackPeerUid(sock: Socket): number | null {
  const { remoteAddress, remotePort, localAddress, localPort } = sock;
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return null;
  const v4 = /^(?:::ffff:)?(127\.\d+\.\d+\.\d+)$/.exec(remoteAddress);
  const local4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/.exec(localAddress);
  if (v4 && local4) {
    // An IPv4-mapped connection on a dual-stack socket is listed in tcp6 with the mapped address; try both.
    return (
      find('/proc/net/tcp', hex4(v4[1], remotePort), hex4(local4[1], localPort)) ??
      find('/proc/net/tcp6', hex6mapped(v4[1], remotePort), hex6mapped(local4[1], localPort))
    );
  }
  if (remoteAddress === '::1') return find('/proc/net/tcp6', hex6loopback(remotePort), hex6loopback(localPort));
  return null;
}

function find(table: string, localHex: string, remoteHex: string): number | null {
  let text: string;
  try {
    text = readFileSync(table, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid ..."
    const f = line.trim().split(/\s+/);
    if (f.length > 7 && f[1] === localHex && f[2] === remoteHex) return Number(f[7]);
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
