import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { MAX_API_KEYS_PER_USER, parsePublicKey } from '../domain/api-key.js';
import { DsError, invalid, notFound } from '../domain/errors.js';
import { isOcid, newOcid } from '../domain/ids.js';
import { parseKeyId } from '../domain/api-key.js';
import type { Principal } from '../domain/principal.js';
import type {
  ApiKeyRecord,
  CompartmentRecord,
  GroupRecord,
  IdentityDb,
  IdentityState,
  IdentityStore,
  MembershipRecord,
  NamedListQuery,
  PrincipalPatch,
  PrincipalRecord,
  PrincipalTable,
  UserRecord,
} from '../store/identity-store.js';
import { newNamed, type NamedPatch } from '../store/named-rows.js';
import type { DefinedTags, Page, Tags } from '../store/records.js';
import type { Store } from '../store/store.js';
import { bodyHash, checkIfMatch, iso, type Clock, type ServerIdentity } from './common.js';
import { generatePassword, hashPassword, verifyPassword } from './passwords.js';
import { LiveCompartmentTree } from './compartment-tree.js';

/** OCI's limits on identity names and descriptions. */
const NAME_MAX = 100;
const DESCRIPTION_MAX = 400;
const COMPARTMENT_NAME_RE = /^[A-Za-z0-9._-]+$/;
const PRINCIPAL_NAME_RE = /^[A-Za-z0-9._+@-]+$/;

interface Tagged {
  freeformTags?: Tags | null;
  definedTags?: DefinedTags | null;
}

function checkName(name: unknown, re: RegExp, what: string): string {
  if (typeof name !== 'string' || name.length === 0) throw invalid('name', 'is required');
  if (name.length > NAME_MAX) throw invalid('name', `must be at most ${NAME_MAX} characters`);
  if (!re.test(name)) throw invalid('name', `may contain only ${what}`);
  return name;
}

function checkDescription(d: unknown, required: boolean): string | undefined {
  if (d === undefined || d === null) {
    if (required) throw invalid('description', 'is required');
    return undefined;
  }
  if (typeof d !== 'string') throw invalid('description', 'must be a string');
  if (d.length > DESCRIPTION_MAX) throw invalid('description', `must be at most ${DESCRIPTION_MAX} characters`);
  return d;
}

/** An update's description (checked) and tags; undefined leaves a field as it is (a null tag set too). */
function taggedPatch(patch: { description?: string } & Tagged): NamedPatch<IdentityState> {
  return { description: checkDescription(patch.description, false), freeformTags: patch.freeformTags ?? undefined, definedTags: patch.definedTags ?? undefined };
}

const changedConcurrently = (what: string, id: string) => new DsError('Conflict', `${what} ${id} was changed concurrently; retry`);

/** Users and groups are kept alike: the words their errors use, their kind of OCID, their create's retry-token scope. */
const PRINCIPALS = {
  users: { What: 'User', noun: 'user', ocidKind: 'user', createOp: 'createUser' },
  groups: { What: 'Group', noun: 'group', ocidKind: 'group', createOp: 'createGroup' },
} as const;

/** What a verified key stands for: the key to check signatures with and the user it authenticates. */
export interface VerifiedKey {
  key: KeyObject;
  userId: string;
  fingerprint: string;
}

/**
 * The Identity family's use cases: the compartment tree (the tenancy is its root), users, groups, memberships and
 * API signing keys, plus the key lookup that authentication asks on every signed request (cached; the cache is
 * dropped by every write to users or keys, before the write's caller is answered).
 */
export class IdentityService {
  private keyGeneration = 0;
  private readonly keys = new Map<string, { generation: number; value: VerifiedKey | null }>();
  private readonly activeUsers = new Map<string, { generation: number; value: boolean }>();
  /** The compartment tree as the policy engine reads it (synchronously), current after every compartment write. */
  readonly tree = new LiveCompartmentTree();
  /** Told when a user's console password is reset, so its sessions end (ConsoleSessions.endSessionsOf). */
  onPasswordReset: (userId: string) => Promise<void> = async () => {};

