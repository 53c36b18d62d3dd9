import type { Kysely } from 'kysely';
import type { GroupCommit } from './group-commit.js';
import type { MetricSample } from './records.js';
import type { Database } from './schema.js';

/** 9 values per row: 4,500 parameters a statement, under SQLite's 32,766 (PostgreSQL allows 65,535). */
const ROWS_PER_INSERT = 500;

/** Table `run_metrics`: the resource samples of runs (one row per run and sampling time). */
export class RunMetricsStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly commit: GroupCommit,
  ) {}

  /** One sampling round, one transaction (sharing its COMMIT with whatever else commits in that turn). */
  async insert(samples: MetricSample[]): Promise<void> {
    if (samples.length === 0) return;
    await this.commit.transaction(async (tx) => {
      for (let i = 0; i < samples.length; i += ROWS_PER_INSERT) {
        await tx
          .insertInto('run_metrics')
          .values(
            samples.slice(i, i + ROWS_PER_INSERT).map((m) => ({
              run_id: m.runId,
              time_ms: m.timeMs,
              cpu: m.cpu,
              memory: m.memory,
              memory_bytes: m.memoryBytes,
              disk: m.disk,
              disk_bytes: m.diskBytes,
              gpu: m.gpu,
              gpu_memory: m.gpuMemory,
            })),
          )
          .onConflict((oc) => oc.columns(['run_id', 'time_ms']).doNothing())
          .execute();
      }
    });
  }

  /** Up to `limit` samples of a run taken after `sinceMs`, oldest first. */
  async list(runId: string, sinceMs: number, limit: number): Promise<MetricSample[]> {
    const rows = await this.db
      .selectFrom('run_metrics')
      .selectAll()
      .where('run_id', '=', runId)
      .where('time_ms', '>', sinceMs)
      .orderBy('time_ms', 'asc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      runId: r.run_id,
      timeMs: Number(r.time_ms),
      cpu: r.cpu,
      memory: r.memory,
      memoryBytes: r.memory_bytes == null ? null : Number(r.memory_bytes),
      disk: r.disk,
      diskBytes: r.disk_bytes == null ? null : Number(r.disk_bytes),
      gpu: r.gpu,
      gpuMemory: r.gpu_memory,
    }));
  }

  async delete(runId: string): Promise<void> {
    await this.db.deleteFrom('run_metrics').where('run_id', '=', runId).execute();
  }
}
