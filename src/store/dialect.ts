import { type Kysely, PostgresAdapter } from 'kysely';

/**
 * Whether `db` (the store's database or a transaction's `tx`) speaks PostgreSQL. The few statements the two
 * dialects spell differently (JSON functions, the migrations' auto-numbered keys) ask this; everything else is
 * Kysely's, compiled for either.
 */
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** A unique constraint refused the row: SQLite's code, or PostgreSQL's SQLSTATE 23505 (unique_violation). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

/** SQLSTATE classes and codes that mean "the server is not there now": connection exceptions, shutdowns, starting up. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

/**
 * The database could not be reached (PostgreSQL restarting, the network between): the statement did not run, or
 * its transaction rolled back, and the same work can be tried again once it answers. Never true of SQLite, a file.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code))) return true;
  const message = err instanceof Error ? err.message : '';
  // pg's own words for a connection that ended under a query, or a pool that could not get one in time.
  return /Connection terminated|not queryable|timeout exceeded when trying to connect/.test(message);
}
