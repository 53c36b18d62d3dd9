import type { FastifyRequest } from 'fastify';
import { DsError, invalid, nullIfNotFound } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { readOperationForOcid } from '../domain/policy/operations.js';
import type { Authorizer, Target } from '../service/authorizer.js';
import type { ApiDeps } from './app.js';

/** The events an event feed or stream may carry to this request's principal. */
export type EventVisibility = (event: { subject: string; compartmentid: string }) => Promise<boolean>;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by authorization for an authenticated principal; null: every event is visible (authentication off). */
    mayReadEvent: EventVisibility | null;
  }
}

/** Where a request acts: the compartment the policy engine decides in, and what a denial names (see Authorizer). */
interface Scope {
  compartmentId: string;
  target?: Target;
}

type Deps = Pick<ApiDeps, 'projects' | 'jobs' | 'runs' | 'webhooks' | 'triggers' | 'schedules' | 'sweeps' | 'policies' | 'identity' | 'identityService' | 'workRequests' | 'secrets' | 'logging' | 'objectStorage'>;

/**
 * A route's resource, by the name of its path parameter: where it lives. The read is the service's own get, so a
 * missing resource answers exactly as the route would; identity objects other than compartments and policies live in
 * the tenancy, as in OCI.
 */
function resourceScopes(d: Deps): Record<string, (id: string, operation: string) => Promise<Scope>> {
  const tenancy = (what: string) => async (id: string): Promise<Scope> => ({ compartmentId: d.identity.tenancyId, target: { what, id } });
  return {
    projectId: async (id) => ({ compartmentId: (await d.projects.get(id)).compartmentId, target: { what: 'Project', id } }),
    jobId: async (id) => ({ compartmentId: (await d.jobs.get(id)).compartmentId, target: { what: 'Job', id } }),
    jobRunId: async (id) => ({ compartmentId: (await d.runs.get(id)).compartmentId, target: { what: 'Job run', id } }),
    subscriptionId: async (id) => ({ compartmentId: (await d.webhooks.get(id)).compartmentId, target: { what: 'Webhook subscription', id } }),
    ruleId: async (id) => ({ compartmentId: (await d.triggers.get(id)).compartmentId, target: { what: 'Trigger rule', id } }),
    scheduleId: async (id) => ({ compartmentId: (await d.schedules.get(id)).compartmentId, target: { what: 'Schedule', id } }),
    sweepId: async (id) => ({ compartmentId: (await d.sweeps.get(id)).compartmentId, target: { what: 'Sweep', id } }),
    policyId: async (id) => ({ compartmentId: (await d.policies.getPolicy(id)).compartmentId, target: { what: 'Policy', id } }),
    workRequestId: async (id) => ({ compartmentId: (await d.workRequests.get(id)).compartmentId, target: { what: 'Work request', id } }),
    // A secret's management (secrets) and its contents (secret-bundles) are both decided in its compartment.
    secretId: async (id) => ({ compartmentId: (await d.secrets.get(id)).compartmentId, target: { what: 'Secret', id } }),
    // A log lives in its group's compartment; a route naming both is decided by the group (the same compartment).
    logGroupId: async (id) => ({ compartmentId: (await d.logging.getGroup(id)).compartmentId, target: { what: 'Log group', id } }),
    logId: async (id) => ({ compartmentId: (await d.logging.getLogById(id)).compartmentId, target: { what: 'Log', id } }),
    // Object Storage: a bucket, its objects, uploads and PARs are decided in the bucket's compartment.
    bucketName: async (name) => ({ compartmentId: (await d.objectStorage.getBucket(name)).compartmentId, target: { what: 'Bucket', id: name } }),
    // A compartment is read in itself; it is changed or deleted by whoever manages its parent (OCI's rule).
    compartmentId: async (id, operation) => {
      const c = await d.identityService.getCompartment(id);
      const parent = d.identityService.tree.parentOf(c.id);
      return { compartmentId: operation === 'GetCompartment' || !parent ? c.id : parent, target: { what: 'Compartment', id } };
    },
    tenancyId: tenancy('Tenancy'),
    dynamicGroupId: tenancy('Dynamic group'),
    userId: tenancy('User'),
    groupId: tenancy('Group'),
    userGroupMembershipId: tenancy('UserGroupMembership'),
  };
}

/** Marks a request the authorizer refused (the audit records it as denied), and passes the refusal on. */
const refused = (req: FastifyRequest) => (e: unknown): never => {
  req.authorizationDenied = true;
  throw e;
};

