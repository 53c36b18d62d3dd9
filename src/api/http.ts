import type { FastifyReply, FastifyRequest } from 'fastify';
import { etagOf } from '../service/common.js';
import type { ListQuery } from '../store/records.js';
import { DsError } from '../domain/errors.js';

export const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export const withEtag = (reply: FastifyReply, rec: { id: string; version: number }) =>
  reply.header('etag', etagOf(rec.id, rec.version));

/** OCI list conventions: compartment scope, one sort field (timeCreated DESC / displayName ASC by default). */
export function listQuery(
  q: { compartmentId?: string; limit?: number; page?: string; sortBy?: 'timeCreated' | 'displayName'; sortOrder?: 'ASC' | 'DESC' },
  filters: Record<string, string | undefined>,
  requireCompartment = true,
): ListQuery {
  if (requireCompartment && !q.compartmentId) {
    throw new DsError('InvalidParameter', 'query compartmentId: is required');
  }
  return { compartmentId: q.compartmentId, filters, ...listOrder(q, 'timeCreated') };
}

/**
 * OCI's list defaults: sorted by time unless asked otherwise, newest first by time and A to Z otherwise, 100 a
 * page. `byTime` is the family's name for the time sort (`timeCreated`; Identity's `TIMECREATED`).
 */
export function listOrder<S extends string>(
  q: { sortBy?: S; sortOrder?: 'ASC' | 'DESC'; limit?: number; page?: string },
  byTime: S,
): { sortBy: S; sortOrder: 'ASC' | 'DESC'; limit: number; page: string | undefined } {
  const sortBy = q.sortBy ?? byTime;
  return { sortBy, sortOrder: q.sortOrder ?? (sortBy === byTime ? 'DESC' : 'ASC'), limit: q.limit ?? 100, page: q.page };
}

export const errorResponses = {
  400: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  409: { $ref: 'Error#' },
  412: { $ref: 'Error#' },
};
