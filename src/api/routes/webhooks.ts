import { Type } from '@sinclair/typebox';
import type { App, ApiDeps } from '../app.js';
import { errorResponses, header, withEtag } from '../http.js';
import * as S from '../schemas.js';
import type { DeliveryRecord, SubscriptionRecord } from '../../store/webhook-store.js';
import { creatorOf } from '../authorization.js';

const IdParams = Type.Object({ subscriptionId: Type.String() });

function subscriptionWire(s: SubscriptionRecord, withSecret = false) {
  return {
    id: s.id,
    compartmentId: s.compartmentId,
    displayName: s.displayName,
    url: s.url,
    filter: s.filter,
    lifecycleState: s.lifecycleState,
    timeCreated: s.timeCreated,
    ...(withSecret ? { secret: s.secret } : {}),
  };
}

function deliveryWire(d: DeliveryRecord) {
  return {
    id: d.id,
    subscriptionId: d.subscriptionId,
    eventId: d.eventId,
    status: d.status,
    attempts: d.attempts,
    timeNextAttempt: d.status === 'PENDING' && d.nextAttemptMs !== null ? new Date(d.nextAttemptMs).toISOString() : null,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    attemptLog: d.attemptLog,
    timeCreated: d.timeCreated,
    timeUpdated: d.timeUpdated,
  };
}

export async function webhookRoutes(app: App, { webhooks }: ApiDeps): Promise<void> {
  const tags = ['webhooks'];
  app.post(
    '/webhookSubscriptions',
    {
      schema: {
        tags,
        operationId: 'CreateWebhookSubscription',
        description: 'dsjobs addition. The response carries the signing secret; it is not shown again.',
        body: S.CreateWebhookSubscriptionDetails,
        response: { 200: S.WebhookSubscription, ...errorResponses },
      },
    },
    async (req, reply) => {
      const s = await webhooks.create(req.body, creatorOf(req));
      withEtag(reply, s);
      return subscriptionWire(s, true);
    },
  );
  app.get(
    '/webhookSubscriptions',
    {
      schema: {
        tags,
        operationId: 'ListWebhookSubscriptions',
        querystring: S.PagedListQuery,
        response: { 200: Type.Array(S.WebhookSubscription), ...errorResponses },
      },
    },
    async (req, reply) => {
      const page = await webhooks.list({ ...req.query, limit: req.query.limit ?? 100 });
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map((s) => subscriptionWire(s));
    },
  );
  app.get(
    '/webhookSubscriptions/:subscriptionId',
    { schema: { tags, operationId: 'GetWebhookSubscription', params: IdParams, response: { 200: S.WebhookSubscription, ...errorResponses } } },
    async (req, reply) => {
      const s = await webhooks.get(req.params.subscriptionId);
      withEtag(reply, s);
      return subscriptionWire(s);
    },
  );
  app.put(
    '/webhookSubscriptions/:subscriptionId',
    {
      schema: {
        tags,
        operationId: 'UpdateWebhookSubscription',
        params: IdParams,
        body: S.UpdateWebhookSubscriptionDetails,
        response: { 200: S.WebhookSubscription, ...errorResponses },
      },
    },
    async (req, reply) => {
      const s = await webhooks.update(req.params.subscriptionId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, s);
      return subscriptionWire(s);
    },
  );
  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/webhookSubscriptions/:subscriptionId/actions/${action}`,
      {
        schema: {
          tags,
          operationId: action === 'pause' ? 'PauseWebhookSubscription' : 'ResumeWebhookSubscription',
          params: IdParams,
          response: { 200: S.WebhookSubscription, ...errorResponses },
        },
      },
      async (req, reply) => {
        const s = await webhooks[action](req.params.subscriptionId, header(req, 'if-match'));
        withEtag(reply, s);
        return subscriptionWire(s);
      },
    );
  }
  app.post(
    '/webhookSubscriptions/:subscriptionId/actions/test',
    {
      schema: {
        tags,
        operationId: 'TestWebhookSubscription',
        description: 'Sends one signed io.dsjobs.webhooktest event now and returns what the target answered.',
        params: IdParams,
        response: { 200: S.WebhookTestResult, ...errorResponses },
      },
    },
    async (req) => webhooks.test(req.params.subscriptionId),
  );
  app.delete(
    '/webhookSubscriptions/:subscriptionId',
    { schema: { tags, operationId: 'DeleteWebhookSubscription', params: IdParams } },
    async (req, reply) => {
      await webhooks.delete(req.params.subscriptionId, header(req, 'if-match'));
      reply.code(204).send();
    },
  );
  app.get(
    '/webhookSubscriptions/:subscriptionId/deliveries',
    {
      schema: {
        tags,
        operationId: 'ListWebhookDeliveries',
        params: IdParams,
        querystring: Type.Object({
          status: Type.Optional(Type.Union([Type.Literal('PENDING'), Type.Literal('SUCCEEDED'), Type.Literal('FAILED')])),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          page: Type.Optional(Type.String()),
        }),
        response: { 200: Type.Array(S.WebhookDelivery), ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const page = await webhooks.deliveries(req.params.subscriptionId, { status: q.status, page: q.page, limit: q.limit ?? 100 });
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(deliveryWire);
    },
  );
}
