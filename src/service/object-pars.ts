import { createHash, randomBytes } from 'node:crypto';
import { DsError, invalid } from '../domain/errors.js';
import type { ParRecord } from '../store/object-store.js';
import { iso, type Clock } from './common.js';
import { checkObjectName, type ObjectStorageService } from './object-storage.js';

/** OCI's access types: one object (read, write or both) or any object of the bucket. */
export const PAR_ACCESS_TYPES = ['ObjectRead', 'ObjectWrite', 'ObjectReadWrite', 'AnyObjectRead', 'AnyObjectWrite', 'AnyObjectReadWrite'] as const;
export type ParAccess = (typeof PAR_ACCESS_TYPES)[number];

export interface CreateParInput {
  name: string;
  accessType: string;
  timeExpires: string;
  objectName?: string;
  bucketListingAction?: string;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** The access a PAR request needs: reading (GET, HEAD, listing) or writing (PUT). */
export type ParUse = 'read' | 'write' | 'list';

/**
 * Pre-authenticated requests: a secret in a URL grants one kind of access to one object (or to any object of a
 * bucket) until it expires, with no other credential. Only the secret's hash is kept: the URL is shown once.
 */
export class ObjectPars {
  constructor(
    private readonly objects: ObjectStorageService,
    private readonly clock: Clock,
  ) {}

  /** The record and the access URI (`/p/<secret>/n/<ns>/b/<bucket>/o/[<object>]`), shown only here. */
  async create(bucket: string, input: CreateParInput): Promise<{ par: ParRecord; accessUri: string }> {
    await this.objects.getBucket(bucket);
    if (!(PAR_ACCESS_TYPES as readonly string[]).includes(input.accessType)) throw invalid('accessType', `must be one of ${JSON.stringify(PAR_ACCESS_TYPES)}`);
    const anyObject = input.accessType.startsWith('AnyObject');
    if (!anyObject && !input.objectName) throw invalid('objectName', `is required for accessType ${input.accessType}`);
    if (anyObject && input.objectName) throw invalid('objectName', `must not be given for accessType ${input.accessType} (it grants any object of the bucket)`);
    if (input.objectName) checkObjectName(input.objectName);
    const listing = input.bucketListingAction ?? 'Deny';
    if (listing !== 'Deny' && listing !== 'ListObjects') throw invalid('bucketListingAction', "must be 'Deny' or 'ListObjects'");
    if (listing === 'ListObjects' && !input.accessType.startsWith('AnyObject')) throw invalid('bucketListingAction', 'ListObjects needs an AnyObject access type');
    const expires = Date.parse(input.timeExpires);
    if (Number.isNaN(expires)) throw invalid('timeExpires', 'is not an RFC 3339 date-time');
    if (expires <= this.clock.now()) throw invalid('timeExpires', 'must be in the future');
    const token = randomBytes(32).toString('base64url');
    const par: ParRecord = {
      id: randomBytes(24).toString('base64url'),
      tokenHash: hashToken(token),
      name: input.name,
      bucket,
      objectName: input.objectName ?? null,
      accessType: input.accessType,
      bucketListingAction: listing,
      timeCreated: iso(this.clock.now()),
      timeExpires: iso(expires),
    };
    await this.objects.store.store.transaction((tx) => this.objects.store.insertPar(tx, par));
    const objectPart = par.objectName === null ? '' : encodeURIComponent(par.objectName);
    return { par, accessUri: `/p/${token}/n/${this.objects.namespace}/b/${encodeURIComponent(bucket)}/o/${objectPart}` };
  }

  async get(bucket: string, id: string): Promise<ParRecord> {
    await this.objects.getBucket(bucket);
    const p = await this.objects.store.getPar(bucket, id);
    if (!p) throw new DsError('NotAuthorizedOrNotFound', `Pre-authenticated request ${id.slice(0, 100)} of bucket '${bucket}' was not found`);
    return p;
  }

  async list(bucket: string, limit: number, offset: number, objectNamePrefix?: string): Promise<ParRecord[]> {
    await this.objects.getBucket(bucket);
    return this.objects.store.listPars(bucket, limit, offset, objectNamePrefix);
  }

  async delete(bucket: string, id: string): Promise<void> {
    const p = await this.get(bucket, id);
    await this.objects.store.store.transaction((tx) => this.objects.store.deletePar(tx, p.id));
  }

  /**
   * A request through a PAR URL: the secret must name a PAR of this bucket that has not expired and grants `use` on
   * `objectName`. Every refusal is the same 404, as OCI answers, so a URL reveals nothing about why.
   */
  async authorize(token: string, namespace: string, bucket: string, objectName: string | null, use: ParUse): Promise<ParRecord> {
    const p = await this.objects.store.parByToken(hashToken(token));
    const refuse = () => new DsError('NotAuthorizedOrNotFound', 'The pre-authenticated request does not exist, has expired or does not grant this access');
    if (!p || namespace !== this.objects.namespace || p.bucket !== bucket) throw refuse();
    if (Date.parse(p.timeExpires) <= this.clock.now()) throw refuse();
    const reads = p.accessType.endsWith('Read') || p.accessType.endsWith('ReadWrite');
    const writes = p.accessType.endsWith('Write');
    if (use === 'list') {
      if (p.bucketListingAction !== 'ListObjects') throw refuse();
      return p;
    }
    if (use === 'read' && !reads) throw refuse();
    if (use === 'write' && !writes) throw refuse();
    if (p.objectName !== null && p.objectName !== objectName) throw refuse();
    return p;
  }
}
