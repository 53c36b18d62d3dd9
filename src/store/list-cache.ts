/**
 * The last result of a few list queries that background loops repeat on every commit (the trigger rules, webhook
 * subscriptions and sweeps that listen to events), kept until a write to their table goes through the store object
 * that owns the cache. Under load the loops ran those queries once per run while the tables never changed.
 *
 * It relies on this server being the only writer of the table, which holds for SQLite (one server per database
 * file). On PostgreSQL, which several servers may share, the cache is made with `keep` false and asks every time
 * (a change notice between servers, LISTEN/NOTIFY calling `changed()`, could bring it back).
 *
 * Correct without knowing whether a write committed: `changed()` comes after every write statement, committed or
 * rolled back, and a result is kept under the generation seen when its query was asked for, so a query that
 * waited for the connection while a write went ahead is stale as soon as it returns, and the next call asks again.
 */
export class ListCache<T> {
  private generation = 0;
  private readonly entries = new Map<string, { generation: number; value: readonly T[] }>();

  constructor(private readonly keep = true) {}

  /** A write to the table went through (or was tried): every kept result is stale. */
  changed(): void {
    this.generation++;
    this.entries.clear();
  }

  /** The kept result for `key`, or `load()`'s (kept). A new array each time: callers may filter or sort it. */
  async get(key: string, load: () => Promise<T[]>): Promise<T[]> {
    const hit = this.entries.get(key);
    if (hit && hit.generation === this.generation) return [...hit.value];
    const generation = this.generation;
    const value = await load();
    if (this.keep && generation === this.generation) this.entries.set(key, { generation, value: [...value] });
    return value;
  }
}

/** Runs `write`, then marks `cache` stale, also when the write fails (a statement may have run before the error). */
export async function writing<R>(cache: ListCache<unknown>, write: () => Promise<R>): Promise<R> {
  try {
    return await write();
  } finally {
    cache.changed();
  }
}
