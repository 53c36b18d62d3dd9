/**
 * examples/tuning-to-final/run.sh against a real server: a sweep over MODEL_CLASS whose runs write their results to a
 * bucket through a bucket mount, then the final job reads them from the bucket and writes the model and a report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, startServer } from '../support/server.js';
import { makeObjectStorageClient } from '../support/oci-sdk-client.js';

const run = promisify(execFile);

test('examples/tuning-to-final/run.sh: one run per model class writes to the bucket, the final job trains the best from what it reads there', async (t) => {
  const s = await startServer({ env: { DSJOBS_CAPACITY_CPUS: '4', DSJOBS_CAPACITY_MEMORY_IN_GBS: '64' } });
  const os = makeObjectStorageClient(s.url, s.configFile);
  try {
    // Bucket mounts are made by the run sandbox; a host that cannot set it up has none (never skipped in CI).
    const off = /protection OFF: sandbox[^\n]*/.exec(s.output());
    if (off && process.env.CI !== 'true') {
      t.skip(`no sandbox on this host, so no bucket mounts: ${off[0].slice(0, 300)}`);
      return;
    }
    const { stdout } = await run('bash', [path.join(ROOT, 'examples', 'tuning-to-final', 'run.sh')], {
      env: { ...process.env, DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir, BATCH: 'batch1' },
      timeout: 300_000,
    });
    const ranking = [...stdout.matchAll(/^\s+\d\. (\w+)\s+([0-9.]+)/gm)].map((m) => [m[1], Number(m[2])] as const);
    assert.deepEqual(ranking.map(([c]) => c).sort(), ['knn', 'logreg', 'stumps'], stdout);
    assert.deepEqual(ranking.map(([, v]) => v), ranking.map(([, v]) => v).sort((a, b) => b - a), 'best first');
    assert.match(stdout, new RegExp(`final model: ${ranking[0][0]} .* trained on all 600 rows`));
    const ns = (await os.client.getNamespace({})).value;
    assert.match(stdout, new RegExp(`model: oci://results@${ns}/batch1/final/model\\.json`));
    const listed = await os.client.listObjects({ namespaceName: ns, bucketName: 'results', prefix: 'batch1/' });
    assert.deepEqual(
      listed.listObjects.objects.map((o) => o.name),
      ['batch1/final/model.json', 'batch1/final/report.txt', 'batch1/knn.json', 'batch1/logreg.json', 'batch1/stumps.json'],
    );
    const model = await os.client.getObject({ namespaceName: ns, bucketName: 'results', objectName: 'batch1/final/model.json' });
    const chunks: Buffer[] = [];
    for await (const c of model.value as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
    assert.equal(JSON.parse(Buffer.concat(chunks).toString()).class, ranking[0][0]);
  } finally {
    os.close();
    await s.close();
  }
});
