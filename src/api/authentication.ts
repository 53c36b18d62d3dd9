import type { KeyObject } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { DsError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import type { VerifiedKey } from '../service/identity.js';
import type { ConsoleSessions } from '../service/console-sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request acts as; null where authentication is off or on the few routes that need no signature. */
    principal: Principal | null;
    /** SHA-256 (base64) of the JSON body as received, set by the JSON body parser. */
    bodySha256?: string;
    /** The x-content-sha256 the signature covers, checked against the body once it is read. */
    signedBodySha256?: string;
  }
}

/** SHA-256 of no bytes, base64: what the OCI SDKs send for an empty body. */
export const EMPTY_SHA256 = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';

/** OCI refuses a signature whose date is more than 5 minutes away from its clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface AuthenticationOptions {
  resolveKey(keyId: string): Promise<VerifiedKey | null>;
  /** The principal of an authenticated user (its groups read fresh). */
  userPrincipal(userId: string): Promise<Principal>;
  /**
   * A run principal's session token (keyId `ST$<token>`): its principal and the key the request must be signed with.
   * Throws (any error, its message the reason) when the token is not good; absent: such keyIds are refused.
   */
  sessionToken?(token: string): { principal: Principal; key: KeyObject };
  now(): number;
  /**
   * `METHOD pattern` of routes whose body is streamed to disk, not parsed: the OCI SDKs sign them without the body
   * headers (their binary uploads pass forceExcludeBody), so neither is the body hash asked for here.
   */
  streamedBodyRoutes: ReadonlySet<string>;
  /** RSA-SHA256 verification (api/signature-verifier.ts: batched off the event loop). */
  verifySignature(data: Buffer, key: KeyObject, signature: Buffer): Promise<boolean>;
}

/** How the OCI SDKs name a session token as the key: `keyId="ST$<token>"`. */
export const SESSION_TOKEN_PREFIX = 'ST$';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const BODY_HEADERS = ['x-content-sha256', 'content-type', 'content-length'];

const unauthenticated = (why: string) =>
  new DsError('NotAuthenticated', `The required information to complete authentication was not provided or was incorrect: ${why}`);

interface SignatureParams {
  keyId: string;
  algorithm: string;
  headers: string[];
  signature: Buffer;
}

/** `Signature version="1",keyId="...",algorithm="rsa-sha256",headers="...",signature="..."` -> its parameters. */
export function parseSignatureHeader(value: string | undefined): SignatureParams {
  if (!value) throw unauthenticated('the authorization header is missing');
  if (!value.startsWith('Signature ')) throw unauthenticated('the authorization header is not an OCI signature (Signature keyId=...)');
  const params = new Map<string, string>();
  const re = /\s*([A-Za-z]+)="([^"]*)"\s*(,|$)/y;
  let at = 'Signature '.length;
  while (at < value.length) {
    re.lastIndex = at;
    const m = re.exec(value);
    if (!m) throw unauthenticated(`the authorization header is malformed at character ${at}`);
    params.set(m[1], m[2]);
    at = re.lastIndex;
  }
  const version = params.get('version');
  if (version !== undefined && version !== '1') throw unauthenticated(`signature version ${version} is not supported (only "1")`);
  const keyId = params.get('keyId');
  const signature = params.get('signature');
  if (!keyId) throw unauthenticated('the signature has no keyId');
  if (!signature) throw unauthenticated('the signature has no signature value');
  const algorithm = params.get('algorithm') ?? 'rsa-sha256';
  if (algorithm !== 'rsa-sha256') throw unauthenticated(`algorithm ${algorithm} is not supported (only rsa-sha256)`);
  const headers = (params.get('headers') ?? 'date').toLowerCase().split(/\s+/).filter(Boolean);
  return { keyId, algorithm, headers, signature: Buffer.from(signature, 'base64') };
}