  constructor(
    private readonly store: Store,
    private readonly ids: IdentityStore,
    private readonly server: ServerIdentity,
    private readonly clock: Clock,
  ) {}

  get tenancyId(): string {
    return this.server.tenancyId;
  }

  get region(): string {
    return this.server.region;
  }

  async getTenancy(id: string): Promise<CompartmentRecord> {
    if (id !== this.server.tenancyId) throw notFound('Tenancy', id);
    return this.getCompartment(id);
  }

  /**
   * The tenancy (root compartment) and the server's default compartment under it; idempotent, so every start calls
   * it (a data dir from before identities existed gets its default compartment as a real one, keeping its id).
   */
  async ensureRoot(tenancyName: string): Promise<void> {
    const now = iso(this.clock.now());
    await this.ids.transaction(async (tx) => {
      await this.ids.insertCompartment(tx, { ...newNamed(this.server.tenancyId, tenancyName, 'The tenancy: the root compartment', now), parentId: null });
      await this.ids.insertCompartment(tx, {
        ...newNamed(this.server.defaultCompartmentId, 'default', "The server's default compartment", now),
        parentId: this.server.tenancyId,
      });
    });
    this.tree.load(await this.ids.liveCompartments());
  }

  // ---- compartments ----
  private async liveCompartment(id: string, field: string, tx?: IdentityDb): Promise<CompartmentRecord> {
    if (!isOcid(id)) throw invalid(field, 'must be an OCID');
    const c = await this.ids.getCompartment(id, tx);
    if (!c || c.lifecycleState === 'DELETED') throw notFound('Compartment', id);
    return c;
  }

  async createCompartment(input: { compartmentId: string; name: string; description: string } & Tagged, retryToken?: string): Promise<CompartmentRecord> {
    const name = checkName(input.name, COMPARTMENT_NAME_RE, 'letters, digits, period, hyphen and underscore');
    const description = checkDescription(input.description, true)!;
    const { id } = await this.store.idempotent('createCompartment', retryToken, bodyHash(input), async (txAny) => {
      const tx = txAny as unknown as IdentityDb;
      await this.liveCompartment(input.compartmentId, 'compartmentId', tx);
      if (await this.ids.siblingNamed(tx, input.compartmentId, name)) {
        throw new DsError('Conflict', `A compartment named ${name} already exists in ${input.compartmentId}`);
      }
      const rec: CompartmentRecord = { ...newNamed(newOcid('compartment', ''), name, description, iso(this.clock.now()), input), parentId: input.compartmentId };
      await this.ids.insertCompartment(tx, rec);
      return rec.id;
    });
    const created = await this.getCompartment(id);
    this.tree.put(created);
    return created;
  }

  async getCompartment(id: string): Promise<CompartmentRecord> {
    const c = await this.ids.getCompartment(id);
    if (!c) throw notFound('Compartment', id);
    return c;
  }

