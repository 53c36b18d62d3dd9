/**
 * Group commit in Store.transaction, against a real SQLite file: transactions asked for together share one COMMIT,
 * each in its own savepoint. A second, independent connection to the same file sees only committed data, which is
 * how these tests tell "committed" from "written". The first three also run with the control statements sent as
 * Kysely queries on the batch's connection, the way a PostgreSQL connection sends them (SQLite's runs them straight
 * on better-sqlite3, synchronously).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { CompiledQuery, sql } from 'kysely';
import { Store, type Tx } from '../../src/store/store.js';
import { GroupCommit } from '../../src/store/group-commit.js';
import { MetaStore } from '../../src/store/meta-store.js';
import { migrate } from '../../src/store/migrations.js';
import { SqliteConnection } from '../../src/store/sqlite-connection.js';
import { DsError } from '../../src/domain/errors.js';

/** What these tests use of a store. */
type Transactional = Pick<Store, 'transaction' | 'db' | 'getMeta' | 'close'>;

/** Group commit over a connection that sends BEGIN, SAVEPOINT ... as Kysely queries on `tx`, as PostgreSQL's will. */
async function openWithKyselyControl(file: string): Promise<Transactional> {
  const connection = await SqliteConnection.open(file, {}, migrate);
  const commit = new GroupCommit({
    db: connection.db,
    control: async (statement, tx) => void (await tx.executeQuery(CompiledQuery.raw(statement))),
    inTransaction: () => connection.inTransaction(),
  });
  const meta = new MetaStore(connection.db);
  return {
    db: connection.db,
    transaction: (fn, opts) => commit.transaction(fn, opts),
    getMeta: (key) => meta.get(key),
    close: async () => {
      await commit.drain();
      await connection.close();
    },
  };
}

const WAYS = [
  { name: 'Store', open: (file: string): Promise<Transactional> => Store.openSqlite(file) },
  { name: 'control statements through Kysely', open: openWithKyselyControl },
];

async function withStore(fn: (store: Store, file: string) => Promise<void>): Promise<void>;
async function withStore(fn: (store: Transactional, file: string) => Promise<void>, open: (file: string) => Promise<Transactional>): Promise<void>;
async function withStore(fn: (store: any, file: string) => Promise<void>, open: (file: string) => Promise<Transactional> = Store.openSqlite): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-store-'));
  const file = path.join(dir, 'dsjobs.sqlite');
  const store = await open(file);
  try {
    await fn(store, file);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const put = (tx: Tx, key: string, value = 'v') => tx.insertInto('meta').values({ key, value }).execute();

/** Keys of the meta table that start with `prefix`, as another connection sees them (committed rows only). */
function committedKeys(file: string, prefix: string): string[] {
  const other = new SQLite(file, { readonly: true });
  try {
    const rows = other.prepare('SELECT key FROM meta WHERE key LIKE ? ORDER BY key').all(`${prefix}%`) as { key: string }[];
    return rows.map((r) => r.key);
  } finally {
    other.close();
  }
}

/** Lets every promise of the test settle, with a bound: a transaction that never resolves fails the test. */
function settled<T>(ps: Promise<T>[]): Promise<PromiseSettledResult<T>[]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('transactions did not settle within 10 s (deadlock?)')), 10_000);
    Promise.allSettled(ps).then((r) => {
      clearTimeout(t);
      resolve(r);
    });
  });
}

for (const way of WAYS) test(`transactions asked for together: a failing one rolls back only its own work, its caller gets its own error, the rest commit (${way.name})`, async () => {
  await withStore(async (store, file) => {
    const seenAtResolve: string[][] = [];
    const ps = [
      store.transaction(async (tx) => {
        await put(tx, 'g.a');
        return 'a';
      }),
      store.transaction(async (tx) => {
        await put(tx, 'g.b');
        throw new DsError('Conflict', 'b changed meanwhile');
      }),
      store.transaction(async (tx) => {
        await put(tx, 'g.c');
        await put(tx, 'g.a'); // the first transaction's key: a UNIQUE violation, SQLite's own error
        return 'c';
      }),
      store.transaction(async (tx) => {
        await put(tx, 'g.d');
        return 'd';
      }),
    ];
    // The first caller is answered only after the shared COMMIT: by then another connection sees the last one's row.
    ps[0].then(() => seenAtResolve.push(committedKeys(file, 'g.')));
    const r = await settled(ps);
    assert.deepEqual(r[0], { status: 'fulfilled', value: 'a' });
    assert.equal(r[1].status, 'rejected');
    assert.ok(r[1].status === 'rejected' && r[1].reason instanceof DsError && r[1].reason.code === 'Conflict');
    assert.equal(r[2].status, 'rejected');
    assert.match(r[2].status === 'rejected' ? String(r[2].reason) : '', /UNIQUE constraint failed: meta\.key/);
    assert.deepEqual(r[3], { status: 'fulfilled', value: 'd' });
    assert.deepEqual(seenAtResolve, [['g.a', 'g.d']]);
    assert.deepEqual(committedKeys(file, 'g.'), ['g.a', 'g.d']);
  }, way.open);
});

