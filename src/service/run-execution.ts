import { isOutOfSpace } from '../domain/errors.js';
import { ACTIVE_RUN_STATES, DETAILS, TERMINAL_RUN_STATES, isTerminal, type RunState } from '../domain/run-states.js';
import type { ExecutorHandle, ExitStatus, RunIsolation } from '../executors/executor.js';
import type { ExecutorSet } from '../executors/executor-set.js';
import type { LogService } from '../logs/log-service.js';
import { failureNote } from '../logs/failure-note.js';
import type { NodeGroupDetailsRecord, RunPatch, RunRecord, StartPending } from '../store/records.js';
import { isDatabaseUnavailable, type EventInput, type Store } from '../store/store.js';
import { runUnfenced } from '../store/fence.js';
import { RUN_EVENTS as E } from '../events/types.js';
import { runOutcome } from '../domain/run-outcome.js';
import { iso, type Clock } from './common.js';
import type { JobsService } from './jobs.js';
import type { BucketMounts } from './bucket-mounts.js';
import type { RunOutputs } from './run-outputs.js';
import type { CondaEnvironments } from './conda.js';
import { noTelemetry, type Telemetry } from './telemetry.js';
import type { ShapesService } from './shapes-service.js';
import { ZERO, type Resources } from '../domain/resources.js';
import type { Readable } from 'node:stream';
import type { RunPrincipals } from './run-principals.js';

/** Longest wait between tries to settle a finished run while the data disk is full. */
const DISK_FULL_RETRY_MAX_MS = 30_000;
/** A run whose start could not be recorded on a full data disk goes back in the queue after this long. */
const DISK_FULL_REQUEUE_MS = 5_000;

/** A run's handle from the claim of its start until the executor returned its own (no process yet). */
const START_PENDING: StartPending = { pending: true };
/** How often a running multi-node run's node group states are read from its executor (a file read each). */
const NODE_GROUPS_POLL_MS = 1000;

/** The executor's handle of a run, or null while there is none: queued, or its start claimed but not yet launched. */
export function launchedHandle(run: Pick<RunRecord, 'handle'>): ExecutorHandle | null {
  return run.handle && run.handle.pending !== true ? run.handle : null;
}

/** How a replica reaches the runs another replica owns: through that one's internal API (service/replicas.ts). */
export interface RemoteRuns {
  readLogs(owner: string, runId: string, since: number, follow: boolean, signal?: AbortSignal): Promise<Readable>;
  /** The run's CANCELING is committed: its owner signals its process. */
  stopRun(owner: string, runId: string, reason: 'cancel' | 'timeout'): Promise<void>;
}

/** What the scheduler learns from the service: runs to queue, runs whose resources are free again, timers. */
export interface SchedulerPort {
  /** `ownAdmission`: the run's engine admits it itself (a cluster's queue): it starts without the server's capacity. */
  enqueue(run: { id: string; needs: Resources; ownAdmission?: boolean }): void;
  dequeue(runId: string): void;
  /** The run holds these resources (re-attached after a restart). */
  occupy(runId: string, needs: Resources): void;
  release(runId: string): void;
  /** Call service.onDeadline / onKillTimer at these absolute times (null clears). */
  setDeadline(runId: string, atMs: number | null): void;
  setKillTimer(runId: string, atMs: number | null): void;
  waitInfo(runId: string): string | null;
}

/** What the execution of runs is given besides its collaborators (the server's config and services). */
export interface RunExecutionOptions {
  gracePeriodMs: number;
  log?: { error(obj: unknown, msg: string): void; warn(obj: unknown, msg: string): void };
  conda: CondaEnvironments;
  telemetry?: Telemetry;
  /** Admission and timers: told of runs to queue and resources freed; it drives the lifecycle (start()). */
  scheduler: SchedulerPort;
  /** Each run's own identity (resource principal), issued at its start and revoked when it stops; absent: none. */
  principals?: RunPrincipals | null;
  /** Mounts of the server's own buckets: staged at the start, written back when the run ends (bucket-mounts.ts). */
  bucketMounts?: Pick<BucketMounts, 'stage' | 'collect'>;
  /** ADS's run outputs (OUTPUT_DIR to an oci:// OUTPUT_URI) and a notebook run's executed notebook (run-outputs.ts). */
  runOutputs?: Pick<RunOutputs, 'wants' | 'collect' | 'remove' | 'notebookFile'>;
  /**
   * Several replicas on one PostgreSQL database: this replica's id (recorded as the owner of the runs it queues,
   * and it starts and recovers only its own), and how a run another replica owns is reached (its logs, a stop).
   */
  replica?: {
    id: string;
    remote: RemoteRuns;
    /** Masks again, in the logs of runs adopted from a lost replica, the secret values they read (secrets.ts). */
    restoreMasks?: (runIds: readonly string[]) => Promise<unknown>;
  };
}

