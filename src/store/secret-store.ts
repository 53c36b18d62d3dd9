import type { Kysely, Transaction } from 'kysely';
import type { Database, SecretTable } from './schema.js';
import type { Page } from './records.js';
import { keysetPage } from './paging.js';
import type { Store } from './store.js';
import { unlinkSync } from 'node:fs';
import { SecretKeyError, type SecretBox } from './secret-box.js';

type Db = Kysely<Database> | Transaction<Database>;

export type SecretLifecycleState = 'ACTIVE' | 'PENDING_DELETION' | 'DELETED';

export interface SecretRecord {
  id: string;
  compartmentId: string;
  vaultId: string;
  keyId: string;
  secretName: string;
  description: string | null;
  freeformTags: Record<string, string>;
  definedTags: Record<string, Record<string, unknown>>;
  metadata: Record<string, unknown>;
  lifecycleState: SecretLifecycleState;
  currentVersion: number;
  previousVersion: number | null;
  latestVersion: number;
  timeCreated: string;
  timeOfDeletion: string | null;
  version: number;
}

/** A version without its contents (what lists and GetSecretVersion show). */
export interface SecretVersionRecord {
  secretId: string;
  versionNumber: number;
  name: string | null;
  timeCreated: string;
}

export interface SecretQuery {
  compartmentId: string;
  name?: string;
  vaultId?: string;
  lifecycleState?: string;
  sortBy: 'TIMECREATED' | 'NAME';
  sortOrder: 'ASC' | 'DESC';
  limit: number;
  page?: string;
}

const fromRow = (r: SecretTable): SecretRecord => ({
  id: r.id,
  compartmentId: r.compartment_id,
  vaultId: r.vault_id,
  keyId: r.key_id,
  secretName: r.secret_name,
  description: r.description,
  freeformTags: JSON.parse(r.freeform_tags),
  definedTags: JSON.parse(r.defined_tags),
  metadata: JSON.parse(r.metadata),
  lifecycleState: r.lifecycle_state as SecretLifecycleState,
  currentVersion: r.current_version,
  previousVersion: r.previous_version,
  latestVersion: r.latest_version,
  timeCreated: r.time_created,
  timeOfDeletion: r.time_of_deletion,
  version: r.version,
});

const toRow = (s: SecretRecord): SecretTable => ({
  id: s.id,
  compartment_id: s.compartmentId,
  vault_id: s.vaultId,
  key_id: s.keyId,
  secret_name: s.secretName,
  description: s.description,
  freeform_tags: JSON.stringify(s.freeformTags),
  defined_tags: JSON.stringify(s.definedTags),
  metadata: JSON.stringify(s.metadata),
  lifecycle_state: s.lifecycleState,
  current_version: s.currentVersion,
  previous_version: s.previousVersion,
  latest_version: s.latestVersion,
  time_created: s.timeCreated,
  time_of_deletion: s.timeOfDeletion,
  version: s.version,
});

/**
 * Secrets and their versions. A version's contents are sealed (SecretBox: AES-256-GCM under the key file outside the
 * database) before they reach SQL and opened only when a bundle is read, so the database file never holds a value.
 */
export class SecretStore {
  constructor(
    readonly store: Store,
    private readonly box: SecretBox,
  ) {}

  /**
   * At start: the key opens what the database holds. A key file made by this very start (the original is missing)
   * is removed again and the start refused: secrets sealed with a lost key would otherwise become unreadable
   * silently, and new ones would be sealed with a key nobody backed up.
   */
  async checkKey(): Promise<void> {
    const row = await this.store.db.selectFrom('secret_versions').select('sealed_content').limit(1).executeTakeFirst();
    const mask = row ? undefined : await this.store.db.selectFrom('run_secret_masks').select('sealed_content').limit(1).executeTakeFirst();
    const sealed = row?.sealed_content ?? mask?.sealed_content;
    if (sealed === undefined) return;
    if (this.box.created) {
      unlinkSync(this.box.file);
      throw new SecretKeyError(`the secrets key file ${this.box.file} is missing, and the vault's secrets in the database are sealed with it: put the original key file back (or point secretsKeyFile at it)`);
    }
    this.box.open(sealed);
  }

  async insert(tx: Db, s: SecretRecord): Promise<void> {
    await tx.insertInto('secrets').values(toRow(s)).execute();
  }

  /** Compare-and-set on the version; null when it changed meanwhile. */
  async update(tx: Db, s: SecretRecord, expectedVersion: number): Promise<SecretRecord | null> {
    const next = { ...s, version: expectedVersion + 1 };
    const { id: _id, ...row } = toRow(next);
    const r = await tx.updateTable('secrets').set(row).where('id', '=', s.id).where('version', '=', expectedVersion).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? next : null;
  }

  async get(id: string, tx?: Db): Promise<SecretRecord | null> {
    const r = await (tx ?? this.store.db).selectFrom('secrets').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? fromRow(r) : null;
  }

  async getByName(vaultId: string, secretName: string, tx?: Db): Promise<SecretRecord | null> {
    const r = await (tx ?? this.store.db).selectFrom('secrets').selectAll().where('vault_id', '=', vaultId).where('secret_name', '=', secretName).executeTakeFirst();
    return r ? fromRow(r) : null;
  }

