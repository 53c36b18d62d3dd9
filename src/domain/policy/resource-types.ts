/**
 * Verbs and resource types of the policy language. Each verb includes the ones before it, as in OCI: inspect lists,
 * read also gets (and reads logs and metrics), use also updates (and starts and cancels runs), manage also creates and
 * deletes.
 */
export const VERBS = ['inspect', 'read', 'use', 'manage'] as const;
export type Verb = (typeof VERBS)[number];
export const VERB_RANK: Record<Verb, number> = { inspect: 1, read: 2, use: 3, manage: 4 };

export const isVerb = (v: string): v is Verb => (VERBS as readonly string[]).includes(v);

/**
 * Aggregate resource types (families) and their members. The Data Science family keeps OCI's individual types
 * (projects, jobs, job runs) and adds dsjobs' own resources as types of their own, so a statement can grant them
 * separately (`manage data-science-webhooks`) or with the family (`use data-science-family`).
 */
export const FAMILIES: Record<string, readonly string[]> = {
  'data-science-family': [
    'data-science-projects',
    'data-science-jobs',
    'data-science-job-runs',
    'data-science-events',
    'data-science-webhooks',
    'data-science-trigger-rules',
    'data-science-schedules',
    'data-science-sweeps',
    'data-science-work-requests',
  ],
  'object-family': ['buckets', 'objects'],
  'secret-family': ['secrets', 'secret-bundles'],
  'logging-family': ['log-groups', 'log-content'],
};

/** Individual types outside any family (Identity has no aggregate type in OCI; neither has Audit). */
const STANDALONE = ['compartments', 'users', 'groups', 'policies', 'dynamic-groups', 'audit-events'];

export const ALL_RESOURCES = 'all-resources';

export const INDIVIDUAL_TYPES: ReadonlySet<string> = new Set([...Object.values(FAMILIES).flat(), ...STANDALONE]);

/** Every name a statement may use: `all-resources`, the families and the individual types. */
export const isResourceType = (t: string): boolean => t === ALL_RESOURCES || t in FAMILIES || INDIVIDUAL_TYPES.has(t);

/** The individual types a statement's resource type grants (all of them for `all-resources`). */
export function typesCovered(resourceType: string): ReadonlySet<string> {
  if (resourceType === ALL_RESOURCES) return INDIVIDUAL_TYPES;
  if (resourceType in FAMILIES) return new Set(FAMILIES[resourceType]);
  return new Set([resourceType]);
}
