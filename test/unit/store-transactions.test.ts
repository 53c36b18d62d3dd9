/**
 * Group commit in Store.transaction, against a real SQLite file and a real PostgreSQL database: transactions asked
 * for together share one COMMIT, each in its own savepoint. A second, independent connection to the same database
 * sees only committed data, which is how these tests tell "committed" from "written". The first three also run on
 * SQLite with the control statements sent as Kysely queries on the batch's connection, the way PostgreSQL's
 * connection sends them (SQLite's runs them straight on better-sqlite3, synchronously).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { CompiledQuery, sql } from 'kysely';
import { Store, type Tx } from '../../src/store/store.js';
import { GroupCommit } from '../../src/store/group-commit.js';
import { MetaStore } from '../../src/store/meta-store.js';
import { migrate } from '../../src/store/migrations.js';
import { SqliteConnection } from '../../src/store/sqlite-connection.js';
import { DsError } from '../../src/domain/errors.js';
import { countQueries, freshDatabase, postgresMissing } from '../support/postgres.js';

/** What these tests use of a store. */
type Transactional = Pick<Store, 'transaction' | 'db' | 'getMeta' | 'close' | 'insertEvent'> & { onEventsCommitted: (() => void) | null };

/**
 * A store under test and a second, independent connection to its database: what that one sees is what committed.
 * `exec` runs a script of SQL through the second connection (tables a test needs).
 */
interface Opened {
  store: Transactional;
  committedKeys(prefix: string): Promise<string[]>;
  countEvents(type: string): Promise<number>;
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/** Group commit over a connection that sends BEGIN, SAVEPOINT ... as Kysely queries on `tx`, as PostgreSQL's does. */
async function openWithKyselyControl(file: string): Promise<Transactional> {
  const connection = await SqliteConnection.open(file, {}, migrate);
  const commit = new GroupCommit({
    db: connection.db,
    control: async (statements, tx) => {
      for (const s of statements) await tx.executeQuery(CompiledQuery.raw(s));
    },
    inTransaction: () => connection.inTransaction(),
  });
  const meta = new MetaStore(connection.db);
  return {
    db: connection.db,
    transaction: (fn, opts) => commit.transaction(fn, opts),
    getMeta: (key) => meta.get(key),
    insertEvent: () => Promise.reject(new Error('not used')),
    onEventsCommitted: null,
    close: async () => {
      await commit.drain();
      await connection.close();
    },
  };
}

async function openSqliteWay(open: (file: string) => Promise<Transactional>): Promise<Opened> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-store-'));
  const file = path.join(dir, 'dsjobs.sqlite');
  const store = await open(file);
  const read = <T>(f: (db: SQLite.Database) => T): T => {
    const other = new SQLite(file);
    try {
      return f(other);
    } finally {
      other.close();
    }
  };
  return {
    store,
    committedKeys: async (prefix) => read((db) => (db.prepare('SELECT key FROM meta WHERE key LIKE ? ORDER BY key').all(`${prefix}%`) as { key: string }[]).map((r) => r.key)),
    countEvents: async (type) => read((db) => (db.prepare('SELECT count(*) AS n FROM events WHERE type = ?').get(type) as { n: number }).n),
    exec: async (script) => read((db) => void db.exec(script)),
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgresWay(): Promise<Opened> {
  const url = await freshDatabase();
  const store = await Store.openPostgres(url);
  const other = new pg.Client({ connectionString: url });
  await other.connect();
  return {
    store,
    committedKeys: async (prefix) => (await other.query('SELECT key FROM meta WHERE key LIKE $1 ORDER BY key', [`${prefix}%`])).rows.map((r: { key: string }) => r.key),
    countEvents: async (type) => Number((await other.query('SELECT count(*) AS n FROM events WHERE type = $1', [type])).rows[0].n),
    exec: async (script) => void (await other.query(script)),
    close: async () => {
      await other.end();
      await store.close();
    },
  };
}

const pgSkip = postgresMissing() ?? undefined;
const WAYS: { name: string; skip?: string; open: () => Promise<Opened> }[] = [
  { name: 'SQLite', open: () => openSqliteWay((file) => Store.openSqlite(file)) },
  { name: 'SQLite, control statements through Kysely', open: () => openSqliteWay(openWithKyselyControl) },
  { name: 'PostgreSQL', skip: pgSkip, open: openPostgresWay },
];
const STORES = WAYS.filter((w) => w.name !== 'SQLite, control statements through Kysely');

async function withStore(fn: (o: Opened) => Promise<void>, open: () => Promise<Opened>): Promise<void> {
  const o = await open();
  try {
    await fn(o);
  } finally {
    await o.close();
  }
}

const put = (tx: Tx, key: string, value = 'v') => tx.insertInto('meta').values({ key, value }).execute();

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

for (const way of WAYS) test(`transactions asked for together: a failing one rolls back only its own work, its caller gets its own error, the rest commit (${way.name})`, { skip: way.skip }, async () => {
  await withStore(async ({ store, committedKeys }) => {
    const seenAtResolve: Promise<string[]>[] = [];
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
        await put(tx, 'g.a'); // the first transaction's key: a UNIQUE violation, the database's own error
        return 'c';
      }),
      store.transaction(async (tx) => {
        await put(tx, 'g.d');
        return 'd';
      }),
    ];
    // The first caller is answered only after the shared COMMIT: by then another connection sees the last one's row.
    ps[0].then(() => seenAtResolve.push(committedKeys('g.')));
    const r = await settled(ps);
    assert.deepEqual(r[0], { status: 'fulfilled', value: 'a' });
    assert.equal(r[1].status, 'rejected');
    assert.ok(r[1].status === 'rejected' && r[1].reason instanceof DsError && r[1].reason.code === 'Conflict');
    assert.equal(r[2].status, 'rejected');
    assert.match(r[2].status === 'rejected' ? String(r[2].reason) : '', /UNIQUE constraint failed: meta\.key|duplicate key value violates unique constraint "meta_pkey"/);
    assert.deepEqual(r[3], { status: 'fulfilled', value: 'd' });
    assert.deepEqual(await Promise.all(seenAtResolve), [['g.a', 'g.d']]);
    assert.deepEqual(await committedKeys('g.'), ['g.a', 'g.d']);
  }, way.open);
});

