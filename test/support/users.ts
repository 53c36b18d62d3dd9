/**
 * A user for the authorization tests, made by the administrator with the official oci-identity SDK: a user in a
 * group of its own (`<name>-group`), an API key, and an OCI config file naming them (in the server's data dir).
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { IdentityClient } from 'oci-identity';

export interface TestUser {
  userId: string;
  groupId: string;
  configFile: string;
}

export async function makeUser(admin: IdentityClient, tenancy: string, dataDir: string, name: string): Promise<TestUser> {
  const user = (await admin.createUser({ createUserDetails: { compartmentId: tenancy, name, description: name } })).user;
  const group = (await admin.createGroup({ createGroupDetails: { compartmentId: tenancy, name: `${name}-group`, description: name } })).group;
  await admin.addUserToGroup({ addUserToGroupDetails: { userId: user.id, groupId: group.id } });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const key = (await admin.uploadApiKey({ userId: user.id, createApiKeyDetails: { key: publicKey } })).apiKey;
  const keyFile = path.join(dataDir, `${name}.pem`);
  writeFileSync(keyFile, privateKey, { mode: 0o600 });
  const configFile = path.join(dataDir, `${name}.config`);
  writeFileSync(configFile, `[DEFAULT]\nuser=${user.id}\nfingerprint=${key.fingerprint}\nkey_file=${keyFile}\ntenancy=${tenancy}\nregion=local\n`, { mode: 0o600 });
  return { userId: user.id, groupId: group.id, configFile };
}
