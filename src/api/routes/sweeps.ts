import { Type } from '@sinclair/typebox';
import type { App, ApiDeps } from '../app.js';
import { errorResponses, header, withEtag } from '../http.js';
import * as S from '../schemas.js';
import type { SweepRecord, TrialRecord } from '../../store/automation-store.js';
import { rankTrials } from '../../service/sweeps.js';
import { creatorOf } from '../authorization.js';

const IdParams = Type.Object({ sweepId: Type.String() });

function trialState(t: TrialRecord): string {
  if (t.state) return t.state;
  return t.runId ? 'RUNNING' : 'PENDING';
}

/** Trials in index order with their rank by the sweep's metric (1 = best). */
function trialsWire(s: SweepRecord, trials: TrialRecord[]) {
  const ranks = new Map<number, number>();
  rankTrials(trials, s.spec.metric).forEach((t, i) => {
    if (t.metrics?.[s.spec.metric.name] !== undefined) ranks.set(t.index, i + 1);
  });
  return trials.map((t) => ({
    index: t.index,
    parameters: t.params,
    jobRunId: t.runId,
    lifecycleState: trialState(t),
    metrics: t.metrics ?? {},
    rank: ranks.get(t.index) ?? null,
  }));
}

function sweepWire(s: SweepRecord, trials: TrialRecord[]) {
  const wired = trialsWire(s, trials);
  const counts: Record<string, number> = {};
  for (const t of wired) counts[t.lifecycleState] = (counts[t.lifecycleState] ?? 0) + 1;
  return {
    id: s.id,
    compartmentId: s.compartmentId,
    projectId: s.projectId,
    jobId: s.jobId,
    displayName: s.displayName,
    strategy: s.spec.strategy,
    parameters: { environmentVariables: s.spec.environmentVariables, ...(s.spec.commandLineArguments ? { commandLineArguments: s.spec.commandLineArguments } : {}) },
    sampleCount: s.spec.sampleCount ?? null,
    seed: s.spec.seed ?? null,
    maxParallel: s.maxParallel,
    metric: s.spec.metric,
    overrides: s.spec.overrides ?? {},
    final: s.spec.final ?? null,
    lifecycleState: s.lifecycleState,
    lifecycleDetails: s.lifecycleDetails,
    trialCount: trials.length,
    trialCounts: counts,
    best: wired.find((t) => t.rank === 1) ?? null,
    finalJobRunId: s.finalRunId,
    timeCreated: s.timeCreated,
    timeFinished: s.timeFinished,
  };
}

export async function sweepRoutes(app: App, { sweeps }: ApiDeps): Promise<void> {
  const tags = ['sweeps'];
  app.post(
    '/sweeps',
    {
      schema: {
        tags,
        operationId: 'CreateSweep',
        description: 'dsjobs addition: N runs of a job over a grid or random sample of parameters, at most maxParallel at a time.',
        body: S.CreateSweepDetails,
        response: { 200: S.Sweep, ...errorResponses },
      },
    },
    async (req, reply) => {
      const s = await sweeps.create(req.body, header(req, 'opc-retry-token'), creatorOf(req));
      withEtag(reply, s);
      return sweepWire(s, await sweeps.trials(s.id));
    },
  );
  app.get(
    '/sweeps',
    {
      schema: {
        tags,
        operationId: 'ListSweeps',
        querystring: Type.Intersect([S.PagedListQuery, Type.Object({ jobId: Type.Optional(Type.String()) })]),
        response: { 200: Type.Array(S.Sweep), ...errorResponses },
      },
    },
    async (req, reply) => {
      const page = await sweeps.list({ ...req.query, limit: req.query.limit ?? 100 });
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      const trials = await sweeps.trialsOf(page.items.map((s) => s.id));
      return page.items.map((s) => sweepWire(s, trials.get(s.id) ?? []));
    },
  );
  app.get(
    '/sweeps/:sweepId',
    { schema: { tags, operationId: 'GetSweep', params: IdParams, response: { 200: S.Sweep, ...errorResponses } } },
    async (req, reply) => {
      const s = await sweeps.get(req.params.sweepId);
      withEtag(reply, s);
      return sweepWire(s, await sweeps.trials(s.id));
    },
  );
  app.get(
    '/sweeps/:sweepId/trials',
    {
      schema: {
        tags,
        operationId: 'ListSweepTrials',
        params: IdParams,
        querystring: Type.Object({ sortBy: Type.Optional(Type.Union([Type.Literal('index'), Type.Literal('rank')])) }),
        response: { 200: Type.Array(S.SweepTrial), ...errorResponses },
      },
    },
    async (req) => {
      const s = await sweeps.get(req.params.sweepId);
      const wired = trialsWire(s, await sweeps.trials(s.id));
      if (req.query.sortBy === 'rank') wired.sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || a.index - b.index);
      return wired;
    },
  );
  app.post(
    '/sweeps/:sweepId/actions/cancel',
    { schema: { tags, operationId: 'CancelSweep', params: IdParams } },
    async (req, reply) => {
      await sweeps.cancel(req.params.sweepId, header(req, 'if-match'));
      reply.code(200).send();
    },
  );
}
