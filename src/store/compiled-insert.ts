import { CompiledQuery, type Insertable } from 'kysely';
import type { Db } from './group-commit.js';
import type { Database } from './schema.js';

/** PostgreSQL takes at most 65,535 parameters a statement. */
const MAX_PARAMETERS = 65_535;

/**
 * The INSERT of one table with its SQL compiled once (the run and the event of every create): building and
 * compiling the query each time was ~10% of the server's CPU per create. A row must always carry the same columns,
 * each with a value (null, never undefined); the compiled SQL is the dialect's own, only the parameters change.
 */
export class CompiledInsert<T extends keyof Database> {
  private compiled: { sql: string; columns: string[]; head: string | null } | null = null;

  constructor(private readonly table: T) {}

  async run(tx: Db, row: Insertable<Database[T]>): Promise<void> {
    const c = this.compile(tx, row);
    const values = row as Record<string, unknown>;
    if (Object.keys(values).length !== c.columns.length) {
      await tx.insertInto(this.table).values(row as never).execute();
      return;
    }
    const parameters = c.columns.map((k) => values[k] ?? null);
    await tx.executeQuery(CompiledQuery.raw(c.sql, parameters));
  }

  /**
   * Several rows in one statement (PostgreSQL's numbered parameters; group commit's deferred rows): the tuples are
   * written out here rather than compiled by Kysely, whose compile of a batch of runs (40 columns x tens of rows)
   * cost more than the statement's round trip.
   */
  async runMany(tx: Db, rows: Insertable<Database[T]>[]): Promise<void> {
    if (rows.length === 0) return;
    const c = this.compile(tx, rows[0]!);
    const per = Math.max(1, Math.floor(MAX_PARAMETERS / c.columns.length));
    for (let i = 0; i < rows.length; i += per) {
      const chunk = rows.slice(i, i + per);
      const s = this.statement(tx, chunk, 1);
      if (s) await tx.executeQuery(CompiledQuery.raw(s.sql, s.parameters));
      else await tx.insertInto(this.table).values(chunk as never).execute();
    }
  }

  /**
   * The multi-row INSERT of `rows` with its parameters numbered from `first` (PostgreSQL's `$n`), for a statement
   * that carries several (group commit's combined write); null where it cannot be written out here (another
   * dialect's placeholders, rows whose columns differ, more parameters than one statement takes).
   */
  statement(tx: Db, rows: Insertable<Database[T]>[], first: number): { sql: string; parameters: unknown[] } | null {
    if (rows.length === 0) return null;
    const c = this.compile(tx, rows[0]!);
    const n = c.columns.length;
    if (c.head === null || first - 1 + rows.length * n > MAX_PARAMETERS || !rows.every((r) => Object.keys(r).length === n)) return null;
    const parameters: unknown[] = [];
    const tuples: string[] = [];
    for (const row of rows) {
      const values = row as Record<string, unknown>;
      const base = first + parameters.length;
      tuples.push(`(${c.columns.map((_, k) => `$${base + k}`).join(', ')})`);
      for (const k of c.columns) parameters.push(values[k] ?? null);
    }
    return { sql: c.head + tuples.join(', '), parameters };
  }

  private compile(tx: Db, row: Insertable<Database[T]>): { sql: string; columns: string[]; head: string | null } {
    if (this.compiled) return this.compiled;
    const values = row as Record<string, unknown>;
    const columns = Object.keys(values);
    if (columns.some((k) => values[k] === undefined)) throw new Error(`insert into ${this.table}: a column is undefined`);
    const sql = tx.insertInto(this.table).values(row as never).compile().sql;
    // `insert into "t" ("a", "b") values ($1, $2)`: what comes before the tuple, where parameters are numbered.
    const m = /^(.* values )\(\$1(, \$\d+)*\)$/s.exec(sql);
    this.compiled = { sql, columns, head: m ? m[1]! : null };
    return this.compiled;
  }
}