for (const way of WAYS) test(`a failing COMMIT fails every transaction of its batch, keeps none of their work, and the next batch works (${way.name})`, { skip: way.skip }, async () => {
  await withStore(async ({ store, committedKeys, exec }) => {
    // A deferred foreign key is checked at COMMIT: the only statement that fails is the shared COMMIT itself.
    await exec(`CREATE TABLE parent (id TEXT PRIMARY KEY);
      CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);`);
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
      assert.match(x.status === 'rejected' ? String(x.reason) : '', /FOREIGN KEY constraint failed|violates foreign key constraint/);
    }
    assert.deepEqual(await committedKeys('c.'), []);
    // The connection is not left inside the failed transaction.
    await store.transaction(async (tx) => put(tx, 'c.after'));
    assert.deepEqual(await committedKeys('c.'), ['c.after']);
    assert.equal(await store.getMeta('c.ok'), null);
  }, way.open);
});

for (const way of WAYS) test(`a transaction asked for while a batch waits on I/O runs in the next batch; nesting with { tx } runs at once (${way.name})`, { skip: way.skip }, async () => {
  await withStore(async ({ store, committedKeys }) => {
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
      assert.deepEqual(await committedKeys('n.'), [], 'nothing is committed before the batch ends');
    });
    const r = await settled<unknown>([first, later]);
    assert.deepEqual(r.map((x) => x.status), ['fulfilled', 'fulfilled']);
    assert.deepEqual(await committedKeys('n.'), ['n.first', 'n.inner', 'n.later']);
    // { tx } must be a running callback's tx: anything else would slip statements into someone else's batch.
    await assert.rejects(store.transaction(async (tx) => put(tx, 'n.wrong'), { tx: store.db }), /must be the tx of the transaction callback/);
  }, way.open);
});

