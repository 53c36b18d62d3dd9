import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { invalid } from './errors.js';

/** The part of an OCI keyId that names the signer: `<tenancy>/<user>/<fingerprint>`. */
export interface ApiKeyId {
  tenancyId: string;
  userId: string;
  fingerprint: string;
}

export function parseKeyId(keyId: string): ApiKeyId | null {
  const parts = keyId.split('/');
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) return null;
  return { tenancyId: parts[0], userId: parts[1], fingerprint: parts[2].toLowerCase() };
}

/** OCI's limit on API signing keys per user. */
export const MAX_API_KEYS_PER_USER = 3;

/**
 * An uploaded API signing key, checked as OCI checks it: a PEM RSA public key of at least 2048 bits. The fingerprint
 * is OCI's: the MD5 of the key's DER SubjectPublicKeyInfo, as colon-separated lowercase hex pairs (what
 * `openssl rsa -pubout -outform DER | openssl md5 -c` prints).
 */
export function parsePublicKey(pem: unknown, field = 'key'): { key: KeyObject; pem: string; fingerprint: string } {
  if (typeof pem !== 'string' || !pem.includes('-----BEGIN PUBLIC KEY-----')) {
    throw invalid(field, 'must be an RSA public key in PEM format (-----BEGIN PUBLIC KEY-----)');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw invalid(field, 'is not a valid PEM public key');
  }
  if (key.asymmetricKeyType !== 'rsa') throw invalid(field, `must be an RSA key, not ${key.asymmetricKeyType}`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) throw invalid(field, `must be at least 2048 bits (this key has ${bits})`);
  const der = key.export({ type: 'spki', format: 'der' });
  const canonical = key.export({ type: 'spki', format: 'pem' }).toString();
  return { key, pem: canonical, fingerprint: fingerprintOf(der) };
}

export function fingerprintOf(spkiDer: Buffer): string {
  return createHash('md5').update(spkiDer).digest('hex').match(/../g)!.join(':');
}
