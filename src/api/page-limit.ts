import type { FastifyRequest } from 'fastify';
import { invalid } from '../domain/errors.js';

/** OCI's bound on a list's `limit`; what the official SDKs and tools ever send. */
export const OCI_MAX_PAGE = 100;

/**
 * The dsjobs extension: a request that sends this header set to `true` may ask for pages of up to 1000 (each
 * route's schema bounds them), one round trip where OCI would take ten. The OCI SDKs never send it.
 */
export const LARGE_PAGES_HEADER = 'dsjobs-large-pages';

/**
 * A preHandler (after validation turned `limit` into a number) that holds the lists under `base` to OCI's 1-100
 * unless the request opts into larger pages.
 */
export function pageLimitHook(base: string) {
  return async (req: FastifyRequest): Promise<void> => {
    if (req.method !== 'GET' || !req.routeOptions.url?.startsWith(base + '/')) return;
    const limit = (req.query as { limit?: unknown } | undefined)?.limit;
    if (typeof limit !== 'number' || limit <= OCI_MAX_PAGE) return;
    if (req.headers[LARGE_PAGES_HEADER] === 'true') return;
    throw invalid(
      'limit',
      `must be between 1 and ${OCI_MAX_PAGE}, got ${limit} (OCI's bound; dsjobs serves larger pages, up to 1000, to requests that send '${LARGE_PAGES_HEADER}: true')`,
    );
  };
}
