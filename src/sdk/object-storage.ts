import { fetchOrThrow, type RequestSigner } from './client.js';

export interface Bucket {
  namespace: string;
  name: string;
  compartmentId: string;
  createdBy: string;
  timeCreated: string;
  etag: string;
  approximateCount?: number;
  approximateSize?: number;
}

export interface ObjectSummary {
  name: string;
  size?: number;
  md5?: string;
  etag?: string;
  timeCreated?: string;
  timeModified?: string;
}

export interface PreauthenticatedRequest {
  id: string;
  name: string;
  accessUri: string;
  fullPath?: string;
  objectName?: string;
  accessType: string;
  timeExpires: string;
  timeCreated: string;
}

/** Bytes moved so far and in all (all: undefined when not known), after each chunk. */
export type Progress = (done: number, total: number | undefined) => void;

/**
 * A small client of dsjobs' Object Storage (OCI's `/n/...` paths, docs/object-storage.md), for the CLI and scripts
 * without the oci-objectstorage package: buckets, streamed object puts and gets, listings, PARs.
 */
export class ObjectStorage {
  readonly endpoint: string;
  private readonly signer?: RequestSigner;
  private ns?: string;

  constructor(opts: { endpoint: string; signer?: RequestSigner }) {
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
    this.signer = opts.signer;
  }

  private async send(method: string, path: string, o: { query?: Record<string, string | number | undefined>; json?: unknown; raw?: BodyInit; headers?: Record<string, string> } = {}): Promise<Response> {
    const u = new URL(`${this.endpoint}${path}`);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    const url = u.toString();
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    let body: BodyInit | undefined = o.raw;
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.json);
    }
    if (this.signer) {
      const excludeBody = o.raw !== undefined;
      if (body === undefined && (method === 'POST' || method === 'PUT')) {
        body = '';
        headers['content-type'] ??= 'application/json';
      }
      Object.assign(headers, this.signer({ method, url, headers, body: excludeBody ? null : (body as string | undefined), excludeBody }));
    }
    return fetchOrThrow(this.endpoint, url, { method, headers, body: body as BodyInit | undefined }, { notModified: true });
  }

  /** The server's namespace (asked once). */
  async namespace(): Promise<string> {
    this.ns ??= (await (await this.send('GET', '/n')).json()) as string;
    return this.ns;
  }

  private async b(bucket: string): Promise<string> {
    return `/n/${await this.namespace()}/b/${encodeURIComponent(bucket)}`;
  }

  async createBucket(name: string, compartmentId: string): Promise<Bucket> {
    return (await this.send('POST', `/n/${await this.namespace()}/b`, { json: { name, compartmentId } })).json() as Promise<Bucket>;
  }

  async getBucket(name: string): Promise<Bucket> {
    return (await this.send('GET', await this.b(name), { query: { fields: 'approximateCount,approximateSize' } })).json() as Promise<Bucket>;
  }

  /** Every bucket of the compartment (pages followed). */
  async listBuckets(compartmentId: string): Promise<Bucket[]> {
    const all: Bucket[] = [];
    let page: string | undefined;
    do {
      const res = await this.send('GET', `/n/${await this.namespace()}/b`, { query: { compartmentId, limit: 1000, page } });
      all.push(...((await res.json()) as Bucket[]));
      page = res.headers.get('opc-next-page') ?? undefined;
    } while (page);
    return all;
  }

  async deleteBucket(name: string): Promise<void> {
    await this.send('DELETE', await this.b(name));
  }

  /** Streams `body` (size bytes) into the object; resolves to its etag and md5. */
  async putObject(bucket: string, name: string, body: ReadableStream<Uint8Array> | Uint8Array, size: number, opts: { contentType?: string; progress?: Progress } = {}): Promise<{ etag: string; md5: string }> {
    let raw: BodyInit = body as BodyInit;
    if (opts.progress && !(body instanceof Uint8Array)) {
      let done = 0;
      const progress = opts.progress;
      raw = body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, ctl) {
            done += chunk.byteLength;
            progress(done, size);
            ctl.enqueue(chunk);
          },
        }),
      ) as BodyInit;
    }
    const headers = { 'content-length': String(size), 'content-type': opts.contentType ?? 'application/octet-stream' };
    const res = await this.send('PUT', `${await this.b(bucket)}/o/${encodeURIComponent(name)}`, { raw, headers });
    return { etag: res.headers.get('etag') ?? '', md5: res.headers.get('opc-content-md5') ?? '' };
  }

  /** The object's response: its body is the bytes (stream it), its headers content-length, etag, content-md5. */
  async getObject(bucket: string, name: string, range?: string): Promise<Response> {
    return this.send('GET', `${await this.b(bucket)}/o/${encodeURIComponent(name)}`, { headers: range ? { range } : {} });
  }

  /** One page of ListObjects; `start` is the previous page's nextStartWith. */
  async listObjects(bucket: string, q: { prefix?: string; delimiter?: string; start?: string; limit?: number; fields?: string } = {}): Promise<{ objects: ObjectSummary[]; prefixes?: string[]; nextStartWith?: string }> {
    return (await this.send('GET', `${await this.b(bucket)}/o`, { query: { fields: 'name,size,md5,etag,timeModified', ...q } })).json() as never;
  }

  async deleteObject(bucket: string, name: string): Promise<void> {
    await this.send('DELETE', `${await this.b(bucket)}/o/${encodeURIComponent(name)}`);
  }

  async createPar(bucket: string, d: { name: string; accessType: string; timeExpires: string; objectName?: string; bucketListingAction?: string }): Promise<PreauthenticatedRequest> {
    return (await this.send('POST', `${await this.b(bucket)}/p`, { json: d })).json() as Promise<PreauthenticatedRequest>;
  }
}
