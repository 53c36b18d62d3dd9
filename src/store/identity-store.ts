import type { Kysely } from 'kysely';
import type { DefinedTags, Page, Tags } from './records.js';
import { keysetPage } from './paging.js';
import type { Store } from './store.js';

/** OCI Identity's lifecycle states; deletions here are immediate, so CREATING and DELETING are never stored. */
export type IdentityState = 'ACTIVE' | 'INACTIVE' | 'DELETED';

export interface CompartmentRecord {
  id: string;
  /** The parent compartment; null for the tenancy (the root). */
  parentId: string | null;
  name: string;
  description: string;
  lifecycleState: IdentityState;
  timeCreated: string;
  freeformTags: Tags;
  definedTags: DefinedTags;
  version: number;
}

export interface UserRecord {
  id: string;
  compartmentId: string;
  name: string;
  description: string;
  email: string | null;
  lifecycleState: IdentityState;
  blocked: boolean;
  timeCreated: string;
  freeformTags: Tags;
  definedTags: DefinedTags;
  version: number;
}

export interface GroupRecord {
  id: string;
  compartmentId: string;
  name: string;
  description: string;
  lifecycleState: IdentityState;
  timeCreated: string;
  freeformTags: Tags;
  definedTags: DefinedTags;
  version: number;
}

export interface MembershipRecord {
  id: string;
  compartmentId: string;
  userId: string;
  groupId: string;
  lifecycleState: IdentityState;
  timeCreated: string;
}

export interface ApiKeyRecord {
  userId: string;
  fingerprint: string;
  keyValue: string;
  lifecycleState: IdentityState;
  timeCreated: string;
}

interface Tables {
  compartments: {
    id: string;
    parent_id: string | null;
    name: string;
    description: string;
    lifecycle_state: string;
    time_created: string;
    freeform_tags: string;
    defined_tags: string;
    version: number;
  };
  users: {
    id: string;
    compartment_id: string;
    name: string;
    description: string;
    email: string | null;
    lifecycle_state: string;
    blocked: number;
    time_created: string;
    freeform_tags: string;
    defined_tags: string;
    version: number;
  };
  groups: {
    id: string;
    compartment_id: string;
    name: string;
    description: string;
    lifecycle_state: string;
    time_created: string;
    freeform_tags: string;
    defined_tags: string;
    version: number;
  };
  user_group_memberships: {
    id: string;
    compartment_id: string;
    user_id: string;
    group_id: string;
    lifecycle_state: string;
    time_created: string;
  };
  api_keys: { user_id: string; fingerprint: string; key_value: string; lifecycle_state: string; time_created: string };
  user_passwords: { user_id: string; hash: string; time_set: string };
  console_sessions: { token_hash: string; user_id: string; user_name: string; csrf_token: string; expires_ms: number };
}

export interface SessionRecord {
  tokenHash: string;
  userId: string;
  userName: string;
  csrfToken: string;
  expiresMs: number;
}

export type IdentityDb = Kysely<Tables>;

const j = (v: unknown) => JSON.stringify(v ?? {});

