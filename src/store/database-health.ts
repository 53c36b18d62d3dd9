import type SQLite from 'better-sqlite3';

/** The database is damaged: the server refuses to start on it (the message says what was found and what to do). */
export class DatabaseIntegrityError extends Error {
  override name = 'DatabaseIntegrityError';
}

/** SQLite's answers that mean the file itself is damaged (not a busy lock or a full disk). */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** What to do about a damaged database: said at start and by the health endpoint. See docs/configuration.md. */
export function recoveryAdvice(file: string): string {
  return (
    `stop the server and restore the last backup with \`dsjobs admin restore <backup file> --data-dir ${file.replace(/\/[^/]*$/, '')}\` ` +
    '(it keeps the damaged file beside it); see "Backup and restore" in docs/configuration.md'
  );
}

export interface DatabaseStatus {
  status: 'OK' | 'DAMAGED';
  /** What was found, when DAMAGED. */
  message?: string;
}

/**
 * The database's health as this process has seen it: checked with quick_check at start, then DAMAGED from the first
 * statement SQLite answered with a corruption error (pages that no start-up check reaches can go bad at run time).
 */
export class DatabaseHealth {
  private damage: string | null = null;

  constructor(private readonly file: string) {}

  observe(err: unknown): void {
    if (this.damage === null && isCorruption(err)) this.damage = (err as Error).message;
  }

  status(): DatabaseStatus {
    if (this.damage === null) return { status: 'OK' };
    return { status: 'DAMAGED', message: `${this.file}: ${this.damage}; ${recoveryAdvice(this.file)}` };
  }
}

/**
 * PRAGMA quick_check: every page's b-tree structure, the free list and the records' formats, without the index
 * cross-checks of integrity_check (which cost O(N log N)); linear in the file's size (see docs/configuration.md for
 * the time it takes). Returns the problems found (at most `max`), none when the database is sound.
 */
export function quickCheck(raw: SQLite.Database, max = 10): string[] {
  const rows = raw.pragma(`quick_check(${max})`) as { quick_check: string }[];
  const found = rows.map((r) => r.quick_check);
  return found.length === 1 && found[0] === 'ok' ? [] : found;
}
