import { ReadCache } from './read-cache.js';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DsError, invalid, notFound } from '../domain/errors.js';
import {
  checkInfrastructure,
  checkJobConfiguration,
  DEFAULT_BLOCK_STORAGE_GB,
  type JobConfigurationDetails,
  type JobInfrastructureConfigurationDetails,
} from '../domain/job-config.js';
import { checkContainerDetails, legacyContainer, type ContainerPlan } from '../domain/container.js';
import { checkMultiNodeConfiguration, type MultiNodeConfiguration } from '../domain/multi-node.js';
import { ACTIVE_RUN_STATES, TERMINAL_RUN_STATES } from '../domain/run-states.js';
import { newOcid, RESOURCE_TYPES } from '../domain/ids.js';
import { ArchiveError, archiveKindOf, inspectArchive, type ArchiveLimits } from '../archive/archive.js';
import type { Store, Tx } from '../store/store.js';
import { WorkRequestsService } from './work-requests.js';
import type { ArtifactInfo, DefinedTags, JobRecord, ListQuery, Page, Tags } from '../store/records.js';
import { EVENT_TYPES, jobEvent } from '../events/types.js';
import { bodyHash, checkIfMatch, defaultName, iso, type Clock, type ServerIdentity } from './common.js';
import { checkCompartment, checkListCompartment } from './projects.js';
import type { ResolvedMount, StorageCatalog } from './storage.js';
import type { ShapesService } from './shapes-service.js';
import type { CondaEnvironments } from './conda.js';

export interface CreateJobInput {
  projectId: string;
  compartmentId: string;
  displayName?: string;
  description?: string;
  jobConfigurationDetails?: JobConfigurationDetails;
  /** Required but for a multi-node job (jobNodeConfigurationDetails), where it is OCI's EMPTY placeholder. */
  jobInfrastructureConfigurationDetails?: JobInfrastructureConfigurationDetails | null;
  jobEnvironmentConfigurationDetails?: Record<string, unknown> | null;
  jobLogConfigurationDetails?: Record<string, unknown> | null;
  jobStorageMountConfigurationDetailsList?: Record<string, unknown>[] | null;
  jobNodeConfigurationDetails?: Record<string, unknown> | null;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

export interface UpdateJobInput {
  displayName?: string;
  description?: string;
  jobInfrastructureConfigurationDetails?: JobInfrastructureConfigurationDetails;
  jobStorageMountConfigurationDetailsList?: Record<string, unknown>[] | null;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}


/** Artifact kinds by file name; the name (from content-disposition) decides how a run starts. */
/** An upload in progress is written to a file named so beside the artifact, renamed into place when checked. */
const UPLOAD_PREFIX = '.upload-';
const ARTIFACT_KINDS = ['.py', '.sh', '.zip', '.tar.gz', '.tgz', '.tar'];

/** filename from a content-disposition header (RFC 6266: filename*=UTF-8''..., filename="...", filename=...). */
export function fileNameFromDisposition(header: string | undefined): string {
  if (!header) {
    throw invalid('content-disposition', "header is required and must name the file, e.g. 'attachment; filename=train.py'");
  }
  let name: string | null = null;
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (star) {
    try {
      name = decodeURIComponent(star[2].trim());
    } catch {
      name = null;
    }
  }
  if (!name) {
    const m = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))/i.exec(header);
    if (m) name = (m[1] ?? m[2]).replace(/\\(.)/g, '$1').trim();
  }
  if (!name) throw invalid('content-disposition', `has no filename: '${header}'`);
  name = name.split(/[\\/]/).pop()!;
  if (!name || name === '.' || name === '..' || /[\u0000-\u001f\u007f]/.test(name) || name.length > 255) {
    throw invalid('content-disposition', `filename '${name}' is not a valid file name`);
  }
  if (!ARTIFACT_KINDS.some((ext) => name!.toLowerCase().endsWith(ext))) {
    throw invalid('content-disposition', `filename '${name}': artifacts must be ${ARTIFACT_KINDS.join(', ')} files`);
  }
  return name;
}

