import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, createJob, startRun, waitForRun, readLogs, type TestServer } from '../support/server.js';

// The same behaviours with both run supervisors: the native one (supervisor.c) and the POSIX sh fallback.
for (const supervisor of ['native', 'sh'] as const) {
describe(`${supervisor} supervisor`, () => {
let s: TestServer;
before(async () => {
  s = await startServer({ env: { DSJOBS_SUPERVISOR: supervisor } });
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

test('a run killed by a signal ends FAILED naming the signal, not an exit code', async () => {
  const job = await createJob(s, 'sig.sh', 'echo dying\nkill -KILL $$\n');
  const done = await waitForRun(s.api, (await startRun(s, job)).id);
  assert.equal(done.lifecycleState, 'FAILED');
  if (supervisor === 'native') {
    assert.equal(done.lifecycleDetails, 'Job run artifact execution failed: the process was killed by signal SIGKILL.');
    assert.equal(done.exitCode ?? null, null);
  } else {
    // A shell reports a death by signal N as 128+N.
    assert.equal(done.lifecycleDetails, 'Job run artifact execution failed with exit code 137.');
  }
});

test('cancel: SIGTERM reaches the whole run, which cleans up and ends CANCELED', async () => {
  const job = await createJob(s, 'trap.sh', "trap 'echo got TERM; exit 0' TERM\necho ready\nwhile true; do sleep 0.05; done\n");
  const run = await startRun(s, job);
  for (let i = 0; i < 400; i++) {
    if ((await readLogs(s, run.id)).some((l) => l.message === 'ready')) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  await s.api.cancelJobRun(run.id);
  const done = await waitForRun(s.api, run.id);
  assert.equal(done.lifecycleState, 'CANCELED');
  // bash may add 'Terminated' (stderr) for its sleep child, which got the same SIGTERM; stdout and stderr lines
  // are ordered by when each was read, so it may come before or after the trap's line.
  const out = (await readLogs(s, run.id)).map((l) => l.message);
  assert.equal(out[0], 'ready');
  assert.ok(out.includes('got TERM'), out.join('|'));
  assert.deepEqual(out.filter((m) => m !== 'Terminated'), ['ready', 'got TERM']);
});
});
}

describe('inputs checked where they are given', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s.close();
  });

  test('a job whose arguments cannot be split is refused at creation, naming the field', async () => {
    await assert.rejects(createJob(s, 'q.sh', 'exit 0\n', { args: "x 'y" }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'InvalidParameter');
      assert.match(e.message, /jobConfigurationDetails\.commandLineArguments: unterminated single quote/);
      return true;
    });
  });

  test("a run may move a flex-shaped job to another shape: the job's shape config stays with the job", async () => {
    const job = await createJob(s, 'f.sh', 'echo ok\n', { shape: 'VM.Standard.E4.Flex', ocpus: 1, memoryInGBs: 2 });
    const run = await startRun(s, job, { shape: 'Local.Light' });
    assert.equal(run.jobInfrastructureConfigurationDetails.shapeName, 'Local.Light');
    assert.equal(run.jobInfrastructureConfigurationDetails.jobShapeConfigDetails ?? null, null);
    assert.equal((await waitForRun(s.api, run.id)).lifecycleState, 'SUCCEEDED');
  });
});

test('SIGTERM stops the server promptly even while a client follows a long run', async () => {
  const s = await startServer();
  try {
    const job = await createJob(s, 'long.sh', 'echo started\nsleep 60\n');
    const run = await startRun(s, job);
    const follower = (async () => {
      try {
        for await (const _ of s.api.logs(run.id, { follow: true })) void _;
      } catch {
        /* the connection is cut by the shutdown */
      }
    })();
    await waitForRun(s.api, run.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    const t0 = Date.now();
    await s.kill('SIGTERM');
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
    assert.equal(s.proc.exitCode, 0);
    await follower;
  } finally {
    await s.close();
  }
});

describe('what a run leaves behind and what it is given', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s.close();
  });

  test('a background writer left behind does not keep a finished run going: it is killed and the run ends', async () => {
    const job = await createJob(s, 'bg.sh', "(while true; do echo spam; done) &\necho $! > bg.pid\nsleep 0.3\necho main done\n");
    const run = await startRun(s, job);
    const t0 = Date.now();
    const done = await waitForRun(s.api, run.id, undefined, 15_000);
    assert.equal(done.lifecycleState, 'SUCCEEDED');
    assert.ok(Date.now() - t0 < 10_000, `ended after ${Date.now() - t0} ms`);
    const logs = await readLogs(s, run.id);
    assert.ok(logs.some((l) => l.message === 'main done'));
  });

  test('runs get a PATH, HOME and locale from the host, under their own variables', async () => {
    const job = await createJob(s, 'env.sh', 'echo "path=${PATH:+set} home=${HOME:+set} mine=$MINE"\n', { env: { MINE: 'x', PATH: '/usr/bin:/bin' } });
    const done = await waitForRun(s.api, (await startRun(s, job)).id);
    assert.equal(done.lifecycleState, 'SUCCEEDED');
    assert.deepEqual((await readLogs(s, done.id)).map((l) => l.message), ['path=set home=set mine=x']);
  });
});
