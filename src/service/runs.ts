import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { DsError, invalid, notFound } from '../domain/errors.js';
import type { JobConfigurationDetails, JobInfrastructureConfigurationDetails } from '../domain/job-config.js';
import { newOcid, RESOURCE_TYPES } from '../domain/ids.js';
import { CANCELABLE_RUN_STATES, isTerminal } from '../domain/run-states.js';
import type { ExecutorSet } from '../executors/executor-set.js';
import type { LogService } from '../logs/log-service.js';
import type { DefinedTags, JobRecord, ListQuery, Page, RunChain, RunRecord, Tags } from '../store/records.js';
import type { Store, Tx } from '../store/store.js';
import { RUN_EVENTS as E } from '../events/types.js';
import { compileLaunch, withRunIdentity, type LaunchContext } from '../domain/launch.js';
import { bodyHash, checkIfMatch, defaultName, iso, type Clock, type ServerIdentity } from './common.js';
import type { JobsService } from './jobs.js';
import { checkCompartment, checkListCompartment } from './projects.js';
import type { StorageCatalog } from './storage.js';
import type { ShapesService } from './shapes-service.js';
import { otherOwner, queueEntry, RunExecution, type RunExecutionOptions, type SchedulerPort } from './run-execution.js';

export interface CreateRunInput {
  projectId: string;
  compartmentId: string;
  jobId: string;
  displayName?: string;
  jobConfigurationOverrideDetails?: Partial<JobConfigurationDetails> | null;
  jobInfrastructureConfigurationOverrideDetails?: JobInfrastructureConfigurationDetails | null;
  jobEnvironmentConfigurationOverrideDetails?: Record<string, unknown> | null;
  jobLogConfigurationOverrideDetails?: Record<string, unknown> | null;
  jobStorageMountConfigurationOverrideDetailsList?: Record<string, unknown>[] | null;
  jobNodeConfigurationOverrideDetails?: Record<string, unknown> | null;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

/**
 * The Logging service's part of a run's creation: `plan` checks the effective log configuration before the
 * transaction (a 400 naming the field), `link` (in it) creates an automatic log and returns the run's logDetails.
 */
export interface RunLogs {
  plan(config: Record<string, unknown> | null | undefined, field: string): Promise<unknown>;
  link(tx: Tx, plan: unknown, run: { id: string; displayName: string }): Promise<{ logGroupId: string; logId: string } | null>;
}


/**
 * Job runs as the API and automation use them: creation (validated, durable, queued), reads, updates, cancels and
 * deletes. What happens to a run once it is queued (its start, watch, stop and end, recovery, replicas' adoption) is
 * RunExecution's (run-execution.ts), which this service hands cancels and deletes to.
 */
export class RunsService {
  private readonly scheduler: SchedulerPort;
  private readonly authorizeAs: ((userId: string, compartmentId: string, job: JobRecord) => Promise<void>) | null;
  /** What only the server knows when a run's plan is compiled: shapes, declared storage, conda environments. */
  private readonly launchContext: LaunchContext;
  /**
   * The Logging service's part of a run's creation: `plan` checks the effective log configuration before the
   * transaction, `link` (in it) creates an automatic log and returns the run's logDetails.
   */
  private readonly runLogs: RunLogs | null;
  /** Runs once queued: started by the scheduler through it, stopped and deleted through it. */
  readonly execution: RunExecution;

  constructor(
    private readonly store: Store,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
    private readonly jobs: JobsService,
    private readonly shapes: ShapesService,
    private readonly executor: ExecutorSet,
    private readonly logs: LogService,
    private readonly opts: RunExecutionOptions & {
      storage: StorageCatalog;
      /**
       * Bounds on chains of runs that runs start through their principals (the trigger rules' limits: config
       * triggerMaxChainDepth and triggerMaxChainRuns), so a job that starts itself cannot multiply without end.
       */
      chainLimits?: { maxDepth: number; maxRuns: number };
      /**
       * Refuses (404 NotAuthorizedOrNotFound) a run that automation would start as `userId` when that user may not
       * start it now (authorizer.ts authorizeRunAs); absent where authorization is off.
       */
      authorizeAs?: (userId: string, compartmentId: string, job: JobRecord) => Promise<void>;
      /** Run logs through OCI Logging (logDetails); absent: runs get none. */
      runLogs?: RunLogs;
    },
  ) {
    this.scheduler = opts.scheduler;
    this.authorizeAs = opts.authorizeAs ?? null;
    this.runLogs = opts.runLogs ?? null;
    this.launchContext = {
      resolveShape: (infra, field) => this.shapes.resolve(infra, field),
      resolveMounts: (list, field) => opts.storage.resolve(list, field, { createPrefixes: true }),
      resolveConda: (env, field) => opts.conda.resolve(env, field),
      checkMultiNodeShapes: (list, field) => this.shapes.checkMultiNodeShapes(list, field),
    };
    this.execution = new RunExecution(store, clock, jobs, shapes, executor, logs, opts);
  }

