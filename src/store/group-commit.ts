import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/** What a store method reads and writes through: the database, or the `tx` of a running transaction. */
export type Db = Kysely<Database> | Transaction<Database>;
/** What a transaction callback gets: the database bound to the connection of the running transaction. */
export type Tx = Kysely<Database>;

/**
 * What group commit needs of a connection beyond Kysely. The SQLite one is sqlite-connection.ts; PostgreSQL's
 * (postgres-connection.ts) sends `control` as a query on `tx` and answers `inTransaction` with true: PostgreSQL keeps
 * a transaction open after an error (aborted until ROLLBACK or ROLLBACK TO), it never ends one by itself.
 */
export interface CommitConnection {
  readonly db: Kysely<Database>;
  /**
   * Runs transaction-control statements, in order, on the connection the batch holds (`tx`), stopping at the first
   * that fails (its error is thrown): BEGIN, SAVEPOINT name, RELEASE name, ROLLBACK TO name, ROLLBACK, COMMIT, all
   * of which SQLite and PostgreSQL spell the same way. PostgreSQL's sends them as one query (one round trip). Plain
   * BEGIN (SQLite's deferred kind): this server is the database's only writer; `BEGIN IMMEDIATE`, which SQLite would
   * need against writers in other processes, does not exist in PostgreSQL.
   */
  control(statements: readonly string[], tx: Tx): void | Promise<void>;
  /** Whether the connection is still inside the batch's transaction after an error. */
  inTransaction(): boolean;
  /**
   * Whether rows written through `deferWrite` wait for the end of their batch and go in one statement per table
   * (PostgreSQL's, where each statement is a round trip every batch-mate waits through). SQLite's writes them at once:
   * its statements cost microseconds, in process.
   */
  readonly batchesWrites?: boolean;
  /**
   * PostgreSQL's: the database whose connection a batch holds, and the hook every statement on that connection awaits
   * first while it is set. Group commit sets it while a callback runs, to open the callback's savepoint just before its
   * first statement: a callback that writes only deferred rows (a create: its run and its event) then costs no
   * round trip of its own, where SAVEPOINT and RELEASE were two. Without it, every callback gets its savepoint first.
   */
  readonly lazySavepoints?: StatementHook;
  /**
   * PostgreSQL's: the deferred INSERTs of several tables go as one statement, each but the last in a WITH
   * (`with w1 as (insert ...) insert ...`), one round trip where each was one: a batch of creates writes its runs and
   * its events together.
   */
  readonly combinesWrites?: boolean;
  /**
   * PostgreSQL's: the next batch may start while the last one is in its COMMIT (see `GroupCommit`, "two batches"):
   * on a connection of its own it sends BEGIN (with the writers' lock, which PostgreSQL grants it only once the last
   * batch has ended) at once, instead of waiting for the COMMIT's answer and then sending it.
   */
  readonly overlapsBatches?: boolean;
}

/** See `CommitConnection.lazySavepoints`. `control` statements never wait for the hook: they are what it sends. */
export interface StatementHook {
  readonly db: Kysely<Database>;
  beforeStatement: (() => Promise<void>) | null;
  /**
   * True while group commit opens a savepoint (from the hook, or before a nested one): `control` then sends straight
   * to the connection, since the statement that called the hook holds Kysely's turn on it. Otherwise `control` goes
   * through Kysely's turn, after any statement a failed callback left running.
   */
  opening: boolean;
}

/** Writes rows of one table, deferred to the end of a batch (`GroupCommit.deferWrite`), in one go. */
export interface BatchedWriter<R> {
  writeMany(tx: Tx, rows: R[]): Promise<void>;
  /**
   * The statement `writeMany` would send, its parameters numbered from `first` (`$first`, ...), or null: what lets
   * the batch send the rows of several writers as one statement (see `CommitConnection.combinesWrites`).
   */
  statement?(tx: Tx, rows: R[], first: number): { sql: string; parameters: unknown[] } | null;
}

interface QueuedTransaction {
  fn: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}