  async list(q: SecretQuery): Promise<Page<SecretRecord>> {
    let query = this.store.db.selectFrom('secrets').selectAll().where('compartment_id', '=', q.compartmentId);
    if (q.name !== undefined) query = query.where('secret_name', '=', q.name);
    if (q.vaultId !== undefined) query = query.where('vault_id', '=', q.vaultId);
    if (q.lifecycleState !== undefined) query = query.where('lifecycle_state', '=', q.lifecycleState);
    const column = q.sortBy === 'NAME' ? 'secret_name' : 'time_created';
    return keysetPage(query, { column, desc: q.sortOrder === 'DESC', page: q.page, limit: q.limit }, fromRow);
  }

  /** Secrets whose deletion time has come (the deletion pass). */
  async dueForDeletion(nowIso: string, limit: number): Promise<SecretRecord[]> {
    const rows = await this.store.db
      .selectFrom('secrets')
      .selectAll()
      .where('lifecycle_state', '=', 'PENDING_DELETION')
      .where('time_of_deletion', '<=', nowIso)
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }

  /** A keyed digest of contents (a retry token's body hash must not be a plain hash of a secret). */
  digest(contentBase64: string): string {
    return this.box.digest(contentBase64);
  }

  /** Seals and stores one version's contents (Base64 text, as the API carries it). */
  async insertVersion(tx: Db, v: SecretVersionRecord, contentBase64: string): Promise<void> {
    await tx
      .insertInto('secret_versions')
      .values({ secret_id: v.secretId, version_number: v.versionNumber, name: v.name, sealed_content: this.box.seal(contentBase64), time_created: v.timeCreated })
      .execute();
  }

  async getVersion(secretId: string, versionNumber: number, tx?: Db): Promise<SecretVersionRecord | null> {
    const r = await (tx ?? this.store.db)
      .selectFrom('secret_versions')
      .select(['secret_id', 'version_number', 'name', 'time_created'])
      .where('secret_id', '=', secretId)
      .where('version_number', '=', versionNumber)
      .executeTakeFirst();
    return r ? { secretId: r.secret_id, versionNumber: r.version_number, name: r.name, timeCreated: r.time_created } : null;
  }

  async versionByName(secretId: string, name: string, tx?: Db): Promise<SecretVersionRecord | null> {
    const r = await (tx ?? this.store.db)
      .selectFrom('secret_versions')
      .select(['secret_id', 'version_number', 'name', 'time_created'])
      .where('secret_id', '=', secretId)
      .where('name', '=', name)
      .executeTakeFirst();
    return r ? { secretId: r.secret_id, versionNumber: r.version_number, name: r.name, timeCreated: r.time_created } : null;
  }

  /** A page of versions by number (opc-next-page is the offset of the next one). */
  async listVersions(secretId: string, o: { desc: boolean; limit: number; offset: number }): Promise<Page<SecretVersionRecord>> {
    const rows = await this.store.db
      .selectFrom('secret_versions')
      .select(['secret_id', 'version_number', 'name', 'time_created'])
      .where('secret_id', '=', secretId)
      .orderBy('version_number', o.desc ? 'desc' : 'asc')
      .limit(o.limit + 1)
      .offset(o.offset)
      .execute();
    const items = rows.slice(0, o.limit).map((r) => ({ secretId: r.secret_id, versionNumber: r.version_number, name: r.name, timeCreated: r.time_created }));
    return { items, nextPage: rows.length > o.limit ? String(o.offset + o.limit) : null };
  }

  /** A version's contents (Base64 text), opened. */
  async content(secretId: string, versionNumber: number, tx?: Db): Promise<string | null> {
    const r = await (tx ?? this.store.db)
      .selectFrom('secret_versions')
      .select('sealed_content')
      .where('secret_id', '=', secretId)
      .where('version_number', '=', versionNumber)
      .executeTakeFirst();
    return r ? this.box.open(r.sealed_content) : null;
  }

  /** A deleted secret's contents are gone for good: every version and every copy a run's log masks with. */
  async deleteContents(tx: Db, secretId: string): Promise<void> {
    await tx.deleteFrom('secret_versions').where('secret_id', '=', secretId).execute();
  }

  /** Records that a run read this version (idempotent): its log masks the value from now on, restarts included. */
  async addRunMask(runId: string, secretId: string, versionNumber: number, contentBase64: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      await tx
        .insertInto('run_secret_masks')
        .values({ run_id: runId, secret_id: secretId, version_number: versionNumber, sealed_content: this.box.seal(contentBase64) })
        .onConflict((oc) => oc.doNothing())
        .execute();
    });
  }

  /** The values (Base64 text) each of these runs has read. */
  async runMasks(runIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (runIds.length === 0) return out;
    for (let i = 0; i < runIds.length; i += 500) {
      const rows = await this.store.db.selectFrom('run_secret_masks').select(['run_id', 'sealed_content']).where('run_id', 'in', runIds.slice(i, i + 500)).execute();
      for (const r of rows) {
        const list = out.get(r.run_id) ?? [];
        list.push(this.box.open(r.sealed_content));
        out.set(r.run_id, list);
      }
    }
    return out;
  }

  /** Forgets the masks of runs that are no longer active (their logs are sealed) or no longer exist. */
  async deleteEndedRunMasks(activeStates: readonly string[]): Promise<void> {
    await this.store.transaction(async (tx) => {
      await tx
        .deleteFrom('run_secret_masks')
        .where('run_id', 'not in', tx.selectFrom('job_runs').select('id').where('lifecycle_state', 'in', [...activeStates]))
        .execute();
    });
  }
}