  // ---------------------------------------------------------------- API use cases

  /**
   * `inTx` runs inside the transaction that inserts the run (not on a retry-token replay): automation records what
   * it started together with the run, so a kill can neither lose the record nor leave a run unaccounted for.
   */
  async create(
    input: CreateRunInput,
    retryToken?: string,
    opts: {
      inTx?: (tx: Tx, run: RunRecord) => Promise<void>;
      chain?: RunChain;
      actingAs?: string | null;
      /**
       * Who asks (a user's or a run's OCID), recorded as createdBy; default: the user automation acts as, else the
       * server's administrator (authentication off).
       */
      createdBy?: string;
      /** The run whose principal asks: the new run joins its chain, within the chain limits. */
      startedByRun?: string;
    } = {},
  ): Promise<RunRecord> {
    checkCompartment(input.compartmentId);
    const job = await this.jobs.getNamed(input.jobId, 'jobId');
    // Automation starts runs as the user that made it, with that user's permissions as they are now.
    if (opts.actingAs && this.authorizeAs) await this.authorizeAs(opts.actingAs, input.compartmentId, job);
    if (job.lifecycleState !== 'ACTIVE') {
      throw new DsError(
        'IncorrectState',
        job.lifecycleState === 'CREATING'
          ? `Job ${job.id} has no artifact yet; upload it (POST /jobs/{jobId}/artifact) before starting runs`
          : `Job ${job.id} is ${job.lifecycleState}; runs can only start from ACTIVE jobs`,
      );
    }
    if (input.projectId !== job.projectId) throw invalid('projectId', `must be the job's project ${job.projectId}`);
    const { plan, configOverride, infrastructure, infrastructureOverride } = compileLaunch(
      {
        artifactFileName: job.artifact?.fileName ?? '',
        jobConfigurationDetails: job.jobConfigurationDetails,
        jobEnvironmentConfigurationDetails: job.jobEnvironmentConfigurationDetails,
        jobInfrastructureConfigurationDetails: job.jobInfrastructureConfigurationDetails,
        jobStorageMountConfigurationDetailsList: job.jobStorageMountConfigurationDetailsList,
        jobNodeConfigurationDetails: job.jobNodeConfigurationDetails,
      },
      input,
      this.launchContext,
    );
    if (!this.executor.route(plan)) {
      if (plan.container) {
        throw new DsError('InvalidParameter', `No executor of this server runs containers (image ${plan.container.image}): its container engine is not available (see the server's start-up report)`);
      }
      throw new DsError('InvalidParameter', `No executor of this server runs this job: shape ${plan.shapeName} is served by none (see the server's start-up report)`);
    }
    const unreachable = this.executor.refusesMount(plan);
    if (unreachable) {
      const list = input.jobStorageMountConfigurationOverrideDetailsList ? 'jobStorageMountConfigurationOverrideDetailsList' : 'jobStorageMountConfigurationDetailsList';
      throw invalid(`${list}[${unreachable.index}]`, unreachable.reason);
    }
    const now = this.clock.now();
    const projectCompartmentId = await this.projectCompartment(job.projectId, job.compartmentId);
    const chain = opts.startedByRun ? await this.chainAfter(opts.startedByRun) : (opts.chain ?? { rootId: null, depth: 0 });
    // The run's log configuration: its override, else the job's (OCI's rule).
    const logOverride = input.jobLogConfigurationOverrideDetails;
    const logPlan = this.runLogs
      ? await this.runLogs.plan(logOverride ?? job.jobLogConfigurationDetails, logOverride ? 'jobLogConfigurationOverrideDetails' : 'jobLogConfigurationDetails')
      : null;
    let created: RunRecord | null = null;
    // The body's hash only matters with a retry token (it was ~4% of the server's CPU per create without one).
    const hash = retryToken ? bodyHash(input) : '';
    const { id, replayed } = await this.store.idempotent('createJobRun', retryToken, hash, async (tx) => {
      const id = newOcid(RESOURCE_TYPES.jobRun, this.identity.region);
      const launch = withRunIdentity(plan, {
        JOB_OCID: job.id,
        JOB_RUN_OCID: id,
        PROJECT_OCID: job.projectId,
        JOB_COMPARTMENT_OCID: job.compartmentId,
        JOB_RUN_COMPARTMENT_OCID: input.compartmentId,
        PROJECT_COMPARTMENT_OCID: projectCompartmentId,
        TENANCY_OCID: this.identity.tenancyId,
      });
      const rec: RunRecord = {
        id,
        seq: 0,
        jobId: job.id,
        projectId: job.projectId,
        compartmentId: input.compartmentId,
        displayName: input.displayName ?? defaultName('jobrun', now),
        lifecycleState: 'ACCEPTED',
        lifecycleDetails: null,
        timeAccepted: iso(now),
        timeStarted: null,
        timeFinished: null,
        createdBy: opts.createdBy ?? opts.actingAs ?? this.identity.userId,
        jobConfigurationOverrideDetails: configOverride ?? { jobType: 'DEFAULT' },
        jobInfrastructureConfigurationDetails: infrastructure,
        jobInfrastructureConfigurationOverrideDetails: infrastructureOverride,
        jobEnvironmentConfigurationOverrideDetails: input.jobEnvironmentConfigurationOverrideDetails ?? null,
        jobLogConfigurationOverrideDetails: input.jobLogConfigurationOverrideDetails ?? null,
        jobStorageMountConfigurationDetailsList:
          input.jobStorageMountConfigurationOverrideDetailsList ?? job.jobStorageMountConfigurationDetailsList,
        jobStorageMountConfigurationOverrideDetailsList: input.jobStorageMountConfigurationOverrideDetailsList ?? null,
        freeformTags: input.freeformTags ?? {},
        definedTags: input.definedTags ?? {},
        launch,
        executor: null,
        handle: null,
        deadlineMs: null,
        killAtMs: null,
        stopReason: null,
        exitCode: null,
        exitSignal: null,
        outcomeReason: null,
        isolation: null,
        jobNodeConfigurationOverrideDetails: input.jobNodeConfigurationOverrideDetails ?? null,
        nodeGroups: plan.multiNode ? plan.multiNode.groups.map((g) => ({ name: g.name, lifecycleState: 'CREATING', lifecycleDetails: `${g.replicas} replica(s) waiting for nodes` })) : null,
        version: 1,
        chain,
        owner: this.opts.replica?.id ?? null,
      };
      // Counted inside the transaction that inserts the run: the creates of one batch run one after another, so two
      // requests of one chain cannot both pass the count.
      if (opts.startedByRun && chain.rootId) await this.checkChainRuns(tx, chain.rootId);
      if (this.runLogs) rec.logDetails = await this.runLogs.link(tx, logPlan, rec);
      await this.store.insertRun(tx, rec);
      await this.store.insertEvent(tx, E.accepted(rec));
      if (opts.inTx) await opts.inTx(tx, rec);
      created = rec;
      return id;
    });
    if (replayed || !created) return this.get(id);
    const run: RunRecord = created;
    this.scheduler.enqueue(queueEntry(this.executor, run));
    // Returned as accepted, like OCI: no queue position yet (computing it is O(queue) right after a change).
    return run;
  }