/** A row deferred to the end of its batch, with the index in the batch of the callback that wrote it. */
interface Deferred {
  writer: BatchedWriter<unknown>;
  row: unknown;
  owner: number;
}
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
/** A batch's transactions (taken from the queue once it may run them), their outcomes, and its wake-ups. */
interface Batch {
  items: QueuedTransaction[];
  outcomes: (Outcome | undefined)[];
  /** The `afterNextCommit` functions it took when it sent its COMMIT: run once that COMMIT succeeded. */
  due: (() => void)[];
  /** It got its connection (`executeBatch` ran): from then on, it takes its transactions and ends its work itself. */
  connected: boolean;
}
const settle = (t: QueuedTransaction, o: Outcome) => (o.ok ? t.resolve(o.value) : t.reject(o.error));

/**
 * At most this many transactions share one commit: the batch holds the database for its whole length, and every
 * caller waits for the last callback of its batch.
 */
const MAX_BATCH = 256;

/**
 * Transactions with group commit, written against Kysely: transactions asked for while the event loop is busy (the
 * requests read in one poll phase, say) are grouped: one BEGIN ... COMMIT for all of them, each inside its own
 * SAVEPOINT. A COMMIT writes the WAL and was a third of the server's CPU per create; with 32 clients one commit now
 * carries tens of creates.
 *
 * Made for SQLite, where one synchronous connection serializes every write anyway. PostgreSQL uses it too (the batch
 * holds one pooled connection): writes must commit one after the other there as well, for the events' `seq` to
 * become visible in order (postgres-connection.ts), and one COMMIT per batch amortizes its WAL flush; the cost is
 * that each callback's statements are round trips its batch-mates wait through. There the rows a callback only adds
 * (runs, events, audit events) wait for the end of the batch and go in one statement (`deferWrite`), and a callback
 * gets its savepoint only once it sends a statement of its own: a batch of creates is three round trips, BEGIN, the
 * rows, COMMIT (docs/benchmarks.md, benchmark 11).
 *
 * Two batches (PostgreSQL, `overlapsBatches`): once a batch has sent its COMMIT, the next one starts on a second
 * pooled connection and sends `BEGIN` with the writers' lock at once, so that its lock request already waits in
 * PostgreSQL while the COMMIT's WAL flush runs, and is granted the moment it ends: the BEGIN's round trip is no longer
 * one the batches wait for one after the other (~2 of ~9 ms a batch, measured). Its callbacks still run only after the
 * last batch's callers have been answered, and it takes its transactions from the queue then (everything queued
 * until then): callbacks see the state the last batch left, on the database (the lock) and in this process, as when
 * one batch followed the other. At most two batches are in flight: one committing, one opening or running callbacks.
 */
export class GroupCommit {
  private queue: QueuedTransaction[] = [];
  private batchScheduled = false;
  /** Batches started and not yet answered (at most two, see the class comment). */
  private inFlight = 0;
  /** A batch is opening or running its callbacks: the per-batch fields below are its own. */
  private working = false;
  /** Resolves once the batch last started has answered its callers (what the next one's callbacks wait for). */
  private lastAnswered: Promise<void> = Promise.resolve();
  private savepointDepth = 0;
  /** The connection-bound database of the batch being executed (what its callbacks get as `tx`). */
  private batchTx: Tx | null = null;
  /** Called once after the next batch that commits (see `afterNextCommit`). */
  private readonly afterCommit = new Set<() => void>();
  /** The batch's deferred rows, in the order they were written, each with its callback's index (see `deferWrite`). */
  private deferred: Deferred[] = [];
  /** The index in its batch of the callback running now (what its deferred rows are marked with). */
  private running = -1;
  /** Opens the running callback's savepoint, once (lazy savepoints: before its first statement or nested savepoint). */
  private openSavepoint: (() => Promise<void>) | null = null;

  /** See `waitForArrivals`. */
  private arrivals: (() => Promise<void> | null) | null = null;

  constructor(private readonly connection: CommitConnection) {}

