import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header a replica's internal request to another replica carries: `<replica id> <time ms> <hex HMAC-SHA256>`. */
export const REPLICA_AUTH_HEADER = 'x-dsjobs-replica';

/**
 * How long a signed internal request stays valid either side of the receiver's clock: replicas' clocks may differ by
 * a few seconds (NTP keeps them well within this), and a captured request replays for at most this long.
 */
const MAX_SKEW_MS = 60_000;

function mac(secret: string, replica: string, timeMs: number, method: string, pathAndQuery: string): string {
  return createHmac('sha256', secret).update(`${replica}\n${timeMs}\n${method.toUpperCase()}\n${pathAndQuery}`).digest('hex');
}

/**
 * The value of REPLICA_AUTH_HEADER for a request of replica `replica`: an HMAC over who sends it, when, and the
 * method and path with its query, keyed by the secret every replica reads from the shared database.
 */
export function signReplicaRequest(secret: string, replica: string, method: string, pathAndQuery: string, nowMs = Date.now()): string {
  return `${replica} ${nowMs} ${mac(secret, replica, nowMs, method, pathAndQuery)}`;
}

/** The sending replica's id when `header` is a valid signature of this request now; else why not. */
export function verifyReplicaRequest(
  secret: string,
  header: string | undefined,
  method: string,
  pathAndQuery: string,
  nowMs = Date.now(),
): { ok: true; replica: string } | { ok: false; reason: string } {
  const parts = (header ?? '').split(' ');
  if (parts.length !== 3) return { ok: false, reason: `the ${REPLICA_AUTH_HEADER} header is missing or malformed` };
  const [replica, time, given] = parts;
  const timeMs = Number(time);
  if (!Number.isSafeInteger(timeMs) || Math.abs(nowMs - timeMs) > MAX_SKEW_MS) return { ok: false, reason: `the ${REPLICA_AUTH_HEADER} signature is too old or from the future` };
  const want = Buffer.from(mac(secret, replica, timeMs, method, pathAndQuery), 'hex');
  const got = Buffer.from(given, 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: `the ${REPLICA_AUTH_HEADER} signature does not match` };
  return { ok: true, replica };
}