/** Whether a job runs a container image (OCI's environment configuration, or the legacy CONTAINER_CUSTOM_IMAGE). */
export function isContainerJob(job: JobRecord): boolean {
  return job.jobEnvironmentConfigurationDetails !== null || !!job.jobConfigurationDetails.environmentVariables?.CONTAINER_CUSTOM_IMAGE;
}

/** What a job deletion with deleteRelatedJobRuns does to the job's runs (RunsService, given by the caller). */
export interface RelatedRuns {
  /** Cancels a run on behalf of a job deletion. */
  cancel(runId: string): Promise<unknown>;
  /** Marks a terminal run DELETED. */
  markDeleted(runId: string): Promise<unknown>;
}

export class JobsService {
  constructor(
    private readonly store: Store,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
    private readonly shapes: ShapesService,
    private readonly artifactsDir: string,
    private readonly limits: { maxArtifactBytes: number; archive: ArchiveLimits },
    private readonly storage: StorageCatalog,
    private readonly conda: CondaEnvironments,
    /** Checks a job's jobLogConfigurationDetails (the Logging service's): a 400 naming the field; null: not checked. */
    private readonly checkLogConfig: ((config: Record<string, unknown> | null | undefined, field: string) => Promise<unknown>) | null = null,
    /** Refuses a container this server cannot run (no container engine): a 400 naming the field saying why. */
    private readonly checkContainer: ((container: ContainerPlan, field: string) => void) | null = null,
  ) {}

  /**
   * Refuses (a 400 naming the field) storage mounts that the hosts which run the job's shapes do not have (a Slurm
   * cluster's nodes, docs/slurm.md#storage-mounts); null: every shape's hosts have all declared storage.
   */
  checkMounts: ((shapeNames: string[], mounts: ResolvedMount[], field: string) => void) | null = null;

  private workRequestsOnce?: WorkRequestsService;
  /** Deletes are recorded as OCI work requests, written in the delete's transaction. */
  private get workRequests(): WorkRequestsService {
    return (this.workRequestsOnce ??= new WorkRequestsService(this.store, this.identity, this.clock));
  }

  /**
   * A job as clients see it (responses and events): an ACTIVE or CREATING job whose CONDA_ENV_* variables this
   * server cannot satisfy says so in its lifecycleDetails, OCI's own field for what a state means, so the official
   * SDK, the CLI and the console all show it. Computed from the server's current config, never stored: once the
   * environment is registered the warning is gone.
   */
  present(j: JobRecord): JobRecord {
    if (j.lifecycleState !== 'ACTIVE' && j.lifecycleState !== 'CREATING') return j;
    const warning = this.conda.problem(j.jobConfigurationDetails.environmentVariables, 'jobConfigurationDetails.environmentVariables');
    if (!warning) return j;
    return { ...j, lifecycleDetails: j.lifecycleDetails ? `${j.lifecycleDetails} ${warning}` : warning };
  }

