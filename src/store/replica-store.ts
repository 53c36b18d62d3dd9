import { sql, type Kysely } from 'kysely';
import { ACTIVE_RUN_STATES } from '../domain/run-states.js';
import type { StoredExecutorHandle } from './records.js';
import type { Db } from './group-commit.js';
import { toJson } from './json-columns.js';
import type { Database } from './schema.js';

/** Now, in ms since the epoch, on the database's clock: every replica compares heartbeats and leases on one clock. */
const DB_NOW = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

export interface ReplicaRow {
  id: string;
  apiUrl: string;
  heartbeatMs: number;
}

/**
 * Tables `replicas` and `leases` (PostgreSQL only: SQLite has one server per data directory). A replica says it is
 * alive by its heartbeat; the coordinator's lease is a row whose epoch grows by one at every change of holder, the
 * fencing token that the holder's transactions check (fence.ts).
 */
export class ReplicaStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Registers (or re-registers, after a restart) `id` at `apiUrl`, alive now. */
  async register(id: string, apiUrl: string): Promise<void> {
    await sql`insert into replicas (id, api_url, started_ms, heartbeat_ms) values (${id}, ${apiUrl}, ${DB_NOW}, ${DB_NOW})
      on conflict (id) do update set api_url = excluded.api_url, started_ms = excluded.started_ms, heartbeat_ms = excluded.heartbeat_ms`.execute(this.db);
  }

  async heartbeat(id: string): Promise<void> {
    await sql`update replicas set heartbeat_ms = ${DB_NOW} where id = ${id}`.execute(this.db);
  }

  async get(id: string): Promise<ReplicaRow | null> {
    const r = await this.db.selectFrom('replicas').select(['id', 'api_url', 'heartbeat_ms']).where('id', '=', id).executeTakeFirst();
    return r ? { id: r.id, apiUrl: r.api_url, heartbeatMs: Number(r.heartbeat_ms) } : null;
  }

  /** Replicas (other than `self`) whose last heartbeat is older than `silentMs` on the database's clock. */
  async silentSince(self: string, silentMs: number): Promise<ReplicaRow[]> {
    const r = await sql<{ id: string; api_url: string; heartbeat_ms: number }>`select id, api_url, heartbeat_ms from replicas
      where id <> ${self} and heartbeat_ms < ${DB_NOW} - ${silentMs}`.execute(this.db);
    return r.rows.map((x) => ({ id: x.id, apiUrl: x.api_url, heartbeatMs: Number(x.heartbeat_ms) }));
  }

  /** A lost replica whose runs were all settled leaves the table (it registers again should it come back). */
  async forget(tx: Db, id: string, silentMs: number): Promise<void> {
    await sql`delete from replicas where id = ${id} and heartbeat_ms < ${DB_NOW} - ${silentMs}`.execute(tx);
  }

  /**
   * Takes lease `name` for `holder` for `ttlMs` when it is free or expired (the epoch then grows by one), or renews
   * it when `holder` holds it under `epoch` and it has not expired. Returns the epoch held, or null.
   */
  async acquireLease(name: string, holder: string, ttlMs: number, epoch: number | null): Promise<number | null> {
    if (epoch !== null) {
      const renewed = await sql<{ epoch: number }>`update leases set expires_ms = ${DB_NOW} + ${ttlMs}
        where name = ${name} and holder = ${holder} and epoch = ${epoch} and expires_ms > ${DB_NOW} returning epoch`.execute(this.db);
      if (renewed.rows.length > 0) return Number(renewed.rows[0].epoch);
    }
    const taken = await sql<{ epoch: number }>`insert into leases (name, holder, epoch, expires_ms) values (${name}, ${holder}, 1, ${DB_NOW} + ${ttlMs})
      on conflict (name) do update set holder = excluded.holder, epoch = leases.epoch + 1, expires_ms = excluded.expires_ms
      where leases.expires_ms <= ${DB_NOW} returning epoch`.execute(this.db);
    return taken.rows.length > 0 ? Number(taken.rows[0].epoch) : null;
  }

  /** Whether `holder` still holds lease `name` under `epoch`, read in `tx` (the fence of fence.ts). */
  async holdsLease(tx: Db, name: string, holder: string, epoch: number): Promise<boolean> {
    const r = await sql`select 1 from leases where name = ${name} and holder = ${holder} and epoch = ${epoch} and expires_ms > ${DB_NOW}`.execute(tx);
    return r.rows.length > 0;
  }

  /** Gives the lease up (a clean stop): another replica takes it at its next try instead of after the ttl. */
  async releaseLease(name: string, holder: string, epoch: number): Promise<void> {
    await sql`update leases set expires_ms = 0 where name = ${name} and holder = ${holder} and epoch = ${epoch}`.execute(this.db);
  }

  /** Active runs with no owner (written before there were replicas) become `id`'s. */
  async adoptUnowned(id: string): Promise<void> {
    await this.db
      .updateTable('job_runs')
      .set({ owner_replica: id })
      .where('owner_replica', 'is', null)
      .where('lifecycle_state', 'in', ['ACCEPTED', 'IN_PROGRESS', 'CANCELING', 'NEEDS_ATTENTION'])
      .execute();
  }

  /**
   * A started run of the lost replica `from` goes to `to` (it re-attaches to it by `handle`): only while `from` still
   * owns it and it is active. Returns false when it was not (its owner came back, another replica took it, it ended).
   */
  async adoptStartedRun(tx: Db, id: string, from: string, to: string, handle: StoredExecutorHandle): Promise<boolean> {
    const r = await tx
      .updateTable('job_runs')
      // With the handle `to` re-attaches by (where it keeps the run's files), so that its own restart finds them.
      .set({ owner_replica: to, handle: toJson(handle), version: sql`version + 1` } as never)
      .where('id', '=', id)
      .where('owner_replica', '=', from)
      .where('lifecycle_state', 'in', [...ACTIVE_RUN_STATES])
      .returning('id')
      .executeTakeFirst();
    return r !== undefined;
  }

  /** A lost replica's runs that never started go to `to`; returns their ids. */
  async adoptQueuedRuns(tx: Db, from: string, to: string): Promise<string[]> {
    const r = await tx
      .updateTable('job_runs')
      .set({ owner_replica: to, version: sql`version + 1` } as never)
      .where('owner_replica', '=', from)
      .where('lifecycle_state', '=', 'ACCEPTED')
      .where('handle', 'is', null)
      .returning('id')
      .execute();
    return r.map((x) => x.id);
  }
}
