import { requesterOf } from '../authorization.js';
import { Type } from '@sinclair/typebox';
import { Readable } from 'node:stream';
import { createReadStream, promises as fsp } from 'node:fs';
import type { App, ApiDeps } from '../app.js';
import { errorResponses, header, listQuery, withEtag } from '../http.js';
import { jobSummaryWire, jobWire } from '../presenters.js';
import * as S from '../schemas.js';
import { checkState } from './states.js';
import { DsError, notFound } from '../../domain/errors.js';
import type { JobRecord } from '../../store/records.js';

const IdParams = Type.Object({ jobId: Type.String() });

function artifactHeaders(job: JobRecord): Record<string, string> {
  const a = job.artifact!;
  return {
    'content-md5': a.md5,
    etag: Buffer.from(a.md5, 'base64').toString('hex'),
    // The header as the upload sent it, byte for byte (Terraform compares it with its configuration). Artifacts stored
    // before it was kept: RFC 6266, an ASCII fallback plus the exact name, percent-encoded.
    'content-disposition':
      a.contentDisposition ??
      `attachment; filename="${a.fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '\\$&')}"; filename*=UTF-8''${encodeURIComponent(a.fileName)}`,
    'last-modified': new Date(a.time).toUTCString(),
    'accept-ranges': 'bytes',
    'content-type': 'application/octet-stream',
  };
}

/** One RFC 7233 byte range; null means "serve the whole file", an error means 416. */
function parseRange(h: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!h) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m) return null; // several ranges or another unit: OCI serves one range; ignore what we don't support
  let start: number;
  let end: number;
  if (m[1] === '' && m[2] === '') return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export async function jobRoutes(app: App, { jobs, runs }: ApiDeps): Promise<void> {
  app.post(
    '/jobs',
    { schema: { tags: ['jobs'], operationId: 'CreateJob', body: S.CreateJobDetails, response: { 200: S.Job, ...errorResponses } } },
    async (req, reply) => {
      const j = await jobs.create(req.body, header(req, 'opc-retry-token'), requesterOf(req));
      withEtag(reply, j);
      return jobWire(jobs.present(j));
    },
  );
  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'ListJobs',
        querystring: Type.Intersect([S.ListQuery, Type.Object({ projectId: Type.Optional(Type.String()), createdBy: Type.Optional(Type.String()) })]),
        response: { 200: Type.Array(S.JobSummary), ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const page = await jobs.list(
        listQuery(q, {
          project_id: q.projectId,
          display_name: q.displayName,
          lifecycle_state: checkState(q.lifecycleState, ['CREATING', 'ACTIVE', 'DELETING', 'FAILED', 'DELETED']),
          id: q.id,
          created_by: q.createdBy,
        }),
      );
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(jobSummaryWire);
    },
  );
  app.get(
    '/jobs/:jobId',
    { schema: { tags: ['jobs'], operationId: 'GetJob', params: IdParams, response: { 200: S.Job, ...errorResponses } } },
    async (req, reply) => {
      const j = await jobs.get(req.params.jobId);
      withEtag(reply, j);
      return jobWire(jobs.present(j));
    },
  );
  app.put(
    '/jobs/:jobId',
    { schema: { tags: ['jobs'], operationId: 'UpdateJob', params: IdParams, body: S.UpdateJobDetails, response: { 200: S.Job, ...errorResponses } } },
    async (req, reply) => {
      const j = await jobs.update(req.params.jobId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, j);
      return jobWire(jobs.present(j));
    },
  );
  app.delete(
    '/jobs/:jobId',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'DeleteJob',
        params: IdParams,
        querystring: Type.Object({ deleteRelatedJobRuns: Type.Optional(Type.Boolean()) }),
      },
    },
    async (req, reply) => {
      const workRequestId = await jobs.delete(req.params.jobId, {
        ifMatch: header(req, 'if-match'),
        deleteRelatedJobRuns: req.query.deleteRelatedJobRuns,
        runs,
      });
      reply.code(202).header('opc-work-request-id', workRequestId).send();
    },
  );

  // The artifact body is raw bytes of any (or no) content type: this scope reads the request stream itself.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    raw.post(
      '/jobs/:jobId/artifact',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'CreateJobArtifact',
          params: IdParams,
          description: 'Body: the artifact bytes. content-disposition names the file (attachment; filename=train.py).',
        },
      },
      async (req, reply) => {
        const len = header(req, 'content-length');
        const j = await jobs.uploadArtifact((req.params as { jobId: string }).jobId, req.raw as unknown as Readable, {
          contentDisposition: header(req, 'content-disposition'),
          contentLength: len === undefined ? undefined : Number(len),
          retryToken: header(req, 'opc-retry-token'),
          ifMatch: header(req, 'if-match'),
        });
        withEtag(reply, j);
        reply.code(200).send();
      },
    );
  });

  const artifactOf = async (jobId: string) => {
    const job = await jobs.get(jobId);
    // A deleted job's artifact is gone (its bytes were freed with it), as in OCI.
    if (job.lifecycleState === 'DELETED') throw notFound('Job', jobId);
    if (!job.artifact) throw new DsError('NotAuthorizedOrNotFound', `Job ${jobId} has no artifact yet`);
    return job;
  };
  app.head(
    '/jobs/:jobId/artifact/content',
    { schema: { tags: ['jobs'], operationId: 'HeadJobArtifact', params: IdParams } },
    async (req, reply) => {
      const job = await artifactOf(req.params.jobId);
      reply.headers({ ...artifactHeaders(job), 'content-length': String(job.artifact!.size) });
      reply.code(200).send();
    },
  );
  app.get(
    '/jobs/:jobId/artifact/content',
    { schema: { tags: ['jobs'], operationId: 'GetJobArtifactContent', params: IdParams } },
    async (req, reply) => {
      const job = await artifactOf(req.params.jobId);
      const size = job.artifact!.size;
      const file = jobs.artifactPath(job);
      await fsp.access(file).catch(() => {
        throw new DsError('InternalServerError', `artifact file of job ${job.id} is missing on the server`);
      });
      reply.headers(artifactHeaders(job));
      const range = parseRange(header(req, 'range'), size);
      if (range === 'unsatisfiable') {
        return reply
          .code(416)
          .header('content-range', `bytes */${size}`)
          .header('content-type', 'application/json')
          .send({ code: 'InvalidParameter', message: `range: is not satisfiable for an artifact of ${size} bytes` });
      }
      if (range) {
        reply.code(206);
        reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`);
        reply.header('content-length', String(range.end - range.start + 1));
        return reply.send(createReadStream(file, { start: range.start, end: range.end }));
      }
      reply.header('content-length', String(size));
      return reply.send(createReadStream(file));
    },
  );
}