  /**
   * OCI's ListCompartments: the children of `compartmentId`, or with compartmentIdInSubtree every compartment below
   * it (OCI allows that only on the tenancy). The tree is small, so a page is an offset into the sorted list.
   */
  async listCompartments(q: {
    compartmentId?: string;
    compartmentIdInSubtree?: boolean;
    accessLevel?: string;
    name?: string;
    lifecycleState?: string;
    sortBy?: string;
    sortOrder?: string;
    limit?: number;
    page?: string;
  }): Promise<Page<CompartmentRecord>> {
    if (!q.compartmentId) throw invalid('query compartmentId', 'is required');
    if (q.accessLevel !== undefined && q.accessLevel !== 'ANY' && q.accessLevel !== 'ACCESSIBLE') {
      throw invalid('query accessLevel', 'must be one of ["ANY","ACCESSIBLE"]');
    }
    if (q.compartmentIdInSubtree && q.compartmentId !== this.server.tenancyId) {
      throw invalid('query compartmentIdInSubtree', 'may be true only when compartmentId is the tenancy');
    }
    await this.liveCompartment(q.compartmentId, 'query compartmentId');
    const all = await this.ids.db.selectFrom('compartments').selectAll().execute();
    const byParent = new Map<string, string[]>();
    for (const r of all) if (r.parent_id) byParent.set(r.parent_id, [...(byParent.get(r.parent_id) ?? []), r.id]);
    const wanted = new Set<string>();
    const walk = (id: string) => {
      for (const child of byParent.get(id) ?? []) {
        wanted.add(child);
        if (q.compartmentIdInSubtree) walk(child);
      }
    };
    walk(q.compartmentId);
    let items = (await Promise.all([...wanted].map((id) => this.ids.getCompartment(id)))).filter((c): c is CompartmentRecord => !!c);
    items = items.filter((c) => (q.lifecycleState ? c.lifecycleState === q.lifecycleState : c.lifecycleState !== 'DELETED'));
    if (q.name !== undefined) items = items.filter((c) => c.name === q.name);
    const byName = q.sortBy === 'NAME';
    const desc = (q.sortOrder ?? (byName ? 'ASC' : 'DESC')) === 'DESC';
    items.sort((a, b) => {
      const k = byName ? a.name.localeCompare(b.name) : a.timeCreated.localeCompare(b.timeCreated) || a.id.localeCompare(b.id);
      return desc ? -k : k;
    });
    return offsetPage(items, q.page, q.limit ?? 100);
  }

  async updateCompartment(id: string, patch: { name?: string; description?: string } & Tagged, ifMatch?: string): Promise<CompartmentRecord> {
    const c = await this.liveCompartment(id, 'compartmentId');
    checkIfMatch(ifMatch, c.id, c.version);
    const name = patch.name === undefined ? undefined : checkName(patch.name, COMPARTMENT_NAME_RE, 'letters, digits, period, hyphen and underscore');
    const tagged = taggedPatch(patch);
    if (name !== undefined && c.parentId === null) throw invalid('name', "the tenancy's name cannot be changed here");
    const r = await this.ids.transaction(async (tx) => {
      if (name !== undefined && c.parentId && (await this.ids.siblingNamed(tx, c.parentId, name, c.id))) {
        throw new DsError('Conflict', `A compartment named ${name} already exists in ${c.parentId}`);
      }
      return this.ids.updateCompartment(tx, id, c.version, { name, ...tagged });
    });
    if (!r) throw changedConcurrently('Compartment', id);
    this.tree.put(r);
    return r;
  }

  /** Deletes a compartment that holds nothing (OCI's rule): no child compartment and no resource of any family. */
  async deleteCompartment(id: string, ifMatch?: string): Promise<void> {
    const c = await this.liveCompartment(id, 'compartmentId');
    checkIfMatch(ifMatch, c.id, c.version);
    if (c.parentId === null) throw new DsError('IncorrectState', 'The tenancy (root compartment) cannot be deleted');
    if (c.id === this.server.defaultCompartmentId) throw new DsError('IncorrectState', "The server's default compartment cannot be deleted");
    const deleted = await this.ids.transaction(async (tx) => {
      const contents = await this.ids.compartmentContents(tx, id);
      if (contents.length > 0) throw new DsError('IncorrectState', `Compartment ${id} is not empty: it holds ${contents.join(', ')}`);
      const r = await this.ids.updateCompartment(tx, id, c.version, { lifecycleState: 'DELETED' });
      if (!r) throw changedConcurrently('Compartment', id);
      return r;
    });
    this.tree.put(deleted);
  }

  // ---- users ----
  private checkTenancy(id: unknown, field = 'compartmentId'): void {
    if (id !== this.server.tenancyId) throw invalid(field, `must be the tenancy's OCID (${this.server.tenancyId})`);
  }

  async createUser(input: { compartmentId: string; name: string; description: string; email?: string | null } & Tagged, retryToken?: string): Promise<UserRecord> {
    return this.createPrincipal('users', input, retryToken, { email: input.email ?? null, blocked: false });
  }

