/**
 * dsjobs TypeScript SDK: a zero-dependency client (global fetch) for the dsjobs REST API. The wire types come from
 * the API's own schemas (type-only imports, erased at build), so the SDK and the server cannot drift apart.
 */
import type { Static } from '@sinclair/typebox';
import type * as S from '../api/schemas.js';
import type { AuditEvent as AuditEventSchema } from '../api/routes/audit.js';

export type Project = Static<typeof S.Project>;
export type Job = Static<typeof S.Job>;
export type JobSummary = Static<typeof S.JobSummary>;
export type JobRun = Static<typeof S.JobRun>;
export type JobRunSummary = Static<typeof S.JobRunSummary>;
export type JobShapeSummary = Static<typeof S.JobShapeSummary>;
export type ServerInfo = Static<typeof S.ServerInfo>;
export type LogRecord = Static<typeof S.LogRecord>;
export type JobRunMetrics = Static<typeof S.JobRunMetrics>;
export type CreateJobDetails = Static<typeof S.CreateJobDetails>;
export type UpdateJobDetails = Static<typeof S.UpdateJobDetails>;
export type CreateJobRunDetails = Static<typeof S.CreateJobRunDetails>;
export type CreateProjectDetails = Static<typeof S.CreateProjectDetails>;
export type CloudEvent = Static<typeof S.CloudEvent>;
export type EventFilter = Static<typeof S.EventFilter>;
export type WebhookSubscription = Static<typeof S.WebhookSubscription>;
export type WebhookDelivery = Static<typeof S.WebhookDelivery>;
export type WebhookTestResult = Static<typeof S.WebhookTestResult>;
export type CreateWebhookSubscriptionDetails = Static<typeof S.CreateWebhookSubscriptionDetails>;
export type RunOverrides = Static<typeof S.RunOverrides>;
export type TriggerRule = Static<typeof S.TriggerRule>;
export type CreateTriggerRuleDetails = Static<typeof S.CreateTriggerRuleDetails>;
export type Schedule = Static<typeof S.Schedule>;
export type CreateScheduleDetails = Static<typeof S.CreateScheduleDetails>;
export type Sweep = Static<typeof S.Sweep>;
export type SweepTrial = Static<typeof S.SweepTrial>;
export type CreateSweepDetails = Static<typeof S.CreateSweepDetails>;
/** OCI Audit's AuditEvent (GET /20190901/auditEvents). */
export type AuditEvent = Static<typeof AuditEventSchema>;

export interface AuditEventQuery {
  compartmentId: string;
  /** RFC 3339; events received at or after it. */
  startTime: string;
  /** RFC 3339; events received before it (at most 366 days after startTime). */
  endTime: string;
  /** dsjobs extension: only this user's (or run's) events. */
  principalId?: string;
  /** dsjobs extension: events per page (1-1000, default 100). */
  limit?: number;
  page?: string;
}

export interface EventQuery {
  compartmentId?: string;
  /** Event types, comma-separated or as a list. */
  type?: string | string[];
  resourceId?: string;
  projectId?: string;
  jobId?: string;
  /** Only events after this event id. */
  after?: string;
  limit?: number;
  page?: string;
}

export class DsJobsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'DsJobsError';
  }
}

/**
 * One request to the server: a connection failure and an error status (any but `ok`, and 304 where `notModified` is
 * expected) become a DsJobsError with the server's OCI error code and message.
 */
export async function fetchOrThrow(
  endpoint: string,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: BodyInit },
  opts: { notModified?: boolean } = {},
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, duplex: 'half' } as RequestInit);
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new DsJobsError(0, 'ConnectionFailed', `cannot reach dsjobs at ${endpoint}${cause ? ` (${cause})` : ''}`);
  }
  if (res.ok || (opts.notModified && res.status === 304)) return res;
  const text = await res.text();
  let code = 'Unknown';
  let message = text || res.statusText;
  try {
    const j = JSON.parse(text);
    code = j.code ?? code;
    message = j.message ?? message;
  } catch {
    /* not JSON */
  }
  throw new DsJobsError(res.status, code, message, res.headers.get('opc-request-id') ?? undefined);
}