  /**
   * `due()` gives a promise when transactions are on their way that would otherwise make a batch of their own one
   * turn later (requests whose signatures are out being verified, server.ts), else null. A batch about to start waits
   * for it once, then takes what is queued. Without it, a request verified alone commits alone, and its client's
   * next request does too: the creates split into a small batch and a large one for as long as the load lasts, and
   * each batch costs its BEGIN, COMMIT and WAL pages (benchmark 3a: with 32 clients, 2 in 5 batches held one create).
   */
  waitForArrivals(due: () => Promise<void> | null): void {
    this.arrivals = due;
  }

  /**
   * Runs `fn` in a transaction and resolves once it has committed. A callback that throws rolls back its own work
   * only and its caller gets its error; the others of its batch go on. Every caller is answered after the shared
   * COMMIT (when it fails, every caller gets that error), so a resolved transaction is as durable as one of its own.
   *
   * The callback must use `tx` (the batch's connection) for everything it reads and writes: a statement on the
   * store's `db`, or a `transaction()` without `{ tx }`, from inside a callback waits for the connection the batch
   * holds, forever (as it did with Kysely's own transactions). To nest, pass the callback's `tx`: the inner
   * function then runs in a savepoint of the same transaction, at once.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, opts: { tx?: Db } = {}): Promise<T> {
    if (opts.tx) return this.nested(opts.tx as Tx, fn);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.scheduleBatch();
    });
  }

  /**
   * `f` runs once, after the next batch that commits (never before: a reader it wakes must find the rows); a batch
   * that rolls back leaves it for the next one. The event outbox wakes the event readers this way.
   */
  afterNextCommit(f: () => void): void {
    this.afterCommit.add(f);
  }

  /**
   * Where the connection batches writes (PostgreSQL) and `tx` is the running batch's: the row is written at the end
   * of the batch, before its COMMIT, with the deferred rows of the other callbacks in one statement per writer, each
   * writer's rows in the order they were given; true. A callback (or nested transaction) that fails has its rows
   * dropped with the rest of its work. The row is not there to read before then. Otherwise false: the caller writes
   * it at once.
   */
  deferWrite<R>(tx: Db, writer: BatchedWriter<R>, row: R): boolean {
    if (!this.connection.batchesWrites || tx !== this.batchTx) return false;
    this.deferred.push({ writer: writer as BatchedWriter<unknown>, row, owner: this.running });
    return true;
  }

  /**
   * The rows of `writer` deferred so far in the running batch (`tx` its), by the callbacks before this one that did
   * not fail and by this one: what a count inside the transaction must add to what the table holds.
   */
  deferredRows<R>(tx: Db, writer: BatchedWriter<R>): R[] {
    if (tx !== this.batchTx) return [];
    return this.deferred.filter((d) => d.writer === writer).map((d) => d.row as R);
  }

  /** Resolves once the transactions already asked for have had their batch (and their callers an answer). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.batchScheduled || this.inFlight > 0) await new Promise((r) => setImmediate(r));
  }

  private scheduleBatch(): void {
    if (this.batchScheduled || this.working || this.queue.length === 0) return;
    if (this.inFlight > 0 && !this.connection.overlapsBatches) return;
    this.batchScheduled = true;
    // setImmediate runs after the poll phase: every request read in this loop turn has queued its transaction by
    // then. A microtask would commit each request alone (better-sqlite3 is synchronous, so nothing else interleaves).
    setImmediate(this.startBatch);
  }

  /** Runs the batch, once what `waitForArrivals` says is on its way has come (one wait: the next turn runs it). */
  private readonly startBatch = (): void => {
    const due = this.arrivals?.();
    if (!due) return this.runBatch();
    const run = () => setImmediate(this.runBatch);
    due.then(run, run);
  };

