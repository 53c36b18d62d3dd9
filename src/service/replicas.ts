import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DsError, type ErrorCode } from '../domain/errors.js';
import { randomHex } from '../domain/ids.js';
import { REPLICA_AUTH_HEADER, signReplicaRequest } from '../domain/replica-auth.js';
import { ACTIVE_RUN_STATES } from '../domain/run-states.js';
import { LeaseLostError, runFenced, runUnfenced, type Fence } from '../store/fence.js';
import type { Store } from '../store/store.js';
import type { RemoteRuns, RunExecution } from './run-execution.js';

/** The lease of the replica that does the work that must happen once. */
const LEASE = 'coordinator';
/**
 * How long the lease lasts without renewal. Renewed every TICK_MS; a SIGKILLed holder's lease runs out within 5 s
 * and another replica, trying every second, takes it within about 6 s (the issue asks for 10 s).
 */
const LEASE_TTL_MS = 5_000;
const TICK_MS = 1_000;
/**
 * A replica whose heartbeats were this far apart (3 ticks missed: it was paused, or the database did not answer)
 * checks that the runs it watches are still its own: another may have adopted them meanwhile.
 */
const SILENT_MS = 4 * TICK_MS;
/** How often the holder looks for replicas gone silent (their runs to adopt or end). */
const REAP_MS = 2_000;

interface Log {
  info(obj: unknown, msg: string): void;
  warn(obj: unknown, msg: string): void;
  error(obj: unknown, msg: string): void;
}