for (const way of WAYS) test(`a failing COMMIT fails every transaction of its batch, keeps none of their work, and the next batch works (${way.name})`, async () => {
  await withStore(async (store, file) => {
    // A deferred foreign key is checked at COMMIT: the only statement that fails is the shared COMMIT itself.
    const setup = new SQLite(file);
    setup.exec(`CREATE TABLE parent (id TEXT PRIMARY KEY);
      CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);`);
    setup.close();
    const ps = [
      store.transaction(async (tx) => put(tx, 'c.ok')),
      store.transaction(async (tx) => {
        await sql`INSERT INTO child (id, parent) VALUES ('x', 'no-such-parent')`.execute(tx);
      }),
      store.transaction(async (tx) => put(tx, 'c.ok2')),
    ];
    const r = await settled<unknown>(ps);
    for (const x of r) {
      assert.equal(x.status, 'rejected');
      assert.match(x.status === 'rejected' ? String(x.reason) : '', /FOREIGN KEY constraint failed/);
    }
    assert.deepEqual(committedKeys(file, 'c.'), []);
    // The connection is not left inside the failed transaction.
    await store.transaction(async (tx) => put(tx, 'c.after'));
    assert.deepEqual(committedKeys(file, 'c.'), ['c.after']);
    assert.equal(await store.getMeta('c.ok'), null);
  }, way.open);
});

for (const way of WAYS) test(`a transaction asked for while a batch waits on I/O runs in the next batch; nesting with { tx } runs at once (${way.name})`, async () => {
  await withStore(async (store, file) => {
    let askLater!: () => void;
    const later = new Promise<void>((resolve, reject) => {
      askLater = () => void store.transaction(async (tx2) => { await put(tx2, 'n.later'); }).then(resolve, reject);
    });
    const first = store.transaction(async (tx) => {
      await put(tx, 'n.first');
      // Asked for from inside a callback without { tx }: it must not join (or wait inside) this batch.
      askLater();
      await new Promise((r) => setTimeout(r, 30));
      // Nested: a savepoint in this transaction; its failure is caught here and undoes only its own row.
      await assert.rejects(
        store.transaction(async (tx2) => {
          await put(tx2, 'n.inner-failed');
          throw new DsError('Conflict', 'inner');
        }, { tx }),
        /inner/,
      );
      await store.transaction(async (tx2) => put(tx2, 'n.inner'), { tx });
      assert.deepEqual(committedKeys(file, 'n.'), [], 'nothing is committed before the batch ends');
    });
    const r = await settled<unknown>([first, later]);
    assert.deepEqual(r.map((x) => x.status), ['fulfilled', 'fulfilled']);
    assert.deepEqual(committedKeys(file, 'n.'), ['n.first', 'n.inner', 'n.later']);
    // { tx } must be a running callback's tx: anything else would slip statements into someone else's batch.
    await assert.rejects(store.transaction(async (tx) => put(tx, 'n.wrong'), { tx: store.db }), /must be the tx of the transaction callback/);
  }, way.open);
});

test('many transactions at once are split into bounded batches and all commit; events wake readers after the commit', async () => {
  await withStore(async (store, file) => {
    const wakes: number[] = [];
    store.onEventsCommitted = () => {
      const other = new SQLite(file, { readonly: true });
      wakes.push((other.prepare("SELECT count(*) AS n FROM events WHERE type = 'test.many'").get() as { n: number }).n);
      other.close();
    };
    const n = 700;
    const ps = Array.from({ length: n }, (_, i) =>
      store.transaction(async (tx) => {
        await put(tx, `m.${String(i).padStart(4, '0')}`);
        await store.insertEvent(tx, {
          type: 'test.many',
          resourceId: `r${i}`,
          compartmentId: 'c',
          projectId: null,
          jobId: null,
          state: null,
          data: { i },
        });
        return i;
      }),
    );
    const r = await settled(ps);
    assert.ok(r.every((x, i) => x.status === 'fulfilled' && x.value === i));
    assert.equal(committedKeys(file, 'm.').length, n);
    // Each wake-up came after a commit and saw that commit's events (more than one batch: the size is bounded).
    assert.ok(wakes.length >= 2, `${wakes.length} wake-ups`);
    assert.deepEqual([...wakes].sort((a, b) => a - b), wakes);
    assert.equal(wakes[wakes.length - 1], n);
  });
});

test('close() lets transactions already asked for commit and answer first', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-store-'));
  const file = path.join(dir, 'dsjobs.sqlite');
  try {
    const store = await Store.openSqlite(file);
    const ps = Array.from({ length: 300 }, (_, i) => store.transaction(async (tx) => put(tx, `z.${String(i).padStart(3, '0')}`)));
    await store.close();
    const r = await settled(ps);
    assert.ok(r.every((x) => x.status === 'fulfilled'));
    assert.equal(committedKeys(file, 'z.').length, 300);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