  getUser(id: string): Promise<UserRecord> {
    return this.getPrincipal('users', id);
  }

  listUsers(q: { compartmentId?: string } & NamedListInput): Promise<Page<UserRecord>> {
    return this.listPrincipals('users', q);
  }

  updateUser(id: string, patch: { description?: string; email?: string } & Tagged, ifMatch?: string): Promise<UserRecord> {
    return this.updatePrincipal('users', id, ifMatch, () => ({ ...taggedPatch(patch), email: patch.email }));
  }

  /** OCI's UpdateUserState: a blocked user is INACTIVE and none of its keys authenticates until it is unblocked. */
  setUserBlocked(id: string, blocked: boolean, ifMatch?: string): Promise<UserRecord> {
    return this.updatePrincipal('users', id, ifMatch, () => ({ blocked, lifecycleState: blocked ? 'INACTIVE' : 'ACTIVE' }), (w) => this.credentialsWrite(w));
  }

  /** As in OCI, a user still in a group cannot be deleted; its API keys go with it. */
  async deleteUser(id: string, ifMatch?: string): Promise<void> {
    const u = await this.livePrincipal('users', id);
    checkIfMatch(ifMatch, u.id, u.version);
    if (id === this.server.userId) throw new DsError('IncorrectState', 'The administrator created at first start cannot be deleted');
    await this.credentialsWrite(() =>
      this.ids.transaction(async (tx) => {
        const groups = await this.ids.countActiveMemberships(tx, { userId: id });
        if (groups > 0) throw new DsError('IncorrectState', `User ${id} is still a member of ${groups} group(s); remove it from them first`);
        if (!(await this.ids.updatePrincipal(tx, 'users', id, u.version, { lifecycleState: 'DELETED' }))) throw changedConcurrently('User', id);
        await this.ids.deleteKeysOf(tx, id);
      }),
    );
  }

  // ---- groups ----
  createGroup(input: { compartmentId: string; name: string; description: string } & Tagged, retryToken?: string): Promise<GroupRecord> {
    return this.createPrincipal('groups', input, retryToken, {});
  }

  getGroup(id: string): Promise<GroupRecord> {
    return this.getPrincipal('groups', id);
  }

  listGroups(q: { compartmentId?: string } & NamedListInput): Promise<Page<GroupRecord>> {
    return this.listPrincipals('groups', q);
  }

  updateGroup(id: string, patch: { description?: string } & Tagged, ifMatch?: string): Promise<GroupRecord> {
    return this.updatePrincipal('groups', id, ifMatch, () => taggedPatch(patch));
  }

  /** As in OCI, only an empty group can be deleted. */
  async deleteGroup(id: string, ifMatch?: string): Promise<void> {
    const g = await this.livePrincipal('groups', id);
    checkIfMatch(ifMatch, g.id, g.version);
    await this.ids.transaction(async (tx) => {
      const members = await this.ids.countActiveMemberships(tx, { groupId: id });
      if (members > 0) throw new DsError('IncorrectState', `Group ${id} still has ${members} member(s); remove them first`);
      if (!(await this.ids.updatePrincipal(tx, 'groups', id, g.version, { lifecycleState: 'DELETED' }))) throw changedConcurrently('Group', id);
    });
  }

  // ---- users and groups alike ----
  private async createPrincipal<T extends PrincipalTable>(
    table: T,
    input: { compartmentId: string; name: string; description: string } & Tagged,
    retryToken: string | undefined,
    own: Omit<PrincipalRecord<T>, keyof GroupRecord>,
  ): Promise<PrincipalRecord<T>> {
    this.checkTenancy(input.compartmentId);
    const name = checkName(input.name, PRINCIPAL_NAME_RE, 'letters, digits and . _ + @ -');
    const description = checkDescription(input.description, true)!;
    const { noun, ocidKind, createOp } = PRINCIPALS[table];
    const { id } = await this.store.idempotent(createOp, retryToken, bodyHash(input), async (txAny) => {
      const tx = txAny as unknown as IdentityDb;
      if (await this.ids.liveNameTaken(tx, table, name)) throw new DsError('Conflict', `A ${noun} named ${name} already exists`);
      const rec = {
        ...newNamed(newOcid(ocidKind, ''), name, description, iso(this.clock.now()), input),
        compartmentId: this.server.tenancyId,
        ...own,
      } as PrincipalRecord<T>;
      await this.ids.insertPrincipal(tx, table, rec);
      return rec.id;
    });
    return this.getPrincipal(table, id);
  }

