import SQLite from 'better-sqlite3';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Another process holds the data directory: the message names it (pid and command line) when it can be found. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

/**
 * An exclusive lock on a data directory, held for as long as the process keeps it (the server: its lifetime), so
 * two servers never share one database, one run directory and one volume pool (the second adopted the first's runs,
 * wrote duplicate event sequence numbers, and unmounted the first's volumes when it stopped).
 *
 * The lock is SQLite's own: `<dataDir>/server.lock` is a small database opened in EXCLUSIVE locking mode, which
 * takes POSIX (fcntl) record locks. Why these and not the alternatives:
 * - the kernel drops fcntl locks when the process dies, SIGKILL included, so a killed server leaves no stale lock;
 *   a pid (or pid + start time) lockfile must be judged stale by a reader, and pids are reused;
 * - fcntl locks belong to the process and are not inherited over fork/exec. Runs outlive the server by design (a
 *   restart re-attaches to them); with flock(2), or a helper process holding one, any child that inherited the
 *   descriptor would keep a killed server's lock alive for as long as its run lasted;
 * - better-sqlite3 is already loaded, and SQLite keeps the lock right inside one process too (a second open of the
 *   same file in the same process is refused as well, which plain fcntl would not do).
 * Who holds it is read from /proc/locks, which names the owning pid of each POSIX lock: that is exact, where a pid
 * written into a file could be stale.
 */
export class DataDirLock {
  private constructor(private readonly db: SQLite.Database) {}

  static file(dataDir: string): string {
    return path.join(dataDir, 'server.lock');
  }

  /** Takes the lock at once (never waits) or throws DataDirLockedError naming the holder, and then `what to do`. */
  static acquire(dataDir: string, whatToDo = 'stop that one first, or give this one its own --data-dir'): DataDirLock {
    const file = DataDirLock.file(dataDir);
    const db = new SQLite(file, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // Nothing is ever written: no journal file beside it.
      db.pragma('journal_mode = MEMORY');
      // In EXCLUSIVE mode the lock a write transaction takes is kept after it ends, until the connection closes.
      db.exec('BEGIN EXCLUSIVE; COMMIT');
    } catch (e) {
      db.close();
      if (!String((e as { code?: unknown }).code).startsWith('SQLITE_BUSY')) throw e;
      throw new DataDirLockedError(
        `the data directory ${dataDir} is in use by another dsjobs server (${DataDirLock.describeHolder(file)}); ${whatToDo}`,
      );
    }
    return new DataDirLock(db);
  }

  release(): void {
    if (this.db.open) this.db.close();
  }

  /** "pid N: <command line>" of the process holding a POSIX lock on `file`, from /proc/locks. */
  static describeHolder(file: string): string {
    const pid = DataDirLock.holderPid(file);
    if (pid === null) return 'its process could not be identified';
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    } catch {
      /* it has just exited, or its /proc entry is hidden from us */
    }
    return cmd ? `pid ${pid}: ${cmd}` : `pid ${pid}`;
  }

  static holderPid(file: string): number | null {
    let st: { dev: number; ino: number };
    let locks: string;
    try {
      st = statSync(file);
      locks = readFileSync('/proc/locks', 'utf8');
    } catch {
      return null;
    }
    // Linux's dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31; /proc/locks prints "MAJ:MIN:INODE"
    // with major and minor in hex.
    const major = ((st.dev >>> 8) & 0xfff) | (Math.floor(st.dev / 2 ** 32) & ~0xfff);
    const minor = (st.dev & 0xff) | ((st.dev >>> 12) & ~0xff);
    for (const line of locks.split('\n')) {
      // "1: POSIX  ADVISORY  WRITE 6730 fe:00:2213462 1073741824 1073742335" ("->" marks waiters: not holders)
      const m = /^\d+:\s+POSIX\s+\S+\s+\S+\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
      if (!m) continue;
      if (Number(m[4]) === st.ino && parseInt(m[2], 16) === major && parseInt(m[3], 16) === minor) return Number(m[1]);
    }
    return null;
  }
}
