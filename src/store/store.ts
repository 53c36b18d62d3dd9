import type { Kysely } from 'kysely';
import type { DatabaseHealth } from './database-health.js';
import { EventOutbox } from './event-outbox.js';
import { type BatchedWriter, type Db, type Tx } from './group-commit.js';
import { FencedGroupCommit } from './fence.js';
import { ReplicaStore } from './replica-store.js';
import { JobStore } from './job-store.js';
import { MetaStore } from './meta-store.js';
import { migrate } from './migrations.js';
import { ProjectStore } from './project-store.js';
import { RetryTokens } from './retry-tokens.js';
import { RunMetricsStore } from './run-metrics-store.js';
import { RunStore } from './run-store.js';
import type { Database } from './schema.js';
import { PostgresConnection, type PostgresOpenOptions } from './postgres-connection.js';
import { SqliteConnection, type SqliteOpenOptions } from './sqlite-connection.js';

// What code outside the store imports from here, wherever it is defined.
export type { EventInput } from './event-outbox.js';
export type { Tx } from './group-commit.js';
export { keysetPage } from './paging.js';
export { isDatabaseUnavailable } from './dialect.js';
export { bindFence, LeaseLostError, runFenced, type Fence } from './fence.js';

/**
 * The store: one database connection, its group commit, and the stores of projects, jobs, runs (with their events
 * and metrics), retry tokens and meta over it. Services and the other stores (automation, webhooks, identity ...)
 * are given this object; its methods are those of the per-resource stores, which hold the SQL. Everything but the
 * connection is written against Kysely: the connection is SQLite's (`openSqlite`) or PostgreSQL's (`openPostgres`).
 */
export class Store {
  readonly db: Kysely<Database>;
  /** OK, or DAMAGED from the first corruption error SQLite answered (what the health endpoint reports). */
  readonly health: DatabaseHealth;
  readonly projects: ProjectStore;
  readonly jobs: JobStore;
  readonly runs: RunStore;
  readonly metrics: RunMetricsStore;
  readonly meta: MetaStore;
  readonly retryTokens: RetryTokens;
  /** Replicas and the coordinator's lease (several servers on one PostgreSQL database). */
  readonly replicas: ReplicaStore;
  private readonly commit: FencedGroupCommit;
  private readonly events: EventOutbox;

  /** Which database this is: list caches that assume one writer hold only for SQLite (list-cache.ts). */
  readonly dialect: 'sqlite' | 'postgres';

  private constructor(private readonly connection: SqliteConnection | PostgresConnection) {
    this.dialect = connection instanceof PostgresConnection ? 'postgres' : 'sqlite';
    this.db = connection.db;
    this.health = connection.health;
    this.commit = new FencedGroupCommit(connection);
    this.events = new EventOutbox(this.commit);
    this.projects = new ProjectStore(this.db);
    this.jobs = new JobStore(this.db);
    this.runs = new RunStore(this.db, this.commit, this.events);
    this.metrics = new RunMetricsStore(this.db, this.commit);
    this.meta = new MetaStore(this.db);
    this.retryTokens = new RetryTokens(this.commit);
    this.replicas = new ReplicaStore(this.db);
  }

  /** Opens (and checks, and migrates) the SQLite database `file`: see `SqliteConnection.open`. */
  static async openSqlite(file: string, opts: SqliteOpenOptions = {}): Promise<Store> {
    return new Store(await SqliteConnection.open(file, opts, migrate));
  }

  /**
   * Opens the PostgreSQL database at `url` (postgres://user:password@host:port/database) and migrates it (once, when
   * several servers start together): see `PostgresConnection.open`.
   */
  static async openPostgres(url: string, opts: PostgresOpenOptions = {}): Promise<Store> {
    return new Store(await PostgresConnection.open(url, opts, migrate));
  }

  /**
   * Resolves when the database answers within `timeoutMs` (GET /readyz). SQLite is a file this process holds open:
   * it answers whenever its health is OK.
   */
  async ping(timeoutMs: number): Promise<void> {
    if (this.connection instanceof PostgresConnection) await this.connection.ping(timeoutMs);
  }