const compartmentFromRow = (r: Tables['compartments']): CompartmentRecord => ({
  id: r.id,
  parentId: r.parent_id,
  name: r.name,
  description: r.description,
  lifecycleState: r.lifecycle_state as IdentityState,
  timeCreated: r.time_created,
  freeformTags: JSON.parse(r.freeform_tags),
  definedTags: JSON.parse(r.defined_tags),
  version: r.version,
});
const userFromRow = (r: Tables['users']): UserRecord => ({
  id: r.id,
  compartmentId: r.compartment_id,
  name: r.name,
  description: r.description,
  email: r.email,
  lifecycleState: r.lifecycle_state as IdentityState,
  blocked: r.blocked === 1,
  timeCreated: r.time_created,
  freeformTags: JSON.parse(r.freeform_tags),
  definedTags: JSON.parse(r.defined_tags),
  version: r.version,
});
const groupFromRow = (r: Tables['groups']): GroupRecord => ({
  id: r.id,
  compartmentId: r.compartment_id,
  name: r.name,
  description: r.description,
  lifecycleState: r.lifecycle_state as IdentityState,
  timeCreated: r.time_created,
  freeformTags: JSON.parse(r.freeform_tags),
  definedTags: JSON.parse(r.defined_tags),
  version: r.version,
});
const membershipFromRow = (r: Tables['user_group_memberships']): MembershipRecord => ({
  id: r.id,
  compartmentId: r.compartment_id,
  userId: r.user_id,
  groupId: r.group_id,
  lifecycleState: r.lifecycle_state as IdentityState,
  timeCreated: r.time_created,
});
const keyFromRow = (r: Tables['api_keys']): ApiKeyRecord => ({
  userId: r.user_id,
  fingerprint: r.fingerprint,
  keyValue: r.key_value,
  lifecycleState: r.lifecycle_state as IdentityState,
  timeCreated: r.time_created,
});

/** The resources of the Data Science family and its automation that keep a compartment from being deleted. */
const CONTENT_TABLES = ['projects', 'jobs', 'trigger_rules', 'schedules', 'webhook_subscriptions'] as const;

export interface NamedListQuery {
  name?: string;
  lifecycleState?: string;
  sortBy: 'TIMECREATED' | 'NAME';
  sortOrder: 'ASC' | 'DESC';
  limit: number;
  page?: string;
}

/**
 * Compartments, users, groups, memberships and API keys. Every write goes through `store.transaction` (callers
 * pass its `tx`); `onChange` is told after each write that can change who a key authenticates, so the
 * authentication cache drops what it knew (one server per SQLite file, as for the list caches).
 */
export class IdentityStore {
  constructor(private readonly store: Store) {}

  /** Set by the service: called after a write to users or API keys commits. */
  onCredentialsChanged: () => void = () => {};

  get db(): IdentityDb {
    return this.store.db as unknown as IdentityDb;
  }

  transaction<T>(fn: (tx: IdentityDb) => Promise<T>): Promise<T> {
    return this.store.transaction((tx) => fn(tx as unknown as IdentityDb));
  }