  /** `createdBy`: who asks (a user's or a run's OCID); default: the server's administrator (authentication off). */
  async create(input: CreateJobInput, retryToken?: string, createdBy?: string): Promise<JobRecord> {
    checkCompartment(input.compartmentId);
    const container = input.jobEnvironmentConfigurationDetails
      ? checkContainerDetails(input.jobEnvironmentConfigurationDetails, 'jobEnvironmentConfigurationDetails')
      : legacyContainer(input.jobConfigurationDetails?.environmentVariables, 'jobConfigurationDetails.environmentVariables');
    if (container) this.checkContainer?.(container, 'jobEnvironmentConfigurationDetails');
    const nodes = input.jobNodeConfigurationDetails != null ? this.checkMultiNode(input, container !== null) : null;
    const config: JobConfigurationDetails = input.jobConfigurationDetails ?? { jobType: nodes ? 'EMPTY' : 'DEFAULT' };
    checkJobConfiguration(config, 'jobConfigurationDetails', { allowEmpty: nodes !== null });
    await this.checkLogConfig?.(input.jobLogConfigurationDetails, 'jobLogConfigurationDetails');
    // A multi-node job's infrastructure is its node groups'; OCI keeps an EMPTY placeholder on the job.
    const infra: JobInfrastructureConfigurationDetails = nodes ? { jobInfrastructureType: 'EMPTY' } : input.jobInfrastructureConfigurationDetails!;
    if (!nodes) {
      if (!infra) throw invalid('jobInfrastructureConfigurationDetails', 'is required (or jobNodeConfigurationDetails, for a multi-node job)');
      checkInfrastructure(infra, 'jobInfrastructureConfigurationDetails');
      this.shapes.resolve(infra, 'jobInfrastructureConfigurationDetails');
    }
    const mounts = this.storage.resolve(input.jobStorageMountConfigurationDetailsList, 'jobStorageMountConfigurationDetailsList');
    if (!container) {
      const shapeNames = nodes ? nodes.jobNodeGroupConfigurationDetailsList.map((g) => g.jobInfrastructureConfigurationDetails!.shapeName!) : [infra.shapeName!];
      this.checkMounts?.(shapeNames, mounts, 'jobStorageMountConfigurationDetailsList');
    }
    const project = await this.store.getProject(input.projectId);
    if (!project || project.lifecycleState !== 'ACTIVE') throw invalid('projectId', `project ${input.projectId} was not found or is not ACTIVE`);
    const now = this.clock.now();
    const { id } = await this.store.idempotent('createJob', retryToken, bodyHash(input), async (tx) => {
      const rec: JobRecord = {
        id: newOcid(RESOURCE_TYPES.job, this.identity.region),
        projectId: input.projectId,
        compartmentId: input.compartmentId,
        displayName: input.displayName ?? defaultName('job', now),
        description: input.description ?? null,
        // A container job runs its image: it needs no artifact (one may still be uploaded, for its working directory).
        lifecycleState: container ? 'ACTIVE' : 'CREATING',
        lifecycleDetails: container ? null : 'Waiting for the job artifact to be uploaded.',
        timeCreated: iso(now),
        createdBy: createdBy ?? this.identity.userId,
        jobConfigurationDetails: config,
        jobInfrastructureConfigurationDetails: nodes ? infra : { blockStorageSizeInGBs: DEFAULT_BLOCK_STORAGE_GB, ...infra },
        jobNodeConfigurationDetails: nodes as Record<string, unknown> | null,
        jobEnvironmentConfigurationDetails: input.jobEnvironmentConfigurationDetails ?? null,
        jobLogConfigurationDetails: input.jobLogConfigurationDetails ?? null,
        jobStorageMountConfigurationDetailsList: input.jobStorageMountConfigurationDetailsList ?? null,
        freeformTags: input.freeformTags ?? {},
        definedTags: input.definedTags ?? {},
        artifact: null,
        version: 1,
      };
      await this.store.insertJob(tx, rec);
      await this.store.insertEvent(tx, jobEvent(EVENT_TYPES.jobCreated, this.present(rec)));
      return rec.id;
    });
    return this.get(id);
  }

