import type { Kysely, Transaction } from 'kysely';
import { DsError } from '../domain/errors.js';
import type { Database, DynamicGroupTable, PolicyTable } from './schema.js';
import type { DefinedTags, Page, Tags } from './records.js';
import { isUniqueViolation } from './dialect.js';
import { namedFromRow, namedPatchRow, namedToRow, updateAtVersion, type Named, type NamedListQuery } from './named-rows.js';
import { keysetPage } from './paging.js';
import type { Store } from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface PolicyRecord extends Named<'ACTIVE'> {
  compartmentId: string;
  statements: string[];
  versionDate: string | null;
}

export interface DynamicGroupRecord extends Named<'ACTIVE'> {
  compartmentId: string;
  matchingRule: string;
}

/** OCI Identity's list conventions: one compartment, an optional exact name, sort by TIMECREATED or NAME. */
export type IdentityListQuery = NamedListQuery & { compartmentId: string };

const policyFromRow = (r: PolicyTable): PolicyRecord => ({
  ...namedFromRow<'ACTIVE'>(r),
  compartmentId: r.compartment_id,
  statements: JSON.parse(r.statements),
  versionDate: r.version_date,
});

const groupFromRow = (r: DynamicGroupTable): DynamicGroupRecord => ({ ...namedFromRow<'ACTIVE'>(r), compartmentId: r.compartment_id, matchingRule: r.matching_rule });

/** The columns of a policy or dynamic group row that every such row has: names are unique ignoring case (name_key). */
const ownedNamedRow = (n: Named<'ACTIVE'> & { compartmentId: string }) => ({ ...namedToRow(n), compartment_id: n.compartmentId, name_key: n.name.toLowerCase() });

/** A second row with the same name (any case): the unique index on name_key refuses it. */
function nameTaken(err: unknown, what: string, name: string): unknown {
  if (isUniqueViolation(err)) {
    return new DsError('Conflict', `A ${what} named '${name}' already exists in the tenancy; names are unique (ignoring case)`);
  }
  return err;
}

/**
 * Policies and dynamic groups. A delete removes the row (a later get is a 404, where OCI shows DELETED for a while).
 * Writes go through the store's transactions; the authorizer's cache is invalidated by the service after each.
 */
export class PolicyStore {
  constructor(private readonly store: Store) {}

  private get db(): Kysely<Database> {
    return this.store.db;
  }

  // ---- policies
  async insertPolicy(tx: Db, p: PolicyRecord): Promise<void> {
    try {
      await tx
        .insertInto('policies')
        .values({ ...ownedNamedRow(p), statements: JSON.stringify(p.statements), version_date: p.versionDate })
        .execute();
    } catch (err) {
      throw nameTaken(err, 'policy', p.name);
    }
  }

  async getPolicy(id: string): Promise<PolicyRecord | null> {
    const r = await this.db.selectFrom('policies').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? policyFromRow(r) : null;
  }

  listPolicies(q: IdentityListQuery): Promise<Page<PolicyRecord>> {
    let query = this.db.selectFrom('policies').selectAll().where('compartment_id', '=', q.compartmentId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.lifecycleState !== undefined) query = query.where('lifecycle_state', '=', q.lifecycleState);
    return keysetPage(query, { column: q.sortBy === 'NAME' ? 'name_key' : 'time_created', desc: q.sortOrder === 'DESC', page: q.page, limit: q.limit }, policyFromRow);
  }

  /** Every policy, for compiling: the set is small (OCI allows 100 per tenancy by default) and read once per change. */
  async allPolicies(): Promise<PolicyRecord[]> {
    return (await this.db.selectFrom('policies').selectAll().where('lifecycle_state', '=', 'ACTIVE').execute()).map(policyFromRow);
  }

  /** Compare-and-set on the version; null when the policy changed (or went) since it was read. */
  async updatePolicy(
    tx: Db,
    id: string,
    version: number,
    patch: { description?: string; statements?: string[]; versionDate?: string | null; freeformTags?: Tags; definedTags?: DefinedTags },
  ): Promise<PolicyRecord | null> {
    const set: Partial<PolicyTable> = namedPatchRow(version, patch);
    if (patch.statements !== undefined) set.statements = JSON.stringify(patch.statements);
    if (patch.versionDate !== undefined) set.version_date = patch.versionDate;
    return updateAtVersion(tx, 'policies', id, version, set, policyFromRow);
  }

  async deletePolicy(tx: Db, id: string, version: number): Promise<boolean> {
    const r = await tx.deleteFrom('policies').where('id', '=', id).where('version', '=', version).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  // ---- dynamic groups
  async insertDynamicGroup(tx: Db, g: DynamicGroupRecord): Promise<void> {
    try {
      await tx
        .insertInto('dynamic_groups')
        .values({ ...ownedNamedRow(g), matching_rule: g.matchingRule })
        .execute();
    } catch (err) {
      throw nameTaken(err, 'dynamic group', g.name);
    }
  }

  async getDynamicGroup(id: string): Promise<DynamicGroupRecord | null> {
    const r = await this.db.selectFrom('dynamic_groups').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? groupFromRow(r) : null;
  }

  listDynamicGroups(q: IdentityListQuery): Promise<Page<DynamicGroupRecord>> {
    let query = this.db.selectFrom('dynamic_groups').selectAll().where('compartment_id', '=', q.compartmentId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.lifecycleState !== undefined) query = query.where('lifecycle_state', '=', q.lifecycleState);
    return keysetPage(query, { column: q.sortBy === 'NAME' ? 'name_key' : 'time_created', desc: q.sortOrder === 'DESC', page: q.page, limit: q.limit }, groupFromRow);
  }

  async allDynamicGroups(): Promise<DynamicGroupRecord[]> {
    return (await this.db.selectFrom('dynamic_groups').selectAll().where('lifecycle_state', '=', 'ACTIVE').execute()).map(groupFromRow);
  }

  async updateDynamicGroup(
    tx: Db,
    id: string,
    version: number,
    patch: { description?: string; matchingRule?: string; freeformTags?: Tags; definedTags?: DefinedTags },
  ): Promise<DynamicGroupRecord | null> {
    const set: Partial<DynamicGroupTable> = namedPatchRow(version, patch);
    if (patch.matchingRule !== undefined) set.matching_rule = patch.matchingRule;
    return updateAtVersion(tx, 'dynamic_groups', id, version, set, groupFromRow);
  }

  async deleteDynamicGroup(tx: Db, id: string, version: number): Promise<boolean> {
    const r = await tx.deleteFrom('dynamic_groups').where('id', '=', id).where('version', '=', version).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }
}
