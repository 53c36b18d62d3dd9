import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { timeOrderedUuid } from '../domain/ids.js';
import type { AuditRecord } from '../store/audit-store.js';
import { sessionToken } from './authentication.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The compartment the authorizer decided the request in (authorization.ts); the audit event's compartment. */
    auditCompartmentId: string | null;
    /** Set by authorization.ts when the authorizer refused the request (as opposed to a resource that is not there). */
    authorizationDenied: boolean;
  }
}

export interface AuditHookDeps {
  record(r: AuditRecord): void;
  tenancyId: string;
  /** The compartment as policies see it: one that names no compartment is the tenancy (authorization.ts's rule). */
  knownCompartment(id: string): string;
  compartmentName(id: string): string | undefined;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Request headers an event keeps. An allow-list: authorization (signatures, bearer trigger tokens), cookies (console
 * sessions), x-csrf-token and x-dsjobs-trigger-token are credentials and never stored.
 */
const KEPT_HEADERS = ['host', 'user-agent', 'content-type', 'content-length', 'opc-request-id', 'date', 'x-date', 'if-match'];
/** Query parameters whose values are not stored (none of dsjobs' take a credential; a client may still send one). */
const SECRET_PARAM = /token|secret|password|passphrase|signature|credential|key/i;
/** Bounds on what a request can make an event carry: a denied request costs one row, not a copy of its input. */
const MAX_VALUE = 512;
const MAX_PARAMS = 32;
/** The longest response payload read for the resource's id and name (creates answer a few KB). */
const MAX_PAYLOAD_READ = 256 * 1024;

/** The keyId parameter of a signature header (authentication.ts parses the whole header; the key id is all this needs). */
const KEY_ID = /[\s,]keyId="([^"]*)"/;

const cut = (v: string) => (v.length > MAX_VALUE ? v.slice(0, MAX_VALUE) : v);

/** Where OCI's paths put a request: the service name an event's `source` and `eventType` carry. */
function sourceOf(path: string): string {
  if (path.startsWith('/20190101/')) return 'DataScience';
  if (path.startsWith('/20160918/')) return 'Identity';
  if (path.startsWith('/20190901/')) return 'Audit';
  if (path.startsWith('/n/') || path.startsWith('/p/')) return 'ObjectStorage';
  return 'dsjobs';
}

function headersOf(req: FastifyRequest): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const h of KEPT_HEADERS) {
    const v = req.headers[h];
    if (v !== undefined) out[h] = (Array.isArray(v) ? v : [v]).map(cut);
  }
  return out;
}

function parametersOf(rawUrl: string): Record<string, string[]> {
  const q = rawUrl.indexOf('?');
  if (q < 0) return {};
  const out: Record<string, string[]> = {};
  let n = 0;
  for (const [k, v] of new URLSearchParams(rawUrl.slice(q + 1))) {
    if (!(k in out) && ++n > MAX_PARAMS) break;
    (out[cut(k)] ??= []).push(SECRET_PARAM.test(k) ? '[not recorded]' : cut(v));
  }
  return out;
}

/** How the request authenticated: OCI's `natv` for an API key's signature, `console` for a console session. */
function credentialOf(req: FastifyRequest): { authType?: string; credentials?: string } {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string' && authorization.startsWith('Signature ')) {
    const keyId = KEY_ID.exec(authorization)?.[1];
    if (keyId === undefined) return { authType: 'natv' };
    // A security token (`ST$<token>`, a run principal's) is a bearer credential: kept out, like the signature.
    if (keyId.startsWith('ST$')) return { authType: 'res', credentials: 'ST$[not recorded]' };
    return { authType: 'natv', credentials: cut(keyId) };
  }
  if (authorization === undefined && sessionToken(req)) return { authType: 'console' };
  return {};
}

/** The id, name and compartment a JSON response names (a create's new resource), or nothing. */
function payloadResource(payload: unknown): { id?: string; name?: string; compartmentId?: string; code?: string; message?: string; userId?: string } {
  if (typeof payload !== 'string' || payload.length > MAX_PAYLOAD_READ || payload[0] !== '{') return {};
  try {
    const o = JSON.parse(payload) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return { id: str(o.id), name: str(o.displayName) ?? str(o.name), compartmentId: str(o.compartmentId), code: str(o.code), message: str(o.message), userId: str(o.userId) };
  } catch {
    return {};
  }
}

