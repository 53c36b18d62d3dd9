import net from 'node:net';

/** The default bridge network's gateway (the host's address on it) and subnet, as the engine reports them. */
export interface BridgeNetwork {
  gateway: string;
  subnet: string;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Whether an IPv4 address (also as ::ffff:a.b.c.d) is inside an IPv4 CIDR subnet. */
export function inSubnet(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const a = toInt(address.replace(/^::ffff:/, ''));
  const b = toInt(base ?? '');
  const n = Number(bits);
  if (a === null || b === null || !Number.isInteger(n) || n < 0 || n > 32) return false;
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

function toInt(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((acc, p) => ((acc << 8) >>> 0) + Number(p), 0);
}

/**
 * How container runs reach the API. A run's endpoint (DSJOBS_ENDPOINT) names the address the server listens on,
 * 127.0.0.1 by default, which inside a container on Docker's default bridge is the container itself. So, when the
 * run endpoint is a loopback one, the server also takes connections on the bridge's gateway address (the host's
 * address on that network) at the same port, and copies each one, byte for byte, to the API: container runs get
 * `http(s)://GATEWAY:PORT` instead. It forwards to the API's port only (never the engine's socket or any other), and
 * only connections from the bridge's own subnet (a host elsewhere that routes to the gateway address is refused);
 * the API then checks every request's signature as it does any other's. The same port as the API's, so a run
 * re-attached after a restart (port unchanged) still reaches it.
 */
export class ApiBridge {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  /** The run endpoint bridged, and what container runs get instead. */
  private mapping: { from: string; to: string } | null = null;

  /**
   * Starts forwarding for `endpoint` when it is a loopback one; resolves with the endpoint container runs get (null:
   * none needed, the endpoint is not a loopback one). Rejects when the gateway's port cannot be taken.
   * `apiOnAllAddresses`: the API itself listens on every address (0.0.0.0), the gateway's too: nothing to forward,
   * and its port there is the API's own.
   */
  async start(endpoint: string, bridge: BridgeNetwork, apiOnAllAddresses = false): Promise<string | null> {
    const url = new URL(endpoint);
    if (!LOOPBACK_HOSTS.has(url.hostname)) return null;
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const to = `${url.protocol}//${bridge.gateway}:${port}${url.pathname === '/' ? '' : url.pathname}`;
    if (apiOnAllAddresses) {
      this.mapping = { from: endpoint, to };
      return to;
    }
    const target = { host: url.hostname === 'localhost' ? '127.0.0.1' : url.hostname.replace(/^\[|\]$/g, ''), port };
    const server = net.createServer((client) => this.forward(client, target, bridge.subnet));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: bridge.gateway, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // A failing accept later (out of file descriptors) must not end the server: that connection alone is lost.
    server.on('error', () => {});
    this.server = server;
    this.mapping = { from: endpoint, to };
    return to;
  }

  /** The endpoint a container run on the bridge gets for `endpoint` (unchanged where none is bridged). */
  endpointFor(endpoint: string): string {
    return this.mapping && this.mapping.from === endpoint ? this.mapping.to : endpoint;
  }

  private forward(client: net.Socket, target: { host: string; port: number }, subnet: string): void {
    if (!inSubnet(client.remoteAddress ?? '', subnet)) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      // One side failing ends both: a half-open copy would hang the run's request.
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
