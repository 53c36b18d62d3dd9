import type { Principal } from '../principal.js';
import { compileCondition, type Variables } from './conditions.js';
import { ancestorsOf, type CompartmentTree } from './compartment-tree.js';
import { compileMatchingRule, type MatchedResource } from './matching-rule.js';
import { requirementOf } from './operations.js';
import { typesCovered, VERB_RANK } from './resource-types.js';
import { parseStatement, type Location, type Subject } from './statement.js';

/** A policy as stored: its statements and the compartment it is attached to (where names in it resolve from). */
export interface PolicyInput {
  id: string;
  name: string;
  compartmentId: string;
  statements: string[];
}

export interface DynamicGroupInput {
  id: string;
  name: string;
  matchingRule: string;
}

/** One statement, parsed once and kept in the form evaluation checks fastest. */
export interface CompiledStatement {
  policyName: string;
  index: number;
  text: string;
  attachedTo: string;
  subject: Subject;
  /** Lower-cased group or dynamic-group names (empty for any-user / any-group). */
  names: ReadonlySet<string>;
  verbRank: number;
  types: ReadonlySet<string>;
  location: Location;
  condition: ((vars: Variables) => boolean) | null;
}

export interface CompiledPolicySet {
  statements: CompiledStatement[];
  dynamicGroups: { name: string; matches: (r: MatchedResource) => boolean }[];
  /** Stored text that no longer parses (written by another version): it grants nothing, and is reported here. */
  problems: string[];
}

/** The run principal's resource type, as dynamic-group matching rules name it. */
export const RUN_RESOURCE_TYPE = 'datasciencejobrun';

/** Parses every statement and matching rule once; evaluation never parses. */
export function compilePolicySet(policies: PolicyInput[], dynamicGroups: DynamicGroupInput[]): CompiledPolicySet {
  const set: CompiledPolicySet = { statements: [], dynamicGroups: [], problems: [] };
  for (const p of policies) {
    p.statements.forEach((text, index) => {
      try {
        const s = parseStatement(text);
        set.statements.push({
          policyName: p.name,
          index,
          text,
          attachedTo: p.compartmentId,
          subject: s.subject,
          names: new Set(s.subject.kind === 'group' || s.subject.kind === 'dynamic-group' ? s.subject.names : []),
          verbRank: VERB_RANK[s.verb],
          types: typesCovered(s.resourceType),
          location: s.location,
          condition: s.condition ? compileCondition(s.condition) : null,
        });
      } catch (err) {
        set.problems.push(`policy ${p.name} (${p.id}) statements[${index}]: ${(err as Error).message}`);
      }
    });
  }
  for (const g of dynamicGroups) {
    try {
      set.dynamicGroups.push({ name: g.name.toLowerCase(), matches: compileMatchingRule(g.matchingRule) });
    } catch (err) {
      set.problems.push(`dynamic group ${g.name} (${g.id}) matchingRule: ${(err as Error).message}`);
    }
  }
  return set;
}

export interface AuthzRequest {
  principal: Principal;
  /** OCI's operation name (a route's operationId), e.g. ListJobs. */
  operation: string;
  /** The compartment the operation acts in: the resource's, or for creates and lists the one named in the request. */
  targetCompartmentId: string;
}

export interface Decision {
  allowed: boolean;
  reason: string;
}

/** The names of the dynamic groups whose matching rules the run principal meets. */
export function dynamicGroupsOf(principal: Principal, set: CompiledPolicySet): Set<string> {
  const out = new Set<string>();
  if (principal.kind !== 'run') return out;
  const res: MatchedResource = { type: RUN_RESOURCE_TYPE, id: principal.runId, compartmentId: principal.compartmentId };
  for (const g of set.dynamicGroups) if (g.matches(res)) out.add(g.name);
  return out;
}