/** A route's resource id: the first path parameter named like an OCID's holder (jobId, jobRunId, userId, ...). */
function paramResource(req: FastifyRequest): string | undefined {
  const params = req.params as Record<string, unknown> | undefined;
  if (!params || typeof params !== 'object') return undefined;
  for (const [k, v] of Object.entries(params)) if (k.endsWith('Id') && typeof v === 'string') return v;
  return undefined;
}

/**
 * Audit (issue 19): every request that changes something (POST, PUT, PATCH, DELETE, whatever its outcome) and every
 * denied request (401 from authentication, a refusal of the authorizer) becomes one OCI AuditEvent. The hook is
 * onSend, which every answer passes through (a route's, an error handler's, a hook's refusal, the 404 of a path no
 * route serves), and runs before the response is written: the event is queued for the store's next group commit
 * before the client can see the answer, and the request does not wait for it.
 */
export function registerAuditHook(app: FastifyInstance, deps: AuditHookDeps): void {
  app.decorateRequest('auditCompartmentId', null);
  app.decorateRequest('authorizationDenied', false);
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const status = reply.statusCode;
    const denied = status === 401 || req.authorizationDenied;
    if (!denied && !MUTATING.has(req.method)) return payload;
    const now = Date.now();
    const received = now - reply.elapsedTime;
    const rawUrl = req.raw.url ?? req.url;
    // A pre-authenticated request's URL carries its secret: the audit keeps the path without it.
    const path = cut(rawUrl.split('?')[0].replace(/^\/p\/[^/]+\//, '/p/(secret)/'));
    const failed = status >= 400;
    const paramId = paramResource(req);
    // The answer is read for an error's code and message, and for what a create made; nothing else needs parsing it.
    const answer = failed || paramId === undefined ? payloadResource(payload) : {};
    const operation = (req.routeOptions.schema as { operationId?: string } | undefined)?.operationId;
    const principal = req.principal;
    const body = req.body as { compartmentId?: unknown; userName?: unknown } | undefined;
    // A console login authenticates itself: the user it logged in (its answer), or the name it tried (not the password).
    const login = operation === 'ConsoleLogin';
    const principalId =
      principal?.kind === 'user' ? principal.userId : principal?.kind === 'run' ? principal.runId : login && !failed && answer.userId ? answer.userId : null;
    const triedName = login && typeof body?.userName === 'string' ? cut(body.userName) : undefined;
    const claimed = req.auditCompartmentId ?? (failed ? undefined : answer.compartmentId) ?? (typeof body?.compartmentId === 'string' ? body.compartmentId : undefined);
    const compartmentId = claimed ? deps.knownCompartment(claimed) : deps.tenancyId;
    const source = sourceOf(path);
    const eventName = operation ?? `${req.method} ${req.routeOptions.url ?? path}`;
    const resourceId = paramId ?? (failed ? undefined : answer.id);
    const id = timeOrderedUuid();
    deps.record({
      id,
      eventTime: new Date(received).toISOString(),
      compartmentId,
      principalId,
      event: {
        eventType: `com.oraclecloud.${source}.${eventName.replace(/\s+/g, '')}`,
        cloudEventsVersion: '0.1',
        eventTypeVersion: '2.0',
        source,
        eventId: id,
        eventTime: new Date(received).toISOString(),
        contentType: 'application/json',
        data: {
          eventGroupingId: req.id,
          eventName,
          compartmentId,
          compartmentName: deps.compartmentName(compartmentId),
          resourceId,
          resourceName: failed || !answer.name ? undefined : cut(answer.name),
          identity: {
            principalId: principalId ?? undefined,
            principalName: principalId ? undefined : triedName,
            ...credentialOf(req),
            tenantId: deps.tenancyId,
            ipAddress: req.ip,
            userAgent: typeof req.headers['user-agent'] === 'string' ? cut(req.headers['user-agent']) : undefined,
          },
          request: { id: req.id, path, action: req.method, parameters: parametersOf(rawUrl), headers: headersOf(req) },
          response: {
            status: String(status),
            responseTime: new Date(now).toISOString(),
            message: failed && answer.message ? cut(answer.message) : undefined,
          },
          additionalDetails: {
            // dsjobs: what came of the request, and who made it (a user, or a job run through its run principal).
            result: denied ? 'DENIED' : failed ? 'FAILED' : 'SUCCEEDED',
            errorCode: failed ? answer.code : undefined,
            principalType: principal?.kind,
          },
        },
      },
    });
    return payload;
  });
}