  /** The chain a run started by `parentId`'s principal joins: one deeper, under the same first run. */
  private async chainAfter(parentId: string): Promise<RunChain> {
    const parent = await this.store.getRun(parentId);
    if (!parent) throw notFound('Job run', parentId);
    const chain = { rootId: parent.chain.rootId ?? parent.id, depth: parent.chain.depth + 1 };
    const max = this.opts.chainLimits?.maxDepth;
    if (max !== undefined && chain.depth > max) {
      throw new DsError(
        'LimitExceeded',
        `Job run ${parentId} may not start another run: the chain of runs started by runs would reach depth ${chain.depth}, over the limit of ${max} (config triggerMaxChainDepth); a job probably starts itself.`,
      );
    }
    return chain;
  }

  private async checkChainRuns(tx: Tx, rootId: string): Promise<void> {
    const max = this.opts.chainLimits?.maxRuns;
    if (max === undefined) return;
    // The first run and those already in its chain, as the trigger rules count them.
    const runs = 1 + (await this.store.countChainRuns(rootId, tx));
    if (runs >= max) {
      throw new DsError(
        'LimitExceeded',
        `The chain of runs started by run ${rootId} has ${runs} runs, the limit is ${max} (config triggerMaxChainRuns): no run of it may start another.`,
      );
    }
  }