  /**
   * A multi-node job's jobNodeConfigurationDetails, checked and with OCI's defaults written in; the job-level
   * infrastructure may only be OCI's EMPTY placeholder (or absent): each node group names its own.
   */
  private checkMultiNode(input: CreateJobInput, container: boolean): MultiNodeConfiguration {
    if (container) throw invalid('jobEnvironmentConfigurationDetails', 'container images are not supported in multi-node jobs yet: the groups run the job artifact');
    const t = input.jobInfrastructureConfigurationDetails?.jobInfrastructureType;
    if (t !== undefined && t !== 'EMPTY') {
      throw invalid('jobInfrastructureConfigurationDetails.jobInfrastructureType', `must be EMPTY (or left out) for a multi-node job, got '${t}': each node group names its own infrastructure`);
    }
    return checkMultiNodeConfiguration(input.jobNodeConfigurationDetails, 'jobNodeConfigurationDetails', {
      resolveShape: (infra, field) => this.shapes.resolve(infra, field),
      checkMultiNodeShapes: (shapes, field) => this.shapes.checkMultiNodeShapes(shapes, field),
    });
  }

  /** Jobs are read on every run creation and written rarely (and only here), so they are cached. */
  private readonly cache = new ReadCache<JobRecord>();

  private invalidate(id: string): void {
    this.cache.invalidate(id);
  }

  /** A job changed outside this service (ChangeJobCompartment, compartment-moves.ts): its cached record is stale. */
  changedElsewhere(id: string): void {
    this.invalidate(id);
  }

  /** Every cached job may have changed elsewhere (another replica on the same database): forget them all. */
  forgetCached(): void {
    this.cache.clear();
  }

  async get(id: string): Promise<JobRecord> {
    const j = await this.cache.get(id, (i) => this.store.getJob(i));
    if (!j) throw notFound('Job', id);
    return j;
  }

  /**
   * The job a request names in `field` (a run's, a schedule's, a trigger rule's, a sweep's jobId): a 400 that names
   * the field when there is no such job. A read that fails (the database is down) fails as it is, retryable, and is
   * never answered as a job that does not exist.
   */
  async getNamed(id: string, field: string): Promise<JobRecord> {
    const j = await this.cache.get(id, (i) => this.store.getJob(i));
    if (!j) throw invalid(field, `job ${id} was not found`);
    return j;
  }

  list(q: ListQuery): Promise<Page<JobRecord>> {
    checkListCompartment(q);
    return this.store.listJobs(q);
  }

  async update(id: string, input: UpdateJobInput, ifMatch?: string): Promise<JobRecord> {
    const job = await this.get(id);
    checkIfMatch(ifMatch, job.id, job.version);
    if (job.lifecycleState !== 'ACTIVE' && job.lifecycleState !== 'CREATING') {
      throw new DsError('IncorrectState', `Job ${id} is ${job.lifecycleState} and cannot be updated`);
    }
    let infra: JobInfrastructureConfigurationDetails | undefined;
    if (input.jobInfrastructureConfigurationDetails) {
      if (job.jobNodeConfigurationDetails) {
        throw invalid('jobInfrastructureConfigurationDetails', "a multi-node job's infrastructure is its node groups' (jobNodeConfigurationDetails), set when it is created");
      }
      infra = { blockStorageSizeInGBs: DEFAULT_BLOCK_STORAGE_GB, ...input.jobInfrastructureConfigurationDetails };
      checkInfrastructure(infra, 'jobInfrastructureConfigurationDetails');
      this.shapes.resolve(infra, 'jobInfrastructureConfigurationDetails');
    }
    const mounts = this.storage.resolve(input.jobStorageMountConfigurationDetailsList, 'jobStorageMountConfigurationDetailsList');
    if (input.jobStorageMountConfigurationDetailsList && !job.jobEnvironmentConfigurationDetails && !job.jobNodeConfigurationDetails) {
      this.checkMounts?.([(infra ?? job.jobInfrastructureConfigurationDetails).shapeName!], mounts, 'jobStorageMountConfigurationDetailsList');
    }
    this.invalidate(id);
    const updated = await this.store.transaction(async (tx) => {
      const r = await this.store.updateJob(tx, id, job.version, {
        displayName: input.displayName,
        description: input.description,
        jobInfrastructureConfigurationDetails: infra,
        jobStorageMountConfigurationDetailsList: input.jobStorageMountConfigurationDetailsList,
        freeformTags: input.freeformTags,
        definedTags: input.definedTags,
      });
      if (r) {
        await this.store.insertEvent(tx, jobEvent(EVENT_TYPES.jobUpdated, this.present(r)));
      }
      return r;
    });
    this.invalidate(id); // again: a read that overlapped the write must not stay cached
    if (!updated) throw new DsError('Conflict', `Job ${id} was changed concurrently; get it again and retry`);
    return updated;
  }

