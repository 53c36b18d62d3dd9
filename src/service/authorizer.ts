import { notFound, DsError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import type { JobRecord } from '../store/records.js';
import { readOperationForOcid } from '../domain/policy/operations.js';
import type { CompartmentTree } from '../domain/policy/compartment-tree.js';
import { compilePolicySet, evaluate, namedByAnyStatement, type CompiledPolicySet, type Decision, type DynamicGroupInput, type PolicyInput } from '../domain/policy/evaluate.js';

/** Kept decisions at most (then they start over): ~200 bytes each. */
const MAX_DECISIONS = 10_000;

/** Everything of a principal a decision depends on: a user's id and groups; a run's id and compartment (dynamic groups). */
function decisionKey(p: Principal): string {
  return p.kind === 'user' ? `user\n${p.userId}\n${p.groupNames.join('\n')}` : `run\n${p.runId}\n${p.compartmentId}`;
}

/** Where the authorizer reads the policies and dynamic groups it compiles (the policy store). */
export interface PolicySource {
  allPolicies(): Promise<PolicyInput[]>;
  allDynamicGroups(): Promise<DynamicGroupInput[]>;
}

/** What a denied request names: the resource, so that the 404 reads exactly as the one for a missing resource. */
export interface Target {
  what: string;
  id: string;
}

/**
 * The one place services ask "may this principal do this here?". It keeps the policies and dynamic groups compiled
 * (parsed once, at the first request after a change) and evaluates with the pure engine in domain/policy. Every
 * write that changes what it compiled calls invalidate(): policy and dynamic-group writes (the policies service),
 * and whatever else decides grants (memberships, compartment moves) when those stores land.
 *
 * Decisions are kept too, per principal (with its groups, or a run's compartment), operation and compartment: a
 * create asks three (CreateJobRun, GetJob, GetProject), ~0.9 us each evaluated against one tenancy-wide statement and
 * more with every statement and compartment. They are dropped with the compiled set (invalidate) and whenever the
 * compartment tree changes (its version); a principal's groups are part of the key, so a membership change (the
 * identity service reads the groups afresh) asks afresh.
 */
export class Authorizer {
  private compiled: CompiledPolicySet | null = null;
  private loading: Promise<CompiledPolicySet> | null = null;
  /** Bumped by invalidate(): a load that started before a change must not install what it read. */
  private generation = 0;
  private readonly decisions = new Map<string, Decision>();
  /** The tree's version the kept decisions were made on. */
  private decisionsTreeVersion: number | undefined;

  constructor(
    private readonly source: PolicySource,
    private readonly tree: CompartmentTree,
    private readonly log?: { warn(obj: object, msg: string): void },
  ) {}

  invalidate(): void {
    this.generation++;
    this.compiled = null;
    this.loading = null;
    this.decisions.clear();
  }

  /** The compiled policy set, loading it once per change however many requests ask at the same time. */
  async policySet(): Promise<CompiledPolicySet> {
    if (this.compiled) return this.compiled;
    if (!this.loading) {
      const generation = this.generation;
      const loading = (async () => {
        const [policies, groups] = await Promise.all([this.source.allPolicies(), this.source.allDynamicGroups()]);
        const set = compilePolicySet(policies, groups);
        if (set.problems.length > 0) this.log?.warn({ problems: set.problems }, 'policy text that does not parse grants nothing');
        if (generation === this.generation) this.compiled = set;
        return set;
      })();
      this.loading = loading;
      // A failed load is not kept: the next request tries again.
      loading.catch(() => {
        if (this.loading === loading) this.loading = null;
      });
    }
    return this.loading;
  }

  /** Whether some statement names the principal at all (otherwise every request of it is denied). */
  async namesPrincipal(principal: Principal): Promise<boolean> {
    return namedByAnyStatement(principal, await this.policySet());
  }

  async decide(principal: Principal, operation: string, targetCompartmentId: string): Promise<Decision> {
    const version = this.tree.version;
    if (version === undefined) return evaluate({ principal, operation, targetCompartmentId }, await this.policySet(), this.tree);
    if (version !== this.decisionsTreeVersion) {
      this.decisions.clear();
      this.decisionsTreeVersion = version;
    }
    const key = `${decisionKey(principal)}\n${operation}\n${targetCompartmentId}`;
    const kept = this.decisions.get(key);
    if (kept) return kept;
    const generation = this.generation;
    const set = await this.policySet();
    const d = evaluate({ principal, operation, targetCompartmentId }, set, this.tree);
    // Kept only when nothing changed while the set loaded: neither the policies nor the tree it was decided on.
    if (generation === this.generation && this.tree.version === this.decisionsTreeVersion) {
      if (this.decisions.size >= MAX_DECISIONS) this.decisions.clear();
      this.decisions.set(key, d);
    }
    return d;
  }

  /**
   * Returns when allowed; otherwise throws NotAuthorizedOrNotFound (404), worded as a missing `target` would be, so a
   * denied caller cannot tell a resource it may not see from one that does not exist.
   */
  async authorize(principal: Principal, operation: string, targetCompartmentId: string, target?: Target): Promise<void> {
    const d = await this.decide(principal, operation, targetCompartmentId);
    if (d.allowed) return;
    throw target ? notFound(target.what, target.id) : new DsError('NotAuthorizedOrNotFound', 'Authorization failed or requested resource not found');
  }

  /**
   * The items of a list the principal may see under `operation` (ListJobs, say): each item's compartment is decided
   * once per call however many items share it. A list over a compartment subtree thus shows exactly the
   * compartments the principal's statements reach.
   */
  async filterListable<T>(principal: Principal, operation: string, items: readonly T[], compartmentOf: (item: T) => string): Promise<T[]> {
    const set = await this.policySet();
    const seen = new Map<string, boolean>();
    return items.filter((item) => {
      const c = compartmentOf(item);
      let ok = seen.get(c);
      if (ok === undefined) {
        ok = evaluate({ principal, operation, targetCompartmentId: c }, set, this.tree).allowed;
        seen.set(c, ok);
      }
      return ok;
    });
  }
}

/**
 * Automation fires as the user that made it: the run needs that user's CreateJobRun in the run's compartment and
 * GetJob on the job, decided with the user's groups as they are now (a user removed from a group, or deleted, can
 * no longer start runs through what they made). A compartment that names none is decided as the tenancy.
 */
export async function authorizeRunAs(
  authorizer: Authorizer,
  tree: CompartmentTree,
  tenancyId: string,
  principalOf: (userId: string) => Promise<Principal>,
  userId: string,
  compartmentId: string,
  job: JobRecord,
): Promise<void> {
  const known = (c: string) => (tree.parentOf(c) === undefined ? tenancyId : c);
  const principal = await principalOf(userId);
  await authorizer.authorize(principal, 'CreateJobRun', known(compartmentId), { what: 'Job', id: job.id });
  await authorizer.authorize(principal, 'GetJob', known(job.compartmentId), { what: 'Job', id: job.id });
}

/**
 * Whether `userId` may read an event (a webhook subscription it made is sent only those): reading an event is
 * reading the resource it carries (GetProject, GetJob, GetJobRun; other events ListEvents) where it lives, with the
 * user's groups as they are now.
 */
export async function mayReadEventAs(
  authorizer: Authorizer,
  tree: CompartmentTree,
  tenancyId: string,
  principalOf: (userId: string) => Promise<Principal>,
  userId: string,
  event: { resourceId: string; compartmentId: string },
): Promise<boolean> {
  const compartmentId = tree.parentOf(event.compartmentId) === undefined ? tenancyId : event.compartmentId;
  const operation = readOperationForOcid(event.resourceId) ?? 'ListEvents';
  return (await authorizer.decide(await principalOf(userId), operation, compartmentId)).allowed;
}

/**
 * Whether a run's outputs may be written to a bucket (run-outputs.ts): allowed when the run's own principal (its
 * dynamic groups, as ADS's drivers write with the run's resource principal) or the user that started it may put
 * objects there (PutObject: `manage objects`). A run that another run started has only its own principal to go by.
 */
export async function authorizeOutputWrite(
  authorizer: Authorizer,
  tree: CompartmentTree,
  tenancyId: string,
  principalOf: (userId: string) => Promise<Principal>,
  run: { id: string; compartmentId: string; createdBy: string },
  bucket: { name: string; compartmentId: string },
): Promise<void> {
  const known = (c: string) => (tree.parentOf(c) === undefined ? tenancyId : c);
  const target = known(bucket.compartmentId);
  if ((await authorizer.decide({ kind: 'run', runId: run.id, compartmentId: known(run.compartmentId) }, 'PutObject', target)).allowed) return;
  const denied = new DsError('NotAuthorizedOrNotFound', `neither the run's principal nor its creator ${run.createdBy} may write objects in bucket '${bucket.name}' (PutObject: manage objects)`);
  if (run.createdBy.startsWith('ocid1.datasciencejobrun.')) throw denied;
  if (!(await authorizer.decide(await principalOf(run.createdBy), 'PutObject', target)).allowed) throw denied;
}