/** Who a create is recorded as made by (createdBy): the signed-in user, or the run whose principal asks; undefined: the service's default. */
export function requesterOf(req: FastifyRequest): string | undefined {
  const p = req.principal;
  return p ? (p.kind === 'user' ? p.userId : p.runId) : undefined;
}

/**
 * The user an automation resource made by this request acts as when it fires (null: authentication off). A run's
 * principal makes none: automation outlives the run, and would go on acting after the run's identity has ended.
 */
export function creatorOf(req: FastifyRequest): string | null {
  const p = req.principal;
  if (p?.kind === 'run') {
    throw new DsError(
      'NotAuthorizedOrNotFound',
      `A job run's resource principal (${p.runId}) cannot create trigger rules, schedules, sweeps or webhook subscriptions: they act as their creator after the run has ended; create them as a user`,
    );
  }
  return p?.kind === 'user' ? p.userId : null;
}

/** Routes without an operationId that still need a grant: server-wide Prometheus metrics are every run's metrics. */
const HIDDEN_ROUTE_OPERATIONS: Record<string, string> = { '/metrics': 'GetJobRunMetrics' };
/** Routes decided in the tenancy whatever they name: the container engine's images are the whole host's. */
const TENANCY_OPERATIONS = new Set(['ListContainerImages', 'LoadContainerImage']);

/**
 * Authorization, in one place for every route (DESIGN §8): after authentication and validation, the route's
 * operationId and the compartment it acts in (a resource's own, read through its service; for creates and lists the
 * `compartmentId` of the body or query; for identity objects the tenancy) go to the Authorizer, which throws the
 * same 404 NotAuthorizedOrNotFound a missing resource gets. Lists are then cut to what the principal may inspect,
 * item by item (by each item's compartment), before they are serialized.
 *
 * A compartmentId that names no compartment (dsjobs before identities treated compartments as labels) is decided
 * as the tenancy: only a tenancy-wide grant reaches it.
 */
