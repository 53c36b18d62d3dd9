import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

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

  /** What a check found (the start-up check that outlasted its wait reports here when it ends). */
  damaged(found: string): void {
    this.damage ??= found;
  }

  status(): DatabaseStatus {
    if (this.damage === null) return { status: 'OK' };
    return { status: 'DAMAGED', message: `${this.file}: ${this.damage}; ${recoveryAdvice(this.file)}` };
  }
}

/** At most this many problems are listed: the first ones say enough, and the check stops sooner on a wrecked file. */
const MAX_PROBLEMS = 10;

type QuickCheckResult = { problems: string[] } | { error: { message: string; code?: string } };

/**
 * The thread's code: PRAGMA quick_check on a read-only connection of its own. quick_check reads every page's b-tree
 * structure, the free list and the records' formats, without integrity_check's index cross-checks (O(N log N)); it is
 * linear in the file's size (docs/configuration.md has the time it takes). Inline (eval) rather than a module file, so
 * that it runs the same from dist/ and from the TypeScript sources under tsx (whose loader threads do not get).
 */
const THREAD_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
let result;
try {
  const db = new (require(workerData.driver))(workerData.file, { readonly: true, fileMustExist: true });
  try {
    const found = db.pragma('quick_check(${MAX_PROBLEMS})').map((r) => r.quick_check);
    result = { problems: found.length === 1 && found[0] === 'ok' ? [] : found };
  } finally {
    db.close();
  }
} catch (e) {
  result = { error: { message: e.message, code: e.code } };
}
parentPort.postMessage(result);
`;

/**
 * quick_check in a worker thread, waited for at most `waitMs`. Resolves with the problems found, or 'pending' when the
 * wait ran out; then `later` gets the problems (or the error) when the check ends, and the thread is left to finish
 * (unref'd: it never holds the process open). A check that fails to run at all rejects, or reaches `later` when the
 * failure is a corruption error.
 */
export function quickCheckInThread(
  file: string,
  waitMs: number,
  later: (problems: string[]) => void,
): Promise<string[] | 'pending'> {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(THREAD_CODE, { eval: true, workerData: { file, driver } });
  return new Promise((resolve, reject) => {
    let waiting = true;
    const timer = setTimeout(() => {
      waiting = false;
      worker.unref();
      resolve('pending');
    }, waitMs);
    const settle = (r: QuickCheckResult) => {
      clearTimeout(timer);
      const failed = 'error' in r ? Object.assign(new Error(r.error.message), { code: r.error.code }) : null;
      const problems = 'problems' in r ? r.problems : [failed!.message];
      if (waiting) {
        waiting = false;
        if (failed) reject(failed);
        else resolve(problems);
      } else if (!failed || isCorruption(failed)) {
        later(problems);
      }
    };
    worker.once('message', settle);
    worker.once('error', (e) => settle({ error: { message: e.message, code: (e as { code?: string }).code } }));
  });
}
