/**
 * The automation e2e files again, against servers on PostgreSQL (as postgres.test.ts does for runs, events and
 * logs; a file of its own so the two run side by side): webhook deliveries at least once across server kills
 * (webhooks.test.ts), schedules firing exactly once, missed starts after downtime (schedules.test.ts), and sweeps
 * never exceeding maxParallel across a server kill (sweeps.test.ts).
 */
import { test } from 'node:test';
import { postgresCluster, postgresMissing } from '../support/postgres.js';

const missing = postgresMissing();
if (missing) {
  test('the automation e2e files on PostgreSQL', { skip: missing }, () => {});
} else {
  postgresCluster();
  process.env.DSJOBS_TEST_POSTGRES = '1';
  await import('./webhooks.test.js');
  await import('./schedules.test.js');
  await import('./sweeps.test.js');
}
