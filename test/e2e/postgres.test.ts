/**
 * A representative set of the e2e files, run again against servers on PostgreSQL (`--database`, through
 * DSJOBS_DATABASE): runs created, waited for, listed, canceled and deleted through the official OCI SDK, with their
 * logs (oci-sdk.test.ts), and the event log with its follow stream, across server kills (events.test.ts); the
 * automation files are in postgres-automation.test.ts, a restart of PostgreSQL itself in postgres-restart.test.ts.
 * Each server gets a database of its own in one throwaway cluster (test/support/postgres.ts). Importing the files
 * registers their tests here unchanged: nothing doubles the rest of the suite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { postgresCluster, postgresMissing } from '../support/postgres.js';

const missing = postgresMissing();
if (missing) {
  test('the e2e files on PostgreSQL', { skip: missing }, () => {});
} else {
  postgresCluster();
  process.env.DSJOBS_TEST_POSTGRES = '1';
  await import('./oci-sdk.test.js');
  await import('./events.test.js');

  // Registered last, so it runs after the files above: their servers' rows are in PostgreSQL, not in a SQLite file.
  test('the servers above kept their state in PostgreSQL databases of their own', async () => {
    const url = postgresCluster().url;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const names = (await admin.query(`select datname from pg_database where datname like 'dsjobs_t%'`)).rows.map((r) => r.datname as string);
    await admin.end();
    assert.ok(names.length >= 2, `databases: ${names.join(', ')}`);
    let runs = 0;
    for (const name of names) {
      const c = new pg.Client({ connectionString: url.replace(/\/dsjobs$/, `/${name}`) });
      await c.connect();
      runs += Number((await c.query('select count(*) as n from job_runs')).rows[0].n);
      await c.end();
    }
    assert.ok(runs >= 10, `runs in PostgreSQL: ${runs}`);
  });
}
