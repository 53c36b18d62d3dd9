import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { App } from '../app.js';
import { header } from '../http.js';
import { requesterOf } from '../authorization.js';
import { DefinedTags, FreeformTags } from '../schemas.js';
import { DsError, invalid, notFound } from '../../domain/errors.js';
import type { ObjectStorageService, Conditions } from '../../service/object-storage.js';
import type { ObjectPars, ParUse } from '../../service/object-pars.js';
import type { WorkRequestsService } from '../../service/work-requests.js';
import type { WorkRequestRecord } from '../../store/work-request-store.js';
import type { BucketRecord, ObjectHeaders, ObjectRecord, ParRecord, PartRecord, UploadRecord } from '../../store/object-store.js';

const tags = ['object-storage'];
const NsParams = Type.Object({ namespaceName: Type.String() });
const BucketParams = Type.Object({ namespaceName: Type.String(), bucketName: Type.String() });
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 }));
/** `fields`: the SDKs send a list as repeated parameters or comma-separated; both are read. */
const Fields = Type.Array(Type.String());
const Metadata = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 4096 }), { maxProperties: 100 });
const BucketName = Type.String({ minLength: 1, maxLength: 256 });
const BucketCompartment = Type.String({ minLength: 1, maxLength: 255 });
/** What CreateBucket and UpdateBucket both may set (the create adds the required name, compartment and tier). */
const BucketSettings = {
  metadata: Type.Optional(Metadata),
  publicAccessType: Type.Optional(Type.String()),
  objectEventsEnabled: Type.Optional(Type.Boolean()),
  freeformTags: Type.Optional(FreeformTags),
  definedTags: Type.Optional(DefinedTags),
  kmsKeyId: Type.Optional(Type.String()),
  versioning: Type.Optional(Type.String()),
  autoTiering: Type.Optional(Type.String()),
};
/** Object names are the rest of the path; the route's own `*` is not used (find-my-way decodes `%25` wrongly there). */
const ObjectParams = Type.Object({ namespaceName: Type.String(), bucketName: Type.String(), '*': Type.String() });

/** OCI's ListObjects fields, and those it answers when `fields` is not given (the name only). */
const OBJECT_FIELDS = ['name', 'size', 'etag', 'timeCreated', 'md5', 'timeModified', 'storageTier', 'archivalState'];

export const bucketWire = (b: BucketRecord, namespace: string, etag: string, usage?: { count: number; size: number }) => ({
  namespace,
  name: b.name,
  id: b.id,
  compartmentId: b.compartmentId,
  metadata: b.metadata,
  createdBy: b.createdBy,
  timeCreated: b.timeCreated,
  etag,
  publicAccessType: b.publicAccessType,
  storageTier: b.storageTier,
  objectEventsEnabled: false,
  freeformTags: b.freeformTags,
  definedTags: b.definedTags,
  versioning: 'Disabled',
  replicationEnabled: false,
  isReadOnly: false,
  approximateCount: usage?.count,
  approximateSize: usage?.size,
});

const bucketSummaryWire = (b: BucketRecord, namespace: string, etag: string) => ({
  namespace,
  name: b.name,
  compartmentId: b.compartmentId,
  createdBy: b.createdBy,
  timeCreated: b.timeCreated,
  etag,
  freeformTags: b.freeformTags,
  definedTags: b.definedTags,
});

const objectSummaryWire = (o: ObjectRecord, fields: Set<string>) => {
  const all: Record<string, unknown> = {
    name: o.name,
    size: o.size,
    etag: o.etag,
    timeCreated: o.timeCreated,
    md5: o.multipartMd5 ?? o.md5,
    timeModified: o.timeModified,
    storageTier: 'Standard',
  };
  return Object.fromEntries(Object.entries(all).filter(([k]) => fields.has(k)));
};

const uploadWire = (u: UploadRecord, namespace: string) => ({
  namespace,
  bucket: u.bucket,
  object: u.object,
  uploadId: u.uploadId,
  timeCreated: u.timeCreated,
  storageTier: 'Standard',
});

const partWire = (p: PartRecord) => ({ etag: p.etag, md5: p.md5, size: p.size, partNumber: p.partNum });

