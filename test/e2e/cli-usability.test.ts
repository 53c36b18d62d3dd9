/**
 * The CLI as a new user meets it (issue 24): the real CLI (node bin/dsjobs.js, compiled dist/) against a real server.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../support/server.js';
import { runCli } from '../support/cli.js';

let s: TestServer;

before(async () => {
  s = await startServer();
});
after(async () => {
  await s?.close();
});

describe('an unreachable server', () => {
  test('the error says where the URL came from and how to give another (--endpoint, DSJOBS_ENDPOINT)', async () => {
    const byFlag = await runCli(['--endpoint', 'http://127.0.0.1:1', 'job', 'list'], { env: { DSJOBS_ENDPOINT: undefined } });
    assert.equal(byFlag.code, 2);
    assert.match(byFlag.stderr, /cannot reach dsjobs at http:\/\/127\.0\.0\.1:1/);
    assert.match(byFlag.stderr, /the URL is from --endpoint/);
    assert.match(byFlag.stderr, /--endpoint http:\/\/HOST:PORT/);
    assert.match(byFlag.stderr, /DSJOBS_ENDPOINT=http:\/\/HOST:PORT/);

    const byEnv = await runCli(['shapes'], { endpoint: 'http://127.0.0.1:1' });
    assert.match(byEnv.stderr, /the URL is from DSJOBS_ENDPOINT/);

    assert.doesNotMatch(byEnv.stderr, /^\s+at /m, 'no stack trace');
  });
});
