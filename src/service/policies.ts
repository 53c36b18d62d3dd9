import { DsError, invalid, notFound } from '../domain/errors.js';
import { newOcid } from '../domain/ids.js';
import { parseMatchingRule } from '../domain/policy/matching-rule.js';
import { parseStatement } from '../domain/policy/statement.js';
import { PolicySyntaxError } from '../domain/policy/syntax-error.js';
import type { DefinedTags, Page, Tags } from '../store/records.js';
import type { DynamicGroupRecord, IdentityListQuery, PolicyRecord, PolicyStore } from '../store/policy-store.js';
import { newNamed } from '../store/named-rows.js';
import type { Store } from '../store/store.js';
import { checkCompartment } from './projects.js';
import { bodyHash, checkIfMatch, iso, type Clock, type ServerIdentity } from './common.js';

// OCI's limits: 50 statements per policy; names of 1-100 characters; descriptions of 1-400.
const MAX_STATEMENTS = 50;
const MAX_STATEMENT_CHARS = 4000;
const MAX_RULE_CHARS = 2000;
const NAME_RE = /^[A-Za-z0-9._-](?:[A-Za-z0-9._ -]{0,98}[A-Za-z0-9._-])?$/;

export interface CreatePolicyInput {
  compartmentId: string;
  name: string;
  statements: string[];
  description: string;
  versionDate?: string | null;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

export interface UpdatePolicyInput {
  description?: string;
  statements?: string[];
  versionDate?: string | null;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

export interface CreateDynamicGroupInput {
  compartmentId: string;
  name: string;
  matchingRule: string;
  description: string;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

export interface UpdateDynamicGroupInput {
  description?: string;
  matchingRule?: string;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

export interface PolicyServiceOptions {
  /**
   * Whether a compartment exists (is ACTIVE). Until the compartment tree is stored, the tenancy and the default
   * compartment are the only ones.
   */
  compartmentExists?: (id: string) => boolean;
  /** Called after every committed write: the authorizer drops its compiled policies. */
  onChange?: () => void;
}

function checkName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw invalid('name', 'must be 1-100 characters: letters, digits, spaces, periods, hyphens and underscores, not starting or ending with a space');
  }
}

function checkDescription(description: string): void {
  if (description.length < 1 || description.length > 400) throw invalid('description', 'must be 1-400 characters');
}

/** Every statement must parse; the first one that does not is named with its index, column and reason. */
function checkStatements(statements: string[], attachedToTenancy: boolean): void {
  if (statements.length < 1 || statements.length > MAX_STATEMENTS) throw invalid('statements', `must hold 1-${MAX_STATEMENTS} statements`);
  statements.forEach((text, i) => {
    if (text.length > MAX_STATEMENT_CHARS) throw invalid(`statements[${i}]`, `is longer than ${MAX_STATEMENT_CHARS} characters`);
    let location;
    try {
      location = parseStatement(text).location;
    } catch (err) {
      if (err instanceof PolicySyntaxError) throw invalid(`statements[${i}]`, err.message);
      throw err;
    }
    // OCI: a policy grants only in the compartment it is attached to and below, so `in tenancy` needs the root.
    if (location.kind === 'tenancy' && !attachedToTenancy) {
      throw invalid(`statements[${i}]`, "'in tenancy' is allowed only in a policy attached to the tenancy (root compartment); name a compartment below this policy's compartment instead");
    }
  });
}

function checkMatchingRule(rule: string): void {
  if (rule.length > MAX_RULE_CHARS) throw invalid('matchingRule', `is longer than ${MAX_RULE_CHARS} characters`);
  try {
    parseMatchingRule(rule);
  } catch (err) {
    if (err instanceof PolicySyntaxError) throw invalid('matchingRule', err.message);
    throw err;
  }
}

function checkVersionDate(v: string | null | undefined): void {
  if (v != null && Number.isNaN(Date.parse(v))) throw invalid('versionDate', 'must be an RFC 3339 date');
}

/** Identity policies and dynamic groups: OCI's create, get, list, update and delete, with statements validated. */
export class PoliciesService {
  private readonly compartmentExists: (id: string) => boolean;
  private readonly onChange: () => void;

  constructor(
    private readonly store: Store,
    private readonly policies: PolicyStore,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
    opts: PolicyServiceOptions = {},
  ) {
    this.compartmentExists = opts.compartmentExists ?? ((id) => id === identity.tenancyId || id === identity.defaultCompartmentId);
    this.onChange = opts.onChange ?? (() => {});
  }

  private checkKnownCompartment(id: unknown, field = 'compartmentId'): string {
    const c = checkCompartment(id, field);
    if (!this.compartmentExists(c)) throw invalid(field, `compartment ${c} does not exist`);
    return c;
  }

  private async changed<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      // Also after a failed write: a statement may have run before the error; a spare recompile costs little.
      this.onChange();
    }
  }