function subjectMatches(s: CompiledStatement, principal: Principal, groups: ReadonlySet<string>, dynamicGroups: ReadonlySet<string>): boolean {
  switch (s.subject.kind) {
    case 'any-user':
      return true;
    case 'any-group':
      return principal.kind === 'user';
    case 'group':
      if (principal.kind !== 'user') return false;
      for (const n of s.names) if (groups.has(n)) return true;
      return false;
    case 'dynamic-group':
      if (principal.kind !== 'run') return false;
      for (const n of s.names) if (dynamicGroups.has(n)) return true;
      return false;
  }
}

/**
 * The compartment a statement's location names, or undefined when it names none that the policy may grant: a
 * path resolves child by child from the compartment the policy is attached to; an OCID must be that compartment or
 * below it; `tenancy` only counts in a policy attached to the tenancy itself (OCI refuses the rest at write time).
 */
function locationOf(s: CompiledStatement, tree: CompartmentTree): string | undefined {
  const loc = s.location;
  if (loc.kind === 'tenancy') return tree.parentOf(s.attachedTo) === null ? s.attachedTo : undefined;
  if (loc.kind === 'id') return ancestorsOf(tree, loc.id).includes(s.attachedTo) ? loc.id : undefined;
  let at: string | undefined = s.attachedTo;
  for (const name of loc.names) {
    at = tree.childByName(at, name);
    if (at === undefined) return undefined;
  }
  return at;
}

function describe(p: Principal): string {
  return p.kind === 'user' ? `user ${p.userId}` : `the run principal of ${p.runId}`;
}

/**
 * Whether any statement names the principal (its groups, the dynamic groups its run matches, or any-user): one that
 * none names is granted nothing, whatever it asks.
 */
export function namedByAnyStatement(principal: Principal, set: CompiledPolicySet): boolean {
  const groups = new Set(principal.kind === 'user' ? principal.groupNames.map((g) => g.toLowerCase()) : []);
  const dynamicGroups = dynamicGroupsOf(principal, set);
  return set.statements.some((s) => subjectMatches(s, principal, groups, dynamicGroups));
}

/**
 * Decides one request: allowed when some statement names the principal (its groups, or the dynamic groups its run
 * matches), grants at least the operation's verb on a type that covers the operation's resource type, applies to
 * the target compartment or one of its ancestors (a statement covers its compartment's whole subtree; `tenancy`
 * covers all), and whose condition, if any, holds. Everything else is denied.
 */
export function evaluate(req: AuthzRequest, set: CompiledPolicySet, tree: CompartmentTree): Decision {
  const need = requirementOf(req.operation);
  if (!need) return { allowed: false, reason: `${req.operation} is not an operation that policies grant` };
  const { principal } = req;
  const groups = new Set(principal.kind === 'user' ? principal.groupNames.map((g) => g.toLowerCase()) : []);
  const dynamicGroups = dynamicGroupsOf(principal, set);
  const verbRank = VERB_RANK[need.verb];
  let ancestors: string[] | null = null;
  let vars: Variables | null = null;
  for (const s of set.statements) {
    if (s.verbRank < verbRank || !s.types.has(need.resourceType)) continue;
    if (!subjectMatches(s, principal, groups, dynamicGroups)) continue;
    ancestors ??= ancestorsOf(tree, req.targetCompartmentId);
    const at = locationOf(s, tree);
    if (at === undefined || !ancestors.includes(at)) continue;
    if (s.condition) {
      vars ??= {
        'request.operation': req.operation,
        'request.user.id': principal.kind === 'user' ? principal.userId : undefined,
        'target.compartment.id': req.targetCompartmentId,
        'target.compartment.name': tree.nameOf(req.targetCompartmentId),
        'resource.type': need.resourceType,
      };
      if (!s.condition(vars)) continue;
    }
    return { allowed: true, reason: `allowed by policy ${s.policyName} statements[${s.index}]: ${s.text}` };
  }
  return {
    allowed: false,
    reason: `no policy allows ${describe(principal)} to ${need.verb} ${need.resourceType} (${req.operation}) in compartment ${req.targetCompartmentId}`,
  };
}