const parWire = (p: ParRecord) => ({
  id: p.id,
  name: p.name,
  objectName: p.objectName ?? undefined,
  bucketListingAction: p.bucketListingAction,
  accessType: p.accessType,
  timeExpires: p.timeExpires,
  timeCreated: p.timeCreated,
});

/** The object name: the path after `/o/` or `/u/` (segment `at` on), percent-decoded as the SDK encodes it. */
function objectNameOf(req: FastifyRequest, at: number): string {
  const segments = req.raw.url!.split('?')[0].split('/');
  const raw = segments.slice(at).join('/');
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalid('objectName', 'is not a valid percent-encoded path');
  }
}

/** Paths: /n/{ns}/b/{bucket}/o/{object...} -> the object starts at segment 6. */
const OBJECT_AT = 6;
/** PAR paths: /p/{token}/n/{ns}/b/{bucket}/o/{object...} -> segment 8. */
const PAR_OBJECT_AT = 8;

const conditionsOf = (req: FastifyRequest): Conditions => ({ ifMatch: header(req, 'if-match'), ifNoneMatch: header(req, 'if-none-match') });

/** The object headers of a put (or CreateMultipartUpload's details): content-* and opc-meta-*. */
function objectHeadersOf(req: FastifyRequest): ObjectHeaders {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('opc-meta-') && typeof v === 'string') metadata[k.slice('opc-meta-'.length)] = v;
  return {
    contentType: header(req, 'content-type') ?? 'application/octet-stream',
    contentLanguage: header(req, 'content-language') ?? null,
    contentEncoding: header(req, 'content-encoding') ?? null,
    contentDisposition: header(req, 'content-disposition') ?? null,
    cacheControl: header(req, 'cache-control') ?? null,
    metadata,
  };
}

/** content-md5 (or OCI's opc-content-md5) and content-length: the checks a streamed body must pass. */
function writeChecksOf(req: FastifyRequest) {
  const md5 = header(req, 'content-md5') ?? header(req, 'opc-content-md5');
  const len = header(req, 'content-length');
  if (md5 !== undefined && !/^[A-Za-z0-9+/]{22}==$/.test(md5)) throw invalid('content-md5', 'must be the base64 MD5 of the body (24 characters)');
  return { expectedMd5: md5, expectedSize: len === undefined ? undefined : Number(len) };
}

