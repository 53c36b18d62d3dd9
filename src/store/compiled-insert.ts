import { CompiledQuery, type Insertable } from 'kysely';
import type { Db } from './group-commit.js';
import type { Database } from './schema.js';

/**
 * The INSERT of one table with its SQL compiled once (the run and the event of every create): building and
 * compiling the query each time was ~10% of the server's CPU per create. A row must always carry the same columns,
 * each with a value (null, never undefined); the compiled SQL is the dialect's own, only the parameters change.
 */
export class CompiledInsert<T extends keyof Database> {
  private compiled: { sql: string; columns: string[] } | null = null;

  constructor(private readonly table: T) {}

  async run(tx: Db, row: Insertable<Database[T]>): Promise<void> {
    const values = row as Record<string, unknown>;
    let c = this.compiled;
    if (!c) {
      const columns = Object.keys(values);
      if (columns.some((k) => values[k] === undefined)) throw new Error(`insert into ${this.table}: a column is undefined`);
      c = { sql: tx.insertInto(this.table).values(row as never).compile().sql, columns };
      this.compiled = c;
    }
    if (Object.keys(values).length !== c.columns.length) {
      await tx.insertInto(this.table).values(row as never).execute();
      return;
    }
    const parameters = c.columns.map((k) => values[k] ?? null);
    await tx.executeQuery(CompiledQuery.raw(c.sql, parameters));
  }
}
