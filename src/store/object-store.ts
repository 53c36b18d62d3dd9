import { sql } from 'kysely';
import type { Db } from './group-commit.js';
import type { OsBucketTable, OsObjectTable, OsParTable, OsUploadPartTable, OsUploadTable } from './schema.js';
import type { DefinedTags, Tags } from './records.js';
import type { Store } from './store.js';

export interface BucketRecord {
  name: string;
  id: string;
  compartmentId: string;
  createdBy: string;
  timeCreated: string;
  version: number;
  publicAccessType: string;
  storageTier: string;
  metadata: Record<string, string>;
  freeformTags: Tags;
  definedTags: DefinedTags;
}

/** The headers an object keeps from its upload and answers on every get. */
export interface ObjectHeaders {
  contentType: string;
  contentLanguage: string | null;
  contentEncoding: string | null;
  contentDisposition: string | null;
  cacheControl: string | null;
  /** opc-meta-* (keys lowercased, as HTTP headers are). */
  metadata: Record<string, string>;
}

export interface ObjectRecord extends ObjectHeaders {
  bucket: string;
  name: string;
  blob: string;
  size: number;
  md5: string;
  multipartMd5: string | null;
  etag: string;
  timeCreated: string;
  timeModified: string;
}

export interface UploadRecord {
  uploadId: string;
  bucket: string;
  object: string;
  timeCreated: string;
  details: ObjectHeaders & { storageTier?: string };
}

export interface PartRecord {
  uploadId: string;
  partNum: number;
  size: number;
  md5: string;
  etag: string;
}

export interface ParRecord {
  id: string;
  tokenHash: string;
  name: string;
  bucket: string;
  objectName: string | null;
  accessType: string;
  bucketListingAction: string;
  timeCreated: string;
  timeExpires: string;
}

const bucketFromRow = (r: OsBucketTable): BucketRecord => ({
  name: r.name,
  id: r.id,
  compartmentId: r.compartment_id,
  createdBy: r.created_by,
  timeCreated: r.time_created,
  version: r.version,
  publicAccessType: r.public_access_type,
  storageTier: r.storage_tier,
  metadata: JSON.parse(r.metadata),
  freeformTags: JSON.parse(r.freeform_tags),
  definedTags: JSON.parse(r.defined_tags),
});

const bucketToRow = (b: BucketRecord): OsBucketTable => ({
  name: b.name,
  id: b.id,
  compartment_id: b.compartmentId,
  created_by: b.createdBy,
  time_created: b.timeCreated,
  version: b.version,
  public_access_type: b.publicAccessType,
  storage_tier: b.storageTier,
  metadata: JSON.stringify(b.metadata),
  freeform_tags: JSON.stringify(b.freeformTags),
  defined_tags: JSON.stringify(b.definedTags),
});

const objectFromRow = (r: OsObjectTable): ObjectRecord => ({
  bucket: r.bucket,
  name: r.name,
  blob: r.blob,
  size: Number(r.size),
  md5: r.md5,
  multipartMd5: r.multipart_md5,
  etag: r.etag,
  contentType: r.content_type,
  contentLanguage: r.content_language,
  contentEncoding: r.content_encoding,
  contentDisposition: r.content_disposition,
  cacheControl: r.cache_control,
  metadata: JSON.parse(r.metadata),
  timeCreated: r.time_created,
  timeModified: r.time_modified,
});

const objectToRow = (o: ObjectRecord): OsObjectTable => ({
  bucket: o.bucket,
  name: o.name,
  blob: o.blob,
  size: o.size,
  md5: o.md5,
  multipart_md5: o.multipartMd5,
  etag: o.etag,
  content_type: o.contentType,
  content_language: o.contentLanguage,
  content_encoding: o.contentEncoding,
  content_disposition: o.contentDisposition,
  cache_control: o.cacheControl,
  metadata: JSON.stringify(o.metadata),
  time_created: o.timeCreated,
  time_modified: o.timeModified,
});

const uploadFromRow = (r: OsUploadTable): UploadRecord => ({
  uploadId: r.upload_id,
  bucket: r.bucket,
  object: r.object,
  timeCreated: r.time_created,
  details: JSON.parse(r.details),
});

const partFromRow = (r: OsUploadPartTable): PartRecord => ({ uploadId: r.upload_id, partNum: Number(r.part_num), size: Number(r.size), md5: r.md5, etag: r.etag });

