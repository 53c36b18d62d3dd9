import type { Kysely } from 'kysely';
import type { Page } from './records.js';
import { namedFromRow, namedPatchRow, namedToRow, updateAtVersion, type Named, type NamedListQuery, type NamedPatch, type NamedRow } from './named-rows.js';
import { keysetPage } from './paging.js';
import type { Store } from './store.js';

/** OCI Identity's lifecycle states; deletions here are immediate, so CREATING and DELETING are never stored. */
export type IdentityState = 'ACTIVE' | 'INACTIVE' | 'DELETED';

export interface CompartmentRecord extends Named<IdentityState> {
  /** The parent compartment; null for the tenancy (the root). */
  parentId: string | null;
}

export interface GroupRecord extends Named<IdentityState> {
  compartmentId: string;
}

export interface UserRecord extends GroupRecord {
  email: string | null;
  blocked: boolean;
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
  compartments: NamedRow & { parent_id: string | null };
  users: NamedRow & { compartment_id: string; email: string | null; blocked: number };
  groups: NamedRow & { compartment_id: string };
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

const compartmentFromRow = (r: Tables['compartments']): CompartmentRecord => ({ ...namedFromRow<IdentityState>(r), parentId: r.parent_id });
const groupFromRow = (r: Tables['groups']): GroupRecord => ({ ...namedFromRow<IdentityState>(r), compartmentId: r.compartment_id });
const userFromRow = (r: Tables['users']): UserRecord => ({ ...groupFromRow(r), email: r.email, blocked: r.blocked === 1 });

/** Users and groups: the tenancy's principals, kept alike (a user adds an email and a blocked flag). */
export type PrincipalTable = 'users' | 'groups';
export type PrincipalRecord<T extends PrincipalTable> = T extends 'users' ? UserRecord : GroupRecord;
export type PrincipalPatch<T extends PrincipalTable> = NamedPatch<IdentityState> & (T extends 'users' ? Partial<Pick<UserRecord, 'email' | 'blocked'>> : unknown);
const principalFromRow = <T extends PrincipalTable>(table: T) => (table === 'users' ? userFromRow : groupFromRow) as (r: any) => PrincipalRecord<T>;
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

export type { NamedListQuery } from './named-rows.js';

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
      .values({ ...namedToRow(c), parent_id: c.parentId })
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
    patch: NamedPatch<IdentityState>,
  ): Promise<CompartmentRecord | null> {
    return updateAtVersion(tx, 'compartments', id, version, namedPatchRow(version, patch), compartmentFromRow);
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

  // ---- users and groups ----
  async insertPrincipal<T extends PrincipalTable>(tx: IdentityDb, table: T, p: PrincipalRecord<T>): Promise<void> {
    const row: Record<string, unknown> = { ...namedToRow(p), compartment_id: p.compartmentId };
    if (table === 'users') {
      const u = p as UserRecord;
      row.email = u.email;
      row.blocked = u.blocked ? 1 : 0;
    }
    await (tx as unknown as Kysely<any>)
      .insertInto(table)
      .values(row)
      .onConflict((oc: any) => oc.column('id').doNothing())
      .execute();
  }

  async getPrincipal<T extends PrincipalTable>(table: T, id: string, tx: IdentityDb = this.db): Promise<PrincipalRecord<T> | null> {
    const r = await (tx as unknown as Kysely<any>).selectFrom(table).selectAll().where('id', '=', id).executeTakeFirst();
    return r ? principalFromRow(table)(r) : null;
  }

  /** Compare-and-set on the version; null when the user or group changed (or went) since it was read. */
  async updatePrincipal<T extends PrincipalTable>(tx: IdentityDb, table: T, id: string, version: number, patch: PrincipalPatch<T>): Promise<PrincipalRecord<T> | null> {
    const set: Record<string, unknown> = namedPatchRow(version, patch);
    const u = patch as Partial<UserRecord>;
    if (u.email !== undefined) set.email = u.email;
    if (u.blocked !== undefined) set.blocked = u.blocked ? 1 : 0;
    return updateAtVersion(tx, table, id, version, set, principalFromRow(table));
  }

  async liveNameTaken(tx: IdentityDb, table: PrincipalTable, name: string): Promise<boolean> {
    const r = await tx.selectFrom(table).select('id').where('name', '=', name).where('lifecycle_state', '!=', 'DELETED').executeTakeFirst();
    return !!r;
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

  /** One page of users or groups of the tenancy, in OCI's sort orders (TIMECREATED or NAME). */
  listNamed<T extends PrincipalTable>(table: T, q: NamedListQuery): Promise<Page<PrincipalRecord<T>>> {
    let query = (this.db as unknown as Kysely<any>).selectFrom(table).selectAll();
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.lifecycleState !== undefined) query = query.where('lifecycle_state', '=', q.lifecycleState);
    else query = query.where('lifecycle_state', '!=', 'DELETED');
    return keysetPage(query, { column: q.sortBy === 'NAME' ? 'name' : 'time_created', desc: q.sortOrder === 'DESC', page: q.page, limit: q.limit }, principalFromRow(table));
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
