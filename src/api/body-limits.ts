import { invalid } from '../domain/errors.js';
import { LIMITS } from './schemas.js';

/** Fields whose objects are stored as the client sends them (OCI's log, environment and node details). */
const LOOSE_FIELDS = [
  'jobEnvironmentConfigurationDetails',
  'jobLogConfigurationDetails',
  'jobNodeConfigurationDetails',
  'jobEnvironmentConfigurationOverrideDetails',
  'jobLogConfigurationOverrideDetails',
  'jobNodeConfigurationOverrideDetails',
];
const NESTED_LOOSE: [string, string][] = [
  ['jobConfigurationDetails', 'startupProbeDetails'],
  ['jobConfigurationOverrideDetails', 'startupProbeDetails'],
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The limits of a request body that its schema cannot state (the schema has already bounded each field):
 * freeform and defined tags together are at most LIMITS.tagsPerResource, as OCI counts them, and objects stored as
 * given serialize to at most LIMITS.looseObjectChars. Throws InvalidParameter naming the field and the limit.
 */
export function checkStoredBody(body: unknown): void {
  if (!isObject(body)) return;
  const freeform = isObject(body.freeformTags) ? Object.keys(body.freeformTags).length : 0;
  let defined = 0;
  if (isObject(body.definedTags)) for (const ns of Object.values(body.definedTags)) if (isObject(ns)) defined += Object.keys(ns).length;
  if (freeform + defined > LIMITS.tagsPerResource) {
    throw invalid(
      defined ? 'definedTags' : 'freeformTags',
      `a resource may have at most ${LIMITS.tagsPerResource} tags, freeform and defined together; got ${freeform} freeform and ${defined} defined`,
    );
  }
  const sized = (v: unknown, field: string) => {
    if (v == null) return;
    const n = JSON.stringify(v).length;
    if (n > LIMITS.looseObjectChars) throw invalid(field, `is ${n} characters as JSON; the limit is ${LIMITS.looseObjectChars}`);
  };
  for (const f of LOOSE_FIELDS) sized(body[f], f);
  for (const [outer, inner] of NESTED_LOOSE) if (isObject(body[outer])) sized((body[outer] as Record<string, unknown>)[inner], `${outer}.${inner}`);
}