  private readonly runBatch = (): void => {
    this.batchScheduled = false;
    this.working = true;
    this.inFlight++;
    // A batch still in flight is committing: open this one's transaction now (see the class comment).
    const early = this.inFlight > 1;
    const previous = this.lastAnswered;
    let answered!: () => void;
    this.lastAnswered = new Promise<void>((r) => (answered = r));
    const b: Batch = { items: [], outcomes: [], due: [], connected: false };
    (this.connection.lazySavepoints?.db ?? this.connection.db)
      .connection()
      .execute((tx) => this.executeBatch(tx, b, previous, early))
      .then(
        () => {
          for (const f of b.due) {
            try {
              f();
            } catch {
              /* a failed wake-up is a missed one: readers re-check on a timer; the callers' data is committed */
            }
          }
          for (let i = 0; i < b.items.length; i++) settle(b.items[i], b.outcomes[i]!);
        },
        (error: unknown) => {
          // No connection (the database is down): the transactions it would have run fail with why, as they did when
          // a batch took them before asking for one; the next batch asks again.
          if (!b.connected) b.items = this.queue.splice(0, MAX_BATCH);
          // Nothing of the batch committed: its wake-ups wait for the next commit. A callback that failed on its own
          // keeps its own (more telling) error.
          for (const f of b.due) this.afterCommit.add(f);
          for (let i = 0; i < b.items.length; i++) {
            const o = b.outcomes[i];
            if (o && !o.ok) b.items[i].reject(o.error);
            else b.items[i].reject(error);
          }
        },
      )
      .finally(() => {
        if (!b.connected) this.working = false;
        this.inFlight--;
        answered();
        this.scheduleBatch();
      });
  };

