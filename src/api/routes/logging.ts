import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import type { App } from '../app.js';
import { errorResponses, header, listOrder, withEtag } from '../http.js';
import { DefinedTags, FreeformTags, LIMITS, NO_CONTROL_CHARS, NO_CONTROL_CHARS_BUT_LINES, Ocid } from '../schemas.js';
import { LOGGING_OPERATION_TYPES, SEARCH_MAX_LIMIT, type LoggingService } from '../../service/logging.js';
import type { WorkRequestsService } from '../../service/work-requests.js';
import type { LogGroupRecord, LogRecord } from '../../store/logging-store.js';
import { workRequestWire } from '../presenters.js';
import { notFound } from '../../domain/errors.js';

const tags = ['logging'];
const DisplayName = Type.String({ minLength: 1, maxLength: LIMITS.displayNameChars, pattern: NO_CONTROL_CHARS });
const Description = Type.String({ maxLength: LIMITS.descriptionChars, pattern: NO_CONTROL_CHARS_BUT_LINES });
const GroupParams = Type.Object({ logGroupId: Type.String() });
const LogParams = Type.Object({ logGroupId: Type.String(), logId: Type.String() });
const ListQuery = {
  displayName: Type.Optional(Type.String()),
  page: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  sortBy: Type.Optional(Type.Union([Type.Literal('timeCreated'), Type.Literal('displayName')])),
  sortOrder: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
};
const Configuration = Type.Object(
  {
    compartmentId: Type.Optional(Type.String()),
    source: Type.Record(Type.String(), Type.Unknown()),
    archiving: Type.Optional(Type.Object({ isEnabled: Type.Optional(Type.Boolean()) })),
  },
  { additionalProperties: false },
);

/** OCI's LogGroup (LogGroupSummary has the same fields). */
export const logGroupWire = (g: LogGroupRecord) => ({
  id: g.id,
  compartmentId: g.compartmentId,
  displayName: g.displayName,
  description: g.description ?? undefined,
  lifecycleState: g.lifecycleState,
  freeformTags: g.freeformTags,
  definedTags: g.definedTags,
  timeCreated: g.timeCreated,
  timeLastModified: g.timeLastModified,
});

/** OCI's Log (and LogSummary). */
export const logWire = (l: LogRecord, tenancyId: string) => ({
  id: l.id,
  tenancyId,
  logGroupId: l.logGroupId,
  compartmentId: l.compartmentId,
  displayName: l.displayName,
  logType: l.logType,
  isEnabled: l.isEnabled,
  configuration: l.configuration ?? undefined,
  lifecycleState: l.lifecycleState,
  retentionDuration: l.retentionDuration,
  freeformTags: l.freeformTags,
  definedTags: l.definedTags,
  timeCreated: l.timeCreated,
  timeLastModified: l.timeLastModified,
});

/** Create, update and delete answer as OCI Logging does: 202, no body, the work request in opc-work-request-id. */
const accepted = (reply: FastifyReply, workRequestId: string) => reply.code(202).header('opc-work-request-id', workRequestId).send();