for (const way of STORES) test(`many transactions at once are split into bounded batches and all commit; events wake readers after the commit (${way.name})`, { skip: way.skip }, async () => {
  await withStore(async ({ store, committedKeys, countEvents }) => {
    const wakes: Promise<number>[] = [];
    store.onEventsCommitted = () => void wakes.push(countEvents('test.many'));
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
    assert.equal((await committedKeys('m.')).length, n);
    // Each wake-up came after a commit and saw that commit's events (more than one batch: the size is bounded).
    const seen = await Promise.all(wakes);
    assert.ok(seen.length >= 2, `${seen.length} wake-ups`);
    assert.deepEqual([...seen].sort((a, b) => a - b), seen);
    assert.equal(seen[seen.length - 1], n);
  }, way.open);
});

for (const way of STORES) test(`close() lets transactions already asked for commit and answer first (${way.name})`, { skip: way.skip }, async () => {
  await withStore(async ({ store, committedKeys }) => {
    const ps = Array.from({ length: 300 }, (_, i) => store.transaction(async (tx) => put(tx, `z.${String(i).padStart(3, '0')}`)));
    await store.close();
    const r = await settled(ps);
    assert.ok(r.every((x) => x.status === 'fulfilled'));
    assert.equal((await committedKeys('z.')).length, 300);
  }, way.open);
});