/** What the scheduler is told of a run: what it holds of the server's capacity, none where its engine admits it. */
export function queueEntry(executor: ExecutorSet, run: Pick<RunRecord, 'id' | 'launch'>): { id: string; needs: Resources; ownAdmission: boolean } {
  const here = executor.admittedHere(run.launch);
  return { id: run.id, needs: here ? run.launch.resources : ZERO, ownAdmission: !here };
}

/** The replica (not this one) whose executor has the run's process and log, and how to reach it; null: this one. */
export function otherOwner(replica: RunExecutionOptions['replica'], run: RunRecord): { owner: string; remote: RemoteRuns } | null {
  return replica && run.owner && run.owner !== replica.id ? { owner: run.owner, remote: replica.remote } : null;
}

/**
 * The execution lifecycle of job runs: start, watch, stop, settle, recover after a restart, and, with several
 * replicas, adopt and let go. With RunsService (the API's use cases) the only code that changes a run's state; every
 * change is a compare-and-set with its event, so concurrent actors (a cancel racing an exit, say) settle on exactly
 * one outcome. The scheduler drives it (start, deadlines, kill timers) once the server has started.
 */
export class RunExecution {
  private readonly scheduler: SchedulerPort;
  private readonly principals: RunPrincipals | null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly jobs: JobsService,
    private readonly shapes: ShapesService,
    private readonly executor: ExecutorSet,
    private readonly logs: LogService,
    private readonly opts: RunExecutionOptions,
  ) {
    this.scheduler = opts.scheduler;
    this.principals = opts.principals ?? null;
  }

  private get telemetry(): Telemetry {
    return this.opts.telemetry ?? noTelemetry;
  }

  /** Deleting a run frees its files: its log and its run directory go (its record stays, DELETED). */
  async markDeleted(id: string): Promise<void> {
    if (!(await this.store.transitionRun(id, TERMINAL_RUN_STATES, 'DELETED', {}, E.deleted))) return;
    await this.removeFiles(id);
  }

  private async removeFiles(id: string): Promise<void> {
    try {
      this.logs.remove(id);
      await this.opts.runOutputs?.remove(id);
      await this.executor.forget(id);
    } catch (e) {
      this.opts.log?.error({ err: e, runId: id }, "removing a deleted job run's files failed");
    }
  }

  /**
   * The run's log reached its quota: its lifecycleDetails say so while it goes on. A run still starting gets the
   * note when it becomes IN_PROGRESS (inProgressDetails).
   */
  async onLogQuota(id: string): Promise<void> {
    const note = DETAILS.logQuota(this.logs.quotaBytes);
    for (let attempt = 0; attempt < 5; attempt++) {
      const run = await this.store.getRun(id);
      if (!run || run.lifecycleState !== 'IN_PROGRESS' || run.lifecycleDetails?.includes(note)) return;
      const lifecycleDetails = `${run.lifecycleDetails ?? DETAILS.inProgress} ${note}`;
      if (await this.store.transitionRun(id, ['IN_PROGRESS'], null, { lifecycleDetails }, null, { version: run.version, ...this.owned })) return;
    }
  }

  private inProgressDetails(id: string): string {
    return this.logs.quotaReached(id) ? `${DETAILS.inProgress} ${DETAILS.logQuota(this.logs.quotaBytes)}` : DETAILS.inProgress;
  }

  /**
   * With several replicas, the condition of every write this replica makes as a run's owner (its start, its watch, its
   * end): another replica that adopted the run meanwhile (this one was silent past replicaLostAfterMs, paused or cut
   * off) owns it now, and the write changes nothing.
   */
  private get owned(): { owner?: string } {
    return this.opts.replica ? { owner: this.opts.replica.id } : {};
  }

  /**
   * Whether this replica still owns `run` (always, with one server). When not, it lets the run go (lostRun) and the
   * caller does nothing to it: another replica adopted it while this one was silent.
   */
  private stillMine(id: string, run: RunRecord | null): boolean {
    const me = this.opts.replica?.id;
    // No owner: a run of the time before replicas, which nobody adopted (adoption names its new owner).
    if (!me || !run || run.owner === me || !run.owner) return true;
    this.lostRun(id, run.owner);
    return false;
  }

  /**
   * This replica owned and watched run `id`, which another replica (`owner`) adopted while this one was silent: it
   * stops watching it and forgets its timers, and touches nothing of it (its process or container, files, log, state
   * are the adopter's now).
   */
  private lostRun(id: string, owner: string): void {
    const handle = this.watching.get(id);
    this.watching.delete(id);
    if (handle) this.executor.letGo(handle);
    this.logs.detach(id);
    this.forget(id);
    if (this.lostLogged.has(id)) return;
    this.lostLogged.add(id);
    this.opts.log?.warn(
      { runId: id, replica: this.opts.replica?.id, owner },
      `this server replica lost job run ${id}: replica ${owner} took it over while this one was silent (paused or cut off past replicaLostAfterMs); it leaves the run alone`,
    );
  }

  /** Runs whose end this replica watches, with their handles (several replicas: checked after a pause, checkOwnership). */
  private readonly watching = new Map<string, ExecutorHandle>();
  private readonly lostLogged = new Set<string>();

  /**
   * Several replicas: this replica was silent a while (paused, or cut off from the database): the runs it watches that
   * another replica adopted meanwhile are let go at once, rather than when they next act (their end, a deadline).
   */
  async checkOwnership(): Promise<void> {
    for (const id of [...this.watching.keys()]) this.stillMine(id, await this.store.getRun(id));
  }

  /**
   * Stops a run for a cancel or its maximum runtime. A queued run ends at once; a started one goes CANCELING,
   * gets SIGTERM (its whole process group), and SIGKILL after the grace period if it is still there.
   */
  async stop(id: string, reason: 'cancel' | 'timeout'): Promise<void> {
    const now = this.clock.now();
    // A run the executor never took (no handle) ends at once; a run being started is left to the start path.
    const queued = await this.store.transitionRun(
      id,
      ['ACCEPTED'],
      'CANCELED',
      { lifecycleDetails: DETAILS.canceled, timeFinished: iso(now), outcomeReason: 'canceled', stopReason: reason },
      E.cancelEnd,
      { unclaimed: true },
    );
    if (queued) {
      // Queued on another replica: that one drops it from its queue and seals its (empty) log, for followers there.
      const other = otherOwner(this.opts.replica, queued);
      if (other) {
        await other.remote.stopRun(other.owner, id, reason).catch((err) => this.opts.log?.error({ err, runId: id, owner: other.owner }, 'telling the replica that queued a canceled run failed; its log there stays open'));
        return;
      }
      this.scheduler.dequeue(id);
      this.logs.seal(id);
      return;
    }
    const killAt = now + this.opts.gracePeriodMs;
    const r = await this.store.transitionRun(
      id,
      ['ACCEPTED', 'IN_PROGRESS', 'NEEDS_ATTENTION'],
      'CANCELING',
      { lifecycleDetails: DETAILS.canceling, stopReason: reason, killAtMs: killAt },
      E.cancelBegin,
    );
    if (!r) return; // it ended (or was stopped) meanwhile
    // Its process is on another replica's machine: that replica signals it and arms the kill timer.
    const other = otherOwner(this.opts.replica, r);
    if (other) {
      await other.remote.stopRun(other.owner, id, reason);
      return;
    }
    await this.signalStop(r, reason, killAt);
  }

  /**
   * The stop another replica asked for (the run's CANCELING is committed): this replica owns the run's process, so
   * it signals it and arms the kill timer.
   */
  async stopOwnRun(id: string, reason: 'cancel' | 'timeout'): Promise<void> {
    const r = await this.store.getRun(id);
    if (!r || otherOwner(this.opts.replica, r)) return;
    if (r.lifecycleState === 'CANCELED' && r.handle === null) {
      // Canceled while it was still in this replica's queue.
      this.scheduler.dequeue(id);
      this.logs.seal(id);
      return;
    }
    if (r.lifecycleState !== 'CANCELING') return;
    await this.signalStop(r, reason, r.killAtMs ?? this.clock.now() + this.opts.gracePeriodMs);
  }

  private async signalStop(r: RunRecord, reason: 'cancel' | 'timeout', killAt: number): Promise<void> {
    const id = r.id;
    // A run being stopped acts no more: a runaway chain ends with a cancel.
    this.principals?.revoke(id);
    if (reason === 'timeout') {
      await this.store.transitionRun(id, ['CANCELING'], null, { lifecycleDetails: DETAILS.timeoutCanceling(r.launch.maximumRuntimeInMinutes) }, null, this.owned);
    }
    this.scheduler.setDeadline(id, null);
    this.scheduler.setKillTimer(id, killAt);
    const handle = launchedHandle(r);
    if (handle) await this.executor.signal(handle, 'SIGTERM');
  }

  /**
   * Several replicas: runs that replica `replica` had queued and never started, given to this one (the lease holder
   * adopted them, its owner being lost): they join this replica's queue.
   */
  async adoptQueued(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const run = await this.store.getRun(id);
      if (run && run.lifecycleState === 'ACCEPTED' && run.handle === null) this.scheduler.enqueue(queueEntry(this.executor, run));
    }
  }

  /**
   * Several replicas: a started run of the lost replica `lost` whose process does not live on that replica's machine
   * (a Slurm job: its logs and status are on the cluster's shared disk; a container on an engine the replicas share,
   * whose log the engine keeps) becomes this replica's, which re-attaches to it
   * as after a restart and settles it with its real outcome. Returns false, changing nothing, for a run that lived on
   * the lost machine (local processes, a per-machine Docker engine), whose start had recorded no handle yet, or that
   * changed meanwhile (the owner came back, it ended): the caller ends those FAILED (failLost).
   */
  async adoptStarted(run: RunRecord, lost: string): Promise<boolean> {
    const replica = this.opts.replica;
    const handle = launchedHandle(run);
    if (!replica || !handle || !this.executor.outlivesServer(handle)) return false;
    // Where this replica keeps the run's log copy and files (a container's), stored with its new owner.
    let own: ExecutorHandle;
    try {
      own = await this.executor.adopt(handle, run.id);
    } catch (err) {
      this.opts.log?.error({ err, runId: run.id, lost }, "a lost replica's run could not be adopted: its handle cannot be read here");
      return false;
    }
    if (!(await this.store.transaction((tx) => this.store.replicas.adoptStartedRun(tx, run.id, lost, replica.id, own)))) return false;
    // Values of secrets the run read are masked in its log here too, before its log is read from the start.
    await replica.restoreMasks?.([run.id]);
    const adopted = await this.store.getRun(run.id);
    const h = adopted && launchedHandle(adopted);
    // From here it is one of this replica's runs: its watch and its end are not the lease's work (under its fence, the
    // end of a run would be refused once the lease moved on, and the run never settled).
    if (h) await runUnfenced(() => this.reattach(adopted, h));
    return true;
  }

  /**
   * Several replicas: a run whose owner `replica` has been silent for `silentMs` (and did not come back) ends FAILED
   * saying so: its process and its log are on that replica's machine, nothing here can tell how it ended. Never
   * SUCCEEDED. Returns whether this call ended it.
   */
  async failLost(run: RunRecord, replica: string, silentMs: number): Promise<boolean> {
    const r = await this.store.transitionRun(
      run.id,
      [run.lifecycleState],
      'FAILED',
      { lifecycleDetails: DETAILS.replicaLost(replica, Math.round(silentMs / 1000)), timeFinished: iso(this.clock.now()), outcomeReason: 'lost' },
      E.failed,
      { owner: replica },
    );
    if (r) this.telemetry.executorError('lost');
    return r !== null;
  }

  async onDeadline(id: string): Promise<void> {
    if (this.opts.replica && !this.stillMine(id, await this.store.getRun(id))) return;
    await this.stop(id, 'timeout');
  }

  /** The grace period is over: SIGKILL whatever is left. */
  async onKillTimer(id: string): Promise<void> {
    const run = await this.store.getRun(id);
    if (!this.stillMine(id, run)) return;
    const handle = run?.lifecycleState === 'CANCELING' ? launchedHandle(run) : null;
    if (handle) await this.executor.signal(handle, 'SIGKILL');
  }

  /** Admission said go: hand the run to the executor. */
  async start(id: string): Promise<void> {
    let claimed: RunRecord | null;
    try {
      claimed = await this.store.transitionRun(
        id,
        ['ACCEPTED'],
        'ACCEPTED',
        { lifecycleDetails: DETAILS.bootstrapStarting, handle: START_PENDING },
        null,
        { unclaimed: true, owner: this.opts.replica?.id },
      );
    } catch (e) {
      if (!isOutOfSpace(e)) throw e;
      // Nothing was written: the run waits in the queue again until the data disk has room.
      this.scheduler.release(id);
      const run = await this.store.getRun(id);
      if (run) setTimeout(() => this.scheduler.enqueue(queueEntry(this.executor, run)), DISK_FULL_REQUEUE_MS).unref();
      this.opts.log?.error({ err: e, runId: id }, 'starting a job run: the data disk is full; it is queued again');
      return;
    }
    if (!claimed) {
      this.scheduler.release(id);
      return;
    }
    if (this.opts.runOutputs?.wants(claimed)) this.withOutputs.add(id);
    const admittedAt = this.clock.now();
    this.telemetry.admissionWait(Math.max(0, admittedAt - Date.parse(claimed.timeAccepted)) / 1000);
    let launched;
    try {
      const conda = claimed.launch.conda;
      const principal = this.principals
        ? await this.principals.issue(
            { id, compartmentId: claimed.compartmentId, maximumRuntimeInMinutes: claimed.launch.maximumRuntimeInMinutes },
            this.opts.gracePeriodMs,
          )
        : null;
      launched = await this.executor.start({
        runId: id,
        // The artifact is immutable, so its path follows from the job and the file name frozen in the run.
        plan: this.opts.bucketMounts
          ? { ...claimed.launch, mounts: await this.opts.bucketMounts.stage(id, claimed.launch.mounts, this.executor.stagingDirFor(claimed.launch, id)) }
          : claimed.launch,
        artifactPath: claimed.launch.artifactFileName ? this.jobs.artifactPathOf(claimed.jobId, claimed.launch.artifactFileName) : '',
        // After the job's own variables: a job cannot name another principal.
        startEnv: principal?.env,
        privateFiles: principal?.files,
        pythonEnv: conda ? await this.opts.conda.prepare(conda) : null,
      });
    } catch (e) {
      this.principals?.revoke(id);
      const now = iso(this.clock.now());
      // On a full data disk the failure cannot be written yet either: retried until it can (a run left ACCEPTED
      // with a pending handle would wait for a restart).
      for (let wait = 1000; ; wait = Math.min(wait * 2, DISK_FULL_RETRY_MAX_MS)) {
        try {
          // Canceled while it was being prepared: the cancel is what the user asked for, so that is how it ends.
          const canceled = await this.store.transitionRun(
            id,
            ['CANCELING'],
            'CANCELED',
            { lifecycleDetails: DETAILS.canceled, timeFinished: now, outcomeReason: 'canceled', handle: null },
            E.cancelEnd,
            this.owned,
          );
          if (!canceled) {
            this.telemetry.executorError('start');
            await this.store.transitionRun(
              id,
              ['ACCEPTED'],
              'FAILED',
              { lifecycleDetails: DETAILS.executorError((e as Error).message), timeFinished: now, outcomeReason: 'executor_error', handle: null },
              E.failed,
              this.owned,
            );
          }
          this.logs.seal(id);
          break;
        } catch (err) {
          if (!isOutOfSpace(err)) {
            this.scheduler.release(id);
            throw err;
          }
          await new Promise((r) => setTimeout(r, wait));
        }
      }
      this.scheduler.release(id);
      return;
    }
    this.telemetry.startLatency(Math.max(0, this.clock.now() - admittedAt) / 1000);
    this.logs.attach(id, launched.logFiles);
    await this.running(claimed, launched.handle, true, launched.isolation);
  }

  /** Records a live process for the run (fresh start or re-attach) and watches it to the end. */
  private async running(run: RunRecord, handle: ExecutorHandle, fresh: boolean, isolation?: RunIsolation): Promise<void> {
    if (run.lifecycleState === 'ACCEPTED' && this.executor.queuesRuns(handle)) {
      // Stored with its handle first (a restart re-attaches to the queued job, a cancel reaches it); the wait for its
      // engine to run it goes on in the background, so neither a start nor a restart's recovery waits for the queue.
      const id = run.id;
      await this.store.transitionRun(
        id,
        ['ACCEPTED'],
        'ACCEPTED',
        { handle, executor: this.executor.nameOf(handle), isolation, lifecycleDetails: `Submitted to the ${this.executor.nameOf(handle)} executor; waiting for it to start the run.` },
        null,
        this.owned,
      );
      void this.queuedByEngine(id, handle)
        .then((ran) => this.runningNow(run, handle, fresh, isolation, ran))
        .catch((e) => this.opts.log?.error({ err: e, runId: id }, 'following a job run queued by its executor failed'));
      return;
    }
    await this.runningNow(run, handle, fresh, isolation, true);
  }

  /** `ran`: false for a run its engine queued that never ran (canceled while queued): it has no start time. */
  private async runningNow(run: RunRecord, handle: ExecutorHandle, fresh: boolean, isolation: RunIsolation | undefined, ran: boolean): Promise<void> {
    const id = run.id;
    const now = this.clock.now();
    const deadline = now + run.launch.maximumRuntimeInMinutes * 60_000;
    const started = await this.store.transitionRun(
      id,
      ['ACCEPTED'],
      'IN_PROGRESS',
      { lifecycleDetails: this.inProgressDetails(id), timeStarted: iso(now), handle, executor: this.executor.nameOf(handle), deadlineMs: deadline, isolation },
      E.started,
      this.owned,
    );
    let current = started;
    // The quota may have been reached while the state was being written: onLogQuota adds the note if it is missing.
    if (started && this.logs.quotaReached(id)) await this.onLogQuota(id);
    if (!started) {
      // Canceled while it was starting (or re-attached in a later state): keep the handle, then act on the state.
      current = await this.store.transitionRun(id, ACTIVE_RUN_STATES, null, { handle, timeStarted: fresh && ran ? iso(now) : undefined, isolation }, null, this.owned);
      if (!current) return;
    }
    // Re-attached after a restart: the run's token (signed with the same key) works again, unless it is being stopped.
    if (current!.lifecycleState !== 'CANCELING') this.principals?.activate(id);
    else this.principals?.revoke(id);
    if (current!.lifecycleState === 'CANCELING') {
      const killAt = current!.killAtMs ?? now + this.opts.gracePeriodMs;
      this.scheduler.setKillTimer(id, killAt);
      await this.executor.signal(handle, killAt <= now ? 'SIGKILL' : 'SIGTERM');
    } else if (current!.deadlineMs !== null) {
      this.scheduler.setDeadline(id, current!.deadlineMs);
    }
    if (run.launch.multiNode) this.followNodeGroups(id, handle);
    this.watching.set(id, handle);
    this.executor
      .wait(handle)
      .then(
        (status) => this.onExit(id, handle, status),
        (e) => this.onExit(id, handle, { exitCode: null, signal: null }, { error: (e as Error).message }),
      )
      .catch((e) => this.opts.log?.error({ err: e, runId: id }, 'settling a finished job run failed'));
  }

  private readonly nodeGroupTimers = new Map<string, NodeJS.Timeout>();
  /**
   * Runs started or re-attached here whose outputs are copied when they end (run-outputs.ts). Known from the record
   * the start or the recovery has in hand: the end of every other run reads nothing more (a read outside a
   * transaction waits for the group commit in flight).
   */
  private readonly withOutputs = new Set<string>();

  /** Keeps a running multi-node run's nodeGroupDetailsList as its nodes report it, until the run ends (onExit). */
  private followNodeGroups(id: string, handle: ExecutorHandle): void {
    if (this.nodeGroupTimers.has(id)) return;
    let last = '';
    const timer = setInterval(() => {
      const groups = this.executor.nodeGroups(handle);
      const text = groups ? JSON.stringify(groups) : '';
      if (!groups || text === last) return;
      last = text;
      this.store
        .transitionRun(id, ACTIVE_RUN_STATES, null, { nodeGroups: groups }, null, this.owned)
        .catch((e) => this.opts.log?.error({ err: e, runId: id }, "recording a multi-node run's node group states failed"));
    }, NODE_GROUPS_POLL_MS);
    timer.unref();
    this.nodeGroupTimers.set(id, timer);
  }

  /**
   * A multi-node run's node groups once it has ended: as its nodes last reported them; groups they never reported
   * on (the run never ran, or its nodes were lost) end DELETED when the run succeeded, else FAILED.
   */
  private finalNodeGroups(run: RunRecord, handle: ExecutorHandle | null, to: RunState): NodeGroupDetailsRecord[] | undefined {
    if (!run.nodeGroups) return undefined;
    const reported = new Map((handle ? (this.executor.nodeGroups(handle) ?? []) : []).map((g) => [g.name, g]));
    return run.nodeGroups.map((g) => {
      const r = reported.get(g.name);
      if (r && (r.lifecycleState === 'DELETED' || r.lifecycleState === 'FAILED')) return r;
      return { name: g.name, lifecycleState: to === 'SUCCEEDED' ? 'DELETED' : 'FAILED', lifecycleDetails: `the run ended ${to}` };
    });
  }

  /**
   * The run's engine queues it (a cluster scheduler): it stays ACCEPTED, with its handle stored (a restart re-attaches
   * to the queued job, and a cancel reaches it), until the engine says its process runs; meanwhile its
   * lifecycleDetails say why it waits, in the engine's words.
   */
  private queuedByEngine(id: string, handle: ExecutorHandle): Promise<boolean> {
    return this.executor.untilRunning(handle, (lifecycleDetails) => {
      this.store
        .transitionRun(id, ['ACCEPTED'], 'ACCEPTED', { lifecycleDetails }, null, this.owned)
        .catch((e) => this.opts.log?.error({ err: e, runId: id }, 'recording why a queued job run waits failed'));
    });
  }

  /**
   * The run's main process ended (or, with no handle, nothing of it can be found): free what it held, capture the
   * last output, and settle the state. `stragglers`: whether processes left in its group may be killed — not after
   * a restart, when the group id may have been reused by now.
   */
  async onExit(
    id: string,
    handle: ExecutorHandle | null,
    status: ExitStatus,
    opts: { error?: string; stragglers?: boolean } = {},
  ): Promise<void> {
    // Adopted by another replica while this one was silent: its container, files, log and end are that replica's.
    if (this.opts.replica && !this.stillMine(id, await this.readRunRetrying(id))) return;
    this.watching.delete(id);
    this.principals?.revoke(id);
    try {
      // Kill what the run left behind first: a background writer must not keep the final drain going forever. Its
      // outputs are copied then, once nothing of it writes them any more and before its workspace goes.
      let outputs: string | null = null;
      const beforeRelease =
        this.withOutputs.has(id) && handle ? async (workDir: string) => void (outputs = await this.collectOutputs(id, handle, workDir)) : undefined;
      if (handle) await this.executor.cleanup(handle, { killStragglers: opts.stragglers ?? true, beforeRelease }).catch(() => {});
      // A full data disk stops the last capture or the state change midway; both go on from where they stopped
      // (the log from its checkpoint, the state from the record), so the run settles once space returns. The same
      // for a PostgreSQL that does not answer (restarting): the state is written once it is back.
      for (let wait = 1000; ; wait = Math.min(wait * 2, DISK_FULL_RETRY_MAX_MS)) {
        try {
          await this.settle(id, handle, status, opts.error, outputs);
          break;
        } catch (e) {
          const unavailable = isDatabaseUnavailable(e);
          if (!isOutOfSpace(e) && !unavailable) throw e;
          const why = unavailable ? 'the database does not answer' : 'the data disk is full';
          this.opts.log?.error({ err: e, runId: id, retryInMs: wait }, `settling a finished job run: ${why}; retrying`);
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    } finally {
      this.forget(id);
    }
  }

  /** What this server held for a run it no longer watches (it ended, or another replica took it): timers, resources. */
  private forget(id: string): void {
    this.withOutputs.delete(id);
    clearInterval(this.nodeGroupTimers.get(id));
    this.nodeGroupTimers.delete(id);
    this.scheduler.setDeadline(id, null);
    this.scheduler.setKillTimer(id, null);
    this.scheduler.release(id);
  }

  /**
   * The run's record, read again until the database answers (a PostgreSQL restarting): a run's end waits for it, as
   * its settling does (onExit), rather than being dropped.
   */
  private async readRunRetrying(id: string): Promise<RunRecord | null> {
    for (let wait = 1000; ; wait = Math.min(wait * 2, DISK_FULL_RETRY_MAX_MS)) {
      try {
        return await this.store.getRun(id);
      } catch (e) {
        if (!isDatabaseUnavailable(e)) throw e;
        this.opts.log?.error({ err: e, runId: id, retryInMs: wait }, 'a job run ended: the database does not answer; retrying');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Copies the run's outputs out of its working directory (run-outputs.ts); the note for its lifecycleDetails. */
  private async collectOutputs(id: string, handle: ExecutorHandle, workDir: string): Promise<string | null> {
    try {
      const run = await this.store.getRun(id);
      if (!run || !this.opts.runOutputs!.wants(run)) return null;
      return await this.opts.runOutputs!.collect(run, workDir, this.executor.logFiles(handle).stdout);
    } catch (err) {
      this.opts.log?.error({ runId: id, err }, "copying a finished run's outputs failed");
      return `Outputs were not copied: ${(err as Error).message.slice(0, 300)}.`;
    }
  }

  private async settle(id: string, handle: ExecutorHandle | null, status: ExitStatus, error?: string, outputs?: string | null): Promise<void> {
    // Before the final state: whatever the run's success starts (a trigger rule, a sweep's final step) reads its
    // results. Before the log is sealed, too: a client following the log sees the run's end right after it.
    const synced = await this.syncBucketMounts(id);
    if (handle) await this.logs.finish(id, this.executor.logFiles(handle));
    else this.logs.seal(id);
    // Compare-and-set from the state just read; if a cancel or deadline moved it meanwhile, read and decide again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const run = await this.store.getRun(id);
      if (!run || isTerminal(run.lifecycleState) || run.lifecycleState === 'DELETED' || !this.stillMine(id, run)) break;
      const { to, patch, event } = this.outcome(run, status, error);
      const groups = this.finalNodeGroups(run, handle, to);
      if (groups) patch.nodeGroups = groups;
      if (this.logs.quotaReached(id)) patch.lifecycleDetails = `${patch.lifecycleDetails} ${DETAILS.logQuota(this.logs.quotaBytes)}`;
      if (synced) patch.lifecycleDetails = `${patch.lifecycleDetails} ${synced}`;
      if (outputs) patch.lifecycleDetails = `${patch.lifecycleDetails} ${outputs}`;
      const note = to === 'FAILED' && patch.outcomeReason === 'exit' ? failureNote(this.logs.logFile(id)) : null;
      if (note) patch.lifecycleDetails = `${patch.lifecycleDetails} ${note}`;
      if (await this.store.transitionRun(id, [run.lifecycleState], to, patch, event, this.owned)) {
        const job = await this.jobs.get(run.jobId).catch(() => null);
        if (job?.lifecycleState === 'DELETED') await this.markDeleted(id);
        break;
      }
    }
  }

  /** Writes the run's bucket mounts back; what was done, for lifecycleDetails (null: the run had none). */
  private async syncBucketMounts(id: string): Promise<string | null> {
    if (!this.opts.bucketMounts) return null;
    try {
      const reports = await this.opts.bucketMounts.collect(id);
      if (reports.length === 0) return null;
      const failed = reports.flatMap((r) => r.failed);
      if (failed.length > 0) this.opts.log?.error({ runId: id, failed }, 'writing a run\'s bucket mount back failed for some files');
      const done = reports.map((r) => `${r.bucket}/${r.prefix}: ${r.written} written (${r.bytes} bytes), ${r.deleted} deleted`).join('; ');
      return `Bucket mounts written back: ${done}${failed.length ? `; ${failed.length} file(s) failed: ${failed.slice(0, 3).join('; ').slice(0, 500)}` : ''}.`;
    } catch (err) {
      this.opts.log?.error({ runId: id, err }, 'writing a run\'s bucket mounts back failed');
      return `Bucket mounts were not written back: ${(err as Error).message.slice(0, 300)}.`;
    }
  }

  private outcome(run: RunRecord, status: ExitStatus, error?: string): { to: RunState; patch: RunPatch; event: (r: RunRecord) => EventInput } {
    const o = runOutcome(
      {
        lifecycleState: run.lifecycleState,
        stopReason: run.stopReason,
        maximumRuntimeInMinutes: run.launch.maximumRuntimeInMinutes,
        memoryInGBs: run.launch.resources.memoryInGBs,
        blockStorageSizeInGBs: run.launch.blockStorageSizeInGBs,
      },
      status,
      error,
    );
    if (o.reason === 'lost') this.telemetry.executorError('lost');
    const event = { timeout: E.timeout, canceled: E.cancelEnd, failed: E.failed, succeeded: E.succeeded }[o.event];
    return {
      to: o.to,
      patch: {
        timeFinished: iso(this.clock.now()),
        exitCode: status.exitCode,
        exitSignal: status.signal,
        killAtMs: null,
        deadlineMs: null,
        outcomeReason: o.reason,
        lifecycleDetails: o.details,
      },
      event,
    };
  }

  /**
   * After a restart: every run the database says is active is re-attached, settled with its real exit status, or
   * — when nothing can tell how it ended — failed with a message saying so. Queued runs go back in the queue.
   */
  async recover(): Promise<void> {
    // With several replicas, each re-attaches to its own runs (their processes are on its machine).
    const active = await this.store.runsInStates(ACTIVE_RUN_STATES, this.opts.replica?.id);
    for (const run of active) {
      if (run.lifecycleState === 'ACCEPTED' && run.handle === null) {
        // The capacity may have been lowered across the restart: a run that can no longer ever fit would block
        // the FIFO queue for good, so it ends now, saying why.
        if (this.executor.admittedHere(run.launch) && !this.shapes.canEverFit(run.launch.resources)) {
          await this.store.transitionRun(
            run.id,
            ['ACCEPTED'],
            'FAILED',
            {
              lifecycleDetails: `Job run can never start on this server: ${run.launch.shapeName} needs more than its capacity (${this.shapes.describeCapacity()}).`,
              timeFinished: iso(this.clock.now()),
              outcomeReason: 'executor_error',
            },
            E.failed,
          );
          this.logs.seal(run.id);
          continue;
        }
        this.scheduler.enqueue(queueEntry(this.executor, run));
        continue;
      }
      const handle = launchedHandle(run) ?? (await this.findHandle(run));
      if (!handle) {
        // Whatever the interrupted start had made for it (cgroups, a workspace) goes; a retry makes it again.
        await this.executor.discard(run.id).catch((e) => this.opts.log?.error({ err: e, runId: run.id }, 'freeing what an interrupted start left failed'));
        if (run.lifecycleState === 'ACCEPTED') {
          // The start was interrupted before any process existed: queue it again.
          await this.store.transitionRun(run.id, ['ACCEPTED'], 'ACCEPTED', { handle: null, executor: null, lifecycleDetails: null }, null);
          this.scheduler.enqueue(queueEntry(this.executor, run));
        } else {
          // Started (or being stopped) but no process was ever recorded: nothing to clean up, the outcome is unknown.
          await this.onExit(run.id, null, { exitCode: null, signal: null });
        }
        continue;
      }
      await this.reattach(run, handle);
    }
    const ended = async (ids: readonly string[]) => {
      const runs = await Promise.all(ids.map((id) => this.store.getRun(id)));
      return new Set(runs.filter((r) => r !== null && (isTerminal(r.lifecycleState) || r.lifecycleState === 'DELETED')).map((r) => r!.id));
    };
    await this.executor.afterRecovery(ended).catch((e) => this.opts.log?.error({ err: e }, 'freeing what interrupted runs left failed'));
  }

  /**
   * Re-attaches to a run whose process was started (by this server before a restart, or by a lost replica on an
   * engine off its machine): watched to its end, or settled with how it ended meanwhile, or ended lost when its
   * handle cannot be read.
   */
  private async reattach(run: RunRecord, handle: ExecutorHandle): Promise<void> {
    this.scheduler.occupy(run.id, queueEntry(this.executor, run).needs);
    if (this.opts.runOutputs?.wants(run)) this.withOutputs.add(run.id);
    const state = await this.executor.recover(handle);
    if (state.state === 'lost') {
      // A handle the executor cannot read (of a newer format, or damaged): nothing of the run can be reached
      // through it, so it ends lost saying why, never re-attached to what a misread handle would name.
      this.opts.log?.error({ runId: run.id, reason: state.reason }, 'a run could not be re-attached');
      await this.onExit(run.id, null, { exitCode: null, signal: null }, { error: state.reason, stragglers: false });
      return;
    }
    this.logs.attach(run.id, this.executor.logFiles(handle));
    if (state.state === 'running') {
      await this.running(run, handle, false);
    } else {
      // Its start was interrupted after the process began: it did run, so it moves through IN_PROGRESS (the
      // transition table has no ACCEPTED -> SUCCEEDED) before it is settled.
      if (run.lifecycleState === 'ACCEPTED') {
        await this.store.transitionRun(
          run.id,
          ['ACCEPTED'],
          'IN_PROGRESS',
          { lifecycleDetails: this.inProgressDetails(run.id), timeStarted: iso(this.clock.now()), handle },
          E.started,
          this.owned,
        );
      }
      await this.onExit(run.id, handle, state.status, { stragglers: false });
    }
  }



  private findHandle(run: RunRecord): Promise<ExecutorHandle | null> {
    return this.executor.find(run.id);
  }
}
