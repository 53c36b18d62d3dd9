import { createPublicKey, createSign, createVerify, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * A resource principal session token (RPST), as OCI's resource principal provider (version 2.2) expects one: a JWT
 * whose claims name the resource (`res_id`, `res_type`, `res_compartment`, `res_tenant`, the two the SDK reads with
 * getStringClaim) and carry the public half of the key pair handed to the resource (`jwk`), so that a request is
 * signed with `keyId="ST$<token>"` and the matching private key. The SDK decodes it without verifying and reads
 * `exp` to decide when to read the token file again; dsjobs signs it RS256 with a key of its own.
 */
export interface RpstClaims {
  iss: string;
  /** The run's OCID (also `res_id`). */
  sub: string;
  res_id: string;
  res_type: string;
  res_compartment: string;
  res_tenant: string;
  /** OCI's token type for resource principals. */
  ttype: 'res';
  /** The public key requests signed under this token must verify with (RSA, as JWK). */
  jwk: JsonWebKey;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
}

const ISSUER = 'dsjobs';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Signs `claims` as a compact JWS (RS256) with the server's token key. */
export function signRpst(claims: Omit<RpstClaims, 'iss' | 'ttype'>, key: KeyObject): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ iss: ISSUER, ttype: 'res', ...claims }));
  const signature = createSign('sha256').update(`${header}.${payload}`).sign(key);
  return `${header}.${payload}.${b64url(signature)}`;
}

/** A token that cannot be used, and why (the reason goes into the 401's message). */
export class RpstError extends Error {
  override name = 'RpstError';
}

/**
 * Checks a token's form, its RS256 signature by `key` (the server's public token key) and its lifetime; returns its
 * claims and the public key requests must be signed with. Claims are read only once the signature holds.
 */
export function verifyRpst(token: string, key: KeyObject, nowMs: number): { claims: RpstClaims; publicKey: KeyObject } {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) throw new RpstError('the session token is not a JWT');
  let header: { alg?: unknown };
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    throw new RpstError('the session token is not a JWT');
  }
  // Only the algorithm the server signs with: a token naming "none" or HS256 is never taken at its word.
  if (header?.alg !== 'RS256') throw new RpstError('the session token is not signed RS256');
  const ok = createVerify('sha256').update(`${parts[0]}.${parts[1]}`).verify(key, Buffer.from(parts[2], 'base64url'));
  if (!ok) throw new RpstError('the session token was not issued by this server');
  let claims: RpstClaims;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new RpstError('the session token\'s claims are not JSON');
  }
  if (claims.iss !== ISSUER || claims.ttype !== 'res' || typeof claims.res_id !== 'string' || typeof claims.res_compartment !== 'string') {
    throw new RpstError('the session token is not a resource principal token of this server');
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= nowMs) throw new RpstError('the session token has expired');
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: claims.jwk, format: 'jwk' });
  } catch {
    throw new RpstError('the session token\'s jwk is not a public key');
  }
  return { claims, publicKey };
}
