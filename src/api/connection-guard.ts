import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** Connections one client address may hold open at once; the next ones are answered 429 and closed. */
  maxConnectionsPerClient: number;
  /** From the first byte of a request (or from connecting) to the end of its headers. */
  headersTimeoutMs: number;
  /** Each period this long, a request body still arriving must bring at least minBytesPerSecond x the period. */
  bodyTimeoutMs: number;
  bodyMinBytesPerSecond: number;
}

interface Tracked {
  address: string;
  /** Since when the socket has been waiting for a request's headers (null: idle between requests, or in one). */
  headersSince: number | null;
  /** Bytes read when the socket last went idle: more than that means a new request has begun. */
  idleBytes: number;
  request: IncomingMessage | null;
  response: ServerResponse | null;
  windowStart: number;
  windowBytes: number;
}

/** '::ffff:127.0.0.1' and '127.0.0.1' are one client. */
export const clientAddress = (s: Socket) => (s.remoteAddress ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

const JSON_HEAD = (status: string, body: string) =>
  `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;

/**
 * Guards the HTTP server against clients that hold connections without using them: one byte of body every 5 s kept
 * a request open for as long as the client liked, and ~20,000 such connections would use up the server's file
 * descriptors. Node's own requestTimeout cannot do this job: it bounds the whole request, and an artifact upload of
 * gigabytes may take long, so it stays off; a slow body is measured by its progress instead (bytes read from the
 * socket, which leaves the request stream to whoever parses it). Also bounds the connections of one address.
 * One guard watches every server that answers the API (fastify binds `localhost` as two servers, 127.0.0.1 and
 * ::1), so an address's connections are counted across them all.
 */
export interface ConnectionGuard {
  watch(server: Server): void;
  stop(): void;
}

export function guardConnections(
  limits: ConnectionLimits,
  log: { warn(o: unknown, m: string): void },
  now: () => number = Date.now,
): ConnectionGuard {
  const perClient = new Map<string, number>();
  const sockets = new Map<Socket, Tracked>();
  const watched = new Set<Server>();

  const onConnection = (socket: Socket) => {
    const address = clientAddress(socket);
    const n = (perClient.get(address) ?? 0) + 1;
    if (n > limits.maxConnectionsPerClient) {
      const body = JSON.stringify({
        code: 'TooManyRequests',
        message: `This address already holds ${limits.maxConnectionsPerClient} connections to the server (config maxConnectionsPerClient); close some or reuse them`,
      });
      socket.end(JSON_HEAD('429 Too Many Requests', body));
      // Whatever the client sends meanwhile is not parsed into a request: the connection is already refused.
      socket.pause();
      setTimeout(() => socket.destroy(), 1_000).unref();
      return;
    }
    perClient.set(address, n);
    sockets.set(socket, {
      address,
      headersSince: now(),
      idleBytes: 0,
      request: null,
      response: null,
      windowStart: 0,
      windowBytes: 0,
    });
    socket.once('close', () => {
      sockets.delete(socket);
      const left = (perClient.get(address) ?? 1) - 1;
      if (left <= 0) perClient.delete(address);
      else perClient.set(address, left);
    });
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const t = sockets.get(req.socket);
    if (!t) return;
    t.headersSince = null;
    t.request = req;
    t.response = res;
    t.windowStart = now();
    t.windowBytes = req.socket.bytesRead;
    const idle = () => {
      if (t.request !== req) return;
      t.request = null;
      t.response = null;
      t.idleBytes = req.socket.bytesRead;
    };
    // An answer can go out before its body has arrived (a 401 decided from the headers): Node then reads the rest
    // and drops it. That rest is still this request's body, held to the body's pace until it ends; counted as the
    // next request's headers, it was cut by the headers' timeout instead, with a second answer after the first.
    res.once('finish', () => (req.complete ? idle() : req.once('end', idle)));
  };

  const timeOut = (socket: Socket, t: Tracked, what: string) => {
    log.warn({ client: t.address, what }, 'closing a connection that sends its request too slowly');
    const body = JSON.stringify({ code: 'RequestTimeout', message: `The request's ${what} arrived too slowly; the connection is closed` });
    const res = t.response;
    sockets.delete(socket);
    if (res && !res.headersSent) {
      res.writeHead(408, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
      res.end(body, () => socket.destroy());
      setTimeout(() => socket.destroy(), 1_000).unref();
    } else if (!res) {
      socket.end(JSON_HEAD('408 Request Timeout', body));
      setTimeout(() => socket.destroy(), 1_000).unref();
    } else {
      socket.destroy();
    }
  };

  const minBytes = (limits.bodyMinBytesPerSecond * limits.bodyTimeoutMs) / 1000;
  const check = () => {
    const t0 = now();
    for (const [socket, t] of sockets) {
      if (socket.destroyed) continue;
      if (t.request) {
        if (t.request.complete) continue;
        if (t0 - t.windowStart < limits.bodyTimeoutMs) continue;
        if (socket.bytesRead - t.windowBytes < minBytes) timeOut(socket, t, 'body');
        else {
          t.windowStart = t0;
          t.windowBytes = socket.bytesRead;
        }
        continue;
      }
      // Between requests: an idle keep-alive connection is Node's keepAliveTimeout's; one that has begun sending
      // a request has headersTimeoutMs to finish its headers.
      if (t.headersSince === null) {
        if (socket.bytesRead > t.idleBytes) t.headersSince = t0;
        continue;
      }
      if (t0 - t.headersSince >= limits.headersTimeoutMs) timeOut(socket, t, 'headers');
    }
  };
  const every = Math.max(50, Math.min(1_000, Math.floor(Math.min(limits.bodyTimeoutMs, limits.headersTimeoutMs) / 4)));
  const timer = setInterval(check, every);
  timer.unref();
  return {
    watch(server) {
      if (watched.has(server)) return;
      watched.add(server);
      server.on('connection', onConnection);
      server.on('request', onRequest);
    },
    stop: () => clearInterval(timer),
  };
}
