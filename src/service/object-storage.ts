import { createHash, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { DsError, invalid } from '../domain/errors.js';
import { newOcid } from '../domain/ids.js';
import { nextListing, type ListObjectsQuery, type Listing } from '../domain/object-listing.js';
import type { ObjectBlobs, WriteChecks } from '../store/object-blobs.js';
import { ObjectStore, type BucketRecord, type ObjectHeaders, type ObjectRecord, type PartRecord, type UploadRecord } from '../store/object-store.js';
import type { DefinedTags, Tags } from '../store/records.js';
import type { Store } from '../store/store.js';
import { etagOf, iso, type Clock, type ServerIdentity } from './common.js';
import { checkCompartment } from './projects.js';

/** OCI's bucket names: letters, digits, dashes, underscores and periods, at most 256 characters. */
const BUCKET_NAME = /^[A-Za-z0-9._-]{1,256}$/;
/** OCI's object names: 1 to 1024 bytes of UTF-8, no NUL. */
const MAX_OBJECT_NAME_BYTES = 1024;
/** OCI's part numbers: 1 to 10,000. */
export const MAX_PART_NUM = 10_000;
export const PUBLIC_ACCESS_TYPES = ['NoPublicAccess', 'ObjectRead', 'ObjectReadWithoutList'];
export const STORAGE_TIERS = ['Standard', 'InfrequentAccess', 'Archive'];
const DAY_MS = 86_400_000;

export interface CreateBucketInput {
  name: string;
  compartmentId: string;
  metadata?: Record<string, string>;
  publicAccessType?: string;
  storageTier?: string;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

export interface UpdateBucketInput {
  name?: string;
  compartmentId?: string;
  metadata?: Record<string, string>;
  publicAccessType?: string;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

/** if-match / if-none-match as sent (OCI: an etag, or `*` for "exists" / "does not exist"). */
export interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

export interface PutObjectInput extends Conditions, WriteChecks {
  headers: ObjectHeaders;
}

const unquote = (e: string) => e.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

export const bucketNotFound = (name: string) =>
  new DsError('BucketNotFound', `Either the bucket named '${name.slice(0, 256)}' does not exist in the namespace or you are not authorized to access it`);
export const objectNotFound = (bucket: string, name: string) =>
  new DsError('ObjectNotFound', `The object '${name.slice(0, 1024)}' was not found in the bucket '${bucket.slice(0, 256)}'`);

export function checkObjectName(name: string, field = 'objectName'): string {
  if (name.length === 0) throw invalid(field, 'must not be empty');
  if (Buffer.byteLength(name) > MAX_OBJECT_NAME_BYTES) throw invalid(field, `is ${Buffer.byteLength(name)} bytes of UTF-8; the limit is ${MAX_OBJECT_NAME_BYTES}`);
  if (name.includes('\0')) throw invalid(field, 'must not contain NUL characters');
  return name;
}

function checkBucketName(name: string, field = 'name'): string {
  if (!BUCKET_NAME.test(name)) throw invalid(field, 'must be 1 to 256 letters, digits, dashes, underscores or periods');
  return name;
}

/**
 * Checks if-match / if-none-match against the object that is there now (undefined: none). OCI's rules: if-match
 * needs the object with that etag (`*`: any); if-none-match `*` needs no object, an etag needs another one.
 */
export function checkConditions(c: Conditions, current: ObjectRecord | undefined, what: string): void {
  if (c.ifMatch !== undefined) {
    const want = unquote(c.ifMatch);
    if (!current || (want !== '*' && want !== current.etag)) {
      throw new DsError('IfMatchFailed', `The if-match header ${c.ifMatch.slice(0, 100)} does not match ${current ? `the etag of ${what}` : `${what}, which does not exist`}`);
    }
  }
  if (c.ifNoneMatch !== undefined && current) {
    const want = unquote(c.ifNoneMatch);
    if (want === '*' || want === current.etag) {
      throw new DsError('IfNoneMatchFailed', `The if-none-match header ${c.ifNoneMatch.slice(0, 100)} matches ${what}, which exists`);
    }
  }
}

/**
 * OCI Object Storage, the subset docs/object-storage.md lists: one namespace, buckets in compartments, objects
 * whose bytes are immutable files (store/object-blobs.ts) and whose metadata is a row, multipart uploads.
 * Pre-authenticated requests are `ObjectPars` (object-pars.ts).
 */
export class ObjectStorageService {
  readonly store: ObjectStore;
  private cleanupTimer: NodeJS.Timeout | null = null;
  /** Bucket names, for the storage catalog's synchronous check of a run's mounts; kept by create, rename, delete. */
  private readonly names = new Set<string>();

  constructor(
    store: Store,
    readonly blobs: ObjectBlobs,
    readonly namespace: string,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
    private readonly opts: { abandonedUploadDays: number; log?: { info(o: object, m: string): void; warn(o: object, m: string): void } },
  ) {
    this.store = new ObjectStore(store);
  }

  /** Before serving: removes what a killed server left half-written, then watches for abandoned uploads. */
  async start(): Promise<void> {
    for (const n of await this.store.allBucketNames()) this.names.add(n);
    await this.blobs.init();
    const referenced = await this.store.allBlobs();
    const uploads = await this.store.allUploadIds();
    const swept = await this.blobs.sweep((b) => referenced.has(b), (u) => uploads.has(u));
    if (swept.files > 0) this.opts.log?.info(swept, 'object storage: removed files no object or upload names (writes cut short)');
    await this.cleanupAbandonedUploads();
    // Hourly: an abandoned upload's age is counted in days, so an hour late costs nothing.
    this.cleanupTimer = setInterval(() => void this.cleanupAbandonedUploads().catch((err) => this.opts.log?.warn({ err }, 'object storage: abandoned upload cleanup failed')), 3_600_000);
    this.cleanupTimer.unref();
  }

  stop(): void {
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    this.cleanupTimer = null;
  }

  knowsBucket(name: string): boolean {
    return this.names.has(name);
  }

  checkNamespace(ns: string): void {
    if (ns !== this.namespace) throw new DsError('NamespaceNotFound', `You do not have authorization to perform this request, or the requested namespace '${ns.slice(0, 100)}' does not exist (this server's is '${this.namespace}')`);
  }

  // ---------------------------------------------------------------- buckets

  async createBucket(input: CreateBucketInput, createdBy: string | undefined): Promise<BucketRecord> {
    checkBucketName(input.name);
    checkCompartment(input.compartmentId);
    if (input.publicAccessType !== undefined && input.publicAccessType !== 'NoPublicAccess') {
      throw invalid('publicAccessType', "only 'NoPublicAccess' is served: share objects with pre-authenticated requests");
    }
    if (input.storageTier !== undefined && input.storageTier !== 'Standard') throw invalid('storageTier', "only 'Standard' is served");
    const b: BucketRecord = {
      name: input.name,
      id: newOcid('bucket', this.identity.region),
      compartmentId: input.compartmentId,
      createdBy: createdBy ?? this.identity.userId,
      timeCreated: iso(this.clock.now()),
      version: 1,
      publicAccessType: 'NoPublicAccess',
      storageTier: 'Standard',
      metadata: input.metadata ?? {},
      freeformTags: input.freeformTags ?? {},
      definedTags: input.definedTags ?? {},
    };
    await this.store.store.transaction(async (tx) => {
      if (await this.store.getBucket(b.name, tx)) throw new DsError('BucketAlreadyExists', `Either the bucket '${b.name}' in namespace '${this.namespace}' already exists or you are not authorized to create it`);
      await this.store.insertBucket(tx, b);
    });
    this.names.add(b.name);
    return b;
  }

  async getBucket(name: string): Promise<BucketRecord> {
    const b = await this.store.getBucket(name);
    if (!b) throw bucketNotFound(name);
    return b;
  }

  bucketEtag(b: BucketRecord): string {
    return etagOf(b.id, b.version);
  }

  usage(name: string) {
    return this.store.bucketUsage(name);
  }

  /** Buckets of a compartment by name; `page` is the last name of the previous page. */
  async listBuckets(compartmentId: string, limit: number, page?: string): Promise<{ items: BucketRecord[]; nextPage: string | null }> {
    checkCompartment(compartmentId);
    const items = await this.store.listBuckets(compartmentId, limit + 1, page);
    const more = items.length > limit;
    if (more) items.pop();
    return { items, nextPage: more ? items[items.length - 1].name : null };
  }

  async updateBucket(name: string, patch: UpdateBucketInput, ifMatch?: string): Promise<BucketRecord> {
    const b = await this.getBucket(name);
    this.checkBucketIfMatch(b, ifMatch);
    if (patch.name !== undefined) checkBucketName(patch.name, 'name');
    if (patch.compartmentId !== undefined) checkCompartment(patch.compartmentId);
    if (patch.publicAccessType !== undefined && patch.publicAccessType !== 'NoPublicAccess') {
      throw invalid('publicAccessType', "only 'NoPublicAccess' is served: share objects with pre-authenticated requests");
    }
    const next: BucketRecord = {
      ...b,
      name: patch.name ?? b.name,
      compartmentId: patch.compartmentId ?? b.compartmentId,
      // OCI merges metadata: keys given replace, others stay.
      metadata: patch.metadata ? { ...b.metadata, ...patch.metadata } : b.metadata,
      freeformTags: patch.freeformTags ?? b.freeformTags,
      definedTags: patch.definedTags ?? b.definedTags,
      version: b.version + 1,
    };
    await this.store.store.transaction(async (tx) => {
      if (next.name !== b.name && (await this.store.getBucket(next.name, tx))) throw new DsError('BucketAlreadyExists', `name: a bucket named '${next.name}' already exists`);
      if (!(await this.store.updateBucket(tx, b.name, next, b.version))) throw new DsError('Conflict', `Bucket ${name} changed while it was being updated; get it again and retry`);
    });
    this.names.delete(b.name);
    this.names.add(next.name);
    return next;
  }

  /** As OCI: only an empty bucket, with no multipart upload in progress, is deleted. */
  async deleteBucket(name: string, ifMatch?: string): Promise<void> {
    const b = await this.getBucket(name);
    this.checkBucketIfMatch(b, ifMatch);
    await this.store.store.transaction(async (tx) => {
      const { count } = await this.store.bucketUsage(name, tx);
      if (count > 0) throw new DsError('BucketNotEmpty', `Bucket '${name}' in namespace '${this.namespace}' holds ${count} object(s); delete them first`);
      const uploads = await this.store.countUploads(name, tx);
      if (uploads > 0) throw new DsError('BucketNotEmpty', `Bucket '${name}' has ${uploads} multipart upload(s) in progress; commit or abort them first`);
      await this.store.deleteBucket(tx, name);
    });
    this.names.delete(name);
  }

  private checkBucketIfMatch(b: BucketRecord, ifMatch?: string): void {
    if (ifMatch === undefined || unquote(ifMatch) === '*') return;
    if (unquote(ifMatch) !== this.bucketEtag(b)) throw new DsError('IfMatchFailed', `The if-match header does not match the etag of bucket '${b.name}'`);
  }

  // ---------------------------------------------------------------- objects

  async headObject(bucket: string, name: string): Promise<ObjectRecord> {
    await this.getBucket(bucket);
    const o = await this.store.getObject(bucket, name);
    if (!o) throw objectNotFound(bucket, name);
    return o;
  }

  /**
   * The object and an open file of its bytes. Opened before the row can be replaced again: a put that replaces the
   * object removes the old file, which an open descriptor still reads whole.
   */
  async openObject(bucket: string, name: string): Promise<{ object: ObjectRecord; file: fsp.FileHandle }> {
    for (let attempt = 0; ; attempt++) {
      const o = await this.headObject(bucket, name);
      try {
        return { object: o, file: await fsp.open(this.blobs.pathOf(o.blob), 'r') };
      } catch (e) {
        // Replaced between the read of its row and the open: read the row again.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw e;
      }
    }
  }

  /** Streams the body to a new file, then makes it the object in one transaction (conditions checked again there). */
  async putObject(bucket: string, name: string, body: Readable, input: PutObjectInput): Promise<ObjectRecord> {
    checkObjectName(name);
    // A bucket this server knows is not read again here (a put already reads it for authorization, and again in the
    // transaction that writes the row, which is what decides: one deleted meanwhile, also by another replica, is
    // refused there and its bytes removed); one it does not know is read, so a missing bucket costs no disk.
    if (!this.names.has(bucket)) await this.getBucket(bucket);
    // Checked before the bytes are read, so a refused put costs no disk; and again when the row is written.
    if (input.ifMatch !== undefined || input.ifNoneMatch !== undefined) checkConditions(input, await this.store.getObject(bucket, name), `object '${name}'`);
    const written = await this.blobs.write(body, input);
    return this.commitObject(bucket, name, { ...written, multipartMd5: null }, input.headers, input);
  }

  private async commitObject(
    bucket: string,
    name: string,
    bytes: { blob: string; size: number; md5: string; multipartMd5: string | null },
    headers: ObjectHeaders,
    conditions: Conditions,
  ): Promise<ObjectRecord> {
    const now = iso(this.clock.now());
    let replaced: string | undefined;
    let o: ObjectRecord;
    try {
      o = await this.store.store.transaction(async (tx) => {
        if (!(await this.store.getBucket(bucket, tx))) throw bucketNotFound(bucket);
        const current = await this.store.getObject(bucket, name, tx);
        checkConditions(conditions, current, `object '${name}'`);
        replaced = current?.blob;
        const rec: ObjectRecord = { bucket, name, ...bytes, ...headers, etag: randomUUID(), timeCreated: now, timeModified: now };
        await this.store.putObject(tx, rec);
        return rec;
      });
    } catch (e) {
      await this.blobs.remove(bytes.blob);
      throw e;
    }
    if (replaced) await this.blobs.remove(replaced);
    return o;
  }

  async deleteObject(bucket: string, name: string, ifMatch?: string): Promise<void> {
    await this.getBucket(bucket);
    const blob = await this.store.store.transaction(async (tx) => {
      const current = await this.store.getObject(bucket, name, tx);
      if (!current) throw objectNotFound(bucket, name);
      checkConditions({ ifMatch }, current, `object '${name}'`);
      await this.store.deleteObject(tx, bucket, name);
      return current.blob;
    });
    await this.blobs.remove(blob);
  }

  async renameObject(bucket: string, d: { sourceName: string; newName: string; srcObjIfMatchETag?: string; newObjIfMatchETag?: string; newObjIfNoneMatchETag?: string }): Promise<ObjectRecord> {
    checkObjectName(d.sourceName, 'sourceName');
    checkObjectName(d.newName, 'newName');
    await this.getBucket(bucket);
    const now = iso(this.clock.now());
    let replaced: string | undefined;
    const renamed = await this.store.store.transaction(async (tx) => {
      const src = await this.store.getObject(bucket, d.sourceName, tx);
      if (!src) throw objectNotFound(bucket, d.sourceName);
      checkConditions({ ifMatch: d.srcObjIfMatchETag }, src, `object '${d.sourceName}'`);
      if (d.sourceName === d.newName) return src;
      const dest = await this.store.getObject(bucket, d.newName, tx);
      checkConditions({ ifMatch: d.newObjIfMatchETag, ifNoneMatch: d.newObjIfNoneMatchETag }, dest, `object '${d.newName}'`);
      if (dest) {
        replaced = dest.blob;
        await this.store.deleteObject(tx, bucket, d.newName);
      }
      await this.store.renameObject(tx, bucket, d.sourceName, d.newName, now);
      return { ...src, name: d.newName, timeModified: now };
    });
    if (replaced) await this.blobs.remove(replaced);
    return renamed;
  }

  /** CopyObject within this server: the copy shares the source's bytes (a hard link) and is done when answered. */
  async copyObject(
    bucket: string,
    d: {
      sourceObjectName: string;
      sourceObjectIfMatchETag?: string;
      destinationNamespace: string;
      destinationBucket: string;
      destinationObjectName: string;
      destinationObjectIfMatchETag?: string;
      destinationObjectIfNoneMatchETag?: string;
      destinationObjectMetadata?: Record<string, string>;
    },
  ): Promise<ObjectRecord> {
    this.checkNamespace(d.destinationNamespace);
    checkObjectName(d.destinationObjectName, 'destinationObjectName');
    const src = await this.headObject(bucket, d.sourceObjectName);
    checkConditions({ ifMatch: d.sourceObjectIfMatchETag }, src, `object '${d.sourceObjectName}'`);
    await this.getBucket(d.destinationBucket);
    const blob = await this.blobs.link(src.blob);
    const headers: ObjectHeaders = {
      contentType: src.contentType,
      contentLanguage: src.contentLanguage,
      contentEncoding: src.contentEncoding,
      contentDisposition: src.contentDisposition,
      cacheControl: src.cacheControl,
      metadata: d.destinationObjectMetadata ?? src.metadata,
    };
    return this.commitObject(d.destinationBucket, d.destinationObjectName, { blob, size: src.size, md5: src.md5, multipartMd5: src.multipartMd5 }, headers, {
      ifMatch: d.destinationObjectIfMatchETag,
      ifNoneMatch: d.destinationObjectIfNoneMatchETag,
    });
  }

  async listObjects(bucket: string, q: ListObjectsQuery): Promise<Listing> {
    await this.getBucket(bucket);
    return nextListing(q, (o) => this.store.scanObjects(bucket, o));
  }

  // ---------------------------------------------------------------- multipart uploads

  async createUpload(bucket: string, object: string, details: UploadRecord['details'], c: Conditions): Promise<UploadRecord> {
    checkObjectName(object, 'object');
    await this.getBucket(bucket);
    checkConditions(c, await this.store.getObject(bucket, object), `object '${object}'`);
    const u: UploadRecord = { uploadId: randomUUID(), bucket, object, timeCreated: iso(this.clock.now()), details };
    await this.store.store.transaction((tx) => this.store.insertUpload(tx, u));
    return u;
  }

  async getUpload(bucket: string, object: string, uploadId: string): Promise<UploadRecord> {
    await this.getBucket(bucket);
    const u = await this.store.getUpload(uploadId);
    if (!u || u.bucket !== bucket || u.object !== object) {
      throw new DsError('NoSuchUpload', `No multipart upload ${uploadId.slice(0, 100)} of object '${object.slice(0, 1024)}' in bucket '${bucket}' (committed, aborted or never created)`);
    }
    return u;
  }

  async uploadPart(bucket: string, object: string, uploadId: string, partNum: number, body: Readable, checks: WriteChecks): Promise<PartRecord> {
    if (!Number.isInteger(partNum) || partNum < 1 || partNum > MAX_PART_NUM) throw invalid('uploadPartNum', `must be an integer from 1 to ${MAX_PART_NUM}`);
    await this.getUpload(bucket, object, uploadId);
    const { size, md5 } = await this.blobs.writePart(uploadId, partNum, body, checks);
    const p: PartRecord = { uploadId, partNum, size, md5, etag: randomUUID() };
    await this.store.store.transaction(async (tx) => {
      // Aborted while its bytes came in: the part goes with the upload.
      if (!(await this.store.getUpload(uploadId, tx))) throw new DsError('NoSuchUpload', `Multipart upload ${uploadId} was aborted or committed while this part was uploaded`);
      await this.store.putPart(tx, p);
    });
    return p;
  }

  async listParts(bucket: string, object: string, uploadId: string, limit: number, offset: number): Promise<PartRecord[]> {
    await this.getUpload(bucket, object, uploadId);
    return this.store.listParts(uploadId, undefined, limit, offset);
  }

  async listUploads(bucket: string, limit: number, offset: number): Promise<UploadRecord[]> {
    await this.getBucket(bucket);
    return this.store.listUploads(bucket, limit, offset);
  }

  /**
   * The parts named (each with the etag its upload answered), in part number order, become the object. OCI's
   * multipart MD5: the MD5 of the parts' binary MD5s, then `-<number of parts>`.
   */
  async commitUpload(
    bucket: string,
    object: string,
    uploadId: string,
    d: { partsToCommit: { partNum: number; etag: string }[]; partsToExclude?: number[] },
    c: Conditions,
  ): Promise<ObjectRecord> {
    const u = await this.getUpload(bucket, object, uploadId);
    if (d.partsToCommit.length === 0) throw invalid('partsToCommit', 'must name at least one part');
    const stored = new Map((await this.store.listParts(uploadId)).map((p) => [p.partNum, p]));
    const wanted = [...d.partsToCommit].sort((a, b) => a.partNum - b.partNum);
    for (let i = 0; i < wanted.length; i++) {
      const w = wanted[i];
      if (i > 0 && wanted[i - 1].partNum === w.partNum) throw invalid('partsToCommit', `part ${w.partNum} is named twice`);
      const p = stored.get(w.partNum);
      if (!p) throw invalid(`partsToCommit[${i}].partNum`, `part ${w.partNum} was not uploaded (or its upload did not finish)`);
      if (unquote(w.etag) !== p.etag) throw invalid(`partsToCommit[${i}].etag`, `is not the etag of part ${w.partNum} as last uploaded`);
    }
    checkConditions(c, await this.store.getObject(bucket, object), `object '${object}'`);
    const parts = wanted.map((w) => stored.get(w.partNum)!);
    const written = await this.blobs.concatenate(parts.map((p) => this.blobs.partPath(uploadId, p.partNum)));
    const multipartMd5 = `${createHash('md5').update(Buffer.concat(parts.map((p) => Buffer.from(p.md5, 'base64')))).digest('base64')}-${parts.length}`;
    const { storageTier: _tier, ...headers } = u.details;
    const o = await this.commitObject(bucket, object, { ...written, multipartMd5 }, headers, c);
    await this.store.store.transaction((tx) => this.store.deleteUpload(tx, uploadId));
    await this.blobs.removeUpload(uploadId);
    return o;
  }

  async abortUpload(bucket: string, object: string, uploadId: string): Promise<void> {
    await this.getUpload(bucket, object, uploadId);
    await this.store.store.transaction((tx) => this.store.deleteUpload(tx, uploadId));
    await this.blobs.removeUpload(uploadId);
  }

  /** Uploads neither committed nor aborted within `abandonedUploadDays` are aborted (their parts freed). */
  async cleanupAbandonedUploads(): Promise<number> {
    const before = iso(this.clock.now() - this.opts.abandonedUploadDays * DAY_MS);
    const old = await this.store.uploadsBefore(before);
    for (const u of old) {
      await this.store.store.transaction((tx) => this.store.deleteUpload(tx, u.uploadId));
      await this.blobs.removeUpload(u.uploadId);
    }
    if (old.length > 0) this.opts.log?.info({ uploads: old.length, days: this.opts.abandonedUploadDays }, 'object storage: aborted abandoned multipart uploads');
    return old.length;
  }
}