  /** Deletes the job (and, asked to, its runs); returns the id of the JOB_DELETE work request that records it. */
  /**
   * Deletes the job (a work request tracks it). With deleteRelatedJobRuns, `runs` cancels its active runs and marks
   * its ended ones deleted (runs depend on jobs, so the caller hands them in); without, active runs refuse it.
   */
  async delete(id: string, opts: { ifMatch?: string; deleteRelatedJobRuns?: boolean; runs?: RelatedRuns }): Promise<string> {
    const job = await this.get(id);
    checkIfMatch(opts.ifMatch, job.id, job.version);
    const resources = [{ actionType: 'DELETED' as const, entityType: 'job', identifier: id, entityUri: `/jobs/${id}` }];
    const workRequest = (log: string, done: boolean) => (tx: Tx) =>
      this.workRequests.begin(tx, { operationType: 'JOB_DELETE', compartmentId: job.compartmentId, resources, log, done });
    if (job.lifecycleState === 'DELETED') return (await this.store.transaction(workRequest(`Job ${id} was already deleted`, true))).id;
    const active = await this.store.runIdsOfJob(id, ACTIVE_RUN_STATES);
    if (active.length > 0 && !opts.deleteRelatedJobRuns) {
      throw new DsError(
        'IncorrectState',
        `Job ${id} has ${active.length} active job run(s); cancel them first or delete with deleteRelatedJobRuns=true`,
      );
    }
    this.invalidate(id);
    // The runs' cancellation and removal follow the transaction: the work request is IN_PROGRESS until they are done.
    const related = opts.deleteRelatedJobRuns ? opts.runs : undefined;
    const runsFollow = related !== undefined;
    let workRequestId = '';
    const updated = await this.store.transaction(async (tx) => {
      const r = await this.store.updateJob(tx, id, job.version, { lifecycleState: 'DELETED', lifecycleDetails: null });
      if (r) {
        workRequestId = (await workRequest(`Job ${id} deleted`, !runsFollow)(tx)).id;
        // OCI's delete is two events (begin, end); here the deletion is immediate, so both are written with it.
        await this.store.insertEvent(tx, jobEvent(EVENT_TYPES.jobDeleteBegin, { ...r, lifecycleState: 'DELETING' }));
        await this.store.insertEvent(tx, jobEvent(EVENT_TYPES.jobDeleteEnd, r));
      }
      return r;
    });
    this.invalidate(id); // again: a read that overlapped the write must not stay cached
    if (!updated) throw new DsError('Conflict', `Job ${id} was changed concurrently; get it again and retry`);
    if (runsFollow) {
      try {
        for (const runId of active) await related.cancel(runId);
        for (const runId of await this.store.runIdsOfJob(id, TERMINAL_RUN_STATES)) await related.markDeleted(runId);
      } catch (e) {
        const error = e instanceof DsError ? { code: e.code, message: e.message } : { code: 'InternalServerError', message: String(e) };
        await this.store.transaction((tx) => this.workRequests.finish(tx, workRequestId, { log: `Job ${id}'s runs could not all be deleted`, error }));
        throw e;
      }
      await this.store.transaction((tx) => this.workRequests.finish(tx, workRequestId, { log: `Job ${id}'s runs canceled and deleted` }));
    }
    // Its artifact can no longer be read or run: its bytes go now (a run still starting holds its copy open).
    await fsp.rm(path.join(this.artifactsDir, id), { recursive: true, force: true });
    return workRequestId;
  }

