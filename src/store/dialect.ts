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

// Kept with the errors (domain/errors.ts) so that the API's error handler answers it with a 503.
export { isDatabaseUnavailable } from '../domain/errors.js';
