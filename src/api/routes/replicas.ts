import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import { DsError } from '../../domain/errors.js';
import { REPLICA_AUTH_HEADER, verifyReplicaRequest } from '../../domain/replica-auth.js';
import { INTERNAL_BASE } from '../../service/replicas.js';
import type { RunsService } from '../../service/runs.js';

const IdParams = Type.Object({ jobRunId: Type.String() });

/** The internal routes' paths, which take no OCI signature (their own HMAC instead): app.ts lists them as public. */
export const REPLICA_ROUTES = [`${INTERNAL_BASE}/jobRuns/:jobRunId/logs`, `${INTERNAL_BASE}/jobRuns/:jobRunId/actions/stop`];

/**
 * What another replica of the same database asks of this one about the runs this one's executor holds: their logs
 * (a client reading them through that replica) and a stop (a cancel or timeout it committed). Each request carries
 * an HMAC keyed by the secret in the shared database (domain/replica-auth.ts): the requester already authenticated
 * and authorized its client, and only a holder of that secret (a replica, or whoever can read the database) can ask.
 */
export async function replicaRoutes(app: App, deps: { runs: RunsService; secret: string }): Promise<void> {
  const { runs, secret } = deps;
  app.addHook('onRequest', async (req) => {
    const v = verifyReplicaRequest(secret, req.headers[REPLICA_AUTH_HEADER] as string | undefined, req.method, req.url);
    if (!v.ok) throw new DsError('NotAuthenticated', `${REPLICA_AUTH_HEADER}: ${v.reason} (this route serves other server replicas only)`);
  });
  app.get(
    REPLICA_ROUTES[0],
    {
      schema: {
        hide: true,
        params: IdParams,
        querystring: Type.Object({ since: Type.Integer({ minimum: 0, default: 0 }), follow: Type.Boolean({ default: false }) }),
      },
    },
    async (req, reply) => {
      const q = req.query as { since: number; follow: boolean };
      const abort = new AbortController();
      req.raw.on('close', () => abort.abort());
      reply.raw.on('close', () => abort.abort());
      const stream = await runs.readLogs(req.params.jobRunId, q.since, q.follow, abort.signal);
      reply.header('content-type', 'application/x-ndjson; charset=utf-8');
      reply.header('cache-control', 'no-store');
      return reply.send(stream);
    },
  );
  app.post(
    REPLICA_ROUTES[1],
    { schema: { hide: true, params: IdParams, querystring: Type.Object({ reason: Type.Union([Type.Literal('cancel'), Type.Literal('timeout')]) }) } },
    async (req, reply) => {
      await runs.execution.stopOwnRun(req.params.jobRunId, (req.query as { reason: 'cancel' | 'timeout' }).reason);
      reply.code(204).send();
    },
  );
}
