import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { DatabaseHealth } from './database-health.js';
import type { CommitConnection, StatementHook, Tx } from './group-commit.js';
import type { Database } from './schema.js';

export interface PostgresOpenOptions {
  /** Pooled connections (default 10): the group commit's batch holds one, reads take the others. */
  maxConnections?: number;
  /** An idle pooled connection broke (PostgreSQL restarted, the network dropped it): the pool has let it go. */
  onConnectionError?: (err: Error) => void;
}

/** int8 (bigint, bigserial, count(*)) and numeric (sum()) come back as JS numbers: ms times and counts stay far below 2^53. */
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID || oid === NUMERIC_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'),
};

/** PostgreSQL could not be reached or refused the server at start: the message names the URL (no password) and why. */
export class DatabaseOpenError extends Error {
  override name = 'DatabaseOpenError';
}

/**
 * The URL without its password, for messages and the health endpoint. A URL with no host before the path
 * (`postgres://user@/db?host=/var/run/postgresql`, a Unix socket) is not a WHATWG URL, but `pg` takes it: its password
 * is cut out by hand.
 */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    const m = /^(postgres(?:ql)?:\/\/)(?:([^:@/]*)(?::[^@/]*)?@)?(\/.*)$/.exec(url);
    if (!m) return 'postgres://(unparsable URL)';
    const password = /^postgres(?:ql)?:\/\/[^:@/]*:[^@/]*@/.test(url);
    return `${m[1]}${m[2] !== undefined ? `${m[2]}${password ? ':***' : ''}@` : ''}${m[3]}`;
  }
}

/**
 * A PostgreSQL database behind a store: kysely's PostgresDialect over a `pg` pool. The other implementation of
 * `CommitConnection` beside sqlite-connection.ts.
 *
 * Transactions still go through group commit (group-commit.ts): measured here, one `BEGIN ... COMMIT` per create
 * reached about a third of the rate of batches that share a COMMIT (each COMMIT waits for its WAL flush). Every
 * batch takes one transaction-scoped advisory lock right after BEGIN: writing transactions of all servers sharing
 * the database then commit one after the other, so the events' `seq` (a sequence, drawn at insert) becomes visible
 * in increasing order, and a reader that follows `seq > cursor` never skips an event that commits late. Reads and
 * statements outside `transaction()` use the other pooled connections in parallel. The lock is held for the batch's
 * round trips, one after the other; so a batch sends few: its callbacks' savepoints only where they send statements
 * of their own (`lazySavepoints`), the rows they add in one statement at the end (`batchesWrites`, `combinesWrites`).
 *
 * A broken connection (PostgreSQL restarted) fails the statements on it; the pool drops it and opens a new one for
 * the next statement, so the server goes on once the database is back.
 */
export class PostgresConnection implements CommitConnection {
  readonly db: Kysely<Database>;
  /** Always OK: corruption is PostgreSQL's to report; whether it answers is `ping()` (GET /readyz). */
  readonly health: DatabaseHealth;

  /** Runs and events are written at the end of their batch, one statement per table (GroupCommit.deferWrite). */
  readonly batchesWrites = true;

  /** A batch's runs and events go as one statement (GroupCommit.writeDeferred). */
  readonly combinesWrites = true;

  /**
   * The next batch opens its transaction while the last one commits, on a second connection (GroupCommit): its
   * BEGIN's lock request waits in PostgreSQL and is granted when that COMMIT ends, which keeps the order.
   */
  readonly overlapsBatches = true;

  /** Group commit's batches run on connections of this pool whose statements await the hook first (see `hooked`). */
  readonly lazySavepoints: StatementHook;
  /**
   * The connection of the batch last started, as `pg` has it: where `control` sends from the hook, and the one whose
   * statements the hook applies to (the batch before it may still be sending its COMMIT on its own).
   */
  private batchClient: pg.PoolClient | null = null;

