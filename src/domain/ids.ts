import { randomFillSync } from 'node:crypto';

/**
 * OCID-shaped ids: ocid1.<resourcetype>.dsjobs.<region>.<unique>. Branded so a job id cannot be passed where a
 * run id is expected; ids are parsed (checked) at the edge only.
 */
declare const brand: unique symbol;
export type Ocid<K extends string> = string & { readonly [brand]: K };
export type ProjectId = Ocid<'datascienceproject'>;
export type JobId = Ocid<'datasciencejob'>;
export type JobRunId = Ocid<'datasciencejobrun'>;
export type CompartmentId = Ocid<'compartment'>;

export const RESOURCE_TYPES = {
  project: 'datascienceproject',
  job: 'datasciencejob',
  jobRun: 'datasciencejobrun',
} as const;

const UNIQUE_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Random bytes from the CSPRNG, drawn from a pool refilled 4 KiB at a time: a randomBytes() call per id cost ~2 us
 * here (a call into OpenSSL each time, 5-8% of the server's CPU per create with three ids per create), the pool
 * ~0.2 us. Each byte is handed out once; callers read theirs before they return.
 */
const pool = Buffer.alloc(4096);
let poolNext = pool.length;
function takeRandom(n: number): number {
  if (poolNext + n > pool.length) {
    randomFillSync(pool);
    poolNext = 0;
  }
  const at = poolNext;
  poolNext += n;
  return at;
}

/**
 * 30 base-36 characters: the creation time in milliseconds (9 characters, fixed width so that the text sorts like
 * the number) and 21 random characters (~108 bits, so collisions are not a concern). Time first makes a new id land
 * next to the previous ones in the database's id indexes instead of on a random page: with wholly random ids every
 * create dirtied one more random index page per id, and writing those pages was half of the cost of a commit
 * (COMMIT 78 -> 24 us per create at 30,000 runs in batches of 32, with the events' ids below also in time order).
 */
function uniquePart(): string {
  const at = takeRandom(21);
  let out = Date.now().toString(36).padStart(9, '0');
  for (let i = at; i < at + 21; i++) out += UNIQUE_ALPHABET[pool[i] % 36];
  return out;
}

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then random bits. Time-ordered for the same
 * reason as the ids above (the events table's id index); still a valid, unique UUID for CloudEvents' `id`.
 */
export function timeOrderedUuid(): string {
  const t = Date.now().toString(16).padStart(12, '0');
  const at = takeRandom(10);
  pool[at] = (pool[at] & 0x0f) | 0x70; // version 7
  pool[at + 2] = (pool[at + 2] & 0x3f) | 0x80; // RFC 9562 variant
  const h = pool.toString('hex', at, at + 10);
  return `${t.slice(0, 8)}-${t.slice(8)}-${h.slice(0, 4)}-${h.slice(4, 8)}-${h.slice(8)}`;
}

/** `bytes` random bytes as hex (request ids, say). */
export function randomHex(bytes: number): string {
  const at = takeRandom(bytes);
  return pool.toString('hex', at, at + bytes);
}

export function newOcid<K extends string>(resourceType: K, region: string): Ocid<K> {
  return `ocid1.${resourceType}.dsjobs.${region}.${uniquePart()}` as Ocid<K>;
}

export { isOcid } from './ocid.js';
