import { Type } from '@sinclair/typebox';
import type { App, ApiDeps } from '../app.js';
import { errorResponses, header, withEtag } from '../http.js';
import { runWire } from '../presenters.js';
import * as S from '../schemas.js';
import type { TriggerRuleRecord } from '../../store/automation-store.js';
import { creatorOf } from '../authorization.js';

const IdParams = Type.Object({ ruleId: Type.String() });

function ruleWire(r: TriggerRuleRecord, token?: string) {
  return {
    id: r.id,
    compartmentId: r.compartmentId,
    displayName: r.displayName,
    lifecycleState: r.lifecycleState,
    eventFilter: r.condition,
    jobId: r.jobId,
    projectId: r.projectId,
    overrides: r.overrides,
    triggerPath: `/20190101/triggerRules/${r.id}/actions/fire`,
    timeCreated: r.timeCreated,
    ...(token ? { triggerToken: token } : {}),
  };
}

export async function triggerRoutes(app: App, { triggers }: ApiDeps): Promise<void> {
  const tags = ['triggers'];
  app.post(
    '/triggerRules',
    {
      schema: {
        tags,
        operationId: 'CreateTriggerRule',
        description: 'dsjobs addition. The response carries the trigger URL token; it is not shown again.',
        body: S.CreateTriggerRuleDetails,
        response: { 200: S.TriggerRule, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { rule, token } = await triggers.create(req.body, creatorOf(req));
      withEtag(reply, rule);
      return ruleWire(rule, token);
    },
  );
  app.get(
    '/triggerRules',
    {
      schema: {
        tags,
        operationId: 'ListTriggerRules',
        querystring: S.PagedListQuery,
        response: { 200: Type.Array(S.TriggerRule), ...errorResponses },
      },
    },
    async (req, reply) => {
      const page = await triggers.list({ ...req.query, limit: req.query.limit ?? 100 });
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map((r) => ruleWire(r));
    },
  );
  app.get(
    '/triggerRules/:ruleId',
    { schema: { tags, operationId: 'GetTriggerRule', params: IdParams, response: { 200: S.TriggerRule, ...errorResponses } } },
    async (req, reply) => {
      const r = await triggers.get(req.params.ruleId);
      withEtag(reply, r);
      return ruleWire(r);
    },
  );
  app.put(
    '/triggerRules/:ruleId',
    { schema: { tags, operationId: 'UpdateTriggerRule', params: IdParams, body: S.UpdateTriggerRuleDetails, response: { 200: S.TriggerRule, ...errorResponses } } },
    async (req, reply) => {
      const r = await triggers.update(req.params.ruleId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, r);
      return ruleWire(r);
    },
  );
  for (const [action, state] of [['activate', 'ACTIVE'], ['deactivate', 'INACTIVE']] as const) {
    app.post(
      `/triggerRules/:ruleId/actions/${action}`,
      {
        schema: {
          tags,
          operationId: action === 'activate' ? 'ActivateTriggerRule' : 'DeactivateTriggerRule',
          params: IdParams,
          response: { 200: S.TriggerRule, ...errorResponses },
        },
      },
      async (req, reply) => {
        const r = await triggers.update(req.params.ruleId, { lifecycleState: state }, header(req, 'if-match'));
        withEtag(reply, r);
        return ruleWire(r);
      },
    );
  }
  app.delete(
    '/triggerRules/:ruleId',
    { schema: { tags, operationId: 'DeleteTriggerRule', params: IdParams } },
    async (req, reply) => {
      await triggers.update(req.params.ruleId, { lifecycleState: 'DELETED' }, header(req, 'if-match'));
      reply.code(204).send();
    },
  );
  app.post(
    '/triggerRules/:ruleId/actions/fire',
    {
      schema: {
        tags,
        operationId: 'FireTriggerRule',
        description:
          "Starts a run of the rule's job; no API key, the rule's token instead (authorization: Bearer <token> or " +
          'x-dsjobs-trigger-token). The JSON body, if any, is {{body.*}} in the templates. opc-retry-token makes retries safe.',
        params: IdParams,
        body: Type.Optional(Type.Unknown()),
        response: { 200: S.JobRun, ...errorResponses },
      },
    },
    async (req, reply) => {
      const auth = header(req, 'authorization');
      const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : header(req, 'x-dsjobs-trigger-token');
      const run = await triggers.fireByUrl(req.params.ruleId, token, req.body, header(req, 'opc-retry-token'));
      withEtag(reply, run);
      return runWire(run);
    },
  );
}