  private async getPrincipal<T extends PrincipalTable>(table: T, id: string): Promise<PrincipalRecord<T>> {
    const p = await this.ids.getPrincipal(table, id);
    if (!p) throw notFound(PRINCIPALS[table].What, id);
    return p;
  }

  private async livePrincipal<T extends PrincipalTable>(table: T, id: string): Promise<PrincipalRecord<T>> {
    const p = await this.getPrincipal(table, id);
    if (p.lifecycleState === 'DELETED') throw notFound(PRINCIPALS[table].What, id);
    return p;
  }

  private listPrincipals<T extends PrincipalTable>(table: T, q: { compartmentId?: string } & NamedListInput): Promise<Page<PrincipalRecord<T>>> {
    this.checkTenancy(q.compartmentId, 'query compartmentId');
    return this.ids.listNamed(table, namedQuery(q));
  }

  /**
   * Compare-and-set of a live user or group at the version `ifMatch` names; `patchOf` runs after that check (so a
   * wrong etag is reported before a bad field), `write` wraps the transaction (the credential caches for users).
   */
  private async updatePrincipal<T extends PrincipalTable>(
    table: T,
    id: string,
    ifMatch: string | undefined,
    patchOf: () => PrincipalPatch<T>,
    write: (w: () => Promise<PrincipalRecord<T> | null>) => Promise<PrincipalRecord<T> | null> = (w) => w(),
  ): Promise<PrincipalRecord<T>> {
    const p = await this.livePrincipal(table, id);
    checkIfMatch(ifMatch, p.id, p.version);
    const patch = patchOf();
    const r = await write(() => this.ids.transaction((tx) => this.ids.updatePrincipal(tx, table, id, p.version, patch)));
    if (!r) throw changedConcurrently(PRINCIPALS[table].What, id);
    return r;
  }

  // ---- memberships ----
  async addUserToGroup(input: { userId: string; groupId: string }, retryToken?: string): Promise<MembershipRecord> {
    if (!isOcid(input.userId)) throw invalid('userId', 'must be an OCID');
    if (!isOcid(input.groupId)) throw invalid('groupId', 'must be an OCID');
    await this.livePrincipal('users', input.userId);
    await this.livePrincipal('groups', input.groupId);
    const { id } = await this.membershipWrite(() => this.store.idempotent('addUserToGroup', retryToken, bodyHash(input), async (txAny) => {
      const tx = txAny as unknown as IdentityDb;
      if (await this.ids.activeMembership(tx, input.userId, input.groupId)) {
        throw new DsError('Conflict', `User ${input.userId} is already a member of group ${input.groupId}`);
      }
      const rec: MembershipRecord = {
        id: newOcid('groupmembership', ''),
        compartmentId: this.server.tenancyId,
        userId: input.userId,
        groupId: input.groupId,
        lifecycleState: 'ACTIVE',
        timeCreated: iso(this.clock.now()),
      };
      await this.ids.insertMembership(tx, rec);
      return rec.id;
    }));
    return this.getMembership(id);
  }

  async getMembership(id: string): Promise<MembershipRecord> {
    const m = await this.ids.getMembership(id);
    if (!m) throw notFound('UserGroupMembership', id);
    return m;
  }