  /**
   * One batch: its control statements travel together with their neighbours: BEGIN goes with whatever is sent first,
   * a callback's RELEASE with the next SAVEPOINT, the last RELEASE with the COMMIT. Where savepoints are lazy
   * (PostgreSQL), a callback's SAVEPOINT is sent just before its first statement, and a callback that sends none
   * (its rows all deferred) has neither SAVEPOINT nor RELEASE: a batch of creates is then BEGIN, one INSERT per table,
   * COMMIT, four round trips whatever its size. A RELEASE still runs before any later statement: it fails when its
   * callback left a PostgreSQL transaction aborted (an error it caught itself), and then that callback, and only it,
   * is rolled back and failed. The RELEASE is never left out before COMMIT: COMMIT of an aborted transaction rolls it
   * back without an error.
   */
  private async executeBatch(tx: Tx, b: Batch, previous: Promise<void>, early: boolean): Promise<void> {
    b.connected = true;
    const c = this.connection;
    const lazy = c.lazySavepoints;
    /**
     * Opened early (while the last batch commits): BEGIN and the writers' lock sent at once, with the savepoint the
     * batch's deferred rows are written in (one round trip for both, as when BEGIN goes with it below); a callback's
     * first statement of its own releases that savepoint first (`rowsOpen`).
     */
    const opened = early ? Promise.resolve(c.control(['BEGIN', 'SAVEPOINT dsjobs_rows'], tx)).then(() => null, (error: unknown) => ({ error })) : null;
    /** Control statements to send before the next ones (BEGIN, until something is sent). */
    let pending: string[] = early ? [] : ['BEGIN'];
    /** The savepoint `dsjobs_rows` is open, nothing sent after it (an early batch's, see `opened`). */
    let rowsOpen = early;
    // The last batch's callers are answered first; then this batch takes what is queued.
    await previous;
    const batch = (b.items = this.queue.splice(0, MAX_BATCH));
    const outcomes = (b.outcomes = new Array(batch.length));
    let working = true;
    /** The end of this batch's use of the per-batch fields: from its COMMIT on, they are the next batch's. */
    const endWork = () => {
      if (!working) return;
      working = false;
      if (lazy) lazy.beforeStatement = null;
      this.openSavepoint = null;
      this.running = -1;
      this.batchTx = null;
      this.deferred = [];
      this.working = false;
    };
    /** The callback whose RELEASE has not been sent yet (-1: none). */
    let owed = -1;
    /** Which callbacks sent statements of their own (in a savepoint), beside deferring rows. */
    const inSavepoint: boolean[] = new Array(batch.length).fill(false);
    const drop = (i: number) => {
      if (working) this.deferred = this.deferred.filter((d) => d.owner !== i);
    };
    /** Sends `statements` after the RELEASE owed; when that RELEASE fails, fails its callback instead and goes on. */
    const send = async (statements: string[]): Promise<void> => {
      const all = [...(rowsOpen ? ['RELEASE dsjobs_rows'] : []), ...pending, ...statements];
      pending = [];
      rowsOpen = false;
      if (owed < 0) {
        if (all.length > 0) await c.control(all, tx);
        return;
      }
      const i = owed;
      owed = -1;
      try {
        await c.control(['RELEASE dsjobs_tx', ...all], tx);
      } catch (error) {
        if (!c.inTransaction()) throw error;
        // Which statement failed is not told; the savepoint is still there only if the RELEASE failed. If it is
        // gone, a later statement failed (a COMMIT): the batch fails with that error.
        try {
          await c.control(['ROLLBACK TO dsjobs_tx', 'RELEASE dsjobs_tx'], tx);
        } catch {
          throw error;
        }
        outcomes[i] = { ok: false, error };
        // Its deferred rows go with the rest of its work.
        drop(i);
        if (all.length > 0) await c.control(all, tx);
      }
    };
    try {
      const openError = await opened;
      if (openError) throw openError.error;
      this.batchTx = tx;
      for (let i = 0; i < batch.length; i++) {
        this.running = i;
        /** A failure to send the savepoint (or the RELEASE before it) that is the batch's, not this callback's. */
        let fatal: { error: unknown } | null = null;
        let opening: Promise<void> | null = null;
        const open = async () => {
          inSavepoint[i] = true;
          if (lazy) lazy.opening = true;
          try {
            await send(['SAVEPOINT dsjobs_tx']);
          } catch (error) {
            fatal = { error };
            throw error;
          } finally {
            if (lazy) lazy.opening = false;
          }
        };
        // Every statement of the callback waits for the same SAVEPOINT: also statements it sends at once, side by side.
        this.openSavepoint = () => (opening ??= open());
        if (lazy) lazy.beforeStatement = this.openSavepoint;
        else await this.openSavepoint();
        try {
          const value = await batch[i].fn(tx);
          if (fatal) throw (fatal as { error: unknown }).error;
          outcomes[i] = { ok: true, value };
          if (inSavepoint[i]) owed = i;
        } catch (error) {
          if (fatal) throw (fatal as { error: unknown }).error;
          drop(i);
          // SQLite rolls the whole transaction back by itself after some errors (a full disk, an I/O error): then
          // the callbacks before this one lost their work too, and the whole batch fails.
          if (!c.inTransaction()) throw error;
          if (inSavepoint[i]) await c.control(['ROLLBACK TO dsjobs_tx', 'RELEASE dsjobs_tx'], tx);
          outcomes[i] = { ok: false, error };
        } finally {
          this.openSavepoint = null;
          if (lazy) lazy.beforeStatement = null;
        }
      }
      this.running = -1;
      if (this.deferred.length > 0) {
        // The last RELEASE goes first: a callback that left PostgreSQL's transaction aborted still fails by itself
        // (with its rows), not the statements writing everyone's.
        if (rowsOpen) rowsOpen = false;
        else await send(['SAVEPOINT dsjobs_rows']);
        const rows = this.deferred;
        this.deferred = [];
        try {
          await this.writeDeferred(tx, rows);
        } catch (error) {
          await c.control(['ROLLBACK TO dsjobs_rows'], tx);
          await this.writeEachCallbacksRows(tx, rows, inSavepoint, outcomes, error);
        }
        this.commitStarts(b, endWork);
        await send(['RELEASE dsjobs_rows', 'COMMIT']);
      } else if (pending.length > 0) {
        // Nothing was sent (lazy savepoints: every callback failed before a statement, or wrote nothing): no
        // transaction to commit.
        pending = [];
        this.commitStarts(b, endWork);
      } else {
        this.commitStarts(b, endWork);
        await send(['COMMIT']);
      }
    } catch (error) {
      // A failed COMMIT can leave the transaction open (a deferred constraint, a busy database): end it.
      if (c.inTransaction() && pending.length === 0) {
        try {
          await c.control(['ROLLBACK'], tx);
        } catch {
          /* the error that ended the batch is the one its callers need */
        }
      }
      throw error;
    } finally {
      endWork();
    }
  }