export interface ListOptions {
  compartmentId?: string;
  limit?: number;
  page?: string;
  sortBy?: 'timeCreated' | 'displayName';
  sortOrder?: 'ASC' | 'DESC';
  lifecycleState?: string;
  displayName?: string;
}

export interface Page<T> {
  items: T[];
  nextPage: string | null;
}

const IDENTITY = '/20160918';
/** OCI Vault's secret management and the Secrets service's bundles (docs/secrets.md). */
const VAULT = '/20180608';
const SECRETS = '/20190301';

/** A secret as OCI Vault's GetSecret returns it (ListSecrets: without currentVersionNumber and metadata). */
export interface VaultSecret {
  id: string;
  compartmentId: string;
  vaultId: string;
  keyId: string;
  secretName: string;
  description?: string;
  lifecycleState: string;
  timeCreated: string;
  timeOfDeletion?: string;
  currentVersionNumber?: number;
  metadata?: Record<string, unknown>;
  freeformTags?: Record<string, string>;
  definedTags?: Record<string, Record<string, unknown>>;
}

export interface SecretVersionSummary {
  secretId: string;
  versionNumber: number;
  name?: string;
  stages: string[];
  timeCreated: string;
}

/** A secret's contents at one version (the Secrets service's GetSecretBundle). */
export interface SecretBundle {
  secretId: string;
  versionNumber: number;
  versionName?: string;
  stages: string[];
  timeCreated: string;
  secretBundleContent: { contentType: 'BASE64'; content: string };
}

const AUDIT = '/20190901';

/** The fields of an Identity user (OCI's User) the SDK reads. */
export interface IdentityUser {
  id: string;
  name: string;
  compartmentId: string;
  lifecycleState: string;
}

/** A request about to be sent, as a signer sees it. */
export interface RequestToSign {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** The body as it will be sent; null or absent: none. */
  body?: string | Uint8Array | null;
  /** A streamed body: signed without the body headers, as the OCI SDKs sign binary uploads. */
  excludeBody?: boolean;
}

/** Returns the headers that authenticate a request (signer.ts makes OCI API-key signers). */
export type RequestSigner = (request: RequestToSign) => Record<string, string>;

interface Call {
  method: string;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  raw?: BodyInit;
}

export class DsJobsClient {
  readonly endpoint: string;

  private readonly signer?: RequestSigner;

  /** `signer`: signs every request (configFileSigner() in signer.ts); without one requests go unsigned. */
  constructor(opts: { endpoint: string; signer?: RequestSigner }) {
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
    this.signer = opts.signer;
  }

