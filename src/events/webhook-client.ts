import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import { assertAllowedAddress, TargetRefused } from './ssrf.js';

export interface PostResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** Checks a webhook URL's form: http(s), a host, no credentials. Returns the reason it is refused, or null. */
export function webhookUrlProblem(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not a valid URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (!u.hostname) return 'has no host';
  if (u.username || u.password) return 'must not carry credentials; the payload is signed instead';
  return null;
}

/**
 * A dns.lookup that refuses forbidden addresses: the socket connects only to an address that passed the check, so a
 * DNS answer that changes between a check and the connect (rebinding) cannot slip through.
 */
function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number }, cb: (...args: any[]) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return cb(err);
      try {
        for (const a of addresses) assertAllowedAddress(a.address, hostname, allowPrivate);
      } catch (e) {
        return cb(e);
      }
      if (options.all) cb(null, addresses);
      else cb(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** Bytes of a response body read (and then dropped): enough to finish the exchange, not to be flooded. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs a webhook: no redirects followed (a 3xx is a failed attempt), no proxies, a total time limit, and the SSRF
 * guard on the address actually connected to (literal IPs, resolved names, and the socket's remote address).
 */
export function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; allowPrivate: boolean; agent?: { http: http.Agent; https: https.Agent } },
): Promise<PostResult> {
  const started = performance.now();
  const done = (statusCode: number | null, error: string | null): PostResult => ({
    ok: statusCode !== null && statusCode >= 200 && statusCode < 300,
    statusCode,
    error,
    durationMs: Math.round(performance.now() - started),
  });
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
      const host = u.hostname.replace(/^\[|\]$/g, '');
      // Node connects to a literal IP without calling lookup: check it here.
      if (isIP(host)) assertAllowedAddress(host, host, opts.allowPrivate);
    } catch (e) {
      return resolve(done(null, (e as Error).message));
    }
    const mod = u.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (r: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = mod.request(
      u,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'dsjobs-webhooks', ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: guardedLookup(opts.allowPrivate) as never,
        agent: opts.agent ? (u.protocol === 'https:' ? opts.agent.https : opts.agent.http) : undefined,
      },
      (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > MAX_RESPONSE_BYTES) res.destroy();
        });
        const code = res.statusCode ?? null;
        const err = code !== null && code >= 300 && code < 400 ? `redirect (${code}) not followed` : code !== null && (code < 200 || code >= 300) ? `HTTP ${code}` : null;
        res.on('end', () => finish(done(code, err)));
        res.on('close', () => finish(done(code, err)));
        res.on('error', () => finish(done(code, err)));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no response within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    // The address the socket really connected to, whatever resolved it (a reused keep-alive socket was checked
    // when it connected).
    const checkSocket = (socket: Socket) => {
      const verify = () => {
        try {
          if (socket.remoteAddress) assertAllowedAddress(socket.remoteAddress, u.hostname, opts.allowPrivate);
        } catch (e) {
          req.destroy(e as Error);
        }
      };
      if (socket.remoteAddress) verify();
      else socket.once('connect', verify);
    };
    req.on('socket', checkSocket);
    req.on('error', (e) => finish(done(null, e instanceof TargetRefused ? e.message : `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim())));
    req.end(body);
  });
}
