import { Type } from '@sinclair/typebox';
import type { App, ApiDeps } from '../app.js';
import { fastLaunchConfigWire, shapeWire } from '../presenters.js';
import * as S from '../schemas.js';

export async function miscRoutes(app: App, deps: ApiDeps): Promise<void> {
  app.get(
    '/serverInfo',
    { schema: { tags: ['server'], operationId: 'GetServerInfo', response: { 200: S.ServerInfo } } },
    async () => ({
      version: deps.version,
      authentication: deps.authentication,
      tls: deps.https !== undefined,
      region: deps.identity.region,
      tenancyId: deps.identity.tenancyId,
      defaultCompartmentId: deps.identity.defaultCompartmentId,
      capacity: deps.capacity(),
      defaultShapeName: deps.shapes.defaultShape() ?? undefined,
      executor: deps.executorName,
      protections: deps.protections,
      database: deps.database(),
      vaultId: deps.secrets.defaults.vaultId,
      vaultKeyId: deps.secrets.defaults.keyId,
    }),
  );
  app.get(
    '/jobShapes',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'ListJobShapes',
        querystring: Type.Object({
          compartmentId: Type.Optional(Type.String()),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          page: Type.Optional(Type.String()),
          includeNotRunnable: Type.Optional(
            Type.Boolean({ description: 'dsjobs: also the shapes of the catalog this server cannot run, with why' }),
          ),
        }),
        response: { 200: Type.Array(S.JobShapeSummary) },
      },
    },
    async (req, reply) => {
      const q = req.query as { limit?: number; page?: string; includeNotRunnable?: boolean };
      const def = deps.shapes.defaultShape();
      const all = deps.shapes.catalog
        .map((s) => shapeWire(s, deps.shapes.here(s), def))
        .filter((s) => q.includeNotRunnable || s.isRunnableHere);
      const start = q.page ? Number(q.page) || 0 : 0;
      const limit = q.limit ?? 1000;
      if (start + limit < all.length) reply.header('opc-next-page', String(start + limit));
      return all.slice(start, start + limit);
    },
  );
  app.get(
    '/fastLaunchJobConfigs',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'ListFastLaunchJobConfigs',
        description:
          'Every shape this server can run starts without provisioning, so each is a fast-launch config, sized as ListJobShapes lists it',
        querystring: Type.Object({
          compartmentId: Type.String(),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          page: Type.Optional(Type.String()),
        }),
        response: { 200: Type.Array(S.FastLaunchJobConfigSummary) },
      },
    },
    async (req, reply) => {
      const q = req.query as { limit?: number; page?: string };
      const all = deps.shapes.runnable().map(fastLaunchConfigWire);
      const start = q.page ? Number(q.page) || 0 : 0;
      const limit = q.limit ?? 100;
      if (start + limit < all.length) reply.header('opc-next-page', String(start + limit));
      return all.slice(start, start + limit);
    },
  );
}