  private url(path: string, query?: Call['query']): string {
    // Paths of other OCI services (Identity: /20160918/...) come with their own version.
    const u = new URL([IDENTITY, VAULT, SECRETS, AUDIT].some((v) => path.startsWith(v)) ? `${this.endpoint}${path}` : `${this.endpoint}/20190101${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  private async send(c: Call): Promise<Response> {
    const headers: Record<string, string> = { ...(c.headers ?? {}) };
    let body: BodyInit | undefined = c.raw;
    if (c.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(c.body);
    }
    const url = this.url(c.path, c.query);
    // A request that brings its own authorization (a trigger URL's token) is not signed.
    if (this.signer && headers.authorization === undefined) {
      // A bodyless POST (an action) is signed and sent as an empty JSON body, as the OCI SDKs send it.
      if (body === undefined && c.method !== 'GET' && c.method !== 'DELETE' && c.method !== 'HEAD') {
        body = '';
        headers['content-type'] ??= 'application/json';
      }
      const excludeBody = c.raw !== undefined;
      Object.assign(headers, this.signer({ method: c.method, url, headers, body: excludeBody ? null : (body as string | undefined), excludeBody }));
    }
    return fetchOrThrow(this.endpoint, url, { method: c.method, headers, body });
  }

  private async json<T>(c: Call): Promise<T> {
    return (await (await this.send(c)).json()) as T;
  }

  private async list<T>(path: string, q: Record<string, unknown>): Promise<Page<T>> {
    // Pages over OCI's 100 are a dsjobs extension the server serves only to requests that ask for it by name.
    const large = typeof q.limit === 'number' && q.limit > 100;
    const res = await this.send({ method: 'GET', path, query: q as Call['query'], headers: large ? { 'dsjobs-large-pages': 'true' } : undefined });
    return { items: (await res.json()) as T[], nextPage: res.headers.get('opc-next-page') };
  }

  /** Every item of a list route whose pages are at most 1000 long. */
  private async everyPage<T>(path: string, q: Record<string, unknown>): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this.all<T>((page) => this.list<T>(path, { ...q, limit: 1000, page }))) out.push(item);
    return out;
  }

  /** Every item over all pages. */
  async *all<T>(fetchPage: (page?: string) => Promise<Page<T>>): AsyncGenerator<T> {
    let page: string | undefined;
    do {
      const p = await fetchPage(page);
      yield* p.items;
      page = p.nextPage ?? undefined;
    } while (page);
  }

  serverInfo(): Promise<ServerInfo> {
    return this.json({ method: 'GET', path: '/serverInfo' });
  }
  /** The shapes this server runs; includeNotRunnable adds the rest of its catalog, each saying why not. */
  /** dsjobs: the container engine's images. */
  listContainerImages(): Promise<{ id: string; repoTags: string[]; sizeInBytes: number; timeCreated: string }[]> {
    return this.json({ method: 'GET', path: '/containerImages' });
  }
  /** dsjobs: loads a `docker save` tarball into the container engine; resolves with the images loaded. */
  async loadContainerImage(content: Uint8Array | ReadableStream<Uint8Array>, size?: number): Promise<{ loaded: string[] }> {
    const headers: Record<string, string> = { 'content-type': 'application/x-tar' };
    if (size !== undefined) headers['content-length'] = String(size);
    const r = await this.send({ method: 'POST', path: '/containerImages/actions/load', raw: content as BodyInit, headers });
    return (await r.json()) as { loaded: string[] };
  }
  listJobShapes(q: { includeNotRunnable?: boolean } = {}): Promise<JobShapeSummary[]> {
    return this.json({ method: 'GET', path: '/jobShapes', query: q.includeNotRunnable ? { includeNotRunnable: true } : undefined });
  }

  createProject(d: CreateProjectDetails, retryToken?: string): Promise<Project> {
    return this.json({ method: 'POST', path: '/projects', body: d, headers: retryToken ? { 'opc-retry-token': retryToken } : {} });
  }
  getProject(id: string): Promise<Project> {
    return this.json({ method: 'GET', path: `/projects/${id}` });
  }
  listProjects(q: ListOptions): Promise<Page<Project>> {
    return this.list('/projects', { ...q });
  }
  updateProject(id: string, d: Partial<CreateProjectDetails>): Promise<Project> {
    return this.json({ method: 'PUT', path: `/projects/${id}`, body: d });
  }
  async deleteProject(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/projects/${id}` });
  }

  createJob(d: CreateJobDetails, retryToken?: string): Promise<Job> {
    return this.json({ method: 'POST', path: '/jobs', body: d, headers: retryToken ? { 'opc-retry-token': retryToken } : {} });
  }
  getJob(id: string): Promise<Job> {
    return this.json({ method: 'GET', path: `/jobs/${id}` });
  }
  listJobs(q: ListOptions & { projectId?: string }): Promise<Page<JobSummary>> {
    return this.list('/jobs', { ...q });
  }
  updateJob(id: string, d: UpdateJobDetails, ifMatch?: string): Promise<Job> {
    return this.json({ method: 'PUT', path: `/jobs/${id}`, body: d, headers: ifMatch ? { 'if-match': ifMatch } : {} });
  }
  async deleteJob(id: string, opts: { deleteRelatedJobRuns?: boolean } = {}): Promise<void> {
    await this.send({ method: 'DELETE', path: `/jobs/${id}`, query: { deleteRelatedJobRuns: opts.deleteRelatedJobRuns } });
  }
  /** Uploads the job's artifact; `fileName` decides how it runs (.py, .sh, .zip, .tar.gz). */
  async uploadArtifact(jobId: string, fileName: string, content: Uint8Array | ReadableStream<Uint8Array>, size?: number): Promise<void> {
    const headers: Record<string, string> = {
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(fileName)}`,
      'content-type': 'application/octet-stream',
    };
    if (size !== undefined) headers['content-length'] = String(size);
    await this.send({ method: 'POST', path: `/jobs/${jobId}/artifact`, raw: content as BodyInit, headers });
  }
  async getArtifact(jobId: string): Promise<Response> {
    return this.send({ method: 'GET', path: `/jobs/${jobId}/artifact/content` });
  }

  createJobRun(d: CreateJobRunDetails, retryToken?: string): Promise<JobRun> {
    return this.json({ method: 'POST', path: '/jobRuns', body: d, headers: retryToken ? { 'opc-retry-token': retryToken } : {} });
  }
  getJobRun(id: string): Promise<JobRun> {
    return this.json({ method: 'GET', path: `/jobRuns/${id}` });
  }
  /** The run's resource use over time (dsjobs addition); `since` is an ISO time. */
  getJobRunMetrics(id: string, q: { since?: string } = {}): Promise<JobRunMetrics> {
    const query = q.since ? `?since=${encodeURIComponent(q.since)}` : '';
    return this.json({ method: 'GET', path: `/jobRuns/${id}/metrics${query}` });
  }
  /** A notebook run's executed notebook (dsjobs addition): the .ipynb text, kept from the run's end until it is deleted. */
  async getJobRunNotebook(id: string): Promise<string> {
    return (await this.send({ method: 'GET', path: `/jobRuns/${id}/notebook` })).text();
  }
  listJobRuns(q: ListOptions & { jobId?: string }): Promise<Page<JobRunSummary>> {
    return this.list('/jobRuns', { ...q });
  }
  updateJobRun(id: string, d: { displayName?: string; freeformTags?: Record<string, string> }): Promise<JobRun> {
    return this.json({ method: 'PUT', path: `/jobRuns/${id}`, body: d });
  }
  async cancelJobRun(id: string): Promise<void> {
    await this.send({ method: 'POST', path: `/jobRuns/${id}/actions/cancelJobRun` });
  }
  async deleteJobRun(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/jobRuns/${id}` });
  }

  createWebhookSubscription(d: CreateWebhookSubscriptionDetails): Promise<WebhookSubscription> {
    return this.json({ method: 'POST', path: '/webhookSubscriptions', body: d });
  }
  /** Every subscription of the compartment (the pages of GET /webhookSubscriptions, followed). */
  listWebhookSubscriptions(q: { compartmentId?: string } = {}): Promise<WebhookSubscription[]> {
    return this.everyPage('/webhookSubscriptions', q);
  }
  getWebhookSubscription(id: string): Promise<WebhookSubscription> {
    return this.json({ method: 'GET', path: `/webhookSubscriptions/${id}` });
  }
  updateWebhookSubscription(id: string, d: { displayName?: string; url?: string; filter?: EventFilter }): Promise<WebhookSubscription> {
    return this.json({ method: 'PUT', path: `/webhookSubscriptions/${id}`, body: d });
  }
  pauseWebhookSubscription(id: string): Promise<WebhookSubscription> {
    return this.json({ method: 'POST', path: `/webhookSubscriptions/${id}/actions/pause` });
  }
  resumeWebhookSubscription(id: string): Promise<WebhookSubscription> {
    return this.json({ method: 'POST', path: `/webhookSubscriptions/${id}/actions/resume` });
  }
  testWebhookSubscription(id: string): Promise<WebhookTestResult> {
    return this.json({ method: 'POST', path: `/webhookSubscriptions/${id}/actions/test` });
  }
  async deleteWebhookSubscription(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/webhookSubscriptions/${id}` });
  }
  listWebhookDeliveries(id: string, q: { status?: 'PENDING' | 'SUCCEEDED' | 'FAILED'; limit?: number; page?: string } = {}): Promise<Page<WebhookDelivery>> {
    return this.list(`/webhookSubscriptions/${id}/deliveries`, { ...q });
  }

  createTriggerRule(d: CreateTriggerRuleDetails): Promise<TriggerRule> {
    return this.json({ method: 'POST', path: '/triggerRules', body: d });
  }
  /** Every rule of the compartment (the pages of GET /triggerRules, followed). */
  listTriggerRules(q: { compartmentId?: string } = {}): Promise<TriggerRule[]> {
    return this.everyPage('/triggerRules', q);
  }
  getTriggerRule(id: string): Promise<TriggerRule> {
    return this.json({ method: 'GET', path: `/triggerRules/${id}` });
  }
  updateTriggerRule(id: string, d: Partial<Pick<CreateTriggerRuleDetails, 'displayName' | 'eventFilter' | 'overrides'>>): Promise<TriggerRule> {
    return this.json({ method: 'PUT', path: `/triggerRules/${id}`, body: d });
  }
  activateTriggerRule(id: string): Promise<TriggerRule> {
    return this.json({ method: 'POST', path: `/triggerRules/${id}/actions/activate` });
  }
  deactivateTriggerRule(id: string): Promise<TriggerRule> {
    return this.json({ method: 'POST', path: `/triggerRules/${id}/actions/deactivate` });
  }
  async deleteTriggerRule(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/triggerRules/${id}` });
  }
  /** What a CI pipeline does: POST to the rule's trigger URL with its token (no API key). */
  fireTriggerRule(id: string, token: string, body?: unknown, retryToken?: string): Promise<JobRun> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (retryToken) headers['opc-retry-token'] = retryToken;
    return this.json({ method: 'POST', path: `/triggerRules/${id}/actions/fire`, body: body ?? {}, headers });
  }

  /** Identity (OCI's /20160918): the tenancy's users, by name. */
  async findUser(tenancyId: string, name: string): Promise<IdentityUser | null> {
    const users = await this.json<IdentityUser[]>({ method: 'GET', path: `${IDENTITY}/users`, query: { compartmentId: tenancyId, name } });
    return users[0] ?? null;
  }
  /** Audit (OCI's /20190901 ListEvents): one page of the compartment's audit events, oldest first. */
  listAuditEvents(q: AuditEventQuery): Promise<Page<AuditEvent>> {
    return this.list(`${AUDIT}/auditEvents`, { ...q });
  }
  /** Identity's CreateOrResetUIPassword: a new console password for the user, returned once. */
  resetConsolePassword(userId: string): Promise<{ userId: string; password: string }> {
    return this.json({ method: 'POST', path: `${IDENTITY}/users/${encodeURIComponent(userId)}/uiPassword` });
  }

  /** Vault (OCI's /20180608): a secret in the server's vault, its contents Base64. */
  createSecret(d: { compartmentId: string; secretName: string; vaultId: string; keyId: string; description?: string; content: string }): Promise<VaultSecret> {
    const { content, ...rest } = d;
    return this.json({ method: 'POST', path: `${VAULT}/secrets`, body: { ...rest, secretContent: { contentType: 'BASE64', content } } });
  }
  getSecret(id: string): Promise<VaultSecret> {
    return this.json({ method: 'GET', path: `${VAULT}/secrets/${encodeURIComponent(id)}` });
  }
  /** Every secret of the compartment (the pages of ListSecrets, followed), optionally by name. */
  listSecrets(q: { compartmentId: string; name?: string }): Promise<VaultSecret[]> {
    return this.everyPage(`${VAULT}/secrets`, q);
  }
  /** Rotation: new contents (Base64) become the secret's new current version. */
  rotateSecret(id: string, content: string): Promise<VaultSecret> {
    return this.json({ method: 'PUT', path: `${VAULT}/secrets/${encodeURIComponent(id)}`, body: { secretContent: { contentType: 'BASE64', content } } });
  }
  async scheduleSecretDeletion(id: string, timeOfDeletion?: string): Promise<void> {
    await this.send({ method: 'POST', path: `${VAULT}/secrets/${encodeURIComponent(id)}/actions/scheduleDeletion`, body: timeOfDeletion ? { timeOfDeletion } : {} });
  }
  async cancelSecretDeletion(id: string): Promise<void> {
    await this.send({ method: 'POST', path: `${VAULT}/secrets/${encodeURIComponent(id)}/actions/cancelDeletion` });
  }
  listSecretVersions(id: string): Promise<SecretVersionSummary[]> {
    return this.everyPage(`${VAULT}/secrets/${encodeURIComponent(id)}/versions`, {});
  }
  /** Secrets (OCI's /20190301): a secret's contents, the current version unless one is named. */
  getSecretBundle(id: string, q: { versionNumber?: number; stage?: string } = {}): Promise<SecretBundle> {
    return this.json({ method: 'GET', path: `${SECRETS}/secretbundles/${encodeURIComponent(id)}`, query: q });
  }

  createSchedule(d: CreateScheduleDetails): Promise<Schedule> {
    return this.json({ method: 'POST', path: '/schedules', body: d });
  }
  /** Every schedule of the compartment (the pages of GET /schedules, followed). */
  listSchedules(q: { compartmentId?: string } = {}): Promise<Schedule[]> {
    return this.everyPage('/schedules', q);
  }
  getSchedule(id: string): Promise<Schedule> {
    return this.json({ method: 'GET', path: `/schedules/${id}` });
  }
  updateSchedule(id: string, d: Partial<Omit<CreateScheduleDetails, 'compartmentId' | 'jobId'>>): Promise<Schedule> {
    return this.json({ method: 'PUT', path: `/schedules/${id}`, body: d });
  }
  activateSchedule(id: string): Promise<Schedule> {
    return this.json({ method: 'POST', path: `/schedules/${id}/actions/activate` });
  }
  deactivateSchedule(id: string): Promise<Schedule> {
    return this.json({ method: 'POST', path: `/schedules/${id}/actions/deactivate` });
  }
  async deleteSchedule(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/schedules/${id}` });
  }

  createSweep(d: CreateSweepDetails, retryToken?: string): Promise<Sweep> {
    return this.json({ method: 'POST', path: '/sweeps', body: d, headers: retryToken ? { 'opc-retry-token': retryToken } : {} });
  }
  /** Every sweep of the compartment, newest first (the pages of GET /sweeps, followed). */
  listSweeps(q: { compartmentId?: string; jobId?: string } = {}): Promise<Sweep[]> {
    return this.everyPage('/sweeps', q);
  }
  getSweep(id: string): Promise<Sweep> {
    return this.json({ method: 'GET', path: `/sweeps/${id}` });
  }
  listSweepTrials(id: string, q: { sortBy?: 'index' | 'rank' } = {}): Promise<SweepTrial[]> {
    return this.json({ method: 'GET', path: `/sweeps/${id}/trials`, query: q });
  }
  async cancelSweep(id: string): Promise<void> {
    await this.send({ method: 'POST', path: `/sweeps/${id}/actions/cancel` });
  }

  listEvents(q: EventQuery = {}): Promise<Page<CloudEvent>> {
    return this.list('/events', { ...q, type: Array.isArray(q.type) ? q.type.join(',') : q.type });
  }

  /**
   * Follows the event log: events after `after` (or, without it, only new ones), then each new one as it commits,
   * until `signal` aborts. Resume after a dropped connection with the last event's id as `after`.
   */
  async *followEvents(q: Omit<EventQuery, 'limit' | 'page'> = {}, signal?: AbortSignal): AsyncGenerator<CloudEvent> {
    const query = { ...q, type: Array.isArray(q.type) ? q.type.join(',') : q.type, follow: true };
    yield* this.ndjson<CloudEvent>(this.url('/events', query), signal);
  }

  private async *ndjson<T>(url: string, signal?: AbortSignal): AsyncGenerator<T> {
    const headers = this.signer ? this.signer({ method: 'GET', url, headers: {} }) : undefined;
    const res = await fetch(url, { signal, headers });
    if (!res.ok) {
      const j = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
      throw new DsJobsError(res.status, j.code ?? 'Unknown', j.message ?? res.statusText);
    }
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line) yield JSON.parse(line) as T;
      }
    }
  }

  /** The run's log records; with follow, yields lines as they are written until the run has ended. */
  async *logs(id: string, opts: { since?: number; follow?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<LogRecord> {
    yield* this.ndjson<LogRecord>(this.url(`/jobRuns/${id}/logs`, { since: opts.since, follow: opts.follow }), opts.signal);
  }
}