  /** A project's compartment, cached: it changes only by ChangeProjectCompartment, which calls projectMoved. */
  private readonly projectCompartments = new Map<string, string>();
  projectMoved(projectId: string): void {
    this.projectCompartments.delete(projectId);
  }
  /** Every project may have moved elsewhere (another replica on the same database): forget their compartments. */
  forgetProjectCompartments(): void {
    this.projectCompartments.clear();
  }
  private async projectCompartment(projectId: string, fallback: string): Promise<string> {
    let c = this.projectCompartments.get(projectId);
    if (!c) {
      c = (await this.store.getProject(projectId))?.compartmentId ?? fallback;
      if (this.projectCompartments.size > 10_000) this.projectCompartments.clear();
      this.projectCompartments.set(projectId, c);
    }
    return c;
  }

  private async getRecord(id: string): Promise<RunRecord> {
    const r = await this.store.getRun(id);
    if (!r) throw notFound('Job run', id);
    return r;
  }

  /** A run as clients see it: a queued run's lifecycleDetails say what it waits for and where it is in line. */
  present(r: RunRecord): RunRecord {
    if (r.lifecycleState === 'ACCEPTED' && r.handle === null) {
      const details = this.scheduler.waitInfo(r.id);
      if (details) return { ...r, lifecycleDetails: details };
    }
    return r;
  }

  async get(id: string): Promise<RunRecord> {
    return this.present(await this.getRecord(id));
  }

  async list(q: ListQuery): Promise<Page<RunRecord>> {
    checkListCompartment(q);
    const page = await this.store.listRuns(q);
    return { ...page, items: page.items.map((r) => this.present(r)) };
  }

  async update(id: string, patch: { displayName?: string; freeformTags?: Tags; definedTags?: DefinedTags }, ifMatch?: string): Promise<RunRecord> {
    const run = await this.getRecord(id);
    checkIfMatch(ifMatch, run.id, run.version);
    if (run.lifecycleState === 'DELETED') throw new DsError('IncorrectState', `Job run ${id} is DELETED`);
    const r = await this.store.transitionRun(id, [run.lifecycleState], null, patch, E.updated, { version: run.version });
    if (!r) throw new DsError('Conflict', `Job run ${id} changed while it was being updated; get it again and retry`);
    return this.present(r);
  }

  async cancel(id: string, ifMatch?: string): Promise<void> {
    const run = await this.getRecord(id);
    checkIfMatch(ifMatch, run.id, run.version);
    if (run.lifecycleState === 'CANCELING' || run.lifecycleState === 'CANCELED') return;
    if (!CANCELABLE_RUN_STATES.includes(run.lifecycleState)) {
      throw new DsError('IncorrectState', `Job run ${id} is ${run.lifecycleState}; only ACCEPTED, IN_PROGRESS and NEEDS_ATTENTION runs can be canceled`);
    }
    await this.execution.stop(id, 'cancel');
  }

  async delete(id: string, ifMatch?: string): Promise<void> {
    const run = await this.getRecord(id);
    checkIfMatch(ifMatch, run.id, run.version);
    if (run.lifecycleState === 'DELETED') return;
    if (!isTerminal(run.lifecycleState)) {
      throw new DsError('IncorrectState', `Job run ${id} is ${run.lifecycleState}; only SUCCEEDED, FAILED or CANCELED runs can be deleted (cancel it first)`);
    }
    await this.execution.markDeleted(id);
  }

  /**
   * The executed notebook kept with a notebook run (docs/ads-runtimes.md#notebook), as a file to send; NotFound
   * while the run has none (not a notebook run, not ended yet, or it ended before its notebook was written).
   */
  /** A terminal run becomes DELETED and its files go (a job's deletion with deleteRelatedJobRuns). */
  markDeleted(id: string): Promise<void> {
    return this.execution.markDeleted(id);
  }

  async executedNotebook(id: string): Promise<string> {
    const run = await this.getRecord(id);
    const file = run.lifecycleState === 'DELETED' ? null : this.opts.runOutputs?.notebookFile(id);
    if (!file || !existsSync(file)) {
      throw new DsError('NotFound', `Job run ${id} has no executed notebook${run.launch.env.JOB_RUN_NOTEBOOK === undefined ? ' (it is not a notebook run)' : isTerminal(run.lifecycleState) ? ' (it ended before its notebook was written)' : ' yet (it is kept when the run ends)'}`);
    }
    return file;
  }

  /** The run's log as NDJSON records after `since`; with follow, open until the run ends and all is sent. */
  async readLogs(id: string, since: number, follow: boolean, signal?: AbortSignal): Promise<Readable> {
    const run = await this.getRecord(id);
    if (run.lifecycleState === 'DELETED') throw notFound('Job run', id);
    const other = otherOwner(this.opts.replica, run);
    if (other) return other.remote.readLogs(other.owner, id, since, follow, signal);
    return this.logs.read(id, since, follow, signal);
  }
}
