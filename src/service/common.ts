import { createHash } from 'node:crypto';
import { DsError } from '../domain/errors.js';

/** Opaque entity tag: changes whenever the resource's version does. */
export function etagOf(id: string, version: number): string {
  return createHash('sha1').update(`${id}:${version}`).digest('hex');
}

/** Optimistic concurrency: if-match must equal the current etag (quotes and W/ prefixes tolerated). */
export function checkIfMatch(ifMatch: string | undefined, id: string, version: number): void {
  if (!ifMatch || ifMatch === '*') return;
  const given = ifMatch.replace(/^W\//, '').replace(/^"|"$/g, '');
  if (given !== etagOf(id, version)) {
    throw new DsError('NoEtagMatch', 'The resource has changed since the given if-match etag was read; get it again and retry');
  }
}

/** Hash of a request body with keys sorted, so the same body in any key order is the same request. */
export function bodyHash(body: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canon(body ?? null))).digest('hex');
}

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export const iso = (ms: number) => new Date(ms).toISOString();

/** OCI console style default names: jobrun20210808222435. */
export function defaultName(prefix: string, ms: number): string {
  return `${prefix}${iso(ms).replace(/[-:T]/g, '').slice(0, 14)}`;
}

export interface ServerIdentity {
  region: string;
  tenancyId: string;
  defaultCompartmentId: string;
  /** Who "created" resources until identities exist. */
  userId: string;
}