  listMemberships(q: { compartmentId?: string; userId?: string; groupId?: string; limit?: number; page?: string }): Promise<Page<MembershipRecord>> {
    this.checkTenancy(q.compartmentId, 'query compartmentId');
    if (!q.userId && !q.groupId) throw invalid('query userId', 'userId or groupId (or both) is required');
    return this.ids.listMemberships({ userId: q.userId, groupId: q.groupId, limit: q.limit ?? 100, page: q.page });
  }

  async removeUserFromGroup(id: string): Promise<void> {
    const m = await this.getMembership(id);
    if (m.lifecycleState === 'DELETED') throw notFound('UserGroupMembership', id);
    await this.membershipWrite(() => this.ids.transaction((tx) => this.ids.setMembershipState(tx, id, 'DELETED')));
  }

  // ---- API keys ----
  async uploadApiKey(userId: string, input: { key: string }, retryToken?: string): Promise<ApiKeyRecord> {
    await this.livePrincipal('users', userId);
    const parsed = parsePublicKey(input?.key, 'key');
    await this.store.idempotent('uploadApiKey', retryToken, bodyHash({ userId, ...input }), async (txAny) => {
      const tx = txAny as unknown as IdentityDb;
      const existing = await this.ids.getApiKey(userId, parsed.fingerprint, tx);
      if (existing?.lifecycleState === 'ACTIVE') throw new DsError('Conflict', `User ${userId} already has the key ${parsed.fingerprint}`);
      const active = await this.ids.activeApiKeys(userId, tx);
      if (active.length >= MAX_API_KEYS_PER_USER) {
        throw new DsError('LimitExceeded', `User ${userId} already has ${MAX_API_KEYS_PER_USER} API keys (the most a user may have); delete one first`);
      }
      await this.ids.insertApiKey(tx, { userId, fingerprint: parsed.fingerprint, keyValue: parsed.pem, lifecycleState: 'ACTIVE', timeCreated: iso(this.clock.now()) });
      return parsed.fingerprint;
    });
    return (await this.ids.getApiKey(userId, parsed.fingerprint))!;
  }

  async listApiKeys(userId: string): Promise<ApiKeyRecord[]> {
    await this.livePrincipal('users', userId);
    return this.ids.activeApiKeys(userId);
  }

  async deleteApiKey(userId: string, fingerprint: string): Promise<void> {
    await this.livePrincipal('users', userId);
    const k = await this.ids.getApiKey(userId, fingerprint.toLowerCase());
    if (!k || k.lifecycleState !== 'ACTIVE') throw notFound('ApiKey', fingerprint);
    await this.credentialsWrite(() => this.ids.transaction((tx) => this.ids.setApiKeyState(tx, userId, k.fingerprint, 'DELETED')));
  }

  // ---- authentication ----
  /**
   * The public key and principal of an OCI keyId (`<tenancy>/<user>/<fingerprint>`), or null when it names no
   * active key of an active, unblocked user of this tenancy. Cached: a signed request costs a Map lookup, not
   * three queries and a PEM parse; every write that changes users or keys empties the cache before it answers.
   */
  async resolveKey(keyId: string): Promise<VerifiedKey | null> {
    const hit = this.keys.get(keyId);
    if (hit && hit.generation === this.keyGeneration) return hit.value;
    const generation = this.keyGeneration;
    const value = await this.loadKey(keyId);
    if (generation === this.keyGeneration) {
      // Unknown key ids are cached too (a client retrying with a wrong key costs no query), within a bound.
      if (this.keys.size >= 10_000) this.keys.clear();
      this.keys.set(keyId, { generation, value });
    }
    return value;
  }

  /** resolveKey's answer while it is cached (no read needed); undefined: not cached, ask resolveKey. */
  knownKey(keyId: string): VerifiedKey | null | undefined {
    const hit = this.keys.get(keyId);
    return hit && hit.generation === this.keyGeneration ? hit.value : undefined;
  }