  /**
   * The batch `b` is about to send its COMMIT: it takes the wake-ups asked for until now (those of its callbacks;
   * the next batch's callbacks have not run yet), and lets the next batch start (`endWork`).
   */
  private commitStarts(b: Batch, endWork: () => void): void {
    b.due = [...this.afterCommit];
    this.afterCommit.clear();
    endWork();
    this.scheduleBatch();
  }

  /**
   * After the statement writing the batch's rows failed (a row breaking a constraint, say): each callback's rows
   * again, in a savepoint of their own, so that a callback whose rows fail fails alone (its rows were all it wrote:
   * nothing else of it to undo). A callback that also sent statements of its own cannot be undone apart from them
   * once released: when its rows fail, the batch fails, `error` to every caller, as when a COMMIT fails.
   */
  private async writeEachCallbacksRows(tx: Tx, rows: Deferred[], inSavepoint: boolean[], outcomes: (Outcome | undefined)[], error: unknown): Promise<void> {
    const c = this.connection;
    for (let i = 0; i < rows.length; ) {
      const owner = rows[i].owner;
      let j = i;
      while (j < rows.length && rows[j].owner === owner) j++;
      const own = rows.slice(i, j);
      i = j;
      if (inSavepoint[owner]) {
        await this.writeDeferred(tx, own).catch(() => Promise.reject(error));
        continue;
      }
      await c.control(['SAVEPOINT dsjobs_tx'], tx);
      try {
        await this.writeDeferred(tx, own);
        await c.control(['RELEASE dsjobs_tx'], tx);
      } catch (rowError) {
        await c.control(['ROLLBACK TO dsjobs_tx', 'RELEASE dsjobs_tx'], tx);
        outcomes[owner] = { ok: false, error: rowError };
      }
    }
  }

  /**
   * Writes `rows` with one statement per writer (table), the writers in the order they first come, each one's rows
   * in the order given: a batch of creates writes its runs, then its events, not run, event, run, event...
   */
  private async writeDeferred(tx: Tx, rows: Deferred[]): Promise<void> {
    const byWriter = new Map<BatchedWriter<unknown>, unknown[]>();
    for (const r of rows) {
      const list = byWriter.get(r.writer);
      if (list) list.push(r.row);
      else byWriter.set(r.writer, [r.row]);
    }
    if (this.connection.combinesWrites && byWriter.size > 1 && (await this.writeCombined(tx, byWriter))) return;
    for (const [writer, list] of byWriter) await writer.writeMany(tx, list);
  }

  /** The writers' rows as one statement (see `CommitConnection.combinesWrites`); false where one cannot say it. */
  private async writeCombined(tx: Tx, byWriter: Map<BatchedWriter<unknown>, unknown[]>): Promise<boolean> {
    const parts: string[] = [];
    const parameters: unknown[] = [];
    for (const [writer, list] of byWriter) {
      const s = writer.statement?.(tx, list, parameters.length + 1);
      if (!s) return false;
      parts.push(s.sql);
      parameters.push(...s.parameters);
    }
    const last = parts.pop()!;
    const text = `with ${parts.map((p, i) => `dsjobs_w${i} as (${p})`).join(', ')} ${last}`;
    await tx.executeQuery(CompiledQuery.raw(text, parameters));
    return true;
  }

  private async nested<T>(tx: Tx, fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (tx !== this.batchTx) throw new Error('transaction({ tx }): tx must be the tx of the transaction callback that is running');
    const c = this.connection;
    // Control statements skip the statement hook, and the callback's own savepoint must come first.
    await this.openSavepoint?.();
    const name = `dsjobs_nested_${++this.savepointDepth}`;
    await c.control([`SAVEPOINT ${name}`], tx);
    const mark = this.deferred.length;
    try {
      const value = await fn(tx);
      await c.control([`RELEASE ${name}`], tx);
      return value;
    } catch (error) {
      this.deferred.length = mark;
      if (c.inTransaction()) await c.control([`ROLLBACK TO ${name}`, `RELEASE ${name}`], tx);
      throw error;
    } finally {
      this.savepointDepth--;
    }
  }
}