export function authorizationHooks(deps: Deps, authorizer: Authorizer) {
  const scopes = resourceScopes(deps);
  const scopeParams = Object.keys(scopes);
  const tenancyId = deps.identity.tenancyId;
  const tree = deps.identityService.tree;
  const known = (c: string) => (tree.parentOf(c) === undefined ? tenancyId : c);

  const operationOf = (req: FastifyRequest): string | undefined => {
    const url = req.routeOptions.url;
    if (url !== undefined && HIDDEN_ROUTE_OPERATIONS[url]) return HIDDEN_ROUTE_OPERATIONS[url];
    return (req.routeOptions.schema as { operationId?: string } | undefined)?.operationId;
  };

  async function scopeOf(req: FastifyRequest, operation: string): Promise<Scope | null> {
    const params = (req.params ?? {}) as Record<string, string>;
    for (const p of scopeParams) if (typeof params[p] === 'string') return scopes[p](params[p], operation);
    if (operation === 'GetSecretBundleByName') return secretByNameScope(req);
    const body = req.body as { compartmentId?: unknown } | undefined;
    if (body && typeof body === 'object' && typeof body.compartmentId === 'string') return { compartmentId: body.compartmentId };
    const query = req.query as { compartmentId?: unknown } | undefined;
    if (query && typeof query.compartmentId === 'string') return { compartmentId: query.compartmentId };
    if (req.url.startsWith('/20160918/')) return { compartmentId: tenancyId };
    if (HIDDEN_ROUTE_OPERATIONS[req.routeOptions.url ?? '']) return { compartmentId: tenancyId };
    if (TENANCY_OPERATIONS.has(operation)) return { compartmentId: tenancyId };
    // A list over no compartment: every item is checked below instead.
    return null;
  }

  /**
   * GetSecretBundleByName names its secret by vault and name (query): decided in that secret's compartment; one that
   * does not exist is decided as the tenancy, so only a tenancy-wide grant learns that it is missing.
   */
  async function secretByNameScope(req: FastifyRequest): Promise<Scope> {
    const q = req.query as { vaultId: string; secretName: string };
    const s = await deps.secrets.findByName(q.vaultId, q.secretName);
    return s ? { compartmentId: s.compartmentId, target: { what: 'Secret', id: s.id } } : { compartmentId: tenancyId, target: { what: 'Secret', id: q.secretName } };
  }

  return {
    /** preHandler: after validation, so body and query are parsed and checked. */
    async authorize(req: FastifyRequest): Promise<void> {
      const principal = req.principal;
      if (!principal) return;
      req.mayReadEvent = (e) => mayReadEvent(principal, e);
      const operation = operationOf(req);
      if (!operation) return;
      // A search reads every log its query names: each is decided in its own compartment.
      if (operation === 'SearchLogs') {
        for (const t of await deps.logging.searchTargets((req.body as { searchQuery: string }).searchQuery)) {
          await authorizer.authorize(principal, operation, known(t.compartmentId), t.target).catch(refused(req));
        }
        return;
      }
      const scope = await scopeOf(req, operation);
      if (scope) {
        req.auditCompartmentId = known(scope.compartmentId);
        await authorizer.authorize(principal, operation, req.auditCompartmentId, scope.target).catch(refused(req));
      }
      if (operation === 'CreateJob' || operation === 'CreateJobRun') await authorizeLogConfiguration(principal, req.body).catch(refused(req));
      // A move needs the same grant in the compartment it goes to as in the one it leaves (OCI's rule).
      if (/^Change(Project|Job|JobRun)Compartment$/.test(operation)) {
        await authorizer.authorize(principal, operation, known((req.body as { compartmentId: string }).compartmentId), scope?.target).catch(refused(req));
      }
      // A create that names a job or project (a run of a job, a job in a project) also needs reading that
      // resource: otherwise a grant in one's own compartment would start another team's job there.
      const body = req.body as { jobId?: unknown; projectId?: unknown } | undefined;
      if (operation.startsWith('Create') && body && typeof body === 'object') {
        for (const [field, read] of [['jobId', 'GetJob'], ['projectId', 'GetProject']] as const) {
          const id = body[field];
          if (typeof id !== 'string') continue;
          // One that does not exist is the service's to refuse, in its own words. A read that fails (the database)
          // fails the request: skipping the check would let a create through that the next read lets happen.
          const related = await scopes[field](id, read).catch(nullIfNotFound);
          if (related) await authorizer.authorize(principal, read, known(related.compartmentId), related.target).catch(refused(req));
        }
      }
    },

    /** preSerialization: a list's items, only those the principal may see. */
    async filter(req: FastifyRequest, payload: unknown): Promise<unknown> {
      const principal = req.principal;
      if (!principal || !Array.isArray(payload)) return payload;
      const operation = operationOf(req);
      if (!operation) return payload;
      if (operation === 'ListEvents') return filterEvents(principal, payload);
      if (!operation.startsWith('List')) return payload;
      // Items without a compartment (job shapes, API keys) were decided with the request itself.
      const placed = payload.filter((item) => typeof item?.compartmentId === 'string');
      if (placed.length === 0) return payload;
      const visible = new Set(await authorizer.filterListable(principal, operation, placed, (item) => known(item.compartmentId)));
      return payload.filter((item) => typeof item?.compartmentId !== 'string' || visible.has(item));
    },
  };

  /**
   * A job's or run's log configuration names a log group and log the run's output goes to: the caller must be able
   * to read them, and one it cannot is answered as one that does not exist (the service's own 400 for the field).
   */
  async function authorizeLogConfiguration(principal: Principal, body: unknown): Promise<void> {
    if (!body || typeof body !== 'object') return;
    for (const field of ['jobLogConfigurationDetails', 'jobLogConfigurationOverrideDetails']) {
      const config = (body as Record<string, unknown>)[field] as { enableLogging?: unknown; logGroupId?: unknown; logId?: unknown } | undefined;
      if (!config || typeof config !== 'object' || config.enableLogging !== true) continue;
      for (const [key, read, get] of [
        ['logGroupId', 'GetLogGroup', (id: string) => deps.logging.getGroup(id)],
        ['logId', 'GetLog', (id: string) => deps.logging.getLogById(id)],
      ] as const) {
        const id = config[key];
        if (typeof id !== 'string' || id === '') continue;
        const what = key === 'logId' ? 'log' : 'log group';
        const found = await get(id).catch(nullIfNotFound);
        // Missing ones are the service's to refuse, in the same words.
        if (!found) continue;
        if (!(await authorizer.decide(principal, read, known(found.compartmentId))).allowed) {
          throw invalid(`${field}.${key}`, `${what} ${id.slice(0, 200)} was not found`);
        }
      }
    }
  }

  /** An event is the resource it carries: reading it needs reading the resource (GetJobRun, ...) where it lives. */
  async function mayReadEvent(principal: Principal, event: { subject: string; compartmentid: string }): Promise<boolean> {
    const operation = readOperationForOcid(event.subject) ?? 'ListEvents';
    return (await authorizer.decide(principal, operation, known(event.compartmentid))).allowed;
  }

  async function filterEvents(principal: Principal, events: { subject: string; compartmentid: string }[]) {
    const out = [];
    for (const e of events) if (await mayReadEvent(principal, e)) out.push(e);
    return out;
  }
}
