/**
 * Records read often and written rarely, only through one service (jobs, projects): kept after the first read.
 * Every write calls `invalidate` before and after it; a read that raced a write is not kept: `generation` counts
 * invalidations, and a load only fills the cache if none happened while it ran. Bounded: it starts over past
 * `max` entries.
 */
export class ReadCache<T> {
  private readonly entries = new Map<string, T>();
  private generation = 0;

  constructor(private readonly max = 10_000) {}

  invalidate(id: string): void {
    this.generation++;
    this.entries.delete(id);
  }

  /** Forgets every record (another replica may have written any of them: server.ts's refresh on PostgreSQL). */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  /** The cached record, else `load`'s (kept unless a write overlapped the load); `load` answers null for none. */
  async get(id: string, load: (id: string) => Promise<T | null>): Promise<T | null> {
    const hit = this.entries.get(id);
    if (hit) return hit;
    const gen = this.generation;
    const v = await load(id);
    if (v !== null && gen === this.generation) {
      if (this.entries.size >= this.max) this.entries.clear();
      this.entries.set(id, v);
    }
    return v;
  }
}