  /**
   * At start: removes what interrupted uploads left (their temporary files) and the artifacts of deleted jobs (a
   * server killed between a job's deletion and the removal of its artifact). Returns the files and bytes freed.
   */
  async sweepArtifacts(opts: { uploadsIdleMs?: number } = {}): Promise<{ files: number; bytes: number }> {
    // In a directory several replicas share, another replica's upload may be under way: only uploads idle this long go.
    const idleBefore = this.clock.now() - (opts.uploadsIdleMs ?? 0);
    const idle = async (p: string) => !opts.uploadsIdleMs || ((await fsp.stat(p).catch(() => null))?.mtimeMs ?? 0) < idleBefore;
    const out = { files: 0, bytes: 0 };
    const drop = async (p: string) => {
      const st = await fsp.lstat(p).catch(() => null);
      await fsp.rm(p, { recursive: true, force: true });
      out.files++;
      out.bytes += (st?.blocks ?? 0) * 512;
    };
    for (const entry of await fsp.readdir(this.artifactsDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = path.join(this.artifactsDir, entry.name);
      const job = await this.store.getJob(entry.name);
      if (job?.lifecycleState === 'DELETED') {
        for (const f of await fsp.readdir(dir)) await drop(path.join(dir, f));
        await fsp.rm(dir, { recursive: true, force: true });
        continue;
      }
      for (const f of await fsp.readdir(dir)) if (f.startsWith(UPLOAD_PREFIX) && (await idle(path.join(dir, f)))) await drop(path.join(dir, f));
    }
    return out;
  }

  artifactPath(job: JobRecord): string {
    return this.artifactPathOf(job.id, job.artifact!.fileName);
  }

  artifactPathOf(jobId: string, fileName: string): string {
    return path.join(this.artifactsDir, jobId, fileName);
  }

  /**
   * Stores the job's artifact once. Archives are checked before the job becomes ACTIVE (paths, links, caps, and the
   * job's JOB_RUN_ENTRYPOINT), so a bad artifact is refused at upload, not at the first run.
   */
  async uploadArtifact(
    id: string,
    body: Readable,
    headers: { contentDisposition?: string; contentLength?: number; retryToken?: string; ifMatch?: string },
  ): Promise<JobRecord> {
    const job = await this.get(id);
    // A retry of the upload that stored the artifact (same opc-retry-token) is answered before if-match: the first
    // upload moved the job's etag on, so the retry's if-match is stale by design.
    if (job.artifact && headers.retryToken !== undefined && job.artifact.retryToken === headers.retryToken) {
      return this.replayArtifactUpload(job, body, headers.contentDisposition);
    }
    checkIfMatch(headers.ifMatch, job.id, job.version);
    const fileName = fileNameFromDisposition(headers.contentDisposition);
    if (job.artifact) {
      body.resume();
      throw new DsError('Conflict', `Job ${id} already has an artifact (${job.artifact.fileName}); job artifacts are immutable, create a new job`);
    }
    // A container job is ACTIVE from its create; its one optional artifact can come later.
    const containerJob = job.lifecycleState === 'ACTIVE' && isContainerJob(job);
    if (job.lifecycleState !== 'CREATING' && !containerJob) {
      body.resume();
      throw new DsError('IncorrectState', `Job ${id} is ${job.lifecycleState}`);
    }
    if (headers.contentLength !== undefined && headers.contentLength > this.limits.maxArtifactBytes) {
      body.resume();
      throw new DsError('PayloadTooLarge', `content-length: artifacts are limited to ${this.limits.maxArtifactBytes} bytes`);
    }
    // One upload per job at a time: a concurrent second one is refused before it can touch the artifact's file
    // (two uploads of the same file name once left the loser's bytes on disk under the winner's checksum).
    if (this.uploading.has(id)) {
      body.resume();
      throw new DsError('Conflict', `Job ${id} is already receiving its artifact; job artifacts are immutable`);
    }
    this.uploading.add(id);
    try {
      return await this.storeArtifact(job, fileName, body, headers);
    } finally {
      this.uploading.delete(id);
    }
  }

  /**
   * A retried upload: the same bytes and content-disposition get the first upload's answer (the job as it is); other
   * bytes under the same token are refused as OCI refuses a reused retry token.
   */
  private async replayArtifactUpload(job: JobRecord, body: Readable, contentDisposition: string | undefined): Promise<JobRecord> {
    const a = job.artifact!;
    const md5 = createHash('md5');
    let size = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      // Past the stored size it cannot be the same upload: stop hashing, drain the rest.
      if (size <= a.size) md5.update(chunk);
    }
    const same = size === a.size && md5.digest('base64') === a.md5 && (a.contentDisposition === undefined || a.contentDisposition === contentDisposition);
    if (!same) {
      throw new DsError(
        'InvalidatedRetryToken',
        `opc-retry-token was already used to upload job ${job.id}'s artifact with a different request body; use a new token for a different request`,
      );
    }
    return job;
  }

