import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, createJob, startRun, waitForRun, readLogs, type TestServer } from '../support/server.js';

let s: TestServer;
before(async () => {
  s = await startServer();
});
after(async () => {
  await s.close();
});

test('a .py job runs to SUCCEEDED with merged env, split args and captured logs', async () => {
  const job = await createJob(
    s,
    'hello.py',
    'import os, sys\nprint("env", os.environ["A"], os.environ["B"], os.environ["JOB_RUN_OCID"] == os.environ.get("EXPECT_RUN", os.environ["JOB_RUN_OCID"]))\nprint("args", sys.argv[1:])\nprint("oops", file=sys.stderr)\n',
    { env: { A: 'job', B: 'job' }, args: 'x y' },
  );
  assert.equal(job.lifecycleState, 'ACTIVE');
  const run = await startRun(s, job, { env: { B: 'run' }, args: `one 'two three' "$HOME"` });
  assert.equal(run.lifecycleState, 'ACCEPTED');
  const done = await waitForRun(s.api, run.id);
  assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
  assert.equal(done.exitCode, 0);
  const logs = await readLogs(s, run.id);
  const stdout = logs.filter((l) => l.stream === 'stdout').map((l) => l.message);
  assert.deepEqual(stdout, ['env job run True', "args ['one', 'two three', '$HOME']"]);
  assert.deepEqual(logs.filter((l) => l.stream === 'stderr').map((l) => l.message), ['oops']);
  assert.deepEqual(logs.map((l) => l.seq), [1, 2, 3]);
});

test('a failing .sh job ends FAILED with OCI exit-code details', async () => {
  const job = await createJob(s, 'fail.sh', 'echo about to fail\nexit 21\n');
  const run = await startRun(s, job);
  const done = await waitForRun(s.api, run.id);
  assert.equal(done.lifecycleState, 'FAILED');
  assert.equal(done.lifecycleDetails, 'Job run artifact execution failed with exit code 21.');
  assert.equal(done.exitCode, 21);
});
