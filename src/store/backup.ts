import SQLite from 'better-sqlite3';
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { DataDirLock } from './data-dir-lock.js';

/** A backup or restore that could not be done: the message says why; nothing was changed. */
export class BackupError extends Error {
  override name = 'BackupError';
}

export interface BackupSummary {
  file: string;
  bytes: number;
  projects: number;
  jobs: number;
  jobRuns: number;
}

export const databaseFile = (dataDir: string) => path.join(dataDir, 'dsjobs.db');

function fsyncPath(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** integrity_check (the full one: a backup is checked once, and time matters less than certainty) plus counts. */
function checkCopy(file: string): Omit<BackupSummary, 'file' | 'bytes'> {
  const db = new SQLite(file, { fileMustExist: true });
  try {
    const problems = (db.pragma('integrity_check(10)') as { integrity_check: string }[]).map((r) => r.integrity_check);
    if (problems.length !== 1 || problems[0] !== 'ok') throw new BackupError(`${file} is damaged: ${problems.join('; ')}`);
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { projects: count('projects'), jobs: count('jobs'), jobRuns: count('job_runs') };
  } catch (e) {
    if (e instanceof BackupError) throw e;
    throw new BackupError(`${file} is not a dsjobs database: ${(e as Error).message}`);
  } finally {
    db.close();
  }
}

/**
 * Copies the data directory's database to `dest` with SQLite's online backup API, while a server may be running on
 * it: a read-only connection in WAL mode never blocks the server's writers, and the copy is one consistent snapshot
 * (the backup restarts by itself when the server writes during it). Runs on the host, from the CLI, rather than
 * through an API endpoint: it needs the data directory's files, and an endpoint that writes files wherever a request
 * says would be one more thing to defend. The copy is written beside `dest`, checked (integrity_check), made a
 * single file (journal_mode DELETE) and flushed, then renamed into place, so `dest` is whole or absent.
 */
export async function backupDatabase(dataDir: string, dest: string): Promise<BackupSummary> {
  const source = databaseFile(dataDir);
  if (!existsSync(source)) throw new BackupError(`no database at ${source} (is --data-dir right?)`);
  const target = path.resolve(dest);
  if (target === path.resolve(source)) throw new BackupError('the backup file must not be the database itself');
  const partial = `${target}.partial-${process.pid}`;
  const db = new SQLite(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(partial);
  } catch (e) {
    rmSync(partial, { force: true });
    throw new BackupError(`backup of ${source} failed: ${(e as Error).message}`);
  } finally {
    db.close();
  }
  try {
    const copy = new SQLite(partial);
    copy.pragma('journal_mode = DELETE');
    copy.close();
    const counts = checkCopy(partial);
    fsyncPath(partial);
    renameSync(partial, target);
    fsyncPath(path.dirname(target));
    return { file: target, bytes: statSync(target).size, ...counts };
  } catch (e) {
    rmSync(partial, { force: true });
    throw e;
  }
}

/**
 * Puts a backup in place of the data directory's database. Only with no server on the directory (it takes the
 * server's lock for the time it works); the backup is checked first; the database it replaces (with its -wal and
 * -shm files) is kept beside it as dsjobs.db.replaced-<time>, never deleted.
 */
export function restoreDatabase(dataDir: string, backup: string): BackupSummary & { keptAs: string | null } {
  if (!existsSync(backup)) throw new BackupError(`${backup}: no such file`);
  const lock = DataDirLock.acquire(dataDir, 'stop it first: a restore replaces the database it has open');
  try {
    const counts = checkCopy(backup);
    const target = databaseFile(dataDir);
    const incoming = `${target}.restoring-${process.pid}`;
    copyFileSync(backup, incoming);
    fsyncPath(incoming);
    let keptAs: string | null = null;
    if (existsSync(target)) {
      keptAs = `${target}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(target, keptAs);
    }
    // A -wal left beside the new file would be replayed into it: the old one goes with the file it belongs to.
    for (const side of ['-wal', '-shm']) {
      if (existsSync(target + side)) {
        if (keptAs) renameSync(target + side, keptAs + side);
        else rmSync(target + side);
      }
    }
    renameSync(incoming, target);
    fsyncPath(dataDir);
    return { file: target, bytes: statSync(target).size, keptAs, ...counts };
  } finally {
    lock.release();
  }
}