const parFromRow = (r: OsParTable): ParRecord => ({
  id: r.id,
  tokenHash: r.token_hash,
  name: r.name,
  bucket: r.bucket,
  objectName: r.object_name,
  accessType: r.access_type,
  bucketListingAction: r.bucket_listing_action,
  timeCreated: r.time_created,
  timeExpires: r.time_expires,
});

/** Rows of Object Storage: buckets, objects, multipart uploads and their parts, pre-authenticated requests. */
export class ObjectStore {
  constructor(readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  // ---------------------------------------------------------------- buckets

  async getBucket(name: string, tx: Db = this.db): Promise<BucketRecord | undefined> {
    const r = await tx.selectFrom('os_buckets').selectAll().where('name', '=', name).executeTakeFirst();
    return r && bucketFromRow(r);
  }

  async insertBucket(tx: Db, b: BucketRecord): Promise<void> {
    await tx.insertInto('os_buckets').values(bucketToRow(b)).execute();
  }

  /** Compare-and-set on the version read; false when another write came first. */
  async updateBucket(tx: Db, previousName: string, b: BucketRecord, expectedVersion: number): Promise<boolean> {
    const r = await tx.updateTable('os_buckets').set(bucketToRow(b)).where('name', '=', previousName).where('version', '=', expectedVersion).executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    if (previousName !== b.name) {
      for (const t of ['os_objects', 'os_uploads', 'os_pars'] as const) await tx.updateTable(t).set({ bucket: b.name }).where('bucket', '=', previousName).execute();
    }
    return true;
  }

  async deleteBucket(tx: Db, name: string): Promise<void> {
    await tx.deleteFrom('os_pars').where('bucket', '=', name).execute();
    await tx.deleteFrom('os_buckets').where('name', '=', name).execute();
  }

  async allBucketNames(): Promise<string[]> {
    return (await this.db.selectFrom('os_buckets').select('name').execute()).map((r) => r.name);
  }

  /** Buckets of a compartment in name order, from after `after`. */
  async listBuckets(compartmentId: string, limit: number, after?: string): Promise<BucketRecord[]> {
    let q = this.db.selectFrom('os_buckets').selectAll().where('compartment_id', '=', compartmentId);
    if (after !== undefined) q = q.where('name', '>', after);
    return (await q.orderBy('name').limit(limit).execute()).map(bucketFromRow);
  }

  async bucketUsage(name: string, tx: Db = this.db): Promise<{ count: number; size: number }> {
    const r = await tx
      .selectFrom('os_objects')
      .select([sql<number>`count(*)`.as('n'), sql<number>`coalesce(sum(size), 0)`.as('bytes')])
      .where('bucket', '=', name)
      .executeTakeFirstOrThrow();
    return { count: Number(r.n), size: Number(r.bytes) };
  }

  async countUploads(bucket: string, tx: Db = this.db): Promise<number> {
    const r = await tx.selectFrom('os_uploads').select(sql<number>`count(*)`.as('n')).where('bucket', '=', bucket).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  // ---------------------------------------------------------------- objects

  async getObject(bucket: string, name: string, tx: Db = this.db): Promise<ObjectRecord | undefined> {
    const r = await tx.selectFrom('os_objects').selectAll().where('bucket', '=', bucket).where('name', '=', name).executeTakeFirst();
    return r && objectFromRow(r);
  }

  /** Inserts or replaces the object of that name. */
  async putObject(tx: Db, o: ObjectRecord): Promise<void> {
    const row = objectToRow(o);
    await tx
      .insertInto('os_objects')
      .values(row)
      .onConflict((oc) => oc.columns(['bucket', 'name']).doUpdateSet({ ...row }))
      .execute();
  }

  async deleteObject(tx: Db, bucket: string, name: string): Promise<void> {
    await tx.deleteFrom('os_objects').where('bucket', '=', bucket).where('name', '=', name).execute();
  }

  async renameObject(tx: Db, bucket: string, from: string, to: string, timeModified: string): Promise<void> {
    await tx.updateTable('os_objects').set({ name: to, time_modified: timeModified }).where('bucket', '=', bucket).where('name', '=', from).execute();
  }

  /**
   * Objects of a bucket in name order (bytewise, as OCI orders them): names >= `from`, below `below` (exclusive),
   * starting with `prefix`.
   */
  async scanObjects(bucket: string, o: { from?: string; below?: string; prefix?: string; limit: number }): Promise<ObjectRecord[]> {
    let q = this.db.selectFrom('os_objects').selectAll().where('bucket', '=', bucket);
    if (o.from !== undefined) q = q.where('name', '>=', o.from);
    if (o.below !== undefined) q = q.where('name', '<', o.below);
    if (o.prefix) q = q.where('name', '>=', o.prefix).where(sql<boolean>`substr(name, 1, ${o.prefix.length}) = ${o.prefix}`);
    return (await q.orderBy('name').limit(o.limit).execute()).map(objectFromRow);
  }

  /** Every blob an object names (for the sweep at start). */
  async allBlobs(): Promise<Set<string>> {
    return new Set((await this.db.selectFrom('os_objects').select('blob').execute()).map((r) => r.blob));
  }

  // ---------------------------------------------------------------- multipart uploads

  async insertUpload(tx: Db, u: UploadRecord): Promise<void> {
    await tx
      .insertInto('os_uploads')
      .values({ upload_id: u.uploadId, bucket: u.bucket, object: u.object, time_created: u.timeCreated, details: JSON.stringify(u.details) })
      .execute();
  }

  async getUpload(uploadId: string, tx: Db = this.db): Promise<UploadRecord | undefined> {
    const r = await tx.selectFrom('os_uploads').selectAll().where('upload_id', '=', uploadId).executeTakeFirst();
    return r && uploadFromRow(r);
  }

  async listUploads(bucket: string, limit: number, offset: number): Promise<UploadRecord[]> {
    const rows = await this.db.selectFrom('os_uploads').selectAll().where('bucket', '=', bucket).orderBy('object').orderBy('time_created').orderBy('upload_id').limit(limit).offset(offset).execute();
    return rows.map(uploadFromRow);
  }

  async uploadsBefore(time: string): Promise<UploadRecord[]> {
    return (await this.db.selectFrom('os_uploads').selectAll().where('time_created', '<', time).execute()).map(uploadFromRow);
  }

  async allUploadIds(): Promise<Set<string>> {
    return new Set((await this.db.selectFrom('os_uploads').select('upload_id').execute()).map((r) => r.upload_id));
  }

  async putPart(tx: Db, p: PartRecord): Promise<void> {
    const row = { upload_id: p.uploadId, part_num: p.partNum, size: p.size, md5: p.md5, etag: p.etag };
    await tx
      .insertInto('os_upload_parts')
      .values(row)
      .onConflict((oc) => oc.columns(['upload_id', 'part_num']).doUpdateSet({ size: p.size, md5: p.md5, etag: p.etag }))
      .execute();
  }

  async listParts(uploadId: string, tx: Db = this.db, limit = 100_000, offset = 0): Promise<PartRecord[]> {
    const rows = await tx.selectFrom('os_upload_parts').selectAll().where('upload_id', '=', uploadId).orderBy('part_num').limit(limit).offset(offset).execute();
    return rows.map(partFromRow);
  }

  async deleteUpload(tx: Db, uploadId: string): Promise<void> {
    await tx.deleteFrom('os_upload_parts').where('upload_id', '=', uploadId).execute();
    await tx.deleteFrom('os_uploads').where('upload_id', '=', uploadId).execute();
  }

  // ---------------------------------------------------------------- pre-authenticated requests

  async insertPar(tx: Db, p: ParRecord): Promise<void> {
    await tx
      .insertInto('os_pars')
      .values({
        id: p.id,
        token_hash: p.tokenHash,
        name: p.name,
        bucket: p.bucket,
        object_name: p.objectName,
        access_type: p.accessType,
        bucket_listing_action: p.bucketListingAction,
        time_created: p.timeCreated,
        time_expires: p.timeExpires,
      })
      .execute();
  }

  async getPar(bucket: string, id: string): Promise<ParRecord | undefined> {
    const r = await this.db.selectFrom('os_pars').selectAll().where('bucket', '=', bucket).where('id', '=', id).executeTakeFirst();
    return r && parFromRow(r);
  }

  async parByToken(tokenHash: string): Promise<ParRecord | undefined> {
    const r = await this.db.selectFrom('os_pars').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return r && parFromRow(r);
  }

  async listPars(bucket: string, limit: number, offset: number, objectNamePrefix?: string): Promise<ParRecord[]> {
    let q = this.db.selectFrom('os_pars').selectAll().where('bucket', '=', bucket);
    if (objectNamePrefix) q = q.where(sql<boolean>`substr(coalesce(object_name, ''), 1, ${objectNamePrefix.length}) = ${objectNamePrefix}`);
    return (await q.orderBy('time_created').orderBy('id').limit(limit).offset(offset).execute()).map(parFromRow);
  }

  async deletePar(tx: Db, id: string): Promise<void> {
    await tx.deleteFrom('os_pars').where('id', '=', id).execute();
  }
}
