import { Type } from '@sinclair/typebox';
import type { App, ApiDeps } from '../app.js';
import { errorResponses } from '../http.js';
import * as S from '../schemas.js';

export async function eventRoutes(app: App, { events }: ApiDeps): Promise<void> {
  app.get(
    '/events',
    {
      schema: {
        tags: ['events'],
        operationId: 'ListEvents',
        description:
          'dsjobs addition: lifecycle events of projects, jobs, runs and automation as CloudEvents 1.0, oldest first. ' +
          'follow=true streams NDJSON (one CloudEvent per line): events after `after` (an event id), or only new ones ' +
          'without it, until the client disconnects.',
        querystring: Type.Object({
          compartmentId: Type.Optional(Type.String()),
          type: Type.Optional(Type.String({ description: 'comma-separated event types' })),
          resourceId: Type.Optional(Type.String()),
          projectId: Type.Optional(Type.String()),
          jobId: Type.Optional(Type.String()),
          after: Type.Optional(Type.String({ description: 'an event id: only events after it' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          page: Type.Optional(Type.String()),
          follow: Type.Optional(Type.Boolean({ default: false })),
        }),
        response: { 200: Type.Array(S.CloudEvent), ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query;
      if (q.follow) {
        const abort = new AbortController();
        req.raw.on('close', () => abort.abort());
        reply.raw.on('close', () => abort.abort());
        const stream = await events.follow(q, abort.signal, req.mayReadEvent ?? undefined);
        reply.header('content-type', 'application/x-ndjson; charset=utf-8');
        reply.header('cache-control', 'no-store');
        reply.header('x-accel-buffering', 'no');
        return reply.send(stream);
      }
      const page = await events.list(q);
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items;
    },
  );
}
