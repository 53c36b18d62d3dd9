import { hash, type KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { DsError, invalid, isDatabaseUnavailable, isOutOfSpace, outOfSpace } from '../domain/errors.js';
import type { Resources } from '../domain/resources.js';
import type { DatabaseStatus } from '../store/database-health.js';
import { randomHex } from '../domain/ids.js';
import type { JobsService } from '../service/jobs.js';
import type { ProjectsService } from '../service/projects.js';
import type { RunsService } from '../service/runs.js';
import type { ShapesService } from '../service/shapes-service.js';
import type { EventsService } from '../service/events-service.js';
import type { WebhooksService } from '../service/webhooks.js';
import type { TriggersService } from '../service/triggers.js';
import type { SchedulesService } from '../service/schedules.js';
import type { SweepsService } from '../service/sweeps.js';
import type { ServerIdentity } from '../service/common.js';
import type { RunPrincipals } from '../service/run-principals.js';
import type { RunMonitor } from '../service/monitor.js';
import type { PoliciesService } from '../service/policies.js';
import { CONSOLE_CSP, ConsoleFiles } from './console-static.js';
import { STATUS_OF } from './error-status.js';
import { checkStoredBody } from './body-limits.js';
import { HostCheck } from './host-check.js';
import { guardConnections, type ConnectionLimits } from './connection-guard.js';
import { Backpressure, type BackpressureLimits } from './backpressure.js';
import * as S from './schemas.js';
import { projectRoutes } from './routes/projects.js';
import { jobRoutes } from './routes/jobs.js';
import { runRoutes } from './routes/job-runs.js';
import { miscRoutes } from './routes/misc.js';
import { imageRoutes } from './routes/images.js';
import type { ImagesService } from '../service/images.js';
import { pageLimitHook } from './page-limit.js';
import { workRequestRoutes } from './routes/work-requests.js';
import type { WorkRequestsService } from '../service/work-requests.js';
import { eventRoutes } from './routes/events.js';
import { webhookRoutes } from './routes/webhooks.js';
import { triggerRoutes } from './routes/triggers.js';
import { scheduleRoutes } from './routes/schedules.js';
import { sweepRoutes } from './routes/sweeps.js';
import { identityPolicyRoutes } from './routes/identity-policies.js';
import { loopbackPeerUid } from './peer-uid.js';
import type { IdentityService } from '../service/identity.js';
import { authenticate, authenticateSession, checkBodyHash, sessionToken } from './authentication.js';
import { createSignatureVerifier, type SignatureVerifier } from './signature-verifier.js';
import { authorizationHooks } from './authorization.js';
import type { Authorizer } from '../service/authorizer.js';
import type { ConsoleSessions } from '../service/console-sessions.js';
import { consoleSessionRoutes } from './routes/console-session.js';
import { ResponseSchemas } from './serialization-schemas.js';
import { compartmentRoutes } from './routes/identity-compartments.js';
import { userRoutes } from './routes/identity-users.js';
import { groupRoutes } from './routes/identity-groups.js';
import type { SecretsService } from '../service/secrets.js';
import { vaultSecretRoutes } from './routes/vault-secrets.js';
import { secretBundleRoutes } from './routes/secret-bundles.js';
import type { AuditService } from '../service/audit.js';
import { registerAuditHook } from './audit-hook.js';
import { auditRoutes } from './routes/audit.js';
import { REPLICA_ROUTES, replicaRoutes } from './routes/replicas.js';
import type { LoggingService } from '../service/logging.js';
import { logIngestionRoutes, loggingManagementRoutes, logSearchRoutes } from './routes/logging.js';
import type { CompartmentMoves } from '../service/compartment-moves.js';
import { compartmentMoveRoutes } from './routes/compartment-moves.js';
import type { ObjectStorageService } from '../service/object-storage.js';
import type { ObjectPars } from '../service/object-pars.js';
import { objectStorageRoutes } from './routes/object-storage.js';

export const BASE = '/20190101';
/** OCI Identity's API version (compartments, users, groups, memberships, API keys, policies, dynamic groups): its paths are served beside Data Science's. */
export const IDENTITY_BASE = '/20160918';
/** OCI Vault's management API (secrets) and the Secrets service's retrieval API (secret bundles). */
export const VAULT_BASE = '/20180608';
export const SECRETS_BASE = '/20190301';
/** OCI Audit's API version (ListEvents). */
export const AUDIT_BASE = '/20190901';
/** OCI Logging: management (log groups, logs), search, ingestion (docs/logging.md). */
export const LOGGING_BASE = '/20200531';
export const LOG_SEARCH_BASE = '/20190909';
export const LOG_INGESTION_BASE = '/20200831';

/** Routes that take unsigned requests when authentication is on: server info, trigger URLs (their token), the API document. */
const PUBLIC_ROUTES = new Set([
  '/health',
  '/healthz',
  '/readyz',
  `${BASE}/serverInfo`,
  `${BASE}/triggerRules/:ruleId/actions/fire`,
  `${BASE}/openapi.json`,
  `${BASE}/console/login`,
  `${BASE}/console/session`,
  `${BASE}/console/logout`,
  // Object Storage's pre-authenticated requests: the secret in the path is the credential (service/object-pars.ts).
  '/p/:token/n/:namespaceName/b/:bucketName/o/*',
  // Other server replicas of the same database: an HMAC of their own (routes/replicas.ts).
  ...REPLICA_ROUTES,
]);
/** Routes whose body is streamed, unparsed: the OCI SDKs sign them without the body headers. */
const STREAMED_BODY_ROUTES = new Set([
  `POST ${BASE}/jobs/:jobId/artifact`,
  `POST ${BASE}/containerImages/actions/load`,
  // Object Storage: PutObject and UploadPart (the oci-objectstorage SDK signs them without the body headers).
  'PUT /n/:namespaceName/b/:bucketName/o/*',
  'PUT /n/:namespaceName/b/:bucketName/u/*',
]);

export interface ApiDeps {
  /** Several replicas on one PostgreSQL database: the secret their internal requests are signed with (routes/replicas.ts). */
  replicaSecret?: string;
  /** The container engine's images (dsjobs image load / list). */
  images: ImagesService;
  projects: ProjectsService;
  jobs: JobsService;
  runs: RunsService;
  shapes: ShapesService;
  events: EventsService;
  webhooks: WebhooksService;
  triggers: TriggersService;
  schedules: SchedulesService;
  sweeps: SweepsService;
  policies: PoliciesService;
  identity: ServerIdentity;
  version: string;
  executorName: string;
  capacity: () => Resources;
  logger: boolean | object;
  monitor: RunMonitor;
  /** Prometheus exposition text for GET /metrics. */
  prometheus: () => Promise<string>;
  protections: { enforced: string[]; off: string[] };
  /** Directory of the built web console (dist/console); the console is served at `/` when it holds a build. */
  consoleDir?: string;
  /** Which Host headers are answered, and the limits on slow and numerous connections. */
  network: { allowedHosts: string[]; listenHost: string; limits: ConnectionLimits; backpressure: BackpressureLimits };
  /** The database's health (GET /health, serverInfo.database). */
  database: () => DatabaseStatus;
  /** Why this server cannot serve requests now (the database does not answer, or is damaged), or null (GET /readyz). */
  notReady?: () => Promise<string | null>;
  /** The uid job runs run as, when it is not the server's own: loopback requests from it are refused (peer-uid.ts). */
  runUid?: number | null;
  identityService: IdentityService;
  /** Whether every API request must be signed (config `authentication`). */
  authentication: boolean;
  /** The web console's login sessions. */
  sessions: ConsoleSessions;
  /** Decides every request of an authenticated principal (authorization.ts); absent, nothing is authorized. */
  authorizer?: Authorizer;
  /**
   * Where signatures are verified (authentication on): given by the server, which lets the store's group commit wait
   * for its answers (server.ts); absent, the app makes its own. Closed with the app.
   */
  signatureVerifier?: SignatureVerifier;
  /** PEM certificate chain and key: the server speaks HTTPS. */
  https?: { cert: Buffer; key: Buffer };
  /** OCI work requests (job and project deletes). */
  workRequests: WorkRequestsService;
  /** OCI Vault secrets and their bundles (docs/secrets.md). */
  secrets: SecretsService;
  /** Runs' own identities: requests signed with a run's session token (keyId ST$...); absent, those are refused. */
  runPrincipals?: RunPrincipals;
  /** The audit trail: every mutating or denied request is recorded (audit-hook.ts) and listed at /20190901/auditEvents. */
  audit?: AuditService;
  /** OCI Logging subset: log groups, logs, search, ingestion (docs/logging.md). */
  logging: LoggingService;
  /** ChangeProjectCompartment, ChangeJobCompartment, ChangeJobRunCompartment. */
  moves: CompartmentMoves;
  /** OCI Object Storage subset under /n (docs/object-storage.md), and its pre-authenticated requests under /p. */
  objectStorage: ObjectStorageService;
  objectPars: ObjectPars;
}

export type App = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

/** Ajv errors to one OCI error naming the field and the reason. */
function validationMessage(errors: any[], dataVar: string): string {
  // anyOf over [T, null] yields one error per branch: report the first real one.
  const e = errors.find((x) => x.keyword !== 'anyOf' && !(x.keyword === 'type' && x.params?.type === 'null')) ?? errors[0];
  const base = (e.instancePath as string).replace(/^\//, '').replace(/\//g, '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]');
  const where = dataVar === 'body' ? '' : `${dataVar === 'querystring' ? 'query' : dataVar} `;
  if (e.keyword === 'required') {
    return `${where}${base ? base + '.' : ''}${e.params.missingProperty}: is required`;
  }
  if (e.keyword === 'additionalProperties') {
    return `${where}${base ? base + '.' : ''}${e.params.additionalProperty}: is not a field that can be set here`;
  }
  let field = base || (dataVar === 'body' ? 'body' : dataVar);
  let reason = e.message as string;
  // A key of a map (a tag's key): name it, shortened.
  if (e.propertyName !== undefined) field += ` key '${String(e.propertyName).slice(0, 40)}${String(e.propertyName).length > 40 ? '...' : ''}'`;
  if (e.keyword === 'pattern' && (e.params.pattern === S.NO_CONTROL_CHARS || e.params.pattern === S.NO_CONTROL_CHARS_BUT_LINES)) {
    reason = 'must not contain control characters';
  }
  if (e.keyword === 'maxProperties') reason = `must have at most ${e.params.limit} entries`;
  if (e.keyword === 'anyOf') reason = 'has a value that is not allowed';
  if (e.keyword === 'enum') reason = `must be one of ${JSON.stringify(e.params.allowedValues)}`;
  if (e.keyword === 'const') {
    // A union of literals reports one const error per branch: list every allowed value.
    const allowed = errors
      .filter((x) => x.keyword === 'const' && x.instancePath === e.instancePath)
      .map((x) => x.params.allowedValue);
    reason = `must be one of ${JSON.stringify(allowed)}`;
  }
  return `${where}${field}: ${reason}`;
}

/**
 * The servers fastify bound besides app.server (its second address of "localhost"), from the symbol its own code
 * keeps them under; test/e2e/connections.test.ts fails if a fastify upgrade moves them.
 */
function secondaryServers(app: object): Server[] {
  const key = Object.getOwnPropertySymbols(app).find((k) => k.description === 'fastify.serverBindings');
  const servers = key ? (app as unknown as Record<symbol, unknown>)[key] : undefined;
  return Array.isArray(servers) ? (servers as Server[]) : [];
}

function requestId(): string {
  return randomHex(16).toUpperCase();
}

export async function buildApp(deps: ApiDeps): Promise<App> {
  const app = Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    logger: deps.logger,
    // One line per request at info would drown the server log at 2,000 requests/s: requests are not logged.
    logController: new LogController({ disableRequestLogging: true } as never),
    bodyLimit: 10 * 1024 * 1024,
    // On shutdown, end open connections too: a client following a long run's logs must not hold the server up.
    forceCloseConnections: true,
    ajv: {
      customOptions: {
        // Unknown fields are errors where a schema says so, never silently dropped.
        removeAdditional: false,
        coerceTypes: 'array',
        // All errors, so a union of literals reports every allowed value; the formatter picks the first field.
        allErrors: true,
      },
    },
    schemaErrorFormatter: (errors, dataVar) => new DsError('InvalidParameter', validationMessage(errors, dataVar)),
    genReqId: (req) => {
      const given = req.headers['opc-request-id'];
      return typeof given === 'string' && given.length > 0 && given.length <= 98 ? given : requestId();
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // OCI SDKs send content-type: application/json on every call, bodyless GET/DELETE/actions included: an empty
  // JSON body is no body.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    // The hash of the bytes as received, for a signature that covers x-content-sha256 (only then: it costs ~1 us/KB).
    if (req.signedBodySha256 !== undefined) req.bodySha256 = hash('sha256', body as Buffer, 'base64');
    const text = (body as Buffer).toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new DsError('InvalidParameter', 'body: is not valid JSON'), undefined);
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('opc-request-id', req.id);
  });
  // First of all (before a signature is checked): a flood of requests, signed or not, is bounded.
  const backpressure = new Backpressure(deps.network.backpressure);
  app.addHook('onRequest', (req, reply, done) => {
    if (backpressure.admit(req, reply)) done();
  });
  const hosts = new HostCheck(deps.network.allowedHosts, deps.network.listenHost);
  app.addHook('onRequest', async (req) => {
    if (!hosts.allows(req.headers.host)) {
      throw invalid(
        'Host',
        `'${String(req.headers.host).slice(0, 100)}' is not a name this server answers to (a guard against DNS rebinding); use its address or localhost, or add the name to allowedHosts in the server's config`,
      );
    }
  });
  const guard = guardConnections(deps.network.limits, app.log);
  guard.watch(app.server);
  // With host "localhost" fastify binds ::1 through a second server of its own (a serverFactory would reach it, but
  // fastify then binds one address only); it keeps those servers under a symbol of its own, read once listening.
  app.addHook('onListen', async () => {
    for (const server of secondaryServers(app)) guard.watch(server);
  });
  app.addHook('onClose', async () => guard.stop());
  // What a schema cannot say: the tags of a resource together, and the size of objects stored as they come.
  app.addHook('preHandler', async (req) => {
    checkStoredBody(req.body);
  });

  const runUid = deps.runUid;
  if (typeof runUid === 'number') {
    // Asked once per connection (a keep-alive connection's requests share its answer).
    const fromRun = new WeakMap<object, Promise<boolean>>();
    // When each connection was accepted: a read of the socket tables begun since then lists it (peer-uid.ts).
    const acceptedAt = new WeakMap<object, number>();
    app.server.on('connection', (s: object) => acceptedAt.set(s, performance.now()));
    app.addHook('onRequest', async (req, reply) => {
      const sock = req.raw.socket;
      let check = fromRun.get(sock);
      // With TLS the request's socket wraps the accepted one (_parent).
      const since = acceptedAt.get(sock) ?? acceptedAt.get((sock as { _parent?: object })._parent ?? sock);
      if (check === undefined) fromRun.set(sock, (check = loopbackPeerUid(sock, since).then((uid) => uid === runUid || uid === 'unknown')));
      const refused = await check;
      if (!refused) return;
      return reply.code(401).send({
        code: 'NotAuthenticated',
        message: `Requests from job runs (uid ${runUid}), and loopback requests whose sender is gone before it could be told apart, are refused: a run must authenticate to use this API, and authentication is off on this server`,
      });
    });
  }

  // Authentication: one hook before every route (DESIGN §8). Paths no route serves (the console's files, the JSON
  // 404) and the public routes take unsigned requests.
  app.decorateRequest('principal', null);
  if (deps.audit) {
    const audit = deps.audit;
    const tree = deps.identityService.tree;
    const tenancyId = deps.identity.tenancyId;
    registerAuditHook(app as unknown as FastifyInstance, {
      record: (r) => audit.record(r),
      tenancyId,
      knownCompartment: (c) => (c === tenancyId || tree.parentOf(c) !== undefined ? c : tenancyId),
      compartmentName: (c) => tree.nameOf(c),
    });
  }
  if (deps.authentication) {
    const verifier = deps.signatureVerifier ?? createSignatureVerifier();
    app.addHook('onClose', () => verifier.close());
    const identities = deps.identityService;
    const auth = {
      resolveKey: (keyId: string) => identities.resolveKey(keyId),
      knownKey: (keyId: string) => identities.knownKey(keyId),
      userPrincipal: (userId: string) => identities.userPrincipal(userId),
      knownUserPrincipal: (userId: string) => identities.knownUserPrincipal(userId),
      now: () => Date.now(),
      streamedBodyRoutes: STREAMED_BODY_ROUTES,
      verifySignature: (data: string, key: KeyObject, signature: string) => verifier.verify(data, key, signature),
      sessionToken: deps.runPrincipals ? (token: string) => deps.runPrincipals!.authenticate(token) : undefined,
    };
    // Callback-style, its one promise the verification's (see preValidation below).
    app.addHook('onRequest', (req, _reply, done) => {
      const route = req.routeOptions.url;
      if (route === undefined || PUBLIC_ROUTES.has(route)) return done();
      // A request with no signature but the console's cookie is the console's.
      const session = req.headers.authorization === undefined ? sessionToken(req) : null;
      const principal = session ? authenticateSession(req, session, deps.sessions, auth.userPrincipal) : authenticate(req, auth, route);
      principal.then((p) => {
        req.principal = p;
        done();
      }, done);
    });
    // Callback-style hooks where nothing is awaited: an async hook costs every request a promise and a microtask
    // turn more (a few us of the event loop each, benchmark 3a).
    app.addHook('preValidation', (req, _reply, done) => {
      if (req.signedBodySha256 === undefined) return done();
      try {
        checkBodyHash(req, STREAMED_BODY_ROUTES.has(`${req.method} ${req.routeOptions.url}`));
      } catch (e) {
        return done(e as Error);
      }
      done();
    });
  }
  // Authorization: one hook before every route's handler, one after every list (DESIGN §8; authorization.ts).
  if (deps.authorizer) {
    const authz = authorizationHooks(deps, deps.authorizer);
    app.addHook('preHandler', async (req) => authz.authorize(req));
    // Only lists are filtered; every other answer passes without a promise (see preValidation above).
    app.addHook('preSerialization', (req, _reply, payload, done) => {
      if (!req.principal || !Array.isArray(payload)) return done(null, payload);
      authz.filter(req, payload).then((filtered) => done(null, filtered), done);
    });
    app.decorateRequest('mayReadEvent', null);
  }

  app.addHook('preHandler', pageLimitHook(BASE));

  const consoleFiles = deps.consoleDir ? ConsoleFiles.load(deps.consoleDir) : null;
  app.setNotFoundHandler((req, reply) => {
    const urlPath = req.url.split('?')[0];
    // The console lives at every GET path outside the API; unknown API paths keep the API's JSON 404.
    const apiPath = [BASE, IDENTITY_BASE, VAULT_BASE, SECRETS_BASE, AUDIT_BASE, LOGGING_BASE, LOG_SEARCH_BASE, LOG_INGESTION_BASE, '/n', '/p'].some((b) => urlPath === b || urlPath.startsWith(b + '/'));
    if (consoleFiles && !apiPath && (req.method === 'GET' || req.method === 'HEAD')) {
      const file = consoleFiles.lookup(urlPath);
      if (file) {
        reply.header('content-type', file.type);
        reply.header('etag', file.etag);
        reply.header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
        reply.header('x-content-type-options', 'nosniff');
        if (file.type.startsWith('text/html')) reply.header('content-security-policy', CONSOLE_CSP);
        if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
        reply.header('vary', 'accept-encoding');
        if (file.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
          reply.header('content-encoding', 'gzip');
          return reply.code(200).send(file.gzip);
        }
        return reply.code(200).send(file.body);
      }
    }
    // OCI's answer for an operation it does not have (its catalogue's NotFound, not NotAuthorizedOrNotFound).
    reply.code(404).send({
      code: 'NotFound',
      message: `There is no operation supported at the URI path and HTTP method you specified in the request: ${req.method} ${urlPath}`,
    });
  });

  app.setErrorHandler((err: any, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof DsError) {
      reply.code(STATUS_OF[err.code] ?? 500).send({ code: err.code, message: err.message });
      return;
    }
    if (err.validation) {
      reply.code(400).send({ code: 'InvalidParameter', message: err.message });
      return;
    }
    if (isOutOfSpace(err)) {
      const e = outOfSpace();
      req.log.warn({ err }, 'data disk full');
      reply.code(STATUS_OF[e.code]).send({ code: e.code, message: e.message });
      return;
    }
    if (isDatabaseUnavailable(err)) {
      // PostgreSQL is away (restarting, cut off): nothing was committed, and the same request succeeds once it is back.
      // 503 is what OCI's SDKs and load balancers retry; Retry-After: the pool reconnects within about a second.
      req.log.warn({ err }, 'the database does not answer');
      reply.code(503).header('retry-after', '1').send({ code: 'ServiceUnavailable', message: 'The database does not answer now (it may be restarting); nothing was changed. Retry the request.' });
      return;
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      const code = status === 404 ? 'NotAuthorizedOrNotFound' : status === 413 ? 'PayloadTooLarge' : status === 429 ? 'TooManyRequests' : 'InvalidParameter';
      reply.code(status).send({ code, message: err.message });
      return;
    }
    req.log.error({ err }, 'unhandled error');
    reply.code(500).send({ code: 'InternalServerError', message: 'Internal error; see the server log for request ' + req.id });
  });

  // Responses are serialized from their unions rewritten without validators (serialization-schemas.ts).
  const responseSchemas = new ResponseSchemas();
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'dsjobs API',
        version: deps.version,
        description:
          "Self-hosted Data Science Jobs. Wire-compatible with OCI Data Science's Jobs API (version 20190101); the logs endpoint and server info are dsjobs additions in the same style.",
      },
      servers: [{ url: '/' }],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (json.$id as string) ?? `def-${i}` },
    // The document shows each route's schema as written, not the serializer's rewrite (below).
    transform: ({ schema, url }) => ({ schema: responseSchemas.written(schema), url }),
  });
  app.addHook('onRoute', responseSchemas.onRoute);
  app.addSchema(S.ErrorBody);
  app.addSchema(S.JobRunMetrics);
  app.addSchema(S.CloudEvent);
  app.addSchema(S.EventFilter);

  // For load balancers and supervisors: 200 while the server can serve, 503 once the database answered that it is
  // damaged (the body says what was found and how to recover).
  app.get('/health', { schema: { hide: true } }, async (_req, reply) => {
    const database = deps.database();
    reply.code(database.status === 'OK' ? 200 : 503);
    return { status: database.status === 'OK' ? 'OK' : 'UNHEALTHY', database };
  });

  // A load balancer's two questions. Live: the process answers (restart it if not). Ready: it can serve, the
  // database included (send it no requests while not; with PostgreSQL, while the database is unreachable).
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'OK' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const why = (await deps.notReady?.()) ?? null;
    reply.code(why === null ? 200 : 503);
    return why === null ? { status: 'READY' } : { status: 'NOT_READY', message: why };
  });

  // Prometheus scrapes the root path, as for every other exporter.
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    return deps.prometheus();
  });

  await app.register(
    async (api) => {
      await projectRoutes(api as App, deps);
      await jobRoutes(api as App, deps);
      await runRoutes(api as App, deps);
      await miscRoutes(api as App, deps);
      await imageRoutes(api as App, deps.images);
      await eventRoutes(api as App, deps);
      await webhookRoutes(api as App, deps);
      await triggerRoutes(api as App, deps);
      await scheduleRoutes(api as App, deps);
      await sweepRoutes(api as App, deps);
      await workRequestRoutes(api as App, deps);
      await compartmentMoveRoutes(api as App, deps.moves);
      await consoleSessionRoutes(api as App, { sessions: deps.sessions, tls: deps.https !== undefined });
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: BASE },
  );
  await app.register(
    async (api) => {
      await identityPolicyRoutes(api as App, deps);
      await compartmentRoutes(api as App, deps.identityService);
      await userRoutes(api as App, deps.identityService);
      await groupRoutes(api as App, deps.identityService);
    },
    { prefix: IDENTITY_BASE },
  );
  await app.register(async (api) => vaultSecretRoutes(api as App, deps.secrets), { prefix: VAULT_BASE });
  await app.register(async (api) => secretBundleRoutes(api as App, deps.secrets), { prefix: SECRETS_BASE });
  const audit = deps.audit;
  if (audit) await app.register(async (api) => auditRoutes(api as App, audit), { prefix: AUDIT_BASE });
  await app.register(async (api) => loggingManagementRoutes(api as App, deps.logging, deps.workRequests, deps.identity.tenancyId), { prefix: LOGGING_BASE });
  await app.register(async (api) => logSearchRoutes(api as App, deps.logging), { prefix: LOG_SEARCH_BASE });
  await app.register(async (api) => logIngestionRoutes(api as App, deps.logging), { prefix: LOG_INGESTION_BASE });
  // Object Storage has no version prefix: OCI serves it at /n/... (and PAR URLs at /p/...).
  await app.register(async (api) => objectStorageRoutes(api as App, deps.objectStorage, deps.objectPars, deps.workRequests));
  const replicaSecret = deps.replicaSecret;
  if (replicaSecret) await app.register(async (api) => replicaRoutes(api as App, { runs: deps.runs, secret: replicaSecret }));
  return app;
}
