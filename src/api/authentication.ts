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
  /** resolveKey's answer where it is known without a read (cached); undefined: ask resolveKey. */
  knownKey?(keyId: string): VerifiedKey | null | undefined;
  /** The principal of an authenticated user (its groups read fresh). */
  userPrincipal(userId: string): Promise<Principal>;
  /** userPrincipal's answer where it is known without a read (cached); undefined: ask userPrincipal. */
  knownUserPrincipal?(userId: string): Principal | undefined;
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
  /** RSA-SHA256 verification of `data`'s UTF-8 bytes, the signature base64 (api/signature-verifier.ts: batched off the event loop). */
  verifySignature(data: string, key: KeyObject, signature: string): Promise<boolean>;
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

const PARAM_NAME = /^[A-Za-z]+$/;
const isParamName = (s: string) => PARAM_NAME.test(s);
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);

/** `Signature version="1",keyId="...",algorithm="rsa-sha256",headers="...",signature="..."` -> its parameters. */
export function parseSignatureHeader(value: string | undefined): SignatureParams {
  const p = signatureParams(value);
  return { keyId: p.keyId, algorithm: 'rsa-sha256', headers: signedHeaders(p.headers).list, signature: Buffer.from(p.signature, 'base64') };
}

/**
 * The header's parameters, its header list as sent. indexOf rather than a regular expression: this runs for every
 * signed request (~1 us less of the event loop per request, benchmark 3a).
 */
function signatureParams(value: string | undefined): { keyId: string; headers: string; signature: string } {
  if (!value) throw unauthenticated('the authorization header is missing');
  if (!value.startsWith('Signature ')) throw unauthenticated('the authorization header is not an OCI signature (Signature keyId=...)');
  let version: string | undefined;
  let keyId: string | undefined;
  let signature: string | undefined;
  let algorithm: string | undefined;
  let headers: string | undefined;
  let at = 'Signature '.length;
  const n = value.length;
  while (at < n) {
    const from = at;
    while (at < n && isSpace(value.charCodeAt(at))) at++;
    const eq = value.indexOf('="', at);
    const close = eq < 0 ? -1 : value.indexOf('"', eq + 2);
    const name = close < 0 ? '' : value.slice(at, eq);
    if (!isParamName(name)) throw unauthenticated(`the authorization header is malformed at character ${from}`);
    const v = value.slice(eq + 2, close);
    at = close + 1;
    while (at < n && isSpace(value.charCodeAt(at))) at++;
    if (at < n) {
      if (value.charCodeAt(at) !== 44 /* , */) throw unauthenticated(`the authorization header is malformed at character ${from}`);
      at++;
    }
    // A parameter given twice counts by its last value.
    if (name === 'keyId') keyId = v;
    else if (name === 'signature') signature = v;
    else if (name === 'headers') headers = v;
    else if (name === 'algorithm') algorithm = v;
    else if (name === 'version') version = v;
  }
  if (version !== undefined && version !== '1') throw unauthenticated(`signature version ${version} is not supported (only "1")`);
  if (!keyId) throw unauthenticated('the signature has no keyId');
  if (!signature) throw unauthenticated('the signature has no signature value');
  if (algorithm !== undefined && algorithm !== 'rsa-sha256') throw unauthenticated(`algorithm ${algorithm} is not supported (only rsa-sha256)`);
  return { keyId, headers: headers ?? 'date', signature };
}

/** A signature's header list, read once: what every request signed the same way shares. */
interface SignedHeaders {
  list: string[];
  set: ReadonlySet<string>;
  /** The date header it covers (x-date before date), or a refusal's reason. */
  dateHeader: string | null;
  /** Why it is refused, whatever the request (the request target or host not covered); null: nothing. */
  refusal: string | null;
  /** It covers every body header a POST/PUT/PATCH must sign (or the first it lacks). */
  missingBodyHeader: string | null;
}

/**
 * Header lists by the `headers` parameter as sent. A client signs every request with the same list (the OCI SDKs: two
 * lists, with and without the body headers), so parsing it once per list rather than per request saves the event
 * loop a lower-casing, a split and a Set per request. Bounded: a client that varies it only costs the parse again.
 * Nothing here depends on a signature or a key.
 */
const headerLists = new Map<string, SignedHeaders>();
const MAX_HEADER_LISTS = 256;

function signedHeaders(param: string): SignedHeaders {
  const known = headerLists.get(param);
  if (known) return known;
  const list = param.toLowerCase().split(/\s+/).filter(Boolean);
  const set = new Set(list);
  const refusal = ['(request-target)', 'host'].find((h) => !set.has(h));
  const parsed: SignedHeaders = {
    list,
    set,
    dateHeader: set.has('x-date') ? 'x-date' : set.has('date') ? 'date' : null,
    refusal: refusal ? `the signature must cover the ${refusal} header` : null,
    missingBodyHeader: BODY_HEADERS.find((h) => !set.has(h)) ?? null,
  };
  if (headerLists.size >= MAX_HEADER_LISTS) headerLists.clear();
  headerLists.set(param, parsed);
  return parsed;
}

