import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, startServer } from '../support/server.js';

const run = promisify(execFile);

test('examples/sweep-train/run.sh: a sweep over model classes and hyperparameters, then a final run of the best', async () => {
  const s = await startServer({ env: { DSJOBS_CAPACITY_CPUS: '4', DSJOBS_CAPACITY_MEMORY_IN_GBS: '64' } });
  try {
    const { stdout, stderr } = await run('bash', [path.join(ROOT, 'examples', 'sweep-train', 'run.sh')], {
      env: { ...process.env, DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir },
      timeout: 240_000,
    });
    // The ranking table: 9 trials, best first, with the metric.
    assert.match(stdout, /RANK\s+INDEX\s+STATE\s+MODEL\s+HP\s+ACCURACY/);
    const rows = stdout.split('\n').filter((l) => /^\d+\s+\d+\s+SUCCEEDED/.test(l));
    assert.equal(rows.length, 9, stdout);
    const acc = rows.map((l) => Number(l.trim().split(/\s+/).pop()));
    assert.deepEqual(acc, [...acc].sort((a, b) => b - a), 'ranked best first');
    const best = rows[0].trim().split(/\s+/);
    // The final run trains the best model class with its hyperparameter on all the data.
    assert.match(stdout, new RegExp(`${best[3]} .*: accuracy [0-9.]+ \\(final model on all 600 rows\\)`));
    assert.match(stderr, /Job Run SUCCEEDED/);
  } finally {
    await s.close();
  }
});
