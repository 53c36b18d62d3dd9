/**
 * PostgreSQL over its Unix socket: a URL with no host and the socket's directory as `host`
 * (`postgres://user@/db?host=/var/run/postgresql`), which `pg` takes though it is no WHATWG URL. The store works
 * through it (group commit's batches included), messages name it without its password, and a wrong directory
 * fails the open with a message that names the URL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { Store } from '../../src/store/store.js';
import { DatabaseOpenError, redactedUrl } from '../../src/store/postgres-connection.js';
import { freshDatabase, postgresCluster, postgresMissing } from '../support/postgres.js';

const skip = postgresMissing() ?? undefined;

test('a store on PostgreSQL\'s Unix socket: transactions in batches commit, the connection is the socket', { skip }, async () => {
  const tcp = await freshDatabase();
  const { dir, port } = postgresCluster();
  const name = new URL(tcp).pathname.slice(1);
  const url = `postgres://dsjobs@/${name}?host=${dir}&port=${port}`;
  const store = await Store.openPostgres(url);
  try {
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => store.transaction(async (tx) => {
      await tx.insertInto('meta').values({ key: `s.${i}`, value: 'v' }).execute();
      return i;
    })));
    assert.equal(ids.length, 20);
    const n = await store.db.selectFrom('meta').select((eb) => eb.fn.countAll<number>().as('n')).where('key', 'like', 's.%').executeTakeFirstOrThrow();
    assert.equal(Number(n.n), 20);
    // inet_server_addr() is null on a Unix-socket connection.
    const r = await sql<{ addr: string | null }>`select inet_server_addr() as addr`.execute(store.db);
    assert.equal(r.rows[0]!.addr, null);
  } finally {
    await store.close();
  }
});

test('a Unix-socket URL is shown without its password; a wrong socket directory fails the open naming the URL', { skip }, async () => {
  assert.equal(redactedUrl('postgres://dsjobs:secret@/db?host=/var/run/postgresql'), 'postgres://dsjobs:***@/db?host=/var/run/postgresql');
  assert.equal(redactedUrl('postgres:///db?host=/var/run/postgresql'), 'postgres:///db?host=/var/run/postgresql');
  const url = 'postgres://dsjobs:secret@/nodb?host=/nonexistent-dsjobs-socket-dir';
  await assert.rejects(Store.openPostgres(url), (e: Error) => {
    assert.ok(e instanceof DatabaseOpenError, String(e));
    assert.match(e.message, /postgres:\/\/dsjobs:\*\*\*@\/nodb\?host=\/nonexistent-dsjobs-socket-dir/);
    assert.doesNotMatch(e.message, /secret/);
    return true;
  });
});
