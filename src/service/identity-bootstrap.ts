import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { newOcid } from '../domain/ids.js';
import type { Store } from '../store/store.js';
import type { ServerIdentity } from './common.js';
import type { IdentityService } from './identity.js';
import type { PoliciesService } from './policies.js';

/** Where first start puts the administrator's OCI config and private key, and what it wrote. */
export interface AdminCredentials {
  configFile: string;
  keyFile: string;
  /** True on the start that wrote them. */
  created: boolean;
  /** The administrator's first console password, on the start that made it (printed once, never stored). */
  initialPassword: string | null;
}

/** Writes `data` to `file` (mode 0600) through a temporary file, fsynced and renamed, then fsyncs the directory. */
function writeFileDurably(file: string, data: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export function ociConfigText(p: { user: string; fingerprint: string; keyFile: string; tenancy: string; region: string }): string {
  return [
    '# Written by dsjobs at first start: the administrator\'s API signing key (docs/identity.md).',
    '[DEFAULT]',
    `user=${p.user}`,
    `fingerprint=${p.fingerprint}`,
    `key_file=${p.keyFile}`,
    `tenancy=${p.tenancy}`,
    `region=${p.region}`,
    '',
  ].join('\n');
}

/**
 * First start: the administrator (the user the server has always named as creator), the Administrators group with
 * it as member, an RSA key pair whose public half is its API key, and an OCI config file naming them, under
 * `<dataDir>/oci/` (never ~/.oci: a user's real OCI config is not ours to touch). Every step is idempotent and the
 * files are renamed into place, so a start killed at any point finishes the job at the next one; once the config is
 * written (recorded in meta) later starts change nothing, so a key the administrator deletes stays deleted.
 */
export async function bootstrapAdministrator(store: Store, identity: IdentityService, server: ServerIdentity, dataDir: string): Promise<AdminCredentials> {
  const dir = path.join(dataDir, 'oci');
  const configFile = path.join(dir, 'config');
  const keyFile = path.join(dir, 'admin_key.pem');
  await identity.ensureAdministrator({
    userId: server.userId,
    groupId: await store.setMetaIfAbsent('administratorsGroupId', newOcid('group', '')),
    membershipId: await store.setMetaIfAbsent('administratorMembershipId', newOcid('groupmembership', '')),
  });
  // The console password: made once; a start killed before it was printed makes (and prints) another.
  let initialPassword: string | null = null;
  if ((await store.getMeta('bootstrap:consolePassword')) === null) {
    initialPassword = (await identity.resetPassword(server.userId)).password;
    await store.setMetaIfAbsent('bootstrap:consolePassword', new Date().toISOString());
  }
  if ((await store.getMeta('bootstrap:ociConfig')) !== null) return { configFile, keyFile, created: false, initialPassword };

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(keyFile)) {
    // 2048 bits: OCI's minimum and what `oci setup keys` makes.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    writeFileDurably(keyFile, privateKey);
  }
  const publicPem = createPublicKey(createPrivateKey(readFileSync(keyFile, 'utf8'))).export({ type: 'spki', format: 'pem' }).toString();
  const fingerprint = await identity.registerBootstrapKey(server.userId, publicPem);
  writeFileDurably(configFile, ociConfigText({ user: server.userId, fingerprint, keyFile, tenancy: server.tenancyId, region: server.region }));
  await store.setMetaIfAbsent('bootstrap:ociConfig', configFile);
  return { configFile, keyFile, created: true, initialPassword };
}

/** OCI's own name and statement for the policy every tenancy starts with. */
export const ADMINISTRATORS_POLICY = { name: 'Tenant Admin Policy', statement: 'Allow group Administrators to manage all-resources in tenancy' };

/**
 * First start: the policy that gives the Administrators group everything, as every OCI tenancy has. Made once (the
 * meta flag), so a policy the administrator deletes or edits stays as they left it; a start killed between the
 * create and the flag finds the policy by its name next time.
 */
export async function ensureAdministratorsPolicy(store: Store, policies: PoliciesService, tenancyId: string): Promise<void> {
  if ((await store.getMeta('bootstrap:administratorsPolicy')) !== null) return;
  const existing = await policies.listPolicies({ compartmentId: tenancyId, name: ADMINISTRATORS_POLICY.name, sortBy: 'TIMECREATED', sortOrder: 'DESC', limit: 1 });
  if (existing.items.length === 0) {
    await policies.createPolicy({
      compartmentId: tenancyId,
      name: ADMINISTRATORS_POLICY.name,
      description: 'Tenant Admin Policy, created at first start',
      statements: [ADMINISTRATORS_POLICY.statement],
    });
  }
  await store.setMetaIfAbsent('bootstrap:administratorsPolicy', new Date().toISOString());
}