/** OCI Logging's management API (20200531) that the oci-logging SDK's LoggingManagementClient calls. */
export async function loggingManagementRoutes(app: App, logging: LoggingService, workRequests: WorkRequestsService, tenancyId: string): Promise<void> {
  app.post(
    '/logGroups',
    {
      schema: {
        tags,
        operationId: 'CreateLogGroup',
        body: Type.Object(
          {
            compartmentId: Ocid,
            displayName: DisplayName,
            description: Type.Optional(Description),
            freeformTags: Type.Optional(FreeformTags),
            definedTags: Type.Optional(DefinedTags),
          },
          { additionalProperties: false },
        ),
        response: errorResponses,
      },
    },
    async (req, reply) => accepted(reply, await logging.createGroup(req.body as never, header(req, 'opc-retry-token'))),
  );
  app.get(
    '/logGroups',
    {
      schema: {
        tags,
        operationId: 'ListLogGroups',
        querystring: Type.Object({ compartmentId: Type.String(), isCompartmentIdInSubtree: Type.Optional(Type.Boolean()), ...ListQuery }),
      },
    },
    async (req, reply) => {
      const q = req.query as { compartmentId: string; displayName?: string; page?: string; limit?: number; sortBy?: 'timeCreated' | 'displayName'; sortOrder?: 'ASC' | 'DESC' };
      const page = await logging.listGroups(q.compartmentId, { displayName: q.displayName, ...listOrder(q, 'timeCreated') });
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(logGroupWire);
    },
  );
  app.get('/logGroups/:logGroupId', { schema: { tags, operationId: 'GetLogGroup', params: GroupParams, response: errorResponses } }, async (req, reply) => {
    const g = await logging.getGroup(req.params.logGroupId);
    withEtag(reply, g);
    return logGroupWire(g);
  });
  app.put(
    '/logGroups/:logGroupId',
    {
      schema: {
        tags,
        operationId: 'UpdateLogGroup',
        params: GroupParams,
        body: Type.Object(
          {
            displayName: Type.Optional(DisplayName),
            description: Type.Optional(Description),
            freeformTags: Type.Optional(FreeformTags),
            definedTags: Type.Optional(DefinedTags),
          },
          { additionalProperties: false },
        ),
        response: errorResponses,
      },
    },
    async (req, reply) => accepted(reply, await logging.updateGroup(req.params.logGroupId, req.body as never, header(req, 'if-match'))),
  );
  app.delete('/logGroups/:logGroupId', { schema: { tags, operationId: 'DeleteLogGroup', params: GroupParams, response: errorResponses } }, async (req, reply) =>
    accepted(reply, await logging.deleteGroup(req.params.logGroupId, header(req, 'if-match'))),
  );

  app.post(
    '/logGroups/:logGroupId/logs',
    {
      schema: {
        tags,
        operationId: 'CreateLog',
        params: GroupParams,
        body: Type.Object(
          {
            displayName: DisplayName,
            logType: Type.Union([Type.Literal('CUSTOM'), Type.Literal('SERVICE')]),
            isEnabled: Type.Optional(Type.Boolean()),
            configuration: Type.Optional(Configuration),
            retentionDuration: Type.Optional(Type.Integer()),
            freeformTags: Type.Optional(FreeformTags),
            definedTags: Type.Optional(DefinedTags),
          },
          { additionalProperties: false },
        ),
        response: errorResponses,
      },
    },
    async (req, reply) => accepted(reply, await logging.createLog(req.params.logGroupId, req.body as never, header(req, 'opc-retry-token'))),
  );
  app.get(
    '/logGroups/:logGroupId/logs',
    {
      schema: {
        tags,
        operationId: 'ListLogs',
        params: GroupParams,
        querystring: Type.Object({
          logType: Type.Optional(Type.Union([Type.Literal('CUSTOM'), Type.Literal('SERVICE')])),
          sourceService: Type.Optional(Type.String()),
          sourceResource: Type.Optional(Type.String()),
          lifecycleState: Type.Optional(Type.String()),
          ...ListQuery,
        }),
      },
    },
    async (req, reply) => {
      const q = req.query as { displayName?: string; page?: string; limit?: number; sortBy?: 'timeCreated' | 'displayName'; sortOrder?: 'ASC' | 'DESC'; logType?: string; lifecycleState?: string };
      const page = await logging.listLogs(req.params.logGroupId, {
        displayName: q.displayName,
        logType: q.logType,
        lifecycleState: q.lifecycleState,
        ...listOrder(q, 'timeCreated'),
      });
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map((l) => logWire(l, tenancyId));
    },
  );
  app.get('/logGroups/:logGroupId/logs/:logId', { schema: { tags, operationId: 'GetLog', params: LogParams, response: errorResponses } }, async (req, reply) => {
    const l = await logging.getLog(req.params.logGroupId, req.params.logId);
    withEtag(reply, l);
    return logWire(l, tenancyId);
  });
  app.put(
    '/logGroups/:logGroupId/logs/:logId',
    {
      schema: {
        tags,
        operationId: 'UpdateLog',
        params: LogParams,
        body: Type.Object(
          {
            displayName: Type.Optional(DisplayName),
            isEnabled: Type.Optional(Type.Boolean()),
            retentionDuration: Type.Optional(Type.Integer()),
            freeformTags: Type.Optional(FreeformTags),
            definedTags: Type.Optional(DefinedTags),
          },
          { additionalProperties: false },
        ),
        response: errorResponses,
      },
    },
    async (req, reply) => accepted(reply, await logging.updateLog(req.params.logGroupId, req.params.logId, req.body as never, header(req, 'if-match'))),
  );
  app.delete('/logGroups/:logGroupId/logs/:logId', { schema: { tags, operationId: 'DeleteLog', params: LogParams, response: errorResponses } }, async (req, reply) =>
    accepted(reply, await logging.deleteLog(req.params.logGroupId, req.params.logId, header(req, 'if-match'))),
  );

  // Logging's own work requests (the oci-logging SDK's forWorkRequest waiter polls here); only Logging's operations.
  const loggingWorkRequest = async (id: string) => {
    const w = await workRequests.get(id);
    if (!LOGGING_OPERATION_TYPES.includes(w.operationType)) throw notFound('Work request', id);
    return w;
  };
  app.get(
    '/workRequests/:workRequestId',
    { schema: { tags, operationId: 'GetLoggingWorkRequest', params: Type.Object({ workRequestId: Type.String() }), response: errorResponses } },
    async (req) => workRequestWire(await loggingWorkRequest(req.params.workRequestId)),
  );
  app.get(
    '/workRequests',
    {
      schema: {
        tags,
        operationId: 'ListLoggingWorkRequests',
        querystring: Type.Object({ compartmentId: Type.String(), page: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
      },
    },
    async (req, reply) => {
      const q = req.query as { compartmentId: string; page?: string; limit?: number };
      const page = await workRequests.list({
        compartmentId: q.compartmentId,
        operationTypes: LOGGING_OPERATION_TYPES,
        sortBy: 'timeAccepted',
        sortOrder: 'DESC',
        limit: q.limit ?? 100,
        page: q.page,
      });
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(workRequestWire);
    },
  );
}

/** OCI Logging Search (20190909): SearchLogs, the oci-loggingsearch SDK's LogSearchClient.searchLogs. */
export async function logSearchRoutes(app: App, logging: LoggingService): Promise<void> {
  app.post(
    '/search',
    {
      schema: {
        tags,
        operationId: 'SearchLogs',
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: SEARCH_MAX_LIMIT })), page: Type.Optional(Type.String()) }),
        body: Type.Object(
          {
            timeStart: Type.String(),
            timeEnd: Type.String(),
            searchQuery: Type.String({ minLength: 1, maxLength: 10_000 }),
            isReturnFieldInfo: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const q = req.query as { limit?: number; page?: string };
      const body = req.body as { timeStart: string; timeEnd: string; searchQuery: string; isReturnFieldInfo?: boolean };
      const r = await logging.search(body, q.limit ?? 100, q.page);
      if (r.nextPage) reply.header('opc-next-page', r.nextPage);
      return {
        results: r.results,
        ...(body.isReturnFieldInfo ? { fields: [] } : {}),
        summary: { resultCount: r.results.length, fieldCount: 0 },
      };
    },
  );
}

/** OCI Logging Ingestion (20200831): PutLogs, the oci-loggingingestion SDK's LoggingClient.putLogs. */
export async function logIngestionRoutes(app: App, logging: LoggingService): Promise<void> {
  app.post(
    '/logs/:logId/actions/push',
    {
      schema: {
        tags,
        operationId: 'PutLogs',
        params: Type.Object({ logId: Type.String() }),
        body: Type.Object(
          {
            specversion: Type.String(),
            logEntryBatches: Type.Array(
              Type.Object(
                {
                  entries: Type.Array(
                    Type.Object({ data: Type.String(), id: Type.String(), time: Type.Optional(Type.String()) }, { additionalProperties: false }),
                    { maxItems: 10_000 },
                  ),
                  source: Type.String(),
                  type: Type.String(),
                  subject: Type.Optional(Type.String()),
                  defaultlogentrytime: Type.String(),
                },
                { additionalProperties: false },
              ),
              { maxItems: 1000 },
            ),
          },
          { additionalProperties: false },
        ),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      await logging.putLogs(req.params.logId, req.body as never);
      (reply as FastifyReply).code(200).send();
    },
  );
}