function objectResponseHeaders(reply: FastifyReply, o: ObjectRecord): void {
  reply.header('etag', o.etag);
  reply.header('last-modified', new Date(o.timeModified).toUTCString());
  reply.header('content-type', o.contentType);
  reply.header('accept-ranges', 'bytes');
  reply.header('storage-tier', 'Standard');
  if (o.multipartMd5) reply.header('opc-multipart-md5', o.multipartMd5);
  else reply.header('content-md5', o.md5);
  if (o.contentLanguage) reply.header('content-language', o.contentLanguage);
  if (o.contentEncoding) reply.header('content-encoding', o.contentEncoding);
  if (o.contentDisposition) reply.header('content-disposition', o.contentDisposition);
  if (o.cacheControl) reply.header('cache-control', o.cacheControl);
  for (const [k, v] of Object.entries(o.metadata)) reply.header(`opc-meta-${k}`, v);
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range): inclusive bounds, null for none, 'unsatisfiable'. */
export function parseRange(h: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (h === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw invalid('range', "must be one range 'bytes=<first>-<last>', 'bytes=<first>-' or 'bytes=-<suffix length>'");
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/**
 * GET and HEAD of an object: conditions (if-match: 412; if-none-match matching: 304), ranges (206, or 416 with
 * the size), the bytes streamed from an open file of the version read.
 */
async function sendObject(os: ObjectStorageService, req: FastifyRequest, reply: FastifyReply, bucket: string, name: string, head: boolean) {
  const c = conditionsOf(req);
  if (head) {
    const o = await os.headObject(bucket, name);
    if (notModified(reply, o, c)) return reply.send();
    objectResponseHeaders(reply, o);
    reply.header('content-length', String(o.size));
    return reply.code(200).send();
  }
  const { object: o, file } = await os.openObject(bucket, name);
  try {
    if (notModified(reply, o, c)) {
      await file.close();
      return reply.send();
    }
    const range = parseRange(header(req, 'range'), o.size);
    objectResponseHeaders(reply, o);
    if (range === 'unsatisfiable') {
      await file.close();
      return reply
        .code(416)
        .header('content-range', `bytes */${o.size}`)
        .header('content-type', 'application/json')
        .send({ code: 'InvalidRange', message: `range: is not satisfiable for an object of ${o.size} bytes` });
    }
    const start = range ? range.start : 0;
    const end = range ? range.end : o.size - 1;
    if (range) {
      reply.code(206).header('content-range', `bytes ${start}-${end}/${o.size}`);
    }
    reply.header('content-length', String(Math.max(0, end - start + 1)));
    if (o.size === 0) {
      await file.close();
      return reply.send('');
    }
    return reply.send(file.createReadStream({ start, end, highWaterMark: 1 << 20 }));
  } catch (e) {
    await file.close().catch(() => undefined);
    throw e;
  }
}

function notModified(reply: FastifyReply, o: ObjectRecord, c: Conditions): boolean {
  if (c.ifMatch !== undefined) {
    const want = c.ifMatch.replace(/^"|"$/g, '');
    if (want !== '*' && want !== o.etag) throw new DsError('IfMatchFailed', `The if-match header ${c.ifMatch.slice(0, 100)} does not match the object's etag`);
  }
  if (c.ifNoneMatch !== undefined) {
    const want = c.ifNoneMatch.replace(/^"|"$/g, '');
    if (want === '*' || want === o.etag) {
      reply.code(304).header('etag', o.etag);
      return true;
    }
  }
  return false;
}

/** `page` of the lists served by offset (uploads, parts, PARs): a non-negative integer as opc-next-page gave it. */
function offsetOf(page: string | undefined): number {
  if (page === undefined) return 0;
  if (!/^\d{1,9}$/.test(page)) throw invalid('page', 'is not a page token returned by this server (opc-next-page)');
  return Number(page);
}

function paged<T>(reply: FastifyReply, items: T[], limit: number, offset: number): T[] {
  if (items.length > limit) {
    items.pop();
    reply.header('opc-next-page', String(offset + limit));
  }
  return items;
}

/** OCI Object Storage (`/n/...`) for the oci-objectstorage SDK, unmodified (docs/object-storage.md). */
export async function objectStorageRoutes(app: App, os: ObjectStorageService, pars: ObjectPars, workRequests: WorkRequestsService): Promise<void> {
  const bucketOf = async (req: FastifyRequest) => {
    const p = req.params as { namespaceName: string; bucketName: string };
    os.checkNamespace(p.namespaceName);
    return p.bucketName;
  };

  // The SDK reads the answer as JSON: a JSON string.
  app.get('/n', { schema: { tags, operationId: 'GetNamespace' } }, async (_req, reply) => reply.type('application/json').send(JSON.stringify(os.namespace)));
  app.get('/n/:namespaceName', { schema: { tags, operationId: 'GetNamespaceMetadata', params: NsParams } }, async (req) => {
    os.checkNamespace(req.params.namespaceName);
    return { namespace: os.namespace, defaultS3CompartmentId: null, defaultSwiftCompartmentId: null };
  });

  // ---------------------------------------------------------------- buckets
  app.post(
    '/n/:namespaceName/b',
    {
      schema: {
        tags,
        operationId: 'CreateBucket',
        params: NsParams,
        body: Type.Object(
          {
            name: BucketName,
            compartmentId: BucketCompartment,
            storageTier: Type.Optional(Type.String()),
            ...BucketSettings,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      os.checkNamespace(req.params.namespaceName);
      const body = req.body;
      refuseUnserved(body);
      const b = await os.createBucket(body, requesterOf(req));
      const etag = os.bucketEtag(b);
      reply.header('etag', etag).header('location', `/n/${os.namespace}/b/${b.name}`);
      return bucketWire(b, os.namespace, etag);
    },
  );
  app.get(
    '/n/:namespaceName/b',
    {
      schema: {
        tags,
        operationId: 'ListBuckets',
        params: NsParams,
        querystring: Type.Object({ compartmentId: Type.String(), limit: Limit, page: Type.Optional(Type.String()), fields: Type.Optional(Fields) }),
      },
    },
    async (req, reply) => {
      os.checkNamespace(req.params.namespaceName);
      const q = req.query as { compartmentId: string; limit?: number; page?: string };
      const page = await os.listBuckets(q.compartmentId, q.limit ?? 1000, q.page);
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map((b) => bucketSummaryWire(b, os.namespace, os.bucketEtag(b)));
    },
  );
  app.head('/n/:namespaceName/b/:bucketName', { schema: { tags, operationId: 'HeadBucket', params: BucketParams } }, async (req, reply) => {
    const b = await os.getBucket(await bucketOf(req));
    const etag = os.bucketEtag(b);
    if (header(req, 'if-none-match') === etag) return reply.code(304).header('etag', etag).send();
    return reply.header('etag', etag).code(200).send();
  });
  app.get(
    '/n/:namespaceName/b/:bucketName',
    { schema: { tags, operationId: 'GetBucket', params: BucketParams, querystring: Type.Object({ fields: Type.Optional(Fields) }) } },
    async (req, reply) => {
      const b = await os.getBucket(await bucketOf(req));
      const etag = os.bucketEtag(b);
      reply.header('etag', etag);
      const fields = new Set(((req.query as { fields?: string[] }).fields ?? []).flatMap((f) => f.split(',')).map((f) => f.trim()));
      const usage = fields.has('approximateCount') || fields.has('approximateSize') ? await os.usage(b.name) : undefined;
      return bucketWire(b, os.namespace, etag, usage);
    },
  );
  app.post(
    '/n/:namespaceName/b/:bucketName',
    {
      schema: {
        tags,
        operationId: 'UpdateBucket',
        params: BucketParams,
        body: Type.Object(
          {
            namespace: Type.Optional(Type.String()),
            name: Type.Optional(BucketName),
            compartmentId: Type.Optional(BucketCompartment),
            ...BucketSettings,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const name = await bucketOf(req);
      const body = req.body;
      refuseUnserved(body);
      const b = await os.updateBucket(name, body, header(req, 'if-match'));
      const etag = os.bucketEtag(b);
      reply.header('etag', etag);
      return bucketWire(b, os.namespace, etag);
    },
  );
  app.delete('/n/:namespaceName/b/:bucketName', { schema: { tags, operationId: 'DeleteBucket', params: BucketParams } }, async (req, reply) => {
    await os.deleteBucket(await bucketOf(req), header(req, 'if-match'));
    return reply.code(204).send();
  });

  // ---------------------------------------------------------------- objects
  app.get(
    '/n/:namespaceName/b/:bucketName/o',
    {
      schema: {
        tags,
        operationId: 'ListObjects',
        params: BucketParams,
        querystring: Type.Object({
          prefix: Type.Optional(Type.String()),
          start: Type.Optional(Type.String()),
          startAfter: Type.Optional(Type.String()),
          end: Type.Optional(Type.String()),
          limit: Limit,
          delimiter: Type.Optional(Type.String()),
          fields: Type.Optional(Type.String()),
        }),
      },
    },
    async (req) => listObjects(os, await bucketOf(req), req.query as ListQueryWire),
  );
  app.head('/n/:namespaceName/b/:bucketName/o/*', { schema: { tags, operationId: 'HeadObject', params: ObjectParams } }, async (req, reply) =>
    sendObject(os, req, reply, await bucketOf(req), objectNameOf(req, OBJECT_AT), true),
  );
  app.get('/n/:namespaceName/b/:bucketName/o/*', { schema: { tags, operationId: 'GetObject', params: ObjectParams } }, async (req, reply) =>
    sendObject(os, req, reply, await bucketOf(req), objectNameOf(req, OBJECT_AT), false),
  );
  app.delete('/n/:namespaceName/b/:bucketName/o/*', { schema: { tags, operationId: 'DeleteObject', params: ObjectParams } }, async (req, reply) => {
    await os.deleteObject(await bucketOf(req), objectNameOf(req, OBJECT_AT), header(req, 'if-match'));
    reply.header('last-modified', new Date().toUTCString());
    return reply.code(204).send();
  });
  app.post(
    '/n/:namespaceName/b/:bucketName/actions/renameObject',
    {
      schema: {
        tags,
        operationId: 'RenameObject',
        params: BucketParams,
        body: Type.Object(
          {
            sourceName: Type.String({ minLength: 1 }),
            newName: Type.String({ minLength: 1 }),
            srcObjIfMatchETag: Type.Optional(Type.String()),
            newObjIfMatchETag: Type.Optional(Type.String()),
            newObjIfNoneMatchETag: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const o = await os.renameObject(await bucketOf(req), req.body);
      reply.header('etag', o.etag).header('last-modified', new Date(o.timeModified).toUTCString());
      return reply.code(200).send();
    },
  );
  app.post(
    '/n/:namespaceName/b/:bucketName/actions/copyObject',
    {
      schema: {
        tags,
        operationId: 'CopyObject',
        params: BucketParams,
        body: Type.Object(
          {
            sourceObjectName: Type.String({ minLength: 1 }),
            sourceObjectIfMatchETag: Type.Optional(Type.String()),
            sourceVersionId: Type.Optional(Type.String()),
            destinationRegion: Type.String(),
            destinationNamespace: Type.String(),
            destinationBucket: Type.String(),
            destinationObjectName: Type.String({ minLength: 1 }),
            destinationObjectIfMatchETag: Type.Optional(Type.String()),
            destinationObjectIfNoneMatchETag: Type.Optional(Type.String()),
            destinationObjectMetadata: Type.Optional(Metadata),
            destinationObjectStorageTier: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const source = await bucketOf(req);
      const o = await os.copyObject(source, req.body);
      // OCI copies asynchronously and names a work request to follow with GetWorkRequest; here the copy is done when
      // answered (a shared file), so its work request is recorded COMPLETED.
      const w = await workRequests.recordDone({
        operationType: COPY_OBJECT,
        compartmentId: (await os.getBucket(source)).compartmentId,
        resources: [
          { actionType: 'RELATED', entityType: 'object', identifier: req.body.sourceObjectName, entityUri: `/n/${os.namespace}/b/${source}/o/${encodeURIComponent(req.body.sourceObjectName)}` },
          { actionType: 'CREATED', entityType: 'object', identifier: o.name, entityUri: `/n/${os.namespace}/b/${o.bucket}/o/${encodeURIComponent(o.name)}` },
        ],
        log: `copied ${source}/${req.body.sourceObjectName} to ${o.bucket}/${o.name} (${o.size} bytes)`,
      });
      reply.header('opc-work-request-id', w.id);
      return reply.code(202).send();
    },
  );
  // Object Storage's own work requests (its API has no version prefix: /workRequests, beside Data Science's
  // /20190101/workRequests and Logging's /20200531/workRequests), in the oci-objectstorage SDK's WorkRequest model.
  app.get(
    '/workRequests/:workRequestId',
    { schema: { tags, operationId: 'GetObjectStorageWorkRequest', params: Type.Object({ workRequestId: Type.String() }) } },
    async (req) => {
      const w = await workRequests.get(req.params.workRequestId);
      if (w.operationType !== COPY_OBJECT) throw notFound('Work request', w.id);
      return objectStorageWorkRequestWire(w, os.namespace);
    },
  );

  // ---------------------------------------------------------------- multipart uploads
  app.post(
    '/n/:namespaceName/b/:bucketName/u',
    {
      schema: {
        tags,
        operationId: 'CreateMultipartUpload',
        params: BucketParams,
        body: Type.Object(
          {
            object: Type.String({ minLength: 1 }),
            contentType: Type.Optional(Type.String()),
            contentLanguage: Type.Optional(Type.String()),
            contentEncoding: Type.Optional(Type.String()),
            contentDisposition: Type.Optional(Type.String()),
            cacheControl: Type.Optional(Type.String()),
            storageTier: Type.Optional(Type.String()),
            metadata: Type.Optional(Metadata),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const d = req.body;
      const metadata = Object.fromEntries(Object.entries((d.metadata ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase().replace(/^opc-meta-/, ''), v]));
      const u = await os.createUpload(
        await bucketOf(req),
        d.object,
        {
          contentType: d.contentType ?? 'application/octet-stream',
          contentLanguage: d.contentLanguage ?? null,
          contentEncoding: d.contentEncoding ?? null,
          contentDisposition: d.contentDisposition ?? null,
          cacheControl: d.cacheControl ?? null,
          metadata,
        },
        conditionsOf(req),
      );
      return uploadWire(u, os.namespace);
    },
  );
  app.get(
    '/n/:namespaceName/b/:bucketName/u',
    { schema: { tags, operationId: 'ListMultipartUploads', params: BucketParams, querystring: Type.Object({ limit: Limit, page: Type.Optional(Type.String()) }) } },
    async (req, reply) => {
      const q = req.query as { limit?: number; page?: string };
      const limit = q.limit ?? 1000;
      const offset = offsetOf(q.page);
      return paged(reply, await os.listUploads(await bucketOf(req), limit + 1, offset), limit, offset).map((u) => uploadWire(u, os.namespace));
    },
  );
  const UploadQuery = Type.Object({ uploadId: Type.String({ minLength: 1 }), limit: Limit, page: Type.Optional(Type.String()) });
  app.get('/n/:namespaceName/b/:bucketName/u/*', { schema: { tags, operationId: 'ListMultipartUploadParts', params: ObjectParams, querystring: UploadQuery } }, async (req, reply) => {
    const q = req.query as { uploadId: string; limit?: number; page?: string };
    const limit = q.limit ?? 1000;
    const offset = offsetOf(q.page);
    const parts = await os.listParts(await bucketOf(req), objectNameOf(req, OBJECT_AT), q.uploadId, limit + 1, offset);
    return paged(reply, parts, limit, offset).map(partWire);
  });
  app.post(
    '/n/:namespaceName/b/:bucketName/u/*',
    {
      schema: {
        tags,
        operationId: 'CommitMultipartUpload',
        params: ObjectParams,
        querystring: Type.Object({ uploadId: Type.String({ minLength: 1 }) }),
        body: Type.Object(
          {
            partsToCommit: Type.Array(Type.Object({ partNum: Type.Integer({ minimum: 1, maximum: 10_000 }), etag: Type.String() }), { maxItems: 10_000 }),
            partsToExclude: Type.Optional(Type.Array(Type.Integer())),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const o = await os.commitUpload(await bucketOf(req), objectNameOf(req, OBJECT_AT), (req.query as { uploadId: string }).uploadId, req.body, conditionsOf(req));
      reply.header('etag', o.etag).header('opc-multipart-md5', o.multipartMd5!).header('last-modified', new Date(o.timeModified).toUTCString());
      return reply.code(200).send();
    },
  );
  app.delete(
    '/n/:namespaceName/b/:bucketName/u/*',
    { schema: { tags, operationId: 'AbortMultipartUpload', params: ObjectParams, querystring: Type.Object({ uploadId: Type.String({ minLength: 1 }) }) } },
    async (req, reply) => {
      await os.abortUpload(await bucketOf(req), objectNameOf(req, OBJECT_AT), (req.query as { uploadId: string }).uploadId);
      return reply.code(204).send();
    },
  );

  // ---------------------------------------------------------------- pre-authenticated requests
  app.post(
    '/n/:namespaceName/b/:bucketName/p',
    {
      schema: {
        tags,
        operationId: 'CreatePreauthenticatedRequest',
        params: BucketParams,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 255 }),
            accessType: Type.String(),
            timeExpires: Type.String(),
            objectName: Type.Optional(Type.String()),
            bucketListingAction: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { par, accessUri } = await pars.create(await bucketOf(req), req.body);
      const host = req.headers.host;
      return { ...parWire(par), accessUri, fullPath: host ? `${req.protocol}://${host}${accessUri}` : undefined };
    },
  );
  app.get(
    '/n/:namespaceName/b/:bucketName/p',
    {
      schema: {
        tags,
        operationId: 'ListPreauthenticatedRequests',
        params: BucketParams,
        querystring: Type.Object({ objectNamePrefix: Type.Optional(Type.String()), limit: Limit, page: Type.Optional(Type.String()) }),
      },
    },
    async (req, reply) => {
      const q = req.query as { objectNamePrefix?: string; limit?: number; page?: string };
      const limit = q.limit ?? 1000;
      const offset = offsetOf(q.page);
      return paged(reply, await pars.list(await bucketOf(req), limit + 1, offset, q.objectNamePrefix), limit, offset).map(parWire);
    },
  );
  const ParParams = Type.Object({ namespaceName: Type.String(), bucketName: Type.String(), parId: Type.String() });
  app.get('/n/:namespaceName/b/:bucketName/p/:parId', { schema: { tags, operationId: 'GetPreauthenticatedRequest', params: ParParams } }, async (req) =>
    parWire(await pars.get(await bucketOf(req), req.params.parId)),
  );
  app.delete('/n/:namespaceName/b/:bucketName/p/:parId', { schema: { tags, operationId: 'DeletePreauthenticatedRequest', params: ParParams } }, async (req, reply) => {
    await pars.delete(await bucketOf(req), req.params.parId);
    return reply.code(204).send();
  });

  // Using a PAR: no signature, the secret in the path is the credential (PUBLIC_ROUTES in app.ts).
  const ParUseParams = Type.Object({ token: Type.String(), namespaceName: Type.String(), bucketName: Type.String(), '*': Type.String() });
  const viaPar = async (req: FastifyRequest, use: ParUse) => {
    const p = req.params as { token: string; namespaceName: string; bucketName: string };
    const name = objectNameOf(req, PAR_OBJECT_AT);
    const listing = use === 'read' && name === '';
    await pars.authorize(p.token, p.namespaceName, p.bucketName, listing ? null : name, listing ? 'list' : use);
    return { bucket: p.bucketName, name, listing };
  };
  app.head('/p/:token/n/:namespaceName/b/:bucketName/o/*', { schema: { tags, operationId: 'HeadObjectWithPar', params: ParUseParams, hide: true } }, async (req, reply) => {
    const t = await viaPar(req, 'read');
    return sendObject(os, req, reply, t.bucket, t.name, true);
  });
  app.get(
    '/p/:token/n/:namespaceName/b/:bucketName/o/*',
    { schema: { tags, operationId: 'GetObjectWithPar', params: ParUseParams, hide: true, querystring: Type.Object({}, { additionalProperties: true }) } },
    async (req, reply) => {
      const t = await viaPar(req, 'read');
      if (t.listing) return listObjects(os, t.bucket, req.query as ListQueryWire);
      return sendObject(os, req, reply, t.bucket, t.name, false);
    },
  );

  // Object and part bodies are raw bytes of any content type, streamed to disk: this scope parses no body at all
  // (fastify's JSON body limit does not apply; a 100 MB object is never held in memory).
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    raw.put('/n/:namespaceName/b/:bucketName/o/*', { schema: { tags, operationId: 'PutObject', params: ObjectParams } }, async (req, reply) => {
      const bucket = await bucketOf(req);
      const o = await os.putObject(bucket, objectNameOf(req, OBJECT_AT), req.raw as unknown as Readable, { ...conditionsOf(req), ...writeChecksOf(req), headers: objectHeadersOf(req) });
      return putAnswer(reply, o);
    });
    raw.put(
      '/n/:namespaceName/b/:bucketName/u/*',
      {
        schema: {
          tags,
          operationId: 'UploadPart',
          params: ObjectParams,
          querystring: Type.Object({ uploadId: Type.String({ minLength: 1 }), uploadPartNum: Type.Integer() }),
        },
      },
      async (req, reply) => {
        const q = req.query as { uploadId: string; uploadPartNum: number };
        const p = await os.uploadPart(await bucketOf(req), objectNameOf(req, OBJECT_AT), q.uploadId, q.uploadPartNum, req.raw as unknown as Readable, writeChecksOf(req));
        reply.header('etag', p.etag).header('opc-content-md5', p.md5);
        return reply.code(200).send();
      },
    );
    raw.put('/p/:token/n/:namespaceName/b/:bucketName/o/*', { schema: { tags, operationId: 'PutObjectWithPar', params: ParUseParams, hide: true } }, async (req, reply) => {
      const t = await viaPar(req, 'write');
      if (t.name === '') throw invalid('objectName', 'is required: put to .../o/<object name>');
      const o = await os.putObject(t.bucket, t.name, req.raw as unknown as Readable, { ...conditionsOf(req), ...writeChecksOf(req), headers: objectHeadersOf(req) });
      return putAnswer(reply, o);
    });
  });
}

function putAnswer(reply: FastifyReply, o: ObjectRecord) {
  reply.header('etag', o.etag).header('opc-content-md5', o.md5).header('last-modified', new Date(o.timeModified).toUTCString());
  return reply.code(200).send();
}

interface ListQueryWire {
  prefix?: string;
  start?: string;
  startAfter?: string;
  end?: string;
  limit?: number | string;
  delimiter?: string;
  fields?: string;
}

async function listObjects(os: ObjectStorageService, bucket: string, q: ListQueryWire) {
  if (q.delimiter !== undefined && q.delimiter !== '/') throw invalid('delimiter', "only '/' is supported (as OCI)");
  const limit = q.limit === undefined ? 1000 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid('limit', 'must be an integer from 1 to 1000');
  const fields = new Set(['name', ...(q.fields ?? '').split(',').map((f) => f.trim()).filter(Boolean)]);
  for (const f of fields) if (!OBJECT_FIELDS.includes(f)) throw invalid('fields', `'${f.slice(0, 50)}' is not one of ${OBJECT_FIELDS.join(', ')}`);
  const start = q.startAfter !== undefined ? (q.start !== undefined && q.start > q.startAfter ? q.start : q.startAfter + '\0') : q.start;
  const page = await os.listObjects(bucket, { prefix: q.prefix, start, end: q.end, delimiter: q.delimiter, limit });
  return {
    objects: page.objects.map((o) => objectSummaryWire(o as ObjectRecord, fields)),
    prefixes: page.prefixes,
    nextStartWith: page.nextStartWith,
  };
}

/** CreateBucket / UpdateBucket fields OCI has that dsjobs does not serve: refused unless they ask for the default. */
function refuseUnserved(body: { kmsKeyId?: string; objectEventsEnabled?: boolean; versioning?: string; autoTiering?: string }): void {
  if (body.kmsKeyId) throw invalid('kmsKeyId', 'customer-managed keys are not served (objects are stored as files under the data directory)');
  if (body.objectEventsEnabled === true) throw invalid('objectEventsEnabled', 'object events are not served');
  if (body.versioning !== undefined && body.versioning !== 'Disabled') throw invalid('versioning', "only 'Disabled' is served");
  if (body.autoTiering !== undefined && body.autoTiering !== 'Disabled') throw invalid('autoTiering', "only 'Disabled' is served");
}

const COPY_OBJECT = 'COPY_OBJECT';

/** A work request as the oci-objectstorage SDK's WorkRequest reads it (statuses COMPLETED, not SUCCEEDED). */
function objectStorageWorkRequestWire(w: WorkRequestRecord, namespace: string) {
  const status = w.status === 'SUCCEEDED' ? 'COMPLETED' : w.status;
  return {
    operationType: w.operationType,
    status,
    id: w.id,
    compartmentId: w.compartmentId,
    resources: w.resources.map((r) => {
      const m = /^\/n\/[^/]+\/b\/([^/]+)\/o\//.exec(r.entityUri ?? '');
      return {
        actionType: r.actionType === 'CREATED' ? 'WRITTEN' : 'RELATED',
        entityType: r.entityType,
        entityUri: r.entityUri,
        metadata: { NAMESPACE: namespace, BUCKET: m?.[1] ?? '', OBJECT: r.identifier },
      };
    }),
    percentComplete: w.percentComplete,
    timeAccepted: w.timeAccepted,
    timeStarted: w.timeStarted,
    timeFinished: w.timeFinished,
  };
}