function headerValue(req: FastifyRequest, name: string): string {
  if (name === '(request-target)') return `${req.method.toLowerCase()} ${req.raw.url}`;
  const v = req.headers[name];
  if (v === undefined) throw unauthenticated(`the signed header ${name} is not in the request`);
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Date.parse of the last date header seen: the requests of one second carry the same (a pure function's answer). */
let lastDate = '';
let lastDateMs = NaN;
function parseDate(value: string): number {
  if (value !== lastDate) {
    lastDateMs = Date.parse(value);
    lastDate = value;
  }
  return lastDateMs;
}

/**
 * Verifies a request's OCI HTTP signature (draft-cavage, as the OCI SDKs make it) and returns who signed it. What is
 * checked: the signature covers (request-target), host and date (or x-date), and for POST/PUT/PATCH the body headers
 * x-content-sha256, content-type and content-length; the date is within 5 minutes; the keyId names an active key of an
 * active user, or is a run principal's session token (`ST$<token>`, opts.sessionToken); the RSA-SHA256 signature
 * verifies with that key. The body hash itself is checked once the body is read.
 *
 * Not an async function: with the key and the user's groups cached (opts.knownKey, opts.knownUserPrincipal), the
 * verification is the one promise a request waits on; each await more was a microtask turn of the event loop per
 * signed request (benchmark 3a).
 */
export function authenticate(req: FastifyRequest, opts: AuthenticationOptions, route: string): Promise<Principal> {
  try {
    return verifiedPrincipal(req, opts, route);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** authenticate's work: what is refused before the verification throws; the verification (and a key not cached) is the promise. */
function verifiedPrincipal(req: FastifyRequest, opts: AuthenticationOptions, route: string): Promise<Principal> {
  const { keyId, headers, signature } = signatureParams(req.headers.authorization);
  const signed = signedHeaders(headers);
  const data = signingString(req, opts, route, signed);
  const check = (key: KeyObject, refusal: string, principal: () => Principal | Promise<Principal>) =>
    opts.verifySignature(data, key, signature).then((ok) => {
      if (!ok) throw unauthenticated(refusal);
      if (signed.set.has('x-content-sha256')) req.signedBodySha256 = headerValue(req, 'x-content-sha256');
      return principal();
    });
  if (keyId.startsWith(SESSION_TOKEN_PREFIX)) {
    // A run principal (OCI's resource principal): the token says who, and carries the key the request is signed with.
    if (!opts.sessionToken) throw unauthenticated('session tokens (keyId ST$...) are not accepted by this server');
    let session: { principal: Principal; key: KeyObject };
    try {
      session = opts.sessionToken(keyId.slice(SESSION_TOKEN_PREFIX.length));
    } catch (e) {
      throw unauthenticated((e as Error).message);
    }
    return check(session.key, 'the signature does not verify with the session token\'s key', () => session.principal);
  }
  const withKey = (key: VerifiedKey | null): Promise<Principal> => {
    if (!key) throw unauthenticated(`the key ${keyId} is not an active API key of an active user`);
    return check(key.key, 'the signature does not verify', () => opts.knownUserPrincipal?.(key.userId) ?? opts.userPrincipal(key.userId));
  };
  const known = opts.knownKey?.(keyId);
  return known !== undefined ? withKey(known) : opts.resolveKey(keyId).then(withKey);
}

/** The date and body checks of a signed request, then its signing string (the headers it covers, as OCI builds it). */
function signingString(req: FastifyRequest, opts: AuthenticationOptions, route: string, signed: SignedHeaders): string {
  if (signed.refusal) throw unauthenticated(signed.refusal);
  const dateHeader = signed.dateHeader;
  if (!dateHeader) throw unauthenticated('the signature must cover the date (or x-date) header');
  const when = parseDate(headerValue(req, dateHeader));
  if (Number.isNaN(when)) throw unauthenticated(`the ${dateHeader} header is not a date`);
  const skew = Math.abs(opts.now() - when);
  if (skew > MAX_CLOCK_SKEW_MS) {
    throw unauthenticated(`the request's ${dateHeader} is ${Math.round(skew / 1000)} s away from the server's clock (at most 300 s)`);
  }
  if (signed.missingBodyHeader && BODY_METHODS.has(req.method) && !opts.streamedBodyRoutes.has(`${req.method} ${route}`)) {
    throw unauthenticated(`the signature of a ${req.method} must cover the ${signed.missingBodyHeader} header`);
  }
  let out = '';
  for (let i = 0; i < signed.list.length; i++) {
    const h = signed.list[i];
    out += `${i === 0 ? '' : '\n'}${h}: ${headerValue(req, h)}`;
  }
  return out;
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