  private readonly uploading = new Set<string>();

  private async storeArtifact(
    job: JobRecord,
    fileName: string,
    body: Readable,
    headers: { contentDisposition?: string; retryToken?: string },
  ): Promise<JobRecord> {
    const id = job.id;
    const dir = path.join(this.artifactsDir, id);
    await fsp.mkdir(dir, { recursive: true });
    const tmp = path.join(dir, `${UPLOAD_PREFIX}${randomUUID()}`);
    const md5 = createHash('md5');
    let size = 0;
    const max = this.limits.maxArtifactBytes;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            size += chunk.length;
            if (size > max) throw new DsError('PayloadTooLarge', `artifact is larger than the limit of ${max} bytes`);
            md5.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(tmp, { mode: 0o444 }),
      );
      if (size === 0) throw invalid('body', 'the artifact is empty');
      const kind = archiveKindOf(fileName);
      if (kind) {
        let entries;
        try {
          entries = await inspectArchive(tmp, kind, this.limits.archive);
        } catch (e) {
          if (e instanceof ArchiveError) throw invalid('artifact', e.message);
          throw e;
        }
        const ep = job.jobConfigurationDetails.environmentVariables?.JOB_RUN_ENTRYPOINT;
        if (ep) {
          const norm = path.posix.normalize(ep).replace(/^\.\//, '');
          if (!entries.some((e) => e.type === 'file' && e.path === norm)) {
            throw invalid(
              'jobConfigurationDetails.environmentVariables.JOB_RUN_ENTRYPOINT',
              `'${ep}' is not a file in the archive ${fileName}`,
            );
          }
        }
      }
      const info: ArtifactInfo = {
        fileName,
        size,
        md5: md5.digest('base64'),
        time: iso(this.clock.now()),
        contentDisposition: headers.contentDisposition,
        retryToken: headers.retryToken,
      };
      const final = path.join(dir, fileName);
      await fsp.rename(tmp, final);
      this.invalidate(id);
      const updated = await this.store.transaction(async (tx) => {
        const r = await this.store.updateJob(tx, id, job.version, {
          artifact: info,
          lifecycleState: 'ACTIVE',
          lifecycleDetails: null,
        });
        if (r) {
          await this.store.insertEvent(tx, jobEvent(EVENT_TYPES.jobArtifactCreated, this.present(r)));
        }
        return r;
      });
      this.invalidate(id); // again: a read that overlapped the write must not stay cached
      if (!updated) {
        // Another upload won the race; ours is discarded (the artifact stays the first one).
        const now = await this.get(id);
        if (now.artifact?.fileName !== fileName) await fsp.rm(final, { force: true });
        throw new DsError('Conflict', `Job ${id} already has an artifact; job artifacts are immutable`);
      }
      return updated;
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }
}