  private async loadKey(keyId: string): Promise<VerifiedKey | null> {
    const id = parseKeyId(keyId);
    if (!id || id.tenancyId !== this.server.tenancyId) return null;
    const user = await this.ids.getPrincipal('users', id.userId);
    if (!user || user.lifecycleState !== 'ACTIVE' || user.blocked) return null;
    const k = await this.ids.getApiKey(id.userId, id.fingerprint);
    if (!k || k.lifecycleState !== 'ACTIVE') return null;
    return { key: createPublicKey(k.keyValue), userId: user.id, fingerprint: k.fingerprint };
  }

  /**
   * The principal of an authenticated user: its id and the names of its groups, read on every request (one indexed
   * query), so a membership added or removed applies to the next request, as the authorizer expects.
   */
  /**
   * A user as a principal: with the names of the groups it is an active member of. Asked on every signed request, so
   * cached per user, and dropped before and after every write that changes a membership (the group of a membership
   * cannot be renamed or deleted while it has members): a change applies from the next request, as uncached.
   */
  /** userPrincipal's answer while the user's groups are cached; undefined: not cached, ask userPrincipal. */
  knownUserPrincipal(userId: string): Principal | undefined {
    const hit = this.groupNames.get(userId);
    return hit && hit.generation === this.groupGeneration ? { kind: 'user', userId, groupNames: hit.value } : undefined;
  }

  async userPrincipal(userId: string): Promise<Principal> {
    const hit = this.groupNames.get(userId);
    if (hit && hit.generation === this.groupGeneration) return { kind: 'user', userId, groupNames: hit.value };
    const generation = this.groupGeneration;
    const value = await this.ids.groupNamesOf(userId);
    if (generation === this.groupGeneration) this.groupNames.set(userId, { generation, value });
    return { kind: 'user', userId, groupNames: value };
  }

  private readonly groupNames = new Map<string, { generation: number; value: string[] }>();
  private groupGeneration = 0;

  /**
   * Forgets what this process keeps of identities (verified keys, users' states and groups) and reads the compartment
   * tree again: with several replicas on one database, another replica's writes are heard of only this way.
   */
  async refreshFromStore(): Promise<void> {
    this.dropCredentialCaches();
    this.dropGroupCache();
    this.tree.load(await this.ids.liveCompartments());
  }

  /** Runs a write that changes memberships, dropping the cached group names before and after it. */
  private async membershipWrite<R>(write: () => Promise<R>): Promise<R> {
    this.dropGroupCache();
    try {
      return await write();
    } finally {
      this.dropGroupCache();
    }
  }

  private dropGroupCache(): void {
    this.groupGeneration++;
    this.groupNames.clear();
  }

  /** Runs a write that can change what a key authenticates, dropping the key cache before and after it. */
  private async credentialsWrite<R>(write: () => Promise<R>): Promise<R> {
    this.dropCredentialCaches();
    try {
      return await write();
    } finally {
      this.dropCredentialCaches();
    }
  }

  private dropCredentialCaches(): void {
    this.keyGeneration++;
    this.keys.clear();
    this.activeUsers.clear();
  }

  /** Whether a user is active and unblocked (console sessions ask on every request; cached like the keys). */
  async isActiveUser(userId: string): Promise<boolean> {
    const hit = this.activeUsers.get(userId);
    if (hit && hit.generation === this.keyGeneration) return hit.value;
    const generation = this.keyGeneration;
    const u = await this.ids.getPrincipal('users', userId);
    const value = !!u && u.lifecycleState === 'ACTIVE' && !u.blocked;
    if (generation === this.keyGeneration) this.activeUsers.set(userId, { generation, value });
    return value;
  }

  // ---- console passwords ----
  /**
   * OCI's CreateOrResetUIPassword: a new generated password for the console, returned once (only its scrypt hash is
   * kept); the user's console sessions end.
   */
  async resetPassword(userId: string): Promise<{ userId: string; password: string; timeCreated: string }> {
    await this.livePrincipal('users', userId);
    const password = generatePassword();
    const time = iso(this.clock.now());
    const hash = await hashPassword(password);
    await this.ids.transaction((tx) => this.ids.setPassword(tx, userId, hash, time));
    await this.onPasswordReset(userId);
    return { userId, password, timeCreated: time };
  }

