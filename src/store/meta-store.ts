import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Table `meta`: the server's own key-value settings (its tenancy and default compartment ids, among others). */
export class MetaStore {
  constructor(private readonly db: Kysely<Database>) {}

  async get(key: string): Promise<string | null> {
    const r = await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value ?? null;
  }

  /** Sets `key` unless it is set already; returns the value it has. */
  async setIfAbsent(key: string, value: string): Promise<string> {
    await this.db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).execute();
    return (await this.get(key))!;
  }
}
