import os from 'node:os';
import pg from 'pg';

/** Another dsjobs server uses the PostgreSQL database: the message names it (its host and pid) when it can be read. */
export class DatabaseInUseError extends Error {
  override name = 'DatabaseInUseError';
}

/** The session advisory lock of the server that uses a database ("dsjobs-s" in ASCII). */
const SERVER_LOCK = 0x64736a6f62735f73n;

/**
 * One server per PostgreSQL database, as one per SQLite data directory (data-dir-lock.ts): two servers on one
 * database would both admit the same queued runs, fire each schedule twice and deliver each webhook twice, since
 * nothing coordinates that work between servers yet (docs/deployment.md). The lock is a session-level advisory lock
 * held by a connection of its own for the server's lifetime: PostgreSQL drops it when that connection ends, the
 * server SIGKILLed included (the kernel closes the socket), so a dead server never leaves a stale lock. The
 * connection's application_name says who holds it (host and pid), for the refusal message.
 *
 * PostgreSQL restarting ends the connection and with it the lock: the holder takes it again as soon as the
 * database answers; should another server have taken it in between, `onLost` is told (the server then stops).
 */
export class PostgresServerLock {
  private client: pg.Client | null = null;
  private closed = false;

  private constructor(
    private readonly url: string,
    private readonly onLost: (holder: string) => void,
  ) {}

  /** Takes the lock at once (never waits), or throws DatabaseInUseError naming the holder. */
  static async acquire(url: string, display: string, onLost: (holder: string) => void): Promise<PostgresServerLock> {
    const lock = new PostgresServerLock(url, onLost);
    const holder = await lock.take();
    if (holder !== null) {
      throw new DatabaseInUseError(`the database ${display} is in use by another dsjobs server (${holder}); stop that one first, or give this one a database of its own`);
    }
    return lock;
  }

  /** null when taken; else who holds it. */
  private async take(): Promise<string | null> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 10_000, application_name: `dsjobs server pid ${process.pid} on ${os.hostname()}` });
    // Without a listener, the connection breaking would be an uncaught 'error' that ends the process.
    client.on('error', () => {});
    await client.connect();
    try {
      const got = (await client.query('select pg_try_advisory_lock($1::bigint) as got', [SERVER_LOCK.toString()])).rows[0].got as boolean;
      if (!got) {
        const holder = await describeHolder(client);
        await client.end();
        return holder;
      }
    } catch (e) {
      await client.end().catch(() => {});
      throw e;
    }
    this.client = client;
    client.once('end', () => this.retake(client));
    return null;
  }

  /** The lock's connection ended: take the lock again as soon as the database answers (every second). */
  private retake(ended: pg.Client): void {
    if (this.closed || this.client !== ended) return;
    this.client = null;
    const attempt = () => {
      if (this.closed) return;
      this.take().then(
        (holder) => {
          if (holder !== null) this.onLost(holder);
        },
        () => setTimeout(attempt, 1000).unref(),
      );
    };
    attempt();
  }

  async release(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}

async function describeHolder(client: pg.Client): Promise<string> {
  const r = await client.query(
    `select a.application_name, a.client_addr::text as addr from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1 and ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint`,
    [SERVER_LOCK.toString()],
  );
  const row = r.rows[0] as { application_name: string; addr: string | null } | undefined;
  if (!row) return 'it ended meanwhile: try again';
  return `${row.application_name || 'unnamed connection'}${row.addr ? ` from ${row.addr}` : ''}`;
}
