import { randomBytes } from 'node:crypto';

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

/** 30 random base-36 characters: ~155 bits, so collisions are not a concern. */
function uniquePart(): string {
  const bytes = randomBytes(30);
  let out = '';
  for (const b of bytes) out += UNIQUE_ALPHABET[b % 36];
  return out;
}

export function newOcid<K extends string>(resourceType: K, region: string): Ocid<K> {
  return `ocid1.${resourceType}.dsjobs.${region}.${uniquePart()}` as Ocid<K>;
}

// Realm and region segments may be empty in OCI (tenancy ids are ocid1.tenancy.oc1..<unique>).
const OCID_RE = /^ocid1\.([a-z0-9]+)\.([a-z0-9-]+)\.([a-z0-9-]*)\.([a-z0-9._-]+)$/i;

export function isOcid(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 255 && OCID_RE.test(value);
}
