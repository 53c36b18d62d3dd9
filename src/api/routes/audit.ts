import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import { errorResponses } from '../http.js';
import type { AuditService } from '../../service/audit.js';

const Strings = Type.Record(Type.String(), Type.Array(Type.String()));

/** OCI Audit's AuditEvent (20190901), as the official oci-audit SDK reads it. */
export const AuditEvent = Type.Object(
  {
    eventType: Type.String(),
    cloudEventsVersion: Type.String(),
    eventTypeVersion: Type.String(),
    source: Type.String(),
    eventId: Type.String(),
    eventTime: Type.String({ format: 'date-time' }),
    contentType: Type.String(),
    data: Type.Object(
      {
        eventGroupingId: Type.Optional(Type.String()),
        eventName: Type.Optional(Type.String()),
        compartmentId: Type.Optional(Type.String()),
        compartmentName: Type.Optional(Type.String()),
        resourceName: Type.Optional(Type.String()),
        resourceId: Type.Optional(Type.String()),
        identity: Type.Optional(
          Type.Object({
            principalName: Type.Optional(Type.String()),
            principalId: Type.Optional(Type.String()),
            authType: Type.Optional(Type.String()),
            callerName: Type.Optional(Type.String()),
            callerId: Type.Optional(Type.String()),
            tenantId: Type.Optional(Type.String()),
            ipAddress: Type.Optional(Type.String()),
            credentials: Type.Optional(Type.String()),
            userAgent: Type.Optional(Type.String()),
            consoleSessionId: Type.Optional(Type.String()),
          }),
        ),
        request: Type.Optional(
          Type.Object({
            id: Type.Optional(Type.String()),
            path: Type.Optional(Type.String()),
            action: Type.Optional(Type.String()),
            parameters: Type.Optional(Strings),
            headers: Type.Optional(Strings),
          }),
        ),
        response: Type.Optional(
          Type.Object({
            status: Type.Optional(Type.String()),
            responseTime: Type.Optional(Type.String({ format: 'date-time' })),
            headers: Type.Optional(Strings),
            message: Type.Optional(Type.String()),
          }),
        ),
        additionalDetails: Type.Optional(
          Type.Object({
            result: Type.Optional(Type.String({ description: 'dsjobs: SUCCEEDED, FAILED, or DENIED (401, or refused by a policy)' })),
            errorCode: Type.Optional(Type.String()),
            principalType: Type.Optional(Type.String({ description: 'dsjobs: user, or run (a job run through its run principal)' })),
          }),
        ),
      },
      { additionalProperties: true },
    ),
  },
  { $id: 'AuditEvent' },
);

/** OCI Audit's ListEvents (GET /20190901/auditEvents), as the official oci-audit SDK calls it. */
export async function auditRoutes(app: App, audit: AuditService): Promise<void> {
  app.get(
    '/auditEvents',
    {
      schema: {
        tags: ['audit'],
        // OCI's name is ListEvents; Data Science's event feed already has that one, so policies know it apart by this.
        operationId: 'ListAuditEvents',
        description:
          "OCI Audit's ListEvents: the compartment's audit events received at or after startTime and before endTime (at most 366 days apart), oldest first. " +
          'dsjobs extensions: principalId (only the events of that user or run) and limit (events per page, default 100).',
        querystring: Type.Object({
          compartmentId: Type.String(),
          startTime: Type.Optional(Type.String()),
          endTime: Type.Optional(Type.String()),
          page: Type.Optional(Type.String()),
          principalId: Type.Optional(Type.String({ description: 'dsjobs extension: only the events of this principal (a user or job run OCID)' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'dsjobs extension: events per page (default 100)' })),
        }),
        response: { 200: Type.Array(AuditEvent), ...errorResponses },
      },
    },
    async (req, reply) => {
      const page = await audit.list(req.query);
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items;
    },
  );
}