test('a batch sends its control statements together: one call per callback and one more per batch, whatever fails', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-store-'));
  const connection = await SqliteConnection.open(path.join(dir, 'dsjobs.sqlite'), {}, migrate);
  const calls: string[][] = [];
  const commit = new GroupCommit({
    db: connection.db,
    control: (statements) => {
      calls.push([...statements]);
      connection.control(statements);
    },
    inTransaction: () => connection.inTransaction(),
  });
  try {
    // On PostgreSQL each call is a round trip: 2 per callback and 2 per batch before they were sent together.
    const ok = await settled(Array.from({ length: 4 }, (_, i) => commit.transaction(async (tx) => put(tx, `r.${i}`))));
    assert.ok(ok.every((x) => x.status === 'fulfilled'));
    assert.equal(calls.length, 4 + 1, JSON.stringify(calls));
    assert.deepEqual(calls[0], ['BEGIN', 'SAVEPOINT dsjobs_tx']);
    assert.deepEqual(calls[1], ['RELEASE dsjobs_tx', 'SAVEPOINT dsjobs_tx']);
    assert.deepEqual(calls[4], ['RELEASE dsjobs_tx', 'COMMIT']);
    calls.length = 0;
    const mixed = await settled(
      Array.from({ length: 5 }, (_, i) =>
        commit.transaction(async (tx) => {
          await put(tx, `s.${i}`);
          if (i === 2) throw new DsError('Conflict', 'the third changed meanwhile');
        }),
      ),
    );
    assert.deepEqual(mixed.map((x) => x.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    // The failing one adds its ROLLBACK TO and RELEASE, in one call.
    assert.equal(calls.length, 5 + 2, JSON.stringify(calls));
    assert.deepEqual(await commit.transaction(async (tx) => (await tx.selectFrom('meta').select('key').where('key', 'like', 's.%').orderBy('key').execute()).map((r) => r.key)), ['s.0', 's.1', 's.3', 's.4']);
  } finally {
    await commit.drain();
    await connection.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('waitForArrivals: a batch about to start waits once for what is on its way, and takes it along', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-store-'));
  const connection = await SqliteConnection.open(path.join(dir, 'dsjobs.sqlite'), {}, migrate);
  let commits = 0;
  const commit = new GroupCommit({
    db: connection.db,
    control: (statements) => {
      if (statements.includes('COMMIT')) commits++;
      connection.control(statements);
    },
    inTransaction: () => connection.inTransaction(),
  });
  const later = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    // Without it (nothing on its way): one asked now and two asked a few turns later make two batches.
    const first = [commit.transaction(async (tx) => put(tx, 'w.0'))];
    await later(20);
    await Promise.all([...first, commit.transaction(async (tx) => put(tx, 'w.1')), commit.transaction(async (tx) => put(tx, 'w.2'))]);
    assert.equal(commits, 2);

    // With requests on their way (a verification out): the batch waits for them and commits all three at once.
    commits = 0;
    let arrive!: () => void;
    let out: Promise<void> | null = new Promise<void>((r) => (arrive = r));
    commit.waitForArrivals(() => out);
    let committed = false;
    const waiting = commit.transaction(async (tx) => put(tx, 'x.0')).then(() => (committed = true));
    await later(20);
    assert.equal(committed, false, 'the batch waits for what is on its way');
    const arrived = [commit.transaction(async (tx) => put(tx, 'x.1')), commit.transaction(async (tx) => put(tx, 'x.2'))];
    out = null;
    arrive();
    await Promise.all([waiting, ...arrived]);
    assert.equal(commits, 1, 'one batch for the three');

    // It waits once per batch: with something always on its way, batches still run, each after one wait.
    commits = 0;
    commit.waitForArrivals(() => later(5).then(() => undefined));
    await Promise.all(Array.from({ length: 3 }, (_, i) => commit.transaction(async (tx) => put(tx, `y.${i}`))));
    assert.equal(commits, 1);
    const keys = await commit.transaction(async (tx) => (await tx.selectFrom('meta').select('key').where('key', 'like', '_.%').orderBy('key').execute()).map((r) => r.key));
    assert.deepEqual(keys, ['w.0', 'w.1', 'w.2', 'x.0', 'x.1', 'x.2', 'y.0', 'y.1', 'y.2']);
  } finally {
    await commit.drain();
    await connection.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const way of WAYS.filter((w) => w.name === 'PostgreSQL')) test(`a transaction that catches a database error itself (PostgreSQL's transaction is then aborted) fails alone, in the middle or last of its batch (${way.name})`, { skip: way.skip }, async () => {
  await withStore(async ({ store, committedKeys }) => {
    const swallowing = (key: string, taken: string) => async (tx: Tx) => {
      await put(tx, key);
      await put(tx, taken).catch(() => {});
      return key;
    };
    const r = await settled([
      store.transaction(async (tx) => put(tx, 'h.a').then(() => 'h.a')),
      store.transaction(swallowing('h.b', 'h.a')),
      store.transaction(async (tx) => put(tx, 'h.c').then(() => 'h.c')),
      // Last: a COMMIT of an aborted transaction would roll every callback of the batch back without an error.
      store.transaction(swallowing('h.d', 'h.c')),
    ]);
    assert.deepEqual(r.map((x) => x.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    assert.match(r[1].status === 'rejected' ? String(r[1].reason) : '', /current transaction is aborted/);
    assert.deepEqual(await committedKeys('h.'), ['h.a', 'h.c']);
  }, way.open);
});

for (const way of WAYS.filter((w) => w.name === 'PostgreSQL')) test(`statements a transaction sends side by side all run inside its savepoint: one that fails fails only its own transaction (${way.name})`, { skip: way.skip }, async () => {
  await withStore(async ({ store, committedKeys }) => {
    const r = await settled([
      store.transaction(async (tx) => put(tx, 'p.a')),
      // Its savepoint opens before its first statement: the second, sent at the same moment, must wait for it too.
      store.transaction(async (tx) => void (await Promise.all([put(tx, 'p.a'), put(tx, 'p.b')]))),
      store.transaction(async (tx) => put(tx, 'p.c')),
    ]);
    assert.deepEqual(r.map((x) => x.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(await committedKeys('p.'), ['p.a', 'p.c']);
  }, way.open);
});

const eventOf = (i: number, type: string) => ({ type, resourceId: `r${i}`, compartmentId: 'c', projectId: null, jobId: null, state: null, data: { i } });

for (const way of STORES) test(`events written in a batch commit with their transactions, in the order given; a failing transaction's events go with it (${way.name})`, { skip: way.skip }, async () => {
  await withStore(async ({ store, committedKeys, exec }) => {
    const type = 'test.order';
    const r = await settled(
      Array.from({ length: 6 }, (_, i) =>
        store.transaction(async (tx) => {
          await put(tx, `e.${i}`);
          await store.insertEvent(tx, eventOf(i, type));
          if (i === 2) throw new DsError('Conflict', 'the third changed meanwhile');
          if (i === 4) {
            // A nested transaction that fails takes its own event along, not the outer one's.
            await store.transaction(async (tx2) => {
              await store.insertEvent(tx2, eventOf(40, type));
              throw new DsError('Conflict', 'nested');
            }, { tx }).catch(() => {});
          }
          if (i === 5) await put(tx, 'e.0').catch(() => {}); // PostgreSQL: the transaction is now aborted; SQLite: no harm
          return i;
        }),
      ),
    );
    const pgAborted = r[5].status === 'rejected';
    assert.deepEqual(r.map((x) => x.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', pgAborted ? 'rejected' : 'fulfilled']);
    const kept = pgAborted ? [0, 1, 3, 4] : [0, 1, 3, 4, 5];
    assert.deepEqual(await committedKeys('e.'), kept.map((i) => `e.${i}`));
    // Read through the store's own connection: the events committed, oldest first.
    const rows = await store.db.selectFrom('events').select(['resource_id', 'seq']).where('type', '=', type).orderBy('seq').execute();
    assert.deepEqual(rows.map((x) => x.resource_id), kept.map((i) => `r${i}`));
    void exec;
  }, way.open);
});

test('PostgreSQL: a batch of transactions that each write a row and an event costs two round trips per transaction and three more per batch', { skip: pgSkip }, async () => {
  const url = await freshDatabase();
  const store = await Store.openPostgres(url);
  const queries = countQueries();
  try {
    const n = 10;
    const r = await settled(Array.from({ length: n }, (_, i) => store.transaction(async (tx) => {
      await put(tx, `q.${i}`);
      await store.insertEvent(tx, eventOf(i, 'test.trips'));
    })));
    assert.ok(r.every((x) => x.status === 'fulfilled'));
    // BEGIN with the first SAVEPOINT; per transaction its row, and its RELEASE with the next SAVEPOINT; the last
    // RELEASE; the events in one INSERT; COMMIT. Each of those was a round trip of its own: 4n + 2.
    assert.equal(queries.count, 2 * n + 3);
  } finally {
    queries.restore();
    await store.close();
  }
});

/**
 * A reader on a connection of its own that follows `seq > cursor` (as the event readers do) until stopped: every
 * event it saw, in the order it saw them. An event that became visible after one with a higher `seq` would be missing.
 */
function pollEvents(url: string, type: string): { stop(): Promise<string[]> } {
  const client = new pg.Client({ connectionString: url });
  const seen: string[] = [];
  let stopped = false;
  const loop = (async () => {
    await client.connect();
    let cursor = 0;
    const poll = async () => {
      const r = await client.query('SELECT seq, resource_id FROM events WHERE type = $1 AND seq > $2 ORDER BY seq', [type, cursor]);
      for (const row of r.rows as { seq: number; resource_id: string }[]) {
        seen.push(row.resource_id);
        cursor = Number(row.seq);
      }
    };
    while (!stopped) await poll();
    await poll();
    await client.end();
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

test('PostgreSQL: the next batch opens its transaction while the last one commits; it waits on the writers\' lock, its callbacks run after the last batch is answered, and a reader polling meanwhile misses no event', { skip: pgSkip }, async () => {
  const url = await freshDatabase();
  const store = await Store.openPostgres(url);
  const other = new pg.Client({ connectionString: url });
  await other.connect();
  const type = 'test.overlap';
  const reader = pollEvents(url, type);
  // The first COMMIT is held before it is sent, until the test lets it go: the batch is then "in its COMMIT".
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let held!: () => void;
  const commitHeld = new Promise<void>((r) => (held = r));
  let holding = true;
  const queries = countQueries((a, send) => {
    if (holding && typeof a[0] === 'string' && a[0].includes('COMMIT')) {
      holding = false;
      held();
      return gate.then(send);
    }
    return send();
  });
  try {
    const first = Array.from({ length: 5 }, (_, i) => store.transaction(async (tx) => store.insertEvent(tx, eventOf(i, type))));
    await commitHeld;
    const order: string[] = [];
    void first[4].then(() => order.push('first answered'));
    const second = Array.from({ length: 5 }, (_, i) => store.transaction(async (tx) => {
      order.push(`second ${i} runs`);
      await store.insertEvent(tx, eventOf(5 + i, type));
    }));
    // The second batch's BEGIN waits in PostgreSQL on the lock the first one holds through its COMMIT.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await other.query("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'");
      if (Number(r.rows[0].n) === 1) break;
      assert.ok(Date.now() < deadline, 'no second batch waited on the writers\' lock while the first one was in its COMMIT');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(order, []);
    release();
    const r = await settled([...first, ...second]);
    assert.ok(r.every((x) => x.status === 'fulfilled'));
    assert.deepEqual(order, ['first answered', ...Array.from({ length: 5 }, (_, i) => `second ${i} runs`)]);
    // Many batches now, two in flight at a time, while the reader polls: 8 clients, each asking for its next
    // transaction once its last one is answered (what keeps a queue waiting while a batch commits). Every other one
    // also sends a statement of its own (a savepoint then, opened on the batch's connection).
    let next = 10;
    const clients = await settled(Array.from({ length: 8 }, async () => {
      for (let k = 0; k < 15; k++) {
        const i = next++;
        await store.transaction(async (tx) => {
          if (i % 2 === 0) await put(tx, `o.${i}`);
          await store.insertEvent(tx, eventOf(i, type));
        });
      }
    }));
    assert.ok(clients.every((x) => x.status === 'fulfilled'));
    assert.equal((await other.query("SELECT count(*) AS n FROM meta WHERE key LIKE 'o.%'")).rows[0].n, String((next - 10) / 2));
    const all = await other.query('SELECT resource_id FROM events WHERE type = $1 ORDER BY seq', [type]);
    assert.equal(all.rows.length, next);
    assert.deepEqual(await reader.stop(), all.rows.map((x: { resource_id: string }) => x.resource_id));
  } finally {
    queries.restore();
    release();
    await reader.stop().catch(() => {});
    await other.end();
    await store.close();
  }
});

test('PostgreSQL: while no connection can be had, a transaction fails with why (it does not wait forever), and the next one commits once the database takes connections again', { skip: pgSkip }, async () => {
  const url = await freshDatabase();
  const name = new URL(url).pathname.slice(1);
  const store = await Store.openPostgres(url);
  const admin = new pg.Client({ connectionString: url.replace(/\/[^/]+$/, '/postgres') });
  await admin.connect();
  try {
    await store.transaction((tx) => put(tx, 'before'));
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    const r = await settled([store.transaction((tx) => put(tx, 'during')), store.transaction((tx) => put(tx, 'during2'))]);
    assert.deepEqual(r.map((x) => x.status), ['rejected', 'rejected']);
    assert.match(String((r[0] as PromiseRejectedResult).reason), /not currently accepting connections|terminat|connection/i);
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    const after = await settled([store.transaction((tx) => put(tx, 'after'))]);
    assert.equal(after[0]!.status, 'fulfilled');
    assert.deepEqual((await store.db.selectFrom('meta').select('key').where('key', 'in', ['before', 'during', 'during2', 'after']).orderBy('key').execute()).map((x) => x.key), ['after', 'before']);
  } finally {
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => {});
    await admin.end();
    await store.close();
  }
});
