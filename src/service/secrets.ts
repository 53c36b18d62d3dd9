import { DsError, invalid, notFound } from '../domain/errors.js';
import { newOcid } from '../domain/ids.js';
import type { Principal } from '../domain/principal.js';
import { ACTIVE_RUN_STATES } from '../domain/run-states.js';
import type { Page } from '../store/records.js';
import type { SecretBox } from '../store/secret-box.js';
import { SecretStore, type SecretRecord, type SecretVersionRecord } from '../store/secret-store.js';
import type { Store } from '../store/store.js';
import { bodyHash, checkIfMatch, iso, type Clock, type ServerIdentity } from './common.js';

/** OCI's limit on a secret's contents: 25 KB, counted here on the Base64 text the API carries. */
export const MAX_SECRET_CONTENT_CHARS = 25 * 1024;
/** Secret and version names: OCI's characters (letters, digits, hyphens, underscores, periods), 1 to 255 of them. */
const NAME = /^[A-Za-z0-9._-]{1,255}$/;
/** Serialized metadata, as the other objects the API stores as given (schemas.ts LIMITS.looseObjectChars). */
const MAX_METADATA_CHARS = 16_384;
const DAY_MS = 24 * 3600 * 1000;
/** OCI's window for a secret's deletion: at least 1 day and at most 30 days ahead; 30 when none is given. */
const MIN_DELETION_MS = DAY_MS;
const MAX_DELETION_MS = 30 * DAY_MS;
/** How often secrets whose deletion time has come are deleted (a read of one deletes it at once too). */
const DELETION_PASS_MS = 60 * 60 * 1000;

export type VersionStage = 'CURRENT' | 'PENDING' | 'LATEST' | 'PREVIOUS' | 'DEPRECATED';

export interface SecretContentDetails {
  /** Only BASE64 is accepted (checked with a field-named error). */
  contentType: string;
  content?: string;
  name?: string;
  stage?: string;
}

export interface CreateSecretInput {
  compartmentId: string;
  secretName: string;
  vaultId: string;
  keyId: string;
  description?: string;
  freeformTags?: Record<string, string>;
  definedTags?: Record<string, Record<string, unknown>>;
  metadata?: Record<string, unknown>;
  secretContent?: SecretContentDetails;
}

export interface UpdateSecretInput {
  currentVersionNumber?: number;
  description?: string;
  freeformTags?: Record<string, string>;
  definedTags?: Record<string, Record<string, unknown>>;
  metadata?: Record<string, unknown>;
  secretContent?: SecretContentDetails;
}

/** Which version of a secret a bundle read asks for (none: the current one). */
export interface VersionSelector {
  versionNumber?: number;
  secretVersionName?: string;
  stage?: string;
}

export interface SecretBundle {
  secret: SecretRecord;
  version: SecretVersionRecord;
  /** The Base64 text, as stored. */
  content: string;
}

/** Where the values a run reads go to be masked in its log (LogService). */
export interface MaskSink {
  addMasks(runId: string, values: readonly Buffer[]): void;
}

/** The version's stages: several at once, as in OCI (the newest version that is current is CURRENT and LATEST). */
export function stagesOf(s: SecretRecord, versionNumber: number): VersionStage[] {
  const stages: VersionStage[] = [];
  if (versionNumber === s.currentVersion) stages.push('CURRENT');
  if (versionNumber === s.latestVersion) stages.push('LATEST');
  if (versionNumber === s.previousVersion) stages.push('PREVIOUS');
  if (stages.length === 0) stages.push('DEPRECATED');
  return stages;
}

/** Strict standard Base64 (what the SDKs send: Buffer/btoa output, padded); the field is named on refusal. */
function checkContent(field: string, content: string | undefined): string {
  if (content === undefined || content === '') throw invalid(`${field}.content`, 'is required: the secret value, Base64-encoded');
  if (content.length > MAX_SECRET_CONTENT_CHARS) {
    throw invalid(`${field}.content`, `is ${content.length} characters; a secret's contents may be at most ${MAX_SECRET_CONTENT_CHARS} characters of Base64 (25 KB)`);
  }
  if (content.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(content)) throw invalid(`${field}.content`, 'is not Base64 (standard alphabet, padded with =)');
  return content;
}

