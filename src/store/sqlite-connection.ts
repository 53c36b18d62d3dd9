import { Kysely, SqliteDialect } from 'kysely';
import SQLite from 'better-sqlite3';
import { DatabaseHealth, DatabaseIntegrityError, isCorruption, quickCheckInThread, recoveryAdvice } from './database-health.js';
import type { CommitConnection } from './group-commit.js';
import type { Database } from './schema.js';

/** The part of a prepared statement that Kysely's SQLite driver and `control()` use. */
interface Statement {
  reader: boolean;
  all(params?: unknown): unknown[];
  run(params?: unknown): SQLite.RunResult;
  iterate(params?: unknown): IterableIterator<unknown>;
}

export interface SqliteOpenOptions {
  /** How long the start waits for the integrity check (default 30 s); past that it goes on and the check ends later. */
  integrityWaitMs?: number;
  /** The check did not end within `integrityWaitMs`. */
  onCheckPending?: () => void;
  /** The check that went on past the start found damage (the store is then DAMAGED). */
  onLateDamage?: (found: string) => void;
}

/**
 * The SQLite database file behind a store: opening it (pragmas, integrity check), Kysely's SQLite dialect over one
 * better-sqlite3 connection with a statement cache, the health record every error passes by, and closing. Everything
 * SQLite-specific about the connection lives here; postgres-connection.ts is the other implementation of
 * `CommitConnection`.
 */
export class SqliteConnection implements CommitConnection {
  readonly db: Kysely<Database>;
  /** OK, or DAMAGED from the first corruption error SQLite answered (what the health endpoint reports). */
  readonly health: DatabaseHealth;
  private readonly statement: (sql: string) => Statement;

  private constructor(
    private readonly raw: SQLite.Database,
    health: DatabaseHealth,
  ) {
    this.health = health;
    const database = cachingDatabase(raw, health);
    this.statement = database.prepare;
    this.db = new Kysely<Database>({ dialect: new SqliteDialect({ database: database as never }) });
  }

  /**
   * Opens the database, checks it (quick_check) before anything is written, then runs `prepare` (the migrations) on
   * it: a damaged file is refused with a DatabaseIntegrityError saying what was found and how to recover, instead of
   * a server that reports healthy and then answers 500 "database disk image is malformed", or a raw stack. The
   * check's time grows with the file (about 1.7 s per GB, docs/configuration.md): the start waits for it at most
   * `integrityWaitMs`; past that it goes on and a check that ends finding damage marks the health DAMAGED (and calls
   * `onLateDamage`).
   */
  static async open(file: string, opts: SqliteOpenOptions, prepare: (db: Kysely<Database>) => Promise<void>): Promise<SqliteConnection> {
    const health = new DatabaseHealth(file);
    const refuse = (found: string) =>
      new DatabaseIntegrityError(`the database ${file} is damaged (${found}); the server will not start on it: ${recoveryAdvice(file)}`);
    let raw: SQLite.Database | null = null;
    try {
      raw = new SQLite(file);
      // WAL + synchronous=NORMAL: a committed transaction survives the process being killed (SIGKILL) at any
      // moment; only an OS crash or power loss can drop the last transactions.
      raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = NORMAL');
      raw.pragma('busy_timeout = 5000');
      raw.pragma('foreign_keys = ON');
      const found = await quickCheckInThread(file, opts.integrityWaitMs ?? 30_000, (problems) => {
        if (problems.length === 0) return;
        health.damaged(problems.join('; '));
        opts.onLateDamage?.(problems.join('; '));
      });
      if (found === 'pending') opts.onCheckPending?.();
      else if (found.length > 0) throw refuse(found.join('; '));
      const connection = new SqliteConnection(raw, health);
      await prepare(connection.db);
      return connection;
    } catch (e) {
      if (raw?.open) raw.close();
      if (isCorruption(e)) throw refuse((e as Error).message);
      throw e;
    }
  }

  /**
   * Transaction control straight on better-sqlite3's cached statements, synchronously: ~0.3-0.6 us a statement
   * against ~1.7-2.7 us through Kysely's executeQuery (20,000 SAVEPOINT/RELEASE pairs on a 2-core dev machine), and
   * a create runs two of them (its SAVEPOINT and RELEASE). Safe because the batch holds the only connection (Kysely's connection()): nothing interleaves.
   */
  control(statements: readonly string[]): void {
    for (const s of statements) this.statement(s).run();
  }

  /** False after SQLite ended the transaction by itself (a full disk, an I/O error roll the whole of it back). */
  inTransaction(): boolean {
    return this.raw.inTransaction;
  }

  close(): Promise<void> {
    return this.db.destroy();
  }
}

/**
 * Kysely's SQLite driver prepares every statement anew; preparing was 11-19% of the server's CPU per run and per
 * create in the benchmarks. The query shapes are few, so prepared statements are cached by their SQL.
 */
function cachingDatabase(raw: SQLite.Database, health: DatabaseHealth) {
  const cache = new Map<string, Statement>();
  const observed = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      health.observe(e);
      throw e;
    }
  };
  return {
    close: () => raw.close(),
    prepare: (sql: string): Statement => {
      let stmt = cache.get(sql);
      if (!stmt) {
        const s = observed(() => raw.prepare(sql));
        // What Kysely's SQLite driver and control() call; every error passes by the health record on its way out.
        stmt = {
          reader: s.reader,
          all: (p?: unknown) => observed(() => s.all(p ?? [])),
          run: (p?: unknown) => observed(() => s.run(p ?? [])),
          iterate: (p?: unknown) => observed(() => s.iterate(p ?? [])),
        };
        // Statements with IN-lists of varying length make new shapes; keep the cache bounded.
        if (cache.size < 2000) cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}
