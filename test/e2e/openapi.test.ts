/**
 * docs/openapi.json, the API's document for users and client generators, is what the server's routes say: the
 * server generates it from the same schemas that validate requests, and the committed copy must match it exactly
 * (after a route or schema change: `npm run build && npm run openapi`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatOpenApi, OPENAPI_FILE, servedOpenApi } from '../../scripts/openapi.js';

test('the committed docs/openapi.json is the document the built server serves', async () => {
  const served = (await servedOpenApi()) as { paths: Record<string, Record<string, unknown>> };
  const committed = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as typeof served;
  const ops = (d: typeof served) => Object.entries(d.paths).flatMap(([p, m]) => Object.keys(m).map((v) => `${v.toUpperCase()} ${p}`));
  const missing = ops(served).filter((o) => !ops(committed).includes(o));
  const gone = ops(committed).filter((o) => !ops(served).includes(o));
  assert.deepEqual({ missing, gone }, { missing: [], gone: [] }, 'docs/openapi.json is stale: run `npm run build && npm run openapi`');
  assert.equal(readFileSync(OPENAPI_FILE, 'utf8'), formatOpenApi(served), 'docs/openapi.json is stale: run `npm run build && npm run openapi`');
});