function checkName(field: string, name: string): void {
  if (!NAME.test(name)) throw invalid(field, 'must be 1 to 255 letters, digits, hyphens, underscores or periods');
}

function checkMetadata(metadata: Record<string, unknown> | undefined): void {
  if (metadata === undefined) return;
  const n = JSON.stringify(metadata).length;
  if (n > MAX_METADATA_CHARS) throw invalid('metadata', `is ${n} characters as JSON; the limit is ${MAX_METADATA_CHARS}`);
}

/**
 * OCI Vault's secrets (management, /20180608) and the Secrets service's bundles (retrieval, /20190301), over one
 * store: contents sealed at rest, versions kept, rotation by a new version, deletion scheduled 1 to 30 days ahead.
 * The server has one vault and one master key (made at first start, shown by serverInfo); the KMS API itself is
 * not served. A run principal that reads a bundle has the value masked in its log from then on.
 */
export class SecretsService {
  readonly store: SecretStore;
  private vault: { vaultId: string; keyId: string } | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Store,
    box: SecretBox,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
    private readonly masks: MaskSink,
  ) {
    this.store = new SecretStore(db, box);
  }

  /** First start makes the tenancy's vault and master key (their ids, kept in meta); later starts read them. */
  async init(): Promise<{ vaultId: string; keyId: string }> {
    await this.store.checkKey();
    this.vault = {
      vaultId: await this.db.setMetaIfAbsent('vault:defaultVaultId', newOcid('vault', this.identity.region)),
      keyId: await this.db.setMetaIfAbsent('vault:defaultKeyId', newOcid('key', this.identity.region)),
    };
    return this.vault;
  }

  /** The default vault and master key (serverInfo). */
  get defaults(): { vaultId: string; keyId: string } {
    if (!this.vault) throw new Error('SecretsService.init() was not called');
    return this.vault;
  }

  start(): void {
    this.timer = setInterval(() => void this.housekeeping().catch(() => {}), DELETION_PASS_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async create(d: CreateSecretInput, retryToken?: string): Promise<SecretRecord> {
    checkName('secretName', d.secretName);
    if (d.vaultId !== this.defaults.vaultId) throw invalid('vaultId', `is not a vault of this server; its vault is ${this.defaults.vaultId} (serverInfo vaultId)`);
    if (d.keyId !== this.defaults.keyId) throw invalid('keyId', `is not a master encryption key of this server; its key is ${this.defaults.keyId} (serverInfo vaultKeyId)`);
    if (!d.secretContent) throw invalid('secretContent', 'is required: {contentType: "BASE64", content} (dsjobs does not generate secret contents)');
    const content = this.checkContentDetails(d.secretContent);
    checkMetadata(d.metadata);
    // The retry token's row keeps a hash of the body: of the contents, only a keyed digest goes into it.
    const hashed = { ...d, secretContent: { ...d.secretContent, content: this.store.digest(content) } };
    const { id } = await this.db.idempotent('CreateSecret', retryToken, bodyHash(hashed), async (tx) => {
      if (await this.store.getByName(d.vaultId, d.secretName, tx)) {
        throw new DsError('Conflict', `secretName: a secret named '${d.secretName}' already exists in vault ${d.vaultId}; names are unique in a vault`, 'secretName');
      }
      const now = iso(this.clock.now());
      const s: SecretRecord = {
        id: newOcid('vaultsecret', this.identity.region),
        compartmentId: d.compartmentId,
        vaultId: d.vaultId,
        keyId: d.keyId,
        secretName: d.secretName,
        description: d.description ?? null,
        freeformTags: d.freeformTags ?? {},
        definedTags: d.definedTags ?? {},
        metadata: d.metadata ?? {},
        lifecycleState: 'ACTIVE',
        currentVersion: 1,
        previousVersion: null,
        latestVersion: 1,
        timeCreated: now,
        timeOfDeletion: null,
        version: 1,
      };
      await this.store.insert(tx, s);
      await this.store.insertVersion(tx, { secretId: s.id, versionNumber: 1, name: d.secretContent!.name ?? null, timeCreated: now }, content);
      return s.id;
    });
    return this.get(id);
  }

  /** A secret; one whose deletion time has passed is deleted on the spot and shown DELETED. */
  async get(id: string): Promise<SecretRecord> {
    const s = await this.store.get(id);
    if (!s) throw notFound('Secret', id);
    return this.settleDeletion(s);
  }

  async list(q: { compartmentId: string; name?: string; vaultId?: string; lifecycleState?: string; sortBy?: string; sortOrder?: string; limit?: number; page?: string }): Promise<Page<SecretRecord>> {
    await this.deleteDue();
    const sortBy = q.sortBy === 'NAME' ? 'NAME' : 'TIMECREATED';
    const sortOrder = q.sortOrder === 'ASC' || q.sortOrder === 'DESC' ? q.sortOrder : sortBy === 'NAME' ? 'ASC' : 'DESC';
    return this.store.list({ compartmentId: q.compartmentId, name: q.name, vaultId: q.vaultId, lifecycleState: q.lifecycleState, sortBy, sortOrder, limit: q.limit ?? 100, page: q.page });
  }

  /**
   * Rotation is a new version: `secretContent` becomes version latest+1 and current, and the version it replaces
   * becomes PREVIOUS. `currentVersionNumber` makes an existing version current again (a rollback).
   */
  async update(id: string, d: UpdateSecretInput, ifMatch?: string): Promise<SecretRecord> {
    if (d.secretContent && d.currentVersionNumber !== undefined) {
      throw invalid('currentVersionNumber', 'cannot be given with secretContent: a new version becomes current by itself');
    }
    const content = d.secretContent ? this.checkContentDetails(d.secretContent) : null;
    checkMetadata(d.metadata);
    await this.db.transaction(async (tx) => {
      const s = await this.store.get(id, tx);
      if (!s) throw notFound('Secret', id);
      checkIfMatch(ifMatch, s.id, s.version);
      this.checkActive(s, 'updated');
      const next: SecretRecord = {
        ...s,
        description: d.description ?? s.description,
        freeformTags: d.freeformTags ?? s.freeformTags,
        definedTags: d.definedTags ?? s.definedTags,
        metadata: d.metadata ?? s.metadata,
      };
      if (content !== null) {
        const name = d.secretContent!.name ?? null;
        if (name !== null && (await this.store.versionByName(id, name, tx))) {
          throw new DsError('Conflict', `secretContent.name: secret ${id} already has a version named '${name}'`, 'secretContent.name');
        }
        const versionNumber = s.latestVersion + 1;
        await this.store.insertVersion(tx, { secretId: id, versionNumber, name, timeCreated: iso(this.clock.now()) }, content);
        next.previousVersion = s.currentVersion;
        next.currentVersion = versionNumber;
        next.latestVersion = versionNumber;
      } else if (d.currentVersionNumber !== undefined && d.currentVersionNumber !== s.currentVersion) {
        if (!(await this.store.getVersion(id, d.currentVersionNumber, tx))) throw invalid('currentVersionNumber', `secret ${id} has no version ${d.currentVersionNumber}`);
        next.previousVersion = s.currentVersion;
        next.currentVersion = d.currentVersionNumber;
      }
      if (!(await this.store.update(tx, next, s.version))) throw new DsError('Conflict', `Secret ${id} was changed by another request meanwhile; retry`);
    });
    return this.get(id);
  }

  async scheduleDeletion(id: string, timeOfDeletion: string | undefined, ifMatch?: string): Promise<void> {
    const now = this.clock.now();
    let at = now + MAX_DELETION_MS;
    if (timeOfDeletion !== undefined) {
      at = Date.parse(timeOfDeletion);
      if (Number.isNaN(at)) throw invalid('timeOfDeletion', 'is not an RFC 3339 time');
      // A minute of slack: a client computing "now + 1 day" is a little behind the server by the time it arrives.
      if (at < now + MIN_DELETION_MS - 60_000 || at > now + MAX_DELETION_MS + 60_000) {
        throw invalid('timeOfDeletion', 'must be between 1 and 30 days from now');
      }
    }
    await this.db.transaction(async (tx) => {
      const s = await this.store.get(id, tx);
      if (!s) throw notFound('Secret', id);
      checkIfMatch(ifMatch, s.id, s.version);
      this.checkActive(s, 'scheduled for deletion');
      if (!(await this.store.update(tx, { ...s, lifecycleState: 'PENDING_DELETION', timeOfDeletion: iso(at) }, s.version))) {
        throw new DsError('Conflict', `Secret ${id} was changed by another request meanwhile; retry`);
      }
    });
  }

  async cancelDeletion(id: string, ifMatch?: string): Promise<void> {
    const s = await this.get(id);
    checkIfMatch(ifMatch, s.id, s.version);
    if (s.lifecycleState !== 'PENDING_DELETION') throw new DsError('IncorrectState', `Secret ${id} is ${s.lifecycleState}: only a secret pending deletion can have its deletion cancelled`);
    await this.db.transaction(async (tx) => {
      if (!(await this.store.update(tx, { ...s, lifecycleState: 'ACTIVE', timeOfDeletion: null }, s.version))) {
        throw new DsError('Conflict', `Secret ${id} was changed by another request meanwhile; retry`);
      }
    });
  }

  async listVersions(id: string, q: { sortOrder?: string; limit?: number; page?: string }): Promise<{ secret: SecretRecord; page: Page<SecretVersionRecord> }> {
    const secret = await this.get(id);
    const offset = q.page === undefined ? 0 : Number(q.page);
    if (!Number.isInteger(offset) || offset < 0) throw invalid('page', 'is not a page token returned by this server (opc-next-page)');
    return { secret, page: await this.store.listVersions(id, { desc: q.sortOrder !== 'ASC', limit: q.limit ?? 100, offset }) };
  }

  async getVersion(id: string, versionNumber: number): Promise<{ secret: SecretRecord; version: SecretVersionRecord }> {
    const secret = await this.get(id);
    const version = await this.store.getVersion(id, versionNumber);
    if (!version) throw notFound('Secret version', `${id}/${versionNumber}`);
    return { secret, version };
  }

  /** GetSecretBundle: a version's contents. Read by a run's principal, the value is masked in that run's log. */
  async getBundle(id: string, sel: VersionSelector, principal: Principal | null): Promise<SecretBundle> {
    return this.bundleOf(await this.get(id), sel, principal);
  }

  async getBundleByName(vaultId: string, secretName: string, sel: VersionSelector, principal: Principal | null): Promise<SecretBundle> {
    const s = await this.store.getByName(vaultId, secretName);
    if (!s) throw notFound('Secret', `${secretName} in vault ${vaultId}`);
    return this.bundleOf(await this.settleDeletion(s), sel, principal);
  }

  /** The secret a GetSecretBundleByName names, for authorization (null: none; the read answers 404 itself). */
  async findByName(vaultId: string, secretName: string): Promise<SecretRecord | null> {
    return this.store.getByName(vaultId, secretName);
  }

  /**
   * After a restart: the values the still-active runs had read are masked again before their logs are re-attached
   * (re-ingestion from the checkpoint masks them as the first pass did); the masks of ended runs are dropped.
   */
  async restoreMasks(activeRunIds: readonly string[]): Promise<number> {
    const byRun = await this.store.runMasks(activeRunIds);
    for (const [runId, values] of byRun) this.masks.addMasks(runId, values.map((v) => Buffer.from(v, 'base64')));
    // By the runs' states, not the list: a server restarted with 30,000 queued runs would name them all in one query
    // (SQLite takes at most 32,766 variables).
    await this.store.deleteEndedRunMasks(ACTIVE_RUN_STATES);
    return byRun.size;
  }

  /** The hourly pass: due deletions, and the recorded values of runs that have ended (nothing more is masked for them). */
  async housekeeping(): Promise<void> {
    await this.deleteDue();
    await this.store.deleteEndedRunMasks(ACTIVE_RUN_STATES);
  }

  /** Deletes the secrets whose deletion time has come: DELETED, and every version's contents gone. */
  async deleteDue(): Promise<number> {
    const due = await this.store.dueForDeletion(iso(this.clock.now()), 100);
    for (const s of due) await this.settleDeletion(s);
    return due.length;
  }

  private async settleDeletion(s: SecretRecord): Promise<SecretRecord> {
    if (s.lifecycleState !== 'PENDING_DELETION' || s.timeOfDeletion === null || Date.parse(s.timeOfDeletion) > this.clock.now()) return s;
    return this.db.transaction(async (tx) => {
      const next = await this.store.update(tx, { ...s, lifecycleState: 'DELETED' }, s.version);
      if (!next) return (await this.store.get(s.id, tx)) ?? s;
      await this.store.deleteContents(tx, s.id);
      return next;
    });
  }

  private async bundleOf(s: SecretRecord, sel: VersionSelector, principal: Principal | null): Promise<SecretBundle> {
    if (s.lifecycleState === 'DELETED') throw notFound('Secret', s.id);
    if (s.lifecycleState !== 'ACTIVE') throw new DsError('IncorrectState', `Secret ${s.id} is ${s.lifecycleState}: its contents cannot be read (cancel the deletion first)`);
    const versionNumber = await this.select(s, sel);
    const version = await this.store.getVersion(s.id, versionNumber);
    const content = version ? await this.store.content(s.id, versionNumber) : null;
    if (!version || content === null) throw notFound('Secret version', `${s.id}/${versionNumber}`);
    if (principal?.kind === 'run') {
      // Recorded (sealed) before the value leaves: a restart masks it again; then masked in memory for the capture.
      await this.store.addRunMask(principal.runId, s.id, versionNumber, content);
      this.masks.addMasks(principal.runId, [Buffer.from(content, 'base64')]);
    }
    return { secret: s, version, content };
  }

  /** The version a selector names; every selector given must name the same one (none: the current version). */
  private async select(s: SecretRecord, sel: VersionSelector): Promise<number> {
    const picks: number[] = [];
    if (sel.versionNumber !== undefined) picks.push(sel.versionNumber);
    if (sel.secretVersionName !== undefined) {
      const v = await this.store.versionByName(s.id, sel.secretVersionName);
      if (!v) throw notFound('Secret version', `${s.id}/${sel.secretVersionName}`);
      picks.push(v.versionNumber);
    }
    if (sel.stage !== undefined) {
      const byStage: Record<string, number | null> = {
        CURRENT: s.currentVersion,
        LATEST: s.latestVersion,
        PREVIOUS: s.previousVersion,
        // dsjobs makes no pending versions (secretContent.stage PENDING is refused).
        PENDING: null,
        // The newest version that is in no other stage.
        DEPRECATED: null,
      };
      if (!(sel.stage in byStage)) throw invalid('stage', `must be one of ${JSON.stringify(Object.keys(byStage))}`);
      let n = byStage[sel.stage];
      if (sel.stage === 'DEPRECATED') {
        for (let v = s.latestVersion; v >= 1 && n === null; v--) if (stagesOf(s, v)[0] === 'DEPRECATED') n = v;
      }
      if (n === null) throw notFound('Secret version', `${s.id} in stage ${sel.stage}`);
      picks.push(n);
    }
    if (picks.length === 0) return s.currentVersion;
    if (picks.some((p) => p !== picks[0])) throw notFound('Secret version', `${s.id} matching versionNumber, secretVersionName and stage together`);
    return picks[0];
  }

  private checkContentDetails(c: SecretContentDetails): string {
    if (c.contentType !== 'BASE64') throw invalid('secretContent.contentType', 'must be "BASE64"');
    if (c.stage !== undefined && c.stage !== 'CURRENT') throw invalid('secretContent.stage', 'only CURRENT is supported: dsjobs makes no pending versions');
    if (c.name !== undefined) checkName('secretContent.name', c.name);
    return checkContent('secretContent', c.content);
  }

  private checkActive(s: SecretRecord, what: string): void {
    if (s.lifecycleState !== 'ACTIVE') throw new DsError('IncorrectState', `Secret ${s.id} is ${s.lifecycleState}; only an ACTIVE secret can be ${what}`);
  }
}