  // ---- policies
  async createPolicy(input: CreatePolicyInput, retryToken?: string): Promise<PolicyRecord> {
    const compartmentId = this.checkKnownCompartment(input.compartmentId);
    checkName(input.name);
    checkDescription(input.description);
    checkStatements(input.statements, compartmentId === this.identity.tenancyId);
    checkVersionDate(input.versionDate);
    const { id } = await this.changed(() =>
      this.store.idempotent('createPolicy', retryToken, bodyHash(input), async (tx) => {
        const rec: PolicyRecord = {
          ...newNamed(newOcid('policy', ''), input.name, input.description, iso(this.clock.now()), input),
          compartmentId,
          statements: input.statements,
          versionDate: input.versionDate ?? null,
        };
        await this.policies.insertPolicy(tx, rec);
        return rec.id;
      }),
    );
    return this.getPolicy(id);
  }

  async getPolicy(id: string): Promise<PolicyRecord> {
    const p = await this.policies.getPolicy(id);
    if (!p) throw notFound('Policy', id);
    return p;
  }

  listPolicies(q: IdentityListQuery): Promise<Page<PolicyRecord>> {
    this.checkKnownCompartment(q.compartmentId);
    return this.policies.listPolicies(q);
  }

  async updatePolicy(id: string, patch: UpdatePolicyInput, ifMatch?: string): Promise<PolicyRecord> {
    const p = await this.getPolicy(id);
    checkIfMatch(ifMatch, p.id, p.version);
    if (patch.description !== undefined) checkDescription(patch.description);
    if (patch.statements !== undefined) checkStatements(patch.statements, p.compartmentId === this.identity.tenancyId);
    checkVersionDate(patch.versionDate);
    const updated = await this.changed(() => this.store.transaction((tx) => this.policies.updatePolicy(tx, id, p.version, patch)));
    if (!updated) throw new DsError('Conflict', `Policy ${id} was changed concurrently; retry`);
    return updated;
  }

  async deletePolicy(id: string, ifMatch?: string): Promise<void> {
    const p = await this.getPolicy(id);
    checkIfMatch(ifMatch, p.id, p.version);
    const gone = await this.changed(() => this.store.transaction((tx) => this.policies.deletePolicy(tx, id, p.version)));
    if (!gone) throw new DsError('Conflict', `Policy ${id} was changed concurrently; retry`);
  }

  // ---- dynamic groups (they live in the tenancy, as OCI's do)
  private checkTenancy(id: unknown, field = 'compartmentId'): void {
    const c = checkCompartment(id, field);
    if (c !== this.identity.tenancyId) throw invalid(field, `dynamic groups live in the tenancy: must be the tenancy's OCID (${this.identity.tenancyId})`);
  }

  async createDynamicGroup(input: CreateDynamicGroupInput, retryToken?: string): Promise<DynamicGroupRecord> {
    this.checkTenancy(input.compartmentId);
    checkName(input.name);
    checkDescription(input.description);
    checkMatchingRule(input.matchingRule);
    const { id } = await this.changed(() =>
      this.store.idempotent('createDynamicGroup', retryToken, bodyHash(input), async (tx) => {
        const rec: DynamicGroupRecord = {
          ...newNamed(newOcid('dynamicgroup', ''), input.name, input.description, iso(this.clock.now()), input),
          compartmentId: input.compartmentId,
          matchingRule: input.matchingRule,
        };
        await this.policies.insertDynamicGroup(tx, rec);
        return rec.id;
      }),
    );
    return this.getDynamicGroup(id);
  }

  async getDynamicGroup(id: string): Promise<DynamicGroupRecord> {
    const g = await this.policies.getDynamicGroup(id);
    if (!g) throw notFound('Dynamic group', id);
    return g;
  }

  listDynamicGroups(q: IdentityListQuery): Promise<Page<DynamicGroupRecord>> {
    this.checkTenancy(q.compartmentId);
    return this.policies.listDynamicGroups(q);
  }

  async updateDynamicGroup(id: string, patch: UpdateDynamicGroupInput, ifMatch?: string): Promise<DynamicGroupRecord> {
    const g = await this.getDynamicGroup(id);
    checkIfMatch(ifMatch, g.id, g.version);
    if (patch.description !== undefined) checkDescription(patch.description);
    if (patch.matchingRule !== undefined) checkMatchingRule(patch.matchingRule);
    const updated = await this.changed(() => this.store.transaction((tx) => this.policies.updateDynamicGroup(tx, id, g.version, patch)));
    if (!updated) throw new DsError('Conflict', `Dynamic group ${id} was changed concurrently; retry`);
    return updated;
  }

  async deleteDynamicGroup(id: string, ifMatch?: string): Promise<void> {
    const g = await this.getDynamicGroup(id);
    checkIfMatch(ifMatch, g.id, g.version);
    const gone = await this.changed(() => this.store.transaction((tx) => this.policies.deleteDynamicGroup(tx, id, g.version)));
    if (!gone) throw new DsError('Conflict', `Dynamic group ${id} was changed concurrently; retry`);
  }
}