  // ---- compartments ----
  async insertCompartment(tx: IdentityDb, c: CompartmentRecord): Promise<void> {
    await tx
      .insertInto('compartments')
      .values({
        id: c.id,
        parent_id: c.parentId,
        name: c.name,
        description: c.description,
        lifecycle_state: c.lifecycleState,
        time_created: c.timeCreated,
        freeform_tags: j(c.freeformTags),
        defined_tags: j(c.definedTags),
        version: c.version,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async getCompartment(id: string, tx: IdentityDb = this.db): Promise<CompartmentRecord | null> {
    const r = await tx.selectFrom('compartments').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? compartmentFromRow(r) : null;
  }

  /** Every compartment that is not deleted: the tree is small (OCI allows 1,000 per tenancy). */
  async liveCompartments(tx: IdentityDb = this.db): Promise<CompartmentRecord[]> {
    return (await tx.selectFrom('compartments').selectAll().where('lifecycle_state', '!=', 'DELETED').execute()).map(compartmentFromRow);
  }

  async siblingNamed(tx: IdentityDb, parentId: string, name: string, exceptId?: string): Promise<boolean> {
    let q = tx.selectFrom('compartments').select('id').where('parent_id', '=', parentId).where('name', '=', name).where('lifecycle_state', '!=', 'DELETED');
    if (exceptId) q = q.where('id', '!=', exceptId);
    return !!(await q.executeTakeFirst());
  }

  async updateCompartment(
    tx: IdentityDb,
    id: string,
    version: number,
    patch: Partial<Pick<CompartmentRecord, 'name' | 'description' | 'freeformTags' | 'definedTags' | 'lifecycleState'>>,
  ): Promise<CompartmentRecord | null> {
    const set: Partial<Tables['compartments']> = { version: version + 1 };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.freeformTags !== undefined) set.freeform_tags = j(patch.freeformTags);
    if (patch.definedTags !== undefined) set.defined_tags = j(patch.definedTags);
    if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
    const r = await tx.updateTable('compartments').set(set).where('id', '=', id).where('version', '=', version).returningAll().executeTakeFirst();
    return r ? compartmentFromRow(r) : null;
  }

  /** What still lives in a compartment: its child compartments and the resources of other families in it. */
  async compartmentContents(tx: IdentityDb, id: string): Promise<string[]> {
    const found: string[] = [];
    const children = await tx.selectFrom('compartments').select('id').where('parent_id', '=', id).where('lifecycle_state', '!=', 'DELETED').execute();
    if (children.length > 0) found.push(`${children.length} compartment(s)`);
    const any = tx as unknown as Kysely<any>;
    for (const table of CONTENT_TABLES) {
      const r = await any
        .selectFrom(table)
        .select((eb: any) => eb.fn.countAll().as('n'))
        .where('compartment_id', '=', id)
        .where('lifecycle_state', '!=', 'DELETED')
        .executeTakeFirst();
      const n = Number((r as { n?: number } | undefined)?.n ?? 0);
      if (n > 0) found.push(`${n} ${table.replace(/_/g, ' ')}`);
    }
    return found;
  }

  // ---- users ----
  async insertUser(tx: IdentityDb, u: UserRecord): Promise<void> {
    await tx
      .insertInto('users')
      .values({
        id: u.id,
        compartment_id: u.compartmentId,
        name: u.name,
        description: u.description,
        email: u.email,
        lifecycle_state: u.lifecycleState,
        blocked: u.blocked ? 1 : 0,
        time_created: u.timeCreated,
        freeform_tags: j(u.freeformTags),
        defined_tags: j(u.definedTags),
        version: u.version,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async getUser(id: string, tx: IdentityDb = this.db): Promise<UserRecord | null> {
    const r = await tx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? userFromRow(r) : null;
  }

  async liveNameTaken(tx: IdentityDb, table: 'users' | 'groups', name: string): Promise<boolean> {
    const r = await tx.selectFrom(table).select('id').where('name', '=', name).where('lifecycle_state', '!=', 'DELETED').executeTakeFirst();
    return !!r;
  }

  async updateUser(
    tx: IdentityDb,
    id: string,
    version: number,
    patch: Partial<Pick<UserRecord, 'description' | 'email' | 'freeformTags' | 'definedTags' | 'lifecycleState' | 'blocked'>>,
  ): Promise<UserRecord | null> {
    const set: Partial<Tables['users']> = { version: version + 1 };
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.email !== undefined) set.email = patch.email;
    if (patch.freeformTags !== undefined) set.freeform_tags = j(patch.freeformTags);
    if (patch.definedTags !== undefined) set.defined_tags = j(patch.definedTags);
    if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
    if (patch.blocked !== undefined) set.blocked = patch.blocked ? 1 : 0;
    const r = await tx.updateTable('users').set(set).where('id', '=', id).where('version', '=', version).returningAll().executeTakeFirst();
    return r ? userFromRow(r) : null;
  }

  async liveUserNamed(name: string): Promise<UserRecord | null> {
    const r = await this.db.selectFrom('users').selectAll().where('name', '=', name).where('lifecycle_state', '!=', 'DELETED').executeTakeFirst();
    return r ? userFromRow(r) : null;
  }

  // ---- console passwords ----
  async setPassword(tx: IdentityDb, userId: string, hash: string, time: string): Promise<void> {
    await tx
      .insertInto('user_passwords')
      .values({ user_id: userId, hash, time_set: time })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ hash, time_set: time }))
      .execute();
  }

  async passwordHash(userId: string): Promise<string | null> {
    const r = await this.db.selectFrom('user_passwords').select('hash').where('user_id', '=', userId).executeTakeFirst();
    return r?.hash ?? null;
  }

  // ---- console sessions ----
  async insertSession(s: SessionRecord): Promise<void> {
    await this.transaction((tx) =>
      tx
        .insertInto('console_sessions')
        .values({ token_hash: s.tokenHash, user_id: s.userId, user_name: s.userName, csrf_token: s.csrfToken, expires_ms: s.expiresMs })
        .execute(),
    );
  }

  async getSession(tokenHash: string): Promise<SessionRecord | null> {
    const r = await this.db.selectFrom('console_sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return r ? { tokenHash: r.token_hash, userId: r.user_id, userName: r.user_name, csrfToken: r.csrf_token, expiresMs: Number(r.expires_ms) } : null;
  }

  /** Deletes one session (by token hash), every session of a user, or the expired ones. */
  async deleteSessions(by: { tokenHash?: string; userId?: string; expiredAt?: number }): Promise<void> {
    await this.transaction(async (tx) => {
      let q = tx.deleteFrom('console_sessions');
      if (by.tokenHash !== undefined) q = q.where('token_hash', '=', by.tokenHash);
      if (by.userId !== undefined) q = q.where('user_id', '=', by.userId);
      if (by.expiredAt !== undefined) q = q.where('expires_ms', '<=', by.expiredAt);
      await q.execute();
    });
  }

  // ---- groups ----
  async insertGroup(tx: IdentityDb, g: GroupRecord): Promise<void> {
    await tx
      .insertInto('groups')
      .values({
        id: g.id,
        compartment_id: g.compartmentId,
        name: g.name,
        description: g.description,
        lifecycle_state: g.lifecycleState,
        time_created: g.timeCreated,
        freeform_tags: j(g.freeformTags),
        defined_tags: j(g.definedTags),
        version: g.version,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async getGroup(id: string, tx: IdentityDb = this.db): Promise<GroupRecord | null> {
    const r = await tx.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? groupFromRow(r) : null;
  }

  async updateGroup(
    tx: IdentityDb,
    id: string,
    version: number,
    patch: Partial<Pick<GroupRecord, 'description' | 'freeformTags' | 'definedTags' | 'lifecycleState'>>,
  ): Promise<GroupRecord | null> {
    const set: Partial<Tables['groups']> = { version: version + 1 };
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.freeformTags !== undefined) set.freeform_tags = j(patch.freeformTags);
    if (patch.definedTags !== undefined) set.defined_tags = j(patch.definedTags);
    if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
    const r = await tx.updateTable('groups').set(set).where('id', '=', id).where('version', '=', version).returningAll().executeTakeFirst();
    return r ? groupFromRow(r) : null;
  }

  /** One page of users or groups of the tenancy, in OCI's sort orders (TIMECREATED or NAME). */
  listNamed<T extends 'users' | 'groups'>(table: T, q: NamedListQuery): Promise<Page<T extends 'users' ? UserRecord : GroupRecord>> {
    let query = (this.db as unknown as Kysely<any>).selectFrom(table).selectAll();
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.lifecycleState !== undefined) query = query.where('lifecycle_state', '=', q.lifecycleState);
    else query = query.where('lifecycle_state', '!=', 'DELETED');
    const map = (table === 'users' ? userFromRow : groupFromRow) as (r: any) => any;
    return keysetPage(query, { column: q.sortBy === 'NAME' ? 'name' : 'time_created', desc: q.sortOrder === 'DESC', page: q.page, limit: q.limit }, map);
  }

  // ---- memberships ----
  async insertMembership(tx: IdentityDb, m: MembershipRecord): Promise<void> {
    await tx
      .insertInto('user_group_memberships')
      .values({
        id: m.id,
        compartment_id: m.compartmentId,
        user_id: m.userId,
        group_id: m.groupId,
        lifecycle_state: m.lifecycleState,
        time_created: m.timeCreated,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async getMembership(id: string, tx: IdentityDb = this.db): Promise<MembershipRecord | null> {
    const r = await tx.selectFrom('user_group_memberships').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? membershipFromRow(r) : null;
  }

  async activeMembership(tx: IdentityDb, userId: string, groupId: string): Promise<MembershipRecord | null> {
    const r = await tx
      .selectFrom('user_group_memberships')
      .selectAll()
      .where('user_id', '=', userId)
      .where('group_id', '=', groupId)
      .where('lifecycle_state', '=', 'ACTIVE')
      .executeTakeFirst();
    return r ? membershipFromRow(r) : null;
  }

  async countActiveMemberships(tx: IdentityDb, by: { userId?: string; groupId?: string }): Promise<number> {
    let q = tx.selectFrom('user_group_memberships').select((eb) => eb.fn.countAll<number>().as('n')).where('lifecycle_state', '=', 'ACTIVE');
    if (by.userId) q = q.where('user_id', '=', by.userId);
    if (by.groupId) q = q.where('group_id', '=', by.groupId);
    return Number((await q.executeTakeFirstOrThrow()).n);
  }

  listMemberships(q: { userId?: string; groupId?: string; limit: number; page?: string }): Promise<Page<MembershipRecord>> {
    let query = (this.db as unknown as Kysely<any>).selectFrom('user_group_memberships').selectAll().where('lifecycle_state', '=', 'ACTIVE');
    if (q.userId) query = query.where('user_id', '=', q.userId);
    if (q.groupId) query = query.where('group_id', '=', q.groupId);
    return keysetPage(query, { column: 'time_created', desc: false, page: q.page, limit: q.limit }, membershipFromRow);
  }

  async setMembershipState(tx: IdentityDb, id: string, state: IdentityState): Promise<void> {
    await tx.updateTable('user_group_memberships').set({ lifecycle_state: state }).where('id', '=', id).execute();
  }

  /** The names of the active groups a user is an active member of (what policy statements name). */
  async groupNamesOf(userId: string): Promise<string[]> {
    return (
      await this.db
        .selectFrom('user_group_memberships as m')
        .innerJoin('groups as g', 'g.id', 'm.group_id')
        .select('g.name')
        .where('m.user_id', '=', userId)
        .where('m.lifecycle_state', '=', 'ACTIVE')
        .where('g.lifecycle_state', '=', 'ACTIVE')
        .execute()
    ).map((r) => r.name);
  }

  // ---- API keys ----
  async insertApiKey(tx: IdentityDb, k: ApiKeyRecord): Promise<void> {
    await tx
      .insertInto('api_keys')
      .values({ user_id: k.userId, fingerprint: k.fingerprint, key_value: k.keyValue, lifecycle_state: k.lifecycleState, time_created: k.timeCreated })
      .onConflict((oc) => oc.columns(['user_id', 'fingerprint']).doUpdateSet({ key_value: k.keyValue, lifecycle_state: k.lifecycleState, time_created: k.timeCreated }))
      .execute();
  }

  async getApiKey(userId: string, fingerprint: string, tx: IdentityDb = this.db): Promise<ApiKeyRecord | null> {
    const r = await tx.selectFrom('api_keys').selectAll().where('user_id', '=', userId).where('fingerprint', '=', fingerprint).executeTakeFirst();
    return r ? keyFromRow(r) : null;
  }

  async activeApiKeys(userId: string, tx: IdentityDb = this.db): Promise<ApiKeyRecord[]> {
    return (
      await tx.selectFrom('api_keys').selectAll().where('user_id', '=', userId).where('lifecycle_state', '=', 'ACTIVE').orderBy('time_created').execute()
    ).map(keyFromRow);
  }

  async setApiKeyState(tx: IdentityDb, userId: string, fingerprint: string, state: IdentityState): Promise<void> {
    await tx.updateTable('api_keys').set({ lifecycle_state: state }).where('user_id', '=', userId).where('fingerprint', '=', fingerprint).execute();
  }

  async deleteKeysOf(tx: IdentityDb, userId: string): Promise<void> {
    await tx.updateTable('api_keys').set({ lifecycle_state: 'DELETED' }).where('user_id', '=', userId).execute();
  }
}
