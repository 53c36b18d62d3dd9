/**
 * A small keep-alive HTTP client on node:http for the benchmarks. Cheaper per request than global fetch (undici),
 * which matters on a 2-core machine where the client shares the CPUs with the server and the runs it starts.
 */
import http from 'node:http';
import type { RequestSigner } from '../../src/sdk/client.js';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class Http {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly baseUrl: string;

  /** `signer`: signs every request (authentication on); the signature's cost is the client's, as for any OCI client. */
  constructor(
    baseUrl: string,
    maxSockets = 64,
    private readonly signer?: RequestSigner,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    const u = new URL(baseUrl);
    if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost' && u.hostname !== '[::1]') {
      throw new Error(`benchmarks talk to loopback servers only, not ${u.hostname}`);
    }
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  /** Starts a request; resolves with the response head (body not read). */
  stream(method: string, path: string, body?: unknown, timeoutMs = 60_000, rawHeaders?: Record<string, string>): Promise<http.IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = rawHeaders
      ? { ...rawHeaders, 'content-length': payload?.length ?? 0 }
      : payload
        ? { 'content-type': 'application/json', 'content-length': payload.length }
        : {};
    if (this.signer) {
      // A raw (Buffer) body is an artifact upload: signed without the body headers, as the OCI SDKs sign it.
      const streamed = rawHeaders !== undefined;
      const strHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
      Object.assign(headers, this.signer({ method, url: `${this.baseUrl}/20190101${path}`, headers: strHeaders, body: streamed ? null : (payload ?? null), excludeBody: streamed }));
    }
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          method,
          path: `/20190101${path}`,
          agent: this.agent,
          headers,
        },
        resolve,
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no response in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** `body`: JSON-encoded, or sent as is when a Buffer (then `rawHeaders` are the request headers). */
  async request(method: string, path: string, body?: unknown, timeoutMs = 60_000, rawHeaders?: Record<string, string>): Promise<HttpResponse> {
    const res = await this.stream(method, path, body, timeoutMs, rawHeaders);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
  }

  /** JSON request that must succeed (2xx). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.request(method, path, body);
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 500)}`);
    return (r.body.length ? JSON.parse(r.body.toString('utf8')) : undefined) as T;
  }

  /** Reads a whole response body and discards it; resolves with the byte count. */
  async drain(res: http.IncomingMessage): Promise<number> {
    let n = 0;
    for await (const c of res) n += (c as Buffer).length;
    return n;
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Splits an NDJSON byte stream into lines (Buffers, without the newline) as chunks arrive. Buffer-based, so a
 * 200 MB log does not go through string concatenation.
 */
export async function* ndjsonLines(res: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  let carry: Buffer | null = null;
  for await (const raw of res) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    const data: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    let nl: number;
    while ((nl = data.indexOf(10, start)) !== -1) {
      if (nl > start) yield data.subarray(start, nl);
      start = nl + 1;
    }
    carry = start < data.length ? Buffer.from(data.subarray(start)) : null;
  }
  if (carry && carry.length > 0) yield carry;
}
