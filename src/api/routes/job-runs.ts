import { createReadStream } from 'node:fs';
import { requesterOf } from '../authorization.js';
import { Type } from '@sinclair/typebox';
import type { App, ApiDeps } from '../app.js';
import { errorResponses, header, listQuery, withEtag } from '../http.js';
import { runSummaryWire, runWire } from '../presenters.js';
import * as S from '../schemas.js';
import { checkState } from './states.js';
import { RUN_STATES } from '../../domain/run-states.js';
import { DsError } from '../../domain/errors.js';

const IdParams = Type.Object({ jobRunId: Type.String() });

export async function runRoutes(app: App, deps: ApiDeps): Promise<void> {
  const { runs } = deps;
  app.post(
    '/jobRuns',
    { schema: { tags: ['jobRuns'], operationId: 'CreateJobRun', body: S.CreateJobRunDetails, response: { 200: S.JobRun, ...errorResponses } } },
    async (req, reply) => {
      const p = req.principal;
      const r = await runs.create(req.body, header(req, 'opc-retry-token'), {
        createdBy: requesterOf(req),
        startedByRun: p?.kind === 'run' ? p.runId : undefined,
      });
      withEtag(reply, r);
      return runWire(r);
    },
  );
  app.get(
    '/jobRuns',
    {
      schema: {
        tags: ['jobRuns'],
        operationId: 'ListJobRuns',
        querystring: Type.Intersect([S.ListQuery, Type.Object({ jobId: Type.Optional(Type.String()), createdBy: Type.Optional(Type.String()) })]),
        response: { 200: Type.Array(S.JobRunSummary), ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const page = await runs.list(
        listQuery(q, {
          job_id: q.jobId,
          display_name: q.displayName,
          lifecycle_state: checkState(q.lifecycleState, RUN_STATES),
          id: q.id,
          created_by: q.createdBy,
        }),
      );
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(runSummaryWire);
    },
  );
  app.get(
    '/jobRuns/:jobRunId',
    { schema: { tags: ['jobRuns'], operationId: 'GetJobRun', params: IdParams, response: { 200: S.JobRun, ...errorResponses } } },
    async (req, reply) => {
      const r = await runs.get(req.params.jobRunId);
      withEtag(reply, r);
      return runWire(r);
    },
  );
  app.put(
    '/jobRuns/:jobRunId',
    { schema: { tags: ['jobRuns'], operationId: 'UpdateJobRun', params: IdParams, body: S.UpdateJobRunDetails, response: { 200: S.JobRun, ...errorResponses } } },
    async (req, reply) => {
      const r = await runs.update(req.params.jobRunId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, r);
      return runWire(r);
    },
  );
  app.post(
    '/jobRuns/:jobRunId/actions/cancelJobRun',
    { schema: { tags: ['jobRuns'], operationId: 'CancelJobRun', params: IdParams } },
    async (req, reply) => {
      await runs.cancel(req.params.jobRunId, header(req, 'if-match'));
      reply.code(200).send();
    },
  );
  app.delete(
    '/jobRuns/:jobRunId',
    { schema: { tags: ['jobRuns'], operationId: 'DeleteJobRun', params: IdParams } },
    async (req, reply) => {
      await runs.delete(req.params.jobRunId, header(req, 'if-match'));
      reply.code(204).send();
    },
  );
  app.get(
    '/jobRuns/:jobRunId/logs',
    {
      schema: {
        tags: ['jobRuns'],
        operationId: 'GetJobRunLogs',
        description:
          'dsjobs addition: the run\'s stdout and stderr as NDJSON LogRecord lines. since=SEQ resumes after a record; follow=true keeps the response open until the run has ended and every line was sent.',
        params: IdParams,
        querystring: Type.Object({
          since: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
          follow: Type.Optional(Type.Boolean({ default: false })),
        }),
      },
    },
    async (req, reply) => {
      const q = req.query as { since?: number; follow?: boolean };
      const abort = new AbortController();
      req.raw.on('close', () => abort.abort());
      reply.raw.on('close', () => abort.abort());
      const stream = await runs.readLogs(req.params.jobRunId, q.since ?? 0, q.follow ?? false, abort.signal);
      reply.header('content-type', 'application/x-ndjson; charset=utf-8');
      reply.header('cache-control', 'no-store');
      // Send headers now so a follower sees the response begin before the first line exists.
      if (q.follow) reply.header('x-accel-buffering', 'no');
      return reply.send(stream);
    },
  );
  app.get(
    '/jobRuns/:jobRunId/notebook',
    {
      schema: {
        tags: ['jobRuns'],
        operationId: 'GetJobRunNotebook',
        description:
          "dsjobs addition: a notebook run's executed notebook (.ipynb JSON, with every cell's outputs; a cell that raised has metadata.dsjobs.failed), kept with the run from its end until it is deleted. 404 NotFound while it has none.",
        params: IdParams,
      },
    },
    async (req, reply) => {
      const file = await runs.executedNotebook(req.params.jobRunId);
      reply.header('content-type', 'application/x-ipynb+json');
      reply.header('cache-control', 'no-store');
      // The notebook holds whatever the run printed: never something a browser would render as a page.
      reply.header('x-content-type-options', 'nosniff');
      reply.header('content-disposition', 'attachment; filename="notebook.ipynb"');
      return reply.send(createReadStream(file));
    },
  );
  app.get(
    '/jobRuns/:jobRunId/metrics',
    {
      schema: {
        tags: ['jobRuns'],
        operationId: 'GetJobRunMetrics',
        description:
          "dsjobs addition: the run's resource use over time under OCI's metric names (percent of what its shape gives it), sampled every metricsIntervalMs. since= (ISO time) returns only later points.",
        params: IdParams,
        querystring: Type.Object({ since: Type.Optional(Type.String({ format: 'date-time' })) }),
        response: { 200: S.JobRunMetrics },
      },
    },
    async (req) => {
      const run = await runs.get(req.params.jobRunId);
      const q = req.query as { since?: string };
      const sinceMs = q.since ? Date.parse(q.since) : 0;
      if (Number.isNaN(sinceMs)) throw new DsError('InvalidParameter', `query since: must be an ISO 8601 time, got '${q.since}'`);
      const items = await deps.monitor.series(run.id, sinceMs);
      return {
        intervalSeconds: deps.monitor.intervalMs / 1000,
        collected: true,
        reason: run.timeStarted ? null : 'the run has not started yet',
        items,
      };
    },
  );
}