  async close(): Promise<void> {
    // Transactions already asked for still get their batch (and their callers an answer) before the database closes.
    await this.commit.drain();
    await this.connection.close();
  }

  /** Runs `fn` in a transaction, grouped with the others asked for in the same turn: see `GroupCommit.transaction`. */
  transaction<T>(fn: (tx: Tx) => Promise<T>, opts: { tx?: Db } = {}): Promise<T> {
    return this.commit.transaction(fn, opts);
  }

  /** Transactions on their way, that a batch about to start waits for: see `GroupCommit.waitForArrivals`. */
  waitForArrivals(due: () => Promise<void> | null): void {
    this.commit.waitForArrivals(due);
  }

  /** Writes `row` at the end of the running batch where the database batches writes: see `GroupCommit.deferWrite`. */
  deferWrite<R>(tx: Db, writer: BatchedWriter<R>, row: R): boolean {
    return this.commit.deferWrite(tx, writer, row);
  }

  /** Called after a transaction that wrote events has committed: see `EventOutbox.onEventsCommitted`. */
  get onEventsCommitted(): (() => void) | null {
    return this.events.onEventsCommitted;
  }
  set onEventsCommitted(f: (() => void) | null) {
    this.events.onEventsCommitted = f;
  }

  // The per-resource stores' methods under the names the services use.
  insertEvent(...a: Parameters<EventOutbox['insert']>) { return this.events.insert(...a); }
  getMeta(...a: Parameters<MetaStore['get']>) { return this.meta.get(...a); }
  setMetaIfAbsent(...a: Parameters<MetaStore['setIfAbsent']>) { return this.meta.setIfAbsent(...a); }
  idempotent(...a: Parameters<RetryTokens['idempotent']>) { return this.retryTokens.idempotent(...a); }
  deleteExpiredRetryTokens(...a: Parameters<RetryTokens['deleteExpired']>) { return this.retryTokens.deleteExpired(...a); }

  insertProject(...a: Parameters<ProjectStore['insert']>) { return this.projects.insert(...a); }
  getProject(...a: Parameters<ProjectStore['get']>) { return this.projects.get(...a); }
  listProjects(...a: Parameters<ProjectStore['list']>) { return this.projects.list(...a); }
  updateProject(...a: Parameters<ProjectStore['update']>) { return this.projects.update(...a); }
  countJobsInProject(...a: Parameters<ProjectStore['countJobs']>) { return this.projects.countJobs(...a); }

  insertJob(...a: Parameters<JobStore['insert']>) { return this.jobs.insert(...a); }
  getJob(...a: Parameters<JobStore['get']>) { return this.jobs.get(...a); }
  listJobs(...a: Parameters<JobStore['list']>) { return this.jobs.list(...a); }
  updateJob(...a: Parameters<JobStore['update']>) { return this.jobs.update(...a); }

  insertRun(...a: Parameters<RunStore['insert']>) { return this.runs.insert(...a); }
  getRun(...a: Parameters<RunStore['get']>) { return this.runs.get(...a); }
  listRuns(...a: Parameters<RunStore['list']>) { return this.runs.list(...a); }
  transitionRun(...a: Parameters<RunStore['transition']>) { return this.runs.transition(...a); }
  countChainRuns(...a: Parameters<RunStore['countChain']>) { return this.runs.countChain(...a); }
  countRunsByState() { return this.runs.countByState(); }
  runsInStates(...a: Parameters<RunStore['inStates']>) { return this.runs.inStates(...a); }
  deletedRunIds(...a: Parameters<RunStore['deletedIds']>) { return this.runs.deletedIds(...a); }
  finishedRunsBefore(...a: Parameters<RunStore['finishedBefore']>) { return this.runs.finishedBefore(...a); }
  runIdsOfJob(...a: Parameters<RunStore['idsOfJob']>) { return this.runs.idsOfJob(...a); }

  insertMetrics(...a: Parameters<RunMetricsStore['insert']>) { return this.metrics.insert(...a); }
  listMetrics(...a: Parameters<RunMetricsStore['list']>) { return this.metrics.list(...a); }
  deleteMetrics(...a: Parameters<RunMetricsStore['delete']>) { return this.metrics.delete(...a); }
}
