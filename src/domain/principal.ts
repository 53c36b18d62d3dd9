/**
 * Who a request acts as, resolved by the authentication hook (api/authentication.ts) before any route runs and
 * handed to the service layer, where authorization decides what it may do. A user signs with one of its API keys;
 * a run (resource principal) will sign with its run's token.
 */
export type Principal =
  | { kind: 'user'; userId: string; tenancyId: string; /** The fingerprint of the key that signed, or null for a console session. */ fingerprint: string | null }
  | { kind: 'run'; runId: string; compartmentId: string; tenancyId: string };

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