  private constructor(
    pool: pg.Pool,
    readonly url: string,
  ) {
    this.health = new DatabaseHealth(redactedUrl(url));
    this.db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const hook: StatementHook = { db: null as unknown as Kysely<Database>, beforeStatement: null, opening: false };
    const clients = new WeakMap<pg.PoolClient, pg.PoolClient>();
    const batchPool = {
      connect: async () => {
        const client = await pool.connect();
        let h = clients.get(client);
        if (!h) {
          const released = () => {
            if (this.batchClient === client) this.batchClient = null;
          };
          clients.set(client, (h = hooked(client, hook, () => this.batchClient === client, released)));
        }
        this.batchClient = client;
        return h;
      },
      // The pool is `db`'s: closing `db` ends it.
      end: async () => {},
    };
    (hook as { db: Kysely<Database> }).db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: batchPool }) });
    this.lazySavepoints = hook;
  }

  /** Connects (the first statement fails fast when nothing answers at `url`) and runs `prepare` (the migrations). */
  static async open(url: string, opts: PostgresOpenOptions, prepare: (db: Kysely<Database>) => Promise<void>): Promise<PostgresConnection> {
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.maxConnections ?? 10,
      types,
      connectionTimeoutMillis: 10_000,
      // Without a listener, an idle connection that breaks is an uncaught 'error' that ends the process.
    });
    pool.on('error', (err) => opts.onConnectionError?.(err));
    // A connection that breaks while checked out but between statements (a batch waiting for the last one's answer,
    // PostgreSQL restarting) is an 'error' event `pg` emits with no query to fail, and the pool listens only to idle
    // ones: uncaught, it would end the process. Its next statement fails instead, and the pool drops it on release.
    pool.on('connect', (client) => client.on('error', () => {}));
    const connection = new PostgresConnection(pool, url);
    try {
      await prepare(connection.db);
      return connection;
    } catch (e) {
      await connection.close().catch(() => {});
      throw new DatabaseOpenError(`the database ${redactedUrl(url)} could not be opened: ${(e as Error).message}`);
    }
  }

  /**
   * The statements go as one simple query, one round trip (PostgreSQL runs them in order and skips the rest after
   * one fails); BEGIN comes with the advisory lock of the writers (above).
   */
  async control(statements: readonly string[], tx: Tx): Promise<void> {
    const text = statements.map((s) => (s === 'BEGIN' ? `BEGIN; SELECT pg_advisory_xact_lock(${WRITERS_LOCK})` : s)).join('; ');
    // From the statement hook: straight to the batch's connection, past Kysely (which runs one query at a time on it,
    // and the statement that called the hook holds that turn). `pg` sends queries in the order it was given them.
    if (this.lazySavepoints.opening && this.batchClient) await this.batchClient.query(text);
    else await tx.executeQuery(CompiledQuery.raw(text, []));
  }

  /** PostgreSQL never ends a transaction by itself: after an error it stays open (aborted) until ROLLBACK [TO]. */
  inTransaction(): boolean {
    return true;
  }

  /** Resolves when the database answers a query within `timeoutMs`; rejects with why not. */
  async ping(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([sql`select 1`.execute(this.db), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/**
 * `client` whose queries first await `hook.beforeStatement` while it is set and `client` is the running batch's
 * (`current`): how group commit opens a callback's savepoint only once the callback sends a statement. Only queries
 * with text go through it (batches stream nothing). `released` is called when the batch gives the connection back.
 */
function hooked(client: pg.PoolClient, hook: StatementHook, current: () => boolean, released: () => void): pg.PoolClient {
  const query = (...args: unknown[]): unknown => {
    const before = current() ? hook.beforeStatement : null;
    const run = () => (client.query as (...a: unknown[]) => unknown)(...args);
    return before && typeof args[0] === 'string' ? before().then(run) : run();
  };
  const release = (...args: unknown[]) => {
    released();
    return (client.release as (...a: unknown[]) => unknown)(...args);
  };
  return new Proxy(client, {
    get: (target, key) => (key === 'query' ? query : key === 'release' ? release : Reflect.get(target, key)),
  });
}

/** The advisory lock every writing batch holds until its COMMIT (see the class comment); "dsjobs-w" in ASCII. */
const WRITERS_LOCK = 0x64736a6f62735f77n;