function headerValue(req: FastifyRequest, name: string): string {
  if (name === '(request-target)') return `${req.method.toLowerCase()} ${req.raw.url}`;
  const v = req.headers[name];
  if (v === undefined) throw unauthenticated(`the signed header ${name} is not in the request`);
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Verifies a request's OCI HTTP signature (draft-cavage, as the OCI SDKs make it) and returns who signed it. What is
 * checked: the signature covers (request-target), host and date (or x-date), and for POST/PUT/PATCH the body headers
 * x-content-sha256, content-type and content-length; the date is within 5 minutes; the keyId names an active key of an
 * active user, or is a run principal's session token (`ST$<token>`, opts.sessionToken); the RSA-SHA256 signature
 * verifies with that key. The body hash itself is checked once the body is read.
 */
export async function authenticate(req: FastifyRequest, opts: AuthenticationOptions, route: string): Promise<Principal> {
  const sig = parseSignatureHeader(req.headers.authorization);
  const signed = new Set(sig.headers);
  for (const required of ['(request-target)', 'host']) {
    if (!signed.has(required)) throw unauthenticated(`the signature must cover the ${required} header`);
  }
  const dateHeader = signed.has('x-date') ? 'x-date' : signed.has('date') ? 'date' : null;
  if (!dateHeader) throw unauthenticated('the signature must cover the date (or x-date) header');
  const when = Date.parse(headerValue(req, dateHeader));
  if (Number.isNaN(when)) throw unauthenticated(`the ${dateHeader} header is not a date`);
  const skew = Math.abs(opts.now() - when);
  if (skew > MAX_CLOCK_SKEW_MS) {
    throw unauthenticated(`the request's ${dateHeader} is ${Math.round(skew / 1000)} s away from the server's clock (at most 300 s)`);
  }
  if (BODY_METHODS.has(req.method) && !opts.streamedBodyRoutes.has(`${req.method} ${route}`)) {
    for (const h of BODY_HEADERS) if (!signed.has(h)) throw unauthenticated(`the signature of a ${req.method} must cover the ${h} header`);
  }
  const signingString = sig.headers.map((h) => `${h}: ${headerValue(req, h)}`).join('\n');
  if (sig.keyId.startsWith(SESSION_TOKEN_PREFIX)) {
    // A run principal (OCI's resource principal): the token says who, and carries the key the request is signed with.
    if (!opts.sessionToken) throw unauthenticated('session tokens (keyId ST$...) are not accepted by this server');
    let session: { principal: Principal; key: KeyObject };
    try {
      session = opts.sessionToken(sig.keyId.slice(SESSION_TOKEN_PREFIX.length));
    } catch (e) {
      throw unauthenticated((e as Error).message);
    }
    if (!(await opts.verifySignature(Buffer.from(signingString), session.key, sig.signature))) throw unauthenticated('the signature does not verify with the session token\'s key');
    if (signed.has('x-content-sha256')) req.signedBodySha256 = headerValue(req, 'x-content-sha256');
    return session.principal;
  }
  const key = await opts.resolveKey(sig.keyId);
  if (!key) throw unauthenticated(`the key ${sig.keyId} is not an active API key of an active user`);
  if (!(await opts.verifySignature(Buffer.from(signingString), key.key, sig.signature))) throw unauthenticated('the signature does not verify');
  if (signed.has('x-content-sha256')) req.signedBodySha256 = headerValue(req, 'x-content-sha256');
  return opts.userPrincipal(key.userId);
}

/** The console's session cookie. */
export const SESSION_COOKIE = 'dsjobs_session';

/** The session token of the request's cookie, if any. */
export function sessionToken(req: FastifyRequest): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A console request: its session cookie must name a live session, and a request that changes something must carry
 * the session's CSRF token in x-csrf-token (a page of another site can make the browser send the cookie, not read
 * the token; SameSite=Strict already keeps the cookie off cross-site requests in current browsers).
 */
export async function authenticateSession(
  req: FastifyRequest,
  token: string,
  sessions: ConsoleSessions,
  userPrincipal: (userId: string) => Promise<Principal>,
): Promise<Principal> {
  const session = await sessions.resolve(token);
  if (!session) throw unauthenticated('the console session has ended; log in again');
  if (!SAFE_METHODS.has(req.method) && req.headers['x-csrf-token'] !== session.csrfToken) {
    throw unauthenticated('a console request that changes something must carry the session\'s x-csrf-token');
  }
  return userPrincipal(session.userId);
}

/** After the body is read: the signed x-content-sha256 must be the body's. */
export function checkBodyHash(req: FastifyRequest, streamed: boolean): void {
  const expected = req.signedBodySha256;
  if (expected === undefined || streamed) return;
  let actual = req.bodySha256;
  if (actual === undefined) {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > 0) throw unauthenticated('the body of this request cannot be checked against x-content-sha256');
    actual = EMPTY_SHA256;
  }
  if (actual !== expected) throw unauthenticated('the body does not match the signed x-content-sha256');
}