  /** The active, unblocked user with this name and password, or null (same cost whether the name exists or not). */
  async checkPassword(userName: string, password: string): Promise<UserRecord | null> {
    const user = await this.ids.liveUserNamed(userName);
    const hash = user ? await this.ids.passwordHash(user.id) : null;
    // An unknown name still pays for one scrypt, so timing does not tell which names exist.
    const ok = await verifyPassword(password, hash ?? DUMMY_HASH);
    if (!ok || !hash || !user || user.lifecycleState !== 'ACTIVE' || user.blocked) return null;
    return user;
  }

  /** The administrator's key, registered at first start (bootstrap); idempotent. */
  async registerBootstrapKey(userId: string, publicKeyPem: string): Promise<string> {
    const parsed = parsePublicKey(publicKeyPem, 'key');
    const existing = await this.ids.getApiKey(userId, parsed.fingerprint);
    if (existing?.lifecycleState !== 'ACTIVE') {
      await this.credentialsWrite(() =>
        this.ids.transaction((tx) =>
          this.ids.insertApiKey(tx, { userId, fingerprint: parsed.fingerprint, keyValue: parsed.pem, lifecycleState: 'ACTIVE', timeCreated: iso(this.clock.now()) }),
        ),
      );
    }
    return parsed.fingerprint;
  }

  /** The administrator user and the Administrators group it belongs to, made at first start; idempotent. */
  async ensureAdministrator(ids: { userId: string; groupId: string; membershipId: string }): Promise<void> {
    const now = iso(this.clock.now());
    await this.ids.transaction(async (tx) => {
      const compartmentId = this.server.tenancyId;
      await this.ids.insertPrincipal(tx, 'users', {
        ...newNamed(ids.userId, 'admin', 'The administrator, created at first start', now),
        compartmentId,
        email: null,
        blocked: false,
      });
      await this.ids.insertPrincipal(tx, 'groups', { ...newNamed(ids.groupId, 'Administrators', 'Administrators of the tenancy', now), compartmentId });
      await this.ids.insertMembership(tx, {
        id: ids.membershipId,
        compartmentId: this.server.tenancyId,
        userId: ids.userId,
        groupId: ids.groupId,
        lifecycleState: 'ACTIVE',
        timeCreated: now,
      });
    });
  }
}

/** A hash no password matches (its salt and hash are random), verified against for unknown user names. */
const DUMMY_HASH = `scrypt$${2 ** 15}$8$1$${'A'.repeat(22)}$${'A'.repeat(43)}`;

/** A list query as it arrives (sortBy and sortOrder are checked here, naming the parameter). */
type NamedListInput = Partial<Omit<NamedListQuery, 'sortBy' | 'sortOrder'>> & { sortBy?: string; sortOrder?: string };

function namedQuery(q: NamedListInput): NamedListQuery {
  if (q.sortBy !== undefined && q.sortBy !== 'TIMECREATED' && q.sortBy !== 'NAME') throw invalid('query sortBy', 'must be one of ["TIMECREATED","NAME"]');
  if (q.sortOrder !== undefined && q.sortOrder !== 'ASC' && q.sortOrder !== 'DESC') throw invalid('query sortOrder', 'must be one of ["ASC","DESC"]');
  const sortBy = q.sortBy ?? 'TIMECREATED';
  const sortOrder = q.sortOrder ?? (sortBy === 'NAME' ? 'ASC' : 'DESC');
  return { name: q.name, lifecycleState: q.lifecycleState, sortBy, sortOrder, limit: q.limit ?? 100, page: q.page };
}

function offsetPage<T>(items: T[], page: string | undefined, limit: number): Page<T> {
  let start = 0;
  if (page !== undefined) {
    start = Number(page);
    if (!Number.isInteger(start) || start < 0) throw invalid('page', 'is not a page token returned by this server (opc-next-page)');
  }
  const slice = items.slice(start, start + limit);
  return { items: slice, nextPage: start + limit < items.length ? String(start + limit) : null };
}