/** This replica's id, kept in its data directory (`replica-id`): stable across restarts, so it finds its runs again. */
export function replicaIdOf(dataDir: string): string {
  const file = path.join(dataDir, 'replica-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = `${os.hostname().replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 40)}-${randomHex(4)}`;
  writeFileSync(file, `${id}\n`, { mode: 0o644 });
  return id;
}

/**
 * One of several server replicas sharing a PostgreSQL database (docs/deployment.md#several-replicas).
 *
 * - It registers (id, the URL its API is reached at) and heartbeats every second in `replicas`.
 * - It competes for the coordinator's lease (a row with an epoch, replica-store.ts). The holder runs the work that
 *   must happen once (`lead`: schedules, trigger rules, sweeps, webhook dispatch, retention, and the reaping below)
 *   under a fence (fence.ts): each of that work's transactions checks, after BEGIN and under the writers' lock, that
 *   the lease is still this replica's under the same epoch. A lease row rather than a session advisory lock: a lock
 *   dies with its connection and says nothing to the transactions on the pool's other connections, while the row's
 *   epoch is read in the very transaction that writes, so a paused (SIGSTOP) or partitioned holder that resumes after
 *   another took over rolls back instead of acting on stale authority.
 * - The holder reaps replicas silent for `lostAfterMs`: the runs they queued and never started join its own queue;
 *   the runs they started on an engine off their machine (Slurm, a Docker engine the replicas share) are re-attached
 *   by the holder, which settles them with their real outcome; the runs whose processes were on the lost machine end FAILED saying the replica was lost
 *   (never SUCCEEDED).
 * - It reaches runs other replicas own (their logs, a stop) through their internal API, signed with the shared secret
 *   (domain/replica-auth.ts).
 */
export class Replicas implements RemoteRuns {
  private epoch: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reaper: NodeJS.Timeout | null = null;
  private ticking = false;
  private stopped = false;
  private warnedDb = false;
  /** When (monotonic ms) the last heartbeat reached the database; null: none yet. */
  private lastBeat: number | null = null;
  /** Until then (ms) this replica does not try to take the lease: the holder's time to come back after an outage. */
  private quietUntil = 0;

  constructor(
    private readonly store: Store,
    private readonly runs: RunExecution,
    readonly id: string,
    private readonly secret: string,
    private readonly opts: {
      lostAfterMs: number;
      log: Log;
      /**
       * Called every second while this replica holds the lease: the coordinator's loops (trigger rules, sweeps,
       * webhook dispatch) are woken by this process's commits, and must also hear of the events other replicas
       * commit (their runs ending, creates through them).
       */
      pollEvents?: () => Promise<void>;
    },
  ) {}

  /** Whether this replica holds the coordinator's lease now (as it last knew). */
  get leading(): boolean {
    return this.epoch !== null;
  }

  /**
   * Registers at `apiUrl`, then heartbeats and competes for the lease every second. `lead` starts the work that must
   * happen once, when the lease is first taken; `deposed`: another replica took the lease over (this one was paused
   * or cut off past it), whose work cannot be handed back to this process (it stops, and its restart rejoins).
   */
  async start(apiUrl: string, lead: () => Promise<void>, deposed: () => void): Promise<void> {
    await this.store.replicas.register(this.id, apiUrl);
    this.lead = lead;
    this.deposed = deposed;
    await this.tick();
    this.timer = setInterval(() => void this.tick(), TICK_MS);
  }

  private lead: () => Promise<void> = async () => {};
  private deposed: () => void = () => {};

  /** The fence of the lease holder's transactions (fence.ts). */
  readonly fence: Fence = async (tx) => {
    const epoch = this.epoch;
    if (epoch === null || !(await this.store.replicas.holdsLease(tx, LEASE, this.id, epoch))) {
      throw new LeaseLostError(`server replica ${this.id} no longer holds the coordinator's lease (epoch ${epoch}): another replica does this work now`);
    }
  };

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      await this.store.replicas.heartbeat(this.id);
      const beat = performance.now();
      const silentMs = this.lastBeat === null ? 0 : beat - this.lastBeat;
      this.lastBeat = beat;
      // Silent a while (paused, or cut off from the database): another replica may have adopted runs of this one.
      if (silentMs > SILENT_MS) {
        await this.runs.checkOwnership().catch((err) => this.opts.log.error({ err }, 'checking which runs this replica still owns failed'));
      }
      const held = this.epoch;
      if (this.warnedDb && held === null) {
        // Back after the database was away (restarted, cut off): every replica lost it, the holder too, whose lease
        // ran out meanwhile. The holder takes it back at its first tick that reaches the database (epoch + 1, below);
        // the others wait one lease's time first, so that the first to reconnect does not depose a holder that was
        // never paused (a deposed holder stops: its process would restart for an outage that was not its own).
        this.quietUntil = Date.now() + LEASE_TTL_MS;
      }
      this.warnedDb = false;
      if (held === null && Date.now() < this.quietUntil) return;
      const got = await this.store.replicas.acquireLease(LEASE, this.id, LEASE_TTL_MS, held);
      if (this.stopped) return;
      if (held === null) {
        if (got !== null) await this.becomeLeader(got);
      } else if (got === held || got === held + 1) {
        // Renewed; or it ran out (the database was away) and nobody held it since: this replica goes on.
        this.epoch = got;
        await this.opts.pollEvents?.();
      } else {
        this.epoch = null;
        this.stopReaper();
        this.opts.log.error({ replica: this.id, epoch: held }, "another server replica took the coordinator's lease over while this one could not renew it (paused or cut off); this one stops");
        this.deposed();
      }
    } catch (err) {
      // The database is away: the lease runs out meanwhile and the fence refuses this replica's work until renewed.
      if (!this.warnedDb) this.opts.log.warn({ err }, "the heartbeat and the coordinator's lease cannot reach the database; retrying every second");
      this.warnedDb = true;
    } finally {
      this.ticking = false;
    }
  }

  /** Starts the coordinator's work (awaited: at a server's start, it is under way once the server says it listens). */
  private async becomeLeader(epoch: number): Promise<void> {
    this.epoch = epoch;
    this.opts.log.info({ replica: this.id, epoch }, "this server replica holds the coordinator's lease: it runs schedules, trigger rules, sweeps, webhook dispatch and retention");
    // Everything started here (timers, listeners, the reaper) runs under the fence.
    await runFenced(this.fence, async () => {
      this.reaper = setInterval(() => void this.reap(), REAP_MS);
      await this.lead().catch((err) => this.opts.log.error({ err }, "starting the coordinator's work failed"));
    });
  }

  private stopReaper(): void {
    if (this.reaper) clearInterval(this.reaper);
    this.reaper = null;
  }

  private reaping = false;

  /**
   * Replicas silent for lostAfterMs: their queued runs are adopted, their started runs off their machine re-attached
   * here, the others ended FAILED.
   */
  async reap(): Promise<void> {
    if (this.reaping || this.epoch === null) return;
    this.reaping = true;
    const { lostAfterMs, log } = this.opts;
    try {
      for (const lost of await this.store.replicas.silentSince(this.id, lostAfterMs)) {
        const adopted = await this.store.transaction((tx) => this.store.replicas.adoptQueuedRuns(tx, lost.id, this.id));
        if (adopted.length > 0) {
          log.warn({ lost: lost.id, runs: adopted.length }, 'took over the queued runs of a server replica that was lost');
          // Adopted, they are this replica's runs: their starts and ends are not the lease's work.
          await runUnfenced(() => this.runs.adoptQueued(adopted));
        }
        const active = await this.store.runsInStates(ACTIVE_RUN_STATES, lost.id);
        let ended = 0;
        let taken = 0;
        for (const run of active) {
          // A run off the lost machine (a Slurm job, a container on a shared engine) is re-attached here; one that lived on it cannot be, and ends FAILED.
          if (await this.runs.adoptStarted(run, lost.id)) taken++;
          else if (await this.runs.failLost(run, lost.id, lostAfterMs)) ended++;
        }
        if (taken > 0) log.warn({ lost: lost.id, runs: taken }, 'took over the started runs of a server replica that was lost whose jobs run off its machine (Slurm, a shared container engine)');
        if (ended > 0) log.warn({ lost: lost.id, runs: ended }, 'ended FAILED the runs of a server replica that was lost');
        if (ended + taken === active.length) await this.store.transaction((tx) => this.store.replicas.forget(tx, lost.id, lostAfterMs));
      }
    } catch (err) {
      if (!(err instanceof LeaseLostError)) log.error({ err }, 'reaping lost server replicas failed; tried again in 2 s');
    } finally {
      this.reaping = false;
    }
  }

  /** Stops heartbeating; gives the lease up so another replica takes over at once rather than after LEASE_TTL_MS. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopReaper();
    while (this.ticking || this.reaping) await new Promise((r) => setTimeout(r, 10));
    const epoch = this.epoch;
    this.epoch = null;
    if (epoch !== null) await this.store.replicas.releaseLease(LEASE, this.id, epoch).catch(() => {});
  }

  // ---- RemoteRuns: the owner's internal API (api/routes/replicas.ts)

  async readLogs(owner: string, runId: string, since: number, follow: boolean, signal?: AbortSignal): Promise<Readable> {
    const res = await this.call(owner, 'GET', `/jobRuns/${encodeURIComponent(runId)}/logs?since=${since}&follow=${follow}`, signal);
    return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }

  async stopRun(owner: string, runId: string, reason: 'cancel' | 'timeout'): Promise<void> {
    const res = await this.call(owner, 'POST', `/jobRuns/${encodeURIComponent(runId)}/actions/stop?reason=${reason}`);
    await res.arrayBuffer();
  }

  private async call(owner: string, method: string, route: string, signal?: AbortSignal): Promise<Response> {
    const replica = await this.store.replicas.get(owner);
    if (!replica) {
      throw new DsError('InternalServerError', `the job run is on server replica ${owner}, which is not registered any more (it was lost); its runs end FAILED`);
    }
    const pathAndQuery = `${INTERNAL_BASE}${route}`;
    let res: Response;
    try {
      res = await fetch(`${replica.apiUrl.replace(/\/$/, '')}${pathAndQuery}`, {
        method,
        headers: { [REPLICA_AUTH_HEADER]: signReplicaRequest(this.secret, this.id, method, pathAndQuery) },
        signal,
      });
    } catch (e) {
      throw new DsError('InternalServerError', `the job run is on server replica ${owner} (${replica.apiUrl}), which does not answer: ${(e as Error).message}`);
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => null)) as { code?: ErrorCode; message?: string } | null;
      throw new DsError(body?.code ?? 'InternalServerError', body?.message ?? `server replica ${owner} answered ${res.status}`);
    }
    return res;
  }
}

/** Where a replica's internal routes live (api/routes/replicas.ts); not part of the OCI API, hidden from its document. */
export const INTERNAL_BASE = '/internal/replica';
