import { Type } from '@sinclair/typebox';
import type { App, ApiDeps } from '../app.js';
import { errorResponses, header, withEtag } from '../http.js';
import * as S from '../schemas.js';
import { workRequestWire } from '../presenters.js';
import { notFound } from '../../domain/errors.js';

const IdParams = Type.Object({ workRequestId: Type.String() });
const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  page: Type.Optional(Type.String()),
});
const OPERATION_TYPES = ['PROJECT_DELETE', 'JOB_DELETE', 'WORKREQUEST_CANCEL'];
const STATUSES = ['ACCEPTED', 'IN_PROGRESS', 'FAILED', 'SUCCEEDED', 'CANCELING', 'CANCELED'];


/** OCI Data Science's work request operations (GetWorkRequest, ListWorkRequests, their errors and logs, cancel). */
export async function workRequestRoutes(app: App, deps: ApiDeps): Promise<void> {
  const wr = deps.workRequests;
  app.get(
    '/workRequests/:workRequestId',
    { schema: { tags: ['workRequests'], operationId: 'GetWorkRequest', params: IdParams, response: { 200: S.WorkRequest, ...errorResponses } } },
    async (req, reply) => {
      const w = await wr.get(req.params.workRequestId);
      // Logging's work requests are served under its own path (/20200531/workRequests), not Data Science's.
      if (!OPERATION_TYPES.includes(w.operationType)) throw notFound('Work request', w.id);
      withEtag(reply, w);
      return workRequestWire(w);
    },
  );
  app.get(
    '/workRequests',
    {
      schema: {
        tags: ['workRequests'],
        operationId: 'ListWorkRequests',
        querystring: Type.Composite([
          PageQuery,
          Type.Object({
            compartmentId: Type.String(),
            id: Type.Optional(Type.String()),
            resourceId: Type.Optional(Type.String()),
            operationType: Type.Optional(Type.Union(OPERATION_TYPES.map((v) => Type.Literal(v)))),
            status: Type.Optional(Type.Union(STATUSES.map((v) => Type.Literal(v)))),
            sortBy: Type.Optional(Type.Union(['operationType', 'status', 'timeAccepted'].map((v) => Type.Literal(v)))),
            sortOrder: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
          }),
        ]),
        response: { 200: Type.Array(S.WorkRequest), ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query as {
        compartmentId: string;
        id?: string;
        resourceId?: string;
        operationType?: string;
        status?: string;
        sortBy?: 'operationType' | 'status' | 'timeAccepted';
        sortOrder?: 'ASC' | 'DESC';
        limit?: number;
        page?: string;
      };
      const page = await wr.list({
        compartmentId: q.compartmentId,
        id: q.id,
        resourceId: q.resourceId,
        operationType: q.operationType,
        operationTypes: OPERATION_TYPES,
        status: q.status,
        sortBy: q.sortBy ?? 'timeAccepted',
        // OCI's default: newest first by timeAccepted, ascending otherwise.
        sortOrder: q.sortOrder ?? ((q.sortBy ?? 'timeAccepted') === 'timeAccepted' ? 'DESC' : 'ASC'),
        limit: q.limit ?? 100,
        page: q.page,
      });
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(workRequestWire);
    },
  );
  for (const [kind, operationId, schema] of [
    ['errors', 'ListWorkRequestErrors', S.WorkRequestError],
    ['logs', 'ListWorkRequestLogs', S.WorkRequestLogEntry],
  ] as const) {
    app.get(
      `/workRequests/:workRequestId/${kind}`,
      { schema: { tags: ['workRequests'], operationId, params: IdParams, querystring: PageQuery, response: { 200: Type.Array(schema), ...errorResponses } } },
      async (req, reply) => {
        const q = req.query as { limit?: number; page?: string };
        const page = await wr.entries(req.params.workRequestId, kind, q.limit ?? 100, q.page);
        if (page.nextPage) reply.header('opc-next-page', page.nextPage);
        return page.items;
      },
    );
  }
  app.delete(
    '/workRequests/:workRequestId',
    { schema: { tags: ['workRequests'], operationId: 'CancelWorkRequest', params: IdParams } },
    async (req, reply) => {
      await wr.cancel(req.params.workRequestId, header(req, 'if-match'));
      reply.code(200).send();
    },
  );
}
