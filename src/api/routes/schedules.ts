import { Type } from '@sinclair/typebox';
import type { App, ApiDeps } from '../app.js';
import { errorResponses, header, withEtag } from '../http.js';
import * as S from '../schemas.js';
import type { ScheduleRecord } from '../../store/automation-store.js';
import type { SchedulesService } from '../../service/schedules.js';
import { creatorOf } from '../authorization.js';

const IdParams = Type.Object({ scheduleId: Type.String() });

function scheduleWire(s: ScheduleRecord, svc: SchedulesService) {
  return {
    id: s.id,
    compartmentId: s.compartmentId,
    displayName: s.displayName,
    lifecycleState: s.lifecycleState,
    cron: s.cron,
    timeZone: s.timeZone,
    misfirePolicy: s.misfirePolicy,
    jobId: s.jobId,
    projectId: s.projectId,
    overrides: s.overrides,
    timeLastFire: new Date(s.lastFireMs).toISOString(),
    lastRunId: s.lastRunId,
    timeNextRuns: svc.nextFireTimes(s),
    timeCreated: s.timeCreated,
  };
}

export async function scheduleRoutes(app: App, { schedules }: ApiDeps): Promise<void> {
  const tags = ['schedules'];
  const wire = (s: ScheduleRecord) => scheduleWire(s, schedules);
  app.post(
    '/schedules',
    { schema: { tags, operationId: 'CreateSchedule', description: 'dsjobs addition: cron schedules that start runs of a job.', body: S.CreateScheduleDetails, response: { 200: S.Schedule, ...errorResponses } } },
    async (req, reply) => {
      const s = await schedules.create(req.body, creatorOf(req));
      withEtag(reply, s);
      return wire(s);
    },
  );
  app.get(
    '/schedules',
    {
      schema: {
        tags,
        operationId: 'ListSchedules',
        querystring: S.PagedListQuery,
        response: { 200: Type.Array(S.Schedule), ...errorResponses },
      },
    },
    async (req, reply) => {
      const page = await schedules.list({ ...req.query, limit: req.query.limit ?? 100 });
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(wire);
    },
  );
  app.get(
    '/schedules/:scheduleId',
    { schema: { tags, operationId: 'GetSchedule', params: IdParams, response: { 200: S.Schedule, ...errorResponses } } },
    async (req, reply) => {
      const s = await schedules.get(req.params.scheduleId);
      withEtag(reply, s);
      return wire(s);
    },
  );
  app.put(
    '/schedules/:scheduleId',
    { schema: { tags, operationId: 'UpdateSchedule', params: IdParams, body: S.UpdateScheduleDetails, response: { 200: S.Schedule, ...errorResponses } } },
    async (req, reply) => {
      const s = await schedules.update(req.params.scheduleId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, s);
      return wire(s);
    },
  );
  for (const [action, state] of [['activate', 'ACTIVE'], ['deactivate', 'INACTIVE']] as const) {
    app.post(
      `/schedules/:scheduleId/actions/${action}`,
      {
        schema: {
          tags,
          operationId: action === 'activate' ? 'ActivateSchedule' : 'DeactivateSchedule',
          params: IdParams,
          response: { 200: S.Schedule, ...errorResponses },
        },
      },
      async (req, reply) => {
        const s = await schedules.setState(req.params.scheduleId, state, header(req, 'if-match'));
        withEtag(reply, s);
        return wire(s);
      },
    );
  }
  app.delete('/schedules/:scheduleId', { schema: { tags, operationId: 'DeleteSchedule', params: IdParams } }, async (req, reply) => {
    await schedules.setState(req.params.scheduleId, 'DELETED', header(req, 'if-match'));
    reply.code(204).send();
  });
}
