/**
 * End-to-end tests of job runs against a real server process: artifact kinds, env and arguments, exit codes,
 * cancellation (graceful, forced, process-group cleanup, queued), maximum runtime, capacity queueing and the logs
 * API (since, follow, resume, large output).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startServer, createJob, startRun, waitForRun, readLogs, type TestServer } from '../support/server.js';
import type { JobRun, LogRecord } from '../../src/sdk/client.js';

/**
 * These jobs coordinate with the test through files in the host's /tmp and report host pids, which a sandboxed
 * run cannot see (its /tmp is its own, its pids are its namespace's). They run unsandboxed, with cgroups still on:
 * the sandbox itself is tested in isolation.test.ts.
 */
const HOST_FILES = { DSJOBS_SANDBOX: 'off' };

const SUCCEEDED_DETAILS = 'Job run artifact execution succeeded. Infrastructure de-provisioning.';
const GRACE_MS = 1000;

// ------------------------------------------------------------------------------------------------ helpers

const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-runs-test-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

function tmpDir(): string {
  const d = path.join(tmpRoot, randomUUID());
  mkdirSync(d, { recursive: true });
  return d;
}

const PACK_PY = `
import os, sys, zipfile, tarfile
src, out, kind = sys.argv[1:4]
entries = []
for root, dirs, files in os.walk(src):
    dirs.sort()
    rel = os.path.relpath(root, src)
    if rel != '.':
        entries.append((root, rel))
    for f in sorted(files):
        p = os.path.join(root, f)
        entries.append((p, os.path.relpath(p, src)))
if kind == 'zip':
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
        for p, a in entries:
            z.write(p, a)
else:
    with tarfile.open(out, 'w:gz') as t:
        for p, a in entries:
            t.add(p, a, recursive=False)
`;

/** Builds a .zip or .tar.gz of `files` (relative path -> content) with python3's zipfile / tarfile. */
function pack(kind: 'zip' | 'tar.gz', files: Record<string, string | Buffer>): Buffer {
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(src, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content, { mode: 0o755 });
  }
  const out = path.join(dir, `out.${kind}`);
  execFileSync('python3', ['-c', PACK_PY, src, out, kind]);
  return readFileSync(out);
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const stdoutOf = (logs: LogRecord[]) => logs.filter((l) => l.stream === 'stdout').map((l) => l.message);
const stderrOf = (logs: LogRecord[]) => logs.filter((l) => l.stream === 'stderr').map((l) => l.message);
const ms = (t: string | null | undefined) => {
  assert.ok(t, 'timestamp expected');
  return Date.parse(t);
};
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

/** Polls the run's log until a record satisfies `pred`; returns it. */
async function waitForLog(s: TestServer, runId: string, pred: (r: LogRecord) => boolean, timeoutMs = 15_000): Promise<LogRecord> {
  const start = Date.now();
  let last: LogRecord[] = [];
  while (Date.now() - start < timeoutMs) {
    last = await readLogs(s, runId);
    const hit = last.find(pred);
    if (hit) return hit;
    await sleep(25);
  }
  const run = await s.api.getJobRun(runId);
  throw new Error(`log line not seen in ${timeoutMs} ms; run ${run.lifecycleState} ${run.lifecycleDetails}; log: ${JSON.stringify(last.map((l) => l.message))}`);
}

/** A pid that exists and is not a zombie (an unreaped zombie has no code running and holds nothing). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The processes of a terminal run are killed as part of its end: allow that a moment, then they must be gone. */
async function assertGone(pids: number[], label: string, withinMs = 2000): Promise<void> {
  const start = Date.now();
  while (pids.some(alive) && Date.now() - start < withinMs) await sleep(25);
  for (const pid of pids) {
    if (alive(pid)) {
      let cmd = '?';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        /* gone */
      }
      try {
        process.kill(pid, 'SIGKILL'); // do not leave it behind
      } catch {
        /* gone */
      }
      assert.fail(`${label}: process ${pid} (${cmd}) is still alive ${withinMs} ms after the run ended`);
    }
  }
}

function pidFrom(logs: LogRecord[], prefix: string): number {
  const line = logs.find((l) => l.message.startsWith(prefix));
  assert.ok(line, `no '${prefix}' line in ${JSON.stringify(logs.map((l) => l.message))}`);
  const pid = Number(line.message.slice(prefix.length).trim());
  assert.ok(Number.isInteger(pid) && pid > 1, `bad pid in '${line.message}'`);
  return pid;
}

function assertTimesOrdered(r: JobRun): void {
  const a = ms(r.timeAccepted);
  const s = ms(r.timeStarted);
  const f = ms(r.timeFinished);
  assert.ok(a <= s, `timeAccepted ${r.timeAccepted} <= timeStarted ${r.timeStarted}`);
  assert.ok(s <= f, `timeStarted ${r.timeStarted} <= timeFinished ${r.timeFinished}`);
}

async function runToEnd(s: TestServer, job: { id: string; projectId: string }, o: Parameters<typeof startRun>[2] = {}, timeoutMs = 30_000) {
  const run = await startRun(s, job, o);
  const done = await waitForRun(s.api, run.id, undefined, timeoutMs);
  return { run: done, logs: await readLogs(s, run.id) };
}

// ------------------------------------------------------------------------------------------------ shared server

describe('runs on a shared server', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ env: { ...HOST_FILES, DSJOBS_GRACE_PERIOD_MS: String(GRACE_MS) } });
  });
  after(async () => {
    await s?.close();
  });

  // ---------------------------------------------------------------------------------------------- 1. artifacts

  describe('artifact kinds', () => {
    test('.py runs with python', async () => {
      const job = await createJob(s, 'main.py', 'import sys\nprint("py", sys.version_info[0], sys.argv[1:])\n', { args: 'a b' });
      const { run, logs } = await runToEnd(s, job);
      assert.equal(run.lifecycleState, 'SUCCEEDED', run.lifecycleDetails ?? '');
      assert.deepEqual(stdoutOf(logs), ["py 3 ['a', 'b']"]);
    });

    test('.sh runs with bash', async () => {
      // [[ ]] and arrays are bash-only: a plain sh would fail on them.
      const job = await createJob(s, 'main.sh', 'arr=(x y z)\nif [[ ${#arr[@]} == 3 ]]; then echo "bash ${BASH_VERSINFO[0]} $1"; fi\n', { args: 'hi' });
      const { run, logs } = await runToEnd(s, job);
      assert.equal(run.lifecycleState, 'SUCCEEDED', run.lifecycleDetails ?? '');
      assert.equal(stdoutOf(logs).length, 1);
      assert.match(stdoutOf(logs)[0], /^bash \d+ hi$/);
    });

    test('.zip with a top-level folder and JOB_RUN_ENTRYPOINT=folder/main.py', async () => {
      const zip = pack('zip', {
        'proj/main.py': 'import os, sys\nimport helper\nprint("zip", helper.VALUE, os.environ["JOB_ARTIFACT_FILE_NAME"], sys.argv[1:])\n',
        'proj/helper.py': 'VALUE = "from-helper"\n',
        'proj/data/readme.txt': 'data\n',
      });
      const job = await createJob(s, 'app.zip', zip, { env: { JOB_RUN_ENTRYPOINT: 'proj/main.py' }, args: 'z1' });
      const { run, logs } = await runToEnd(s, job);
      assert.equal(run.lifecycleState, 'SUCCEEDED', run.lifecycleDetails ?? '');
      assert.deepEqual(stdoutOf(logs), ["zip from-helper app.zip ['z1']"]);
    });

    for (const name of ['bundle.tar.gz', 'bundle.tgz']) {
      test(`${name} with a .sh entrypoint`, async () => {
        const tgz = pack('tar.gz', {
          'pkg/bin/run.sh': 'here=$(cd "$(dirname "$0")" && pwd)\necho "tar $(cat "$here/../share/msg.txt") $JOB_ARTIFACT_FILE_NAME $1"\n',
          'pkg/share/msg.txt': 'hello-from-tar',
        });
        const job = await createJob(s, name, tgz, { env: { JOB_RUN_ENTRYPOINT: 'pkg/bin/run.sh' }, args: 't1' });
        const { run, logs } = await runToEnd(s, job);
        assert.equal(run.lifecycleState, 'SUCCEEDED', run.lifecycleDetails ?? '');
        assert.deepEqual(stdoutOf(logs), [`tar hello-from-tar ${name} t1`]);
      });
    }

    const haveJava = hasCommand('javac') && hasCommand('jar') && hasCommand('java');
    test('.jar entrypoint inside a .zip runs with java -jar', { skip: haveJava ? false : 'javac/jar/java not on PATH' }, async () => {
      const dir = tmpDir();
      writeFileSync(
        path.join(dir, 'Main.java'),
        'public class Main { public static void main(String[] a) { System.out.println("java " + String.join("|", a) + " " + System.getenv("JOB_ARTIFACT_FILE_NAME")); } }\n',
      );
      writeFileSync(path.join(dir, 'manifest.txt'), 'Main-Class: Main\n');
      execFileSync('javac', ['Main.java'], { cwd: dir });
      execFileSync('jar', ['cfm', 'app.jar', 'manifest.txt', 'Main.class'], { cwd: dir });
      const zip = pack('zip', { 'javaapp/lib/app.jar': readFileSync(path.join(dir, 'app.jar')) });
      const job = await createJob(s, 'java.zip', zip, { env: { JOB_RUN_ENTRYPOINT: 'javaapp/lib/app.jar' }, args: `j1 'j 2'` });
      const { run, logs } = await runToEnd(s, job);
      assert.equal(run.lifecycleState, 'SUCCEEDED', `${run.lifecycleDetails} ${JSON.stringify(logs)}`);
      assert.deepEqual(stdoutOf(logs), ['java j1|j 2 java.zip']);
    });

    test('an archive with no JOB_RUN_ENTRYPOINT fails naming it; a run override supplies it', async () => {
      const zip = pack('zip', { 'proj/main.py': 'print("ran entry")\n' });
      const job = await createJob(s, 'noentry.zip', zip);
      assert.equal(job.lifecycleState, 'ACTIVE');
      const { run } = await runToEnd(s, job);
      assert.equal(run.lifecycleState, 'FAILED');
      assert.match(run.lifecycleDetails ?? '', /JOB_RUN_ENTRYPOINT/);
      assert.equal(run.timeStarted ?? null, null, 'a run that could not start has no timeStarted');
      assert.ok(run.timeFinished, 'timeFinished is set');

      const { run: ok, logs } = await runToEnd(s, job, { env: { JOB_RUN_ENTRYPOINT: 'proj/main.py' } });
      assert.equal(ok.lifecycleState, 'SUCCEEDED', ok.lifecycleDetails ?? '');
      assert.deepEqual(stdoutOf(logs), ['ran entry']);
    });
  });

  // ---------------------------------------------------------------------------------------------- 2. env and args

  describe('environment and arguments', () => {
    const ENV_PY = `import json, os, sys
keys = ["A", "B", "C", "D", "JOB_OCID", "JOB_RUN_OCID", "PROJECT_OCID", "JOB_COMPARTMENT_OCID", "JOB_RUN_COMPARTMENT_OCID",
        "PROJECT_COMPARTMENT_OCID", "TENANCY_OCID", "JOB_ARTIFACT_FILE_NAME"]
print(json.dumps({"env": {k: os.environ.get(k) for k in keys}, "argv": sys.argv[1:]}))
`;
    const ARGV_PY = 'import json, sys\nprint(json.dumps(sys.argv[1:]))\n';

    test('job env merged with run env (run wins) and the injected variables', async () => {
      const info = await s.api.serverInfo();
      const job = await createJob(s, 'env.py', ENV_PY, { env: { A: 'job-a', B: 'job-b', C: 'job-c' } });
      const run = await startRun(s, job, { env: { B: 'run-b', D: 'run-d' } });
      const done = await waitForRun(s.api, run.id);
      assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');
      const out = JSON.parse(stdoutOf(await readLogs(s, run.id))[0]);
      assert.deepEqual(out.env, {
        A: 'job-a',
        B: 'run-b',
        C: 'job-c',
        D: 'run-d',
        JOB_OCID: job.id,
        JOB_RUN_OCID: run.id,
        PROJECT_OCID: job.projectId,
        JOB_COMPARTMENT_OCID: job.compartmentId,
        JOB_RUN_COMPARTMENT_OCID: run.compartmentId,
        PROJECT_COMPARTMENT_OCID: s.compartmentId,
        TENANCY_OCID: info.tenancyId,
        JOB_ARTIFACT_FILE_NAME: 'env.py',
      });
      assert.ok(info.tenancyId, 'serverInfo has a tenancyId');
    });

    test('job args are used when the run gives none; run args replace them', async () => {
      const job = await createJob(s, 'argv.py', ARGV_PY, { args: `x "y z"` });
      const a = await runToEnd(s, job);
      assert.equal(a.run.lifecycleState, 'SUCCEEDED', a.run.lifecycleDetails ?? '');
      assert.deepEqual(JSON.parse(stdoutOf(a.logs)[0]), ['x', 'y z']);
      const b = await runToEnd(s, job, { args: 'p q' });
      assert.equal(b.run.lifecycleState, 'SUCCEEDED', b.run.lifecycleDetails ?? '');
      assert.deepEqual(JSON.parse(stdoutOf(b.logs)[0]), ['p', 'q']);
      // env-only override keeps the job's arguments
      const c = await runToEnd(s, job, { env: { E: '1' } });
      assert.deepEqual(JSON.parse(stdoutOf(c.logs)[0]), ['x', 'y z']);
    });

    test('quoting and escapes reach argv exactly, nothing is evaluated by a shell', async () => {
      const job = await createJob(s, 'argv2.py', ARGV_PY);
      const { run, logs } = await runToEnd(s, job, { args: `a "b c" 'd e' f\\ g '$HOME' ';' '|'` });
      assert.equal(run.lifecycleState, 'SUCCEEDED', run.lifecycleDetails ?? '');
      assert.deepEqual(JSON.parse(stdoutOf(logs)[0]), ['a', 'b c', 'd e', 'f g', '$HOME', ';', '|']);

      const p1 = path.join(os.tmpdir(), `pwned-${randomUUID()}`);
      const p2 = path.join(os.tmpdir(), `pwned-${randomUUID()}`);
      const p3 = path.join(os.tmpdir(), `pwned-${randomUUID()}`);
      // A .sh artifact too: bash runs the script, but the arguments must still never be evaluated.
      const sh = await createJob(s, 'argv.sh', 'for a in "$@"; do printf "[%s]\\n" "$a"; done\n');
      const args = `$(touch ${p1}) \`touch ${p2}\` ";touch ${p3}" $HOME`;
      const r = await runToEnd(s, sh, { args });
      assert.equal(r.run.lifecycleState, 'SUCCEEDED', r.run.lifecycleDetails ?? '');
      assert.deepEqual(stdoutOf(r.logs), [`[$(touch]`, `[${p1})]`, `[\`touch]`, `[${p2}\`]`, `[;touch ${p3}]`, '[$HOME]']);
      const py = await runToEnd(s, job, { args: `'$(touch ${p1})' '\`touch ${p2}\`'` });
      assert.deepEqual(JSON.parse(stdoutOf(py.logs)[0]), [`$(touch ${p1})`, `\`touch ${p2}\``]);
      for (const p of [p1, p2, p3]) assert.equal(existsSync(p), false, `${p} must not be created`);
    });
  });

  // ---------------------------------------------------------------------------------------------- 3. exit codes

  test('exit 0 -> SUCCEEDED, exit 3 -> FAILED with OCI details and ordered times', async () => {
    const ok = await createJob(s, 'ok.sh', 'echo fine\nexit 0\n');
    const bad = await createJob(s, 'bad.sh', 'echo bad >&2\nexit 3\n');
    const [a, b] = await Promise.all([runToEnd(s, ok), runToEnd(s, bad)]);
    assert.equal(a.run.lifecycleState, 'SUCCEEDED');
    assert.equal(a.run.lifecycleDetails, SUCCEEDED_DETAILS);
    assert.equal(a.run.exitCode, 0);
    assertTimesOrdered(a.run);
    assert.equal(b.run.lifecycleState, 'FAILED');
    assert.equal(b.run.lifecycleDetails, 'Job run artifact execution failed with exit code 3.');
    assert.equal(b.run.exitCode, 3);
    assertTimesOrdered(b.run);
    assert.deepEqual(stderrOf(b.logs), ['bad']);
  });

  // ---------------------------------------------------------------------------------------------- 4. cancel

  describe('cancel', () => {
    test('a script that traps TERM cleans up: CANCELING then CANCELED, log has its output', async () => {
      const job = await createJob(
        s,
        'trap.sh',
        [
          `trap 'echo "got TERM"; sleep 0.3; echo "cleanup done"; exit 0' TERM`,
          'echo ready',
          'while true; do sleep 0.1; done',
        ].join('\n'),
      );
      const run = await startRun(s, job);
      await waitForLog(s, run.id, (l) => l.message === 'ready');
      await s.api.cancelJobRun(run.id);
      const mid = await s.api.getJobRun(run.id);
      assert.equal(mid.lifecycleState, 'CANCELING', `right after cancel: ${mid.lifecycleState} ${mid.lifecycleDetails}`);
      assert.equal(mid.lifecycleDetails, 'Job run cancellation in progress.');
      const done = await waitForRun(s.api, run.id);
      assert.equal(done.lifecycleState, 'CANCELED', done.lifecycleDetails ?? '');
      assert.equal(done.lifecycleDetails, 'Job run canceled.');
      assert.equal(done.exitCode, 0, 'it exited by itself after its cleanup (not killed)');
      assertTimesOrdered(done);
      const out = stdoutOf(await readLogs(s, run.id));
      assert.deepEqual(out, ['ready', 'got TERM', 'cleanup done']);
      // cancel of a canceled run is a no-op; the state stays
      await s.api.cancelJobRun(run.id);
      assert.equal((await s.api.getJobRun(run.id)).lifecycleState, 'CANCELED');
    });

    test('a script that ignores TERM is SIGKILLed after the grace period; none of its processes is left', async () => {
      const job = await createJob(s, 'ignore.sh', [`trap '' TERM`, 'echo "pid $$"', 'while true; do sleep 0.1; done'].join('\n'));
      const run = await startRun(s, job);
      const line = await waitForLog(s, run.id, (l) => l.message.startsWith('pid '));
      const pid = pidFrom([line], 'pid ');
      assert.ok(alive(pid));
      const t0 = Date.now();
      await s.api.cancelJobRun(run.id);
      assert.equal((await s.api.getJobRun(run.id)).lifecycleState, 'CANCELING');
      const done = await waitForRun(s.api, run.id, undefined, 10_000);
      const took = Date.now() - t0;
      assert.equal(done.lifecycleState, 'CANCELED', done.lifecycleDetails ?? '');
      assert.equal(done.lifecycleDetails, 'Job run canceled.');
      assert.ok(took >= GRACE_MS - 100, `ended after ${took} ms: SIGKILL must wait for the ${GRACE_MS} ms grace period`);
      assert.ok(took < GRACE_MS + 3000, `ended after ${took} ms: SIGKILL must follow the grace period promptly`);
      await assertGone([pid], 'TERM-ignoring run');
    });

    test('background children of the run are gone after cancel, even one that ignores TERM', async () => {
      const job = await createJob(
        s,
        'bg.sh',
        [
          'sleep 300 &',
          'echo "child $!"',
          `(trap '' TERM; exec sleep 301) &`,
          'echo "stubborn $!"',
          'echo "pid $$"',
          'wait',
        ].join('\n'),
      );
      const run = await startRun(s, job);
      await waitForLog(s, run.id, (l) => l.message.startsWith('pid '));
      const logs = await readLogs(s, run.id);
      const pids = [pidFrom(logs, 'pid '), pidFrom(logs, 'child '), pidFrom(logs, 'stubborn ')];
      for (const p of pids) assert.ok(alive(p), `process ${p} runs before the cancel`);
      await s.api.cancelJobRun(run.id);
      const done = await waitForRun(s.api, run.id, undefined, 10_000);
      assert.equal(done.lifecycleState, 'CANCELED', done.lifecycleDetails ?? '');
      await assertGone(pids, 'canceled run with background children');
    });

    test('cancel racing the start: CANCELED, the script never finishes, nothing left; a run that ran has timeStarted', async () => {
      const job = await createJob(
        s,
        'race.sh',
        `trap 'echo "got TERM"; exit 0' TERM\necho "ready $$"\nfor i in $(seq 100); do sleep 0.1; done\necho finished\n`,
      );
      const runs = await Promise.all(Array.from({ length: 6 }, () => startRun(s, job)));
      await Promise.all(runs.map((r) => s.api.cancelJobRun(r.id)));
      const ranWithoutTimeStarted: string[] = [];
      const killedWithoutTerm: string[] = [];
      for (const r of runs) {
        const d = await waitForRun(s.api, r.id, undefined, 10_000);
        assert.equal(d.lifecycleState, 'CANCELED', d.lifecycleDetails ?? '');
        assert.equal(d.lifecycleDetails, 'Job run canceled.');
        assert.ok(d.timeFinished);
        const logs = await readLogs(s, r.id);
        assert.ok(!stdoutOf(logs).includes('finished'), `run ${r.id} ran to its end despite the cancel`);
        if (logs.some((l) => l.message.startsWith('ready '))) {
          await assertGone([pidFrom(logs, 'ready ')], `run canceled while starting`);
          const desc = `${r.id}: ${JSON.stringify(logs.map((l) => l.message))}`;
          if (!d.timeStarted) ranWithoutTimeStarted.push(desc);
          else assertTimesOrdered(d);
          // Its TERM trap was installed before it printed 'ready': a cancel must deliver SIGTERM before any SIGKILL.
          if (!stdoutOf(logs).includes('got TERM')) killedWithoutTerm.push(desc);
        }
      }
      // The artifact ran (it printed its pid), so the run started: timeStarted null tells a client it never did.
      assert.deepEqual(
        { ranWithoutTimeStarted, killedWithoutTerm },
        { ranWithoutTimeStarted: [], killedWithoutTerm: [] },
        'runs canceled while starting: artifact ran but timeStarted null / SIGTERM never delivered (SIGKILLed after the grace period)',
      );
    });

    test('background children are gone after the run exits normally too', async () => {
      const job = await createJob(s, 'bgexit.sh', ['(trap "" TERM HUP; exec sleep 302) &', 'echo "stubborn $!"', 'exit 0'].join('\n'));
      const { run, logs } = await runToEnd(s, job);
      assert.equal(run.lifecycleState, 'SUCCEEDED', run.lifecycleDetails ?? '');
      await assertGone([pidFrom(logs, 'stubborn ')], 'exited run with a background child');
    });
  });

  // ---------------------------------------------------------------------------------------------- 5. max runtime

  test('maximum runtime: the job limit and a shorter run override end the run FAILED', async () => {
    const job = await createJob(s, 'slow.sh', 'echo started\nsleep 60\necho never\n', { maxRuntimeMinutes: 0.05 });
    // Override: the job allows 30 s, the run 3 s; the script traps TERM and cleans up, it still ends FAILED.
    const job2 = await createJob(
      s,
      'slow2.sh',
      `trap 'echo "stopping"; sleep 0.3; exit 0' TERM\necho started\nwhile true; do sleep 0.1; done\n`,
      { maxRuntimeMinutes: 0.5 },
    );
    const r1 = await startRun(s, job);
    const r2 = await startRun(s, job2, { maxRuntimeMinutes: 0.05 });
    const canceling = await waitForRun(s.api, r2.id, (r) => r.lifecycleState !== 'ACCEPTED' && r.lifecycleState !== 'IN_PROGRESS', 15_000);
    assert.equal(canceling.lifecycleState, 'CANCELING', `${canceling.lifecycleState} ${canceling.lifecycleDetails}`);
    assert.match(canceling.lifecycleDetails ?? '', /maximum runtime of 3 seconds/);
    for (const [r, label] of [
      [r1, 'job limit'],
      [r2, 'run override'],
    ] as const) {
      const done = await waitForRun(s.api, r.id, undefined, 15_000);
      assert.equal(done.lifecycleState, 'FAILED', `${label}: ${done.lifecycleDetails}`);
      assert.equal(done.lifecycleDetails, 'Job run reached its maximum runtime of 3 seconds and was stopped.');
      assertTimesOrdered(done);
      const ran = ms(done.timeFinished) - ms(done.timeStarted);
      assert.ok(ran >= 2900, `${label}: ran ${ran} ms, the limit is 3000 ms`);
      assert.ok(ran < 3000 + GRACE_MS + 2000, `${label}: ran ${ran} ms, expected ~3 s + grace`);
      const out = stdoutOf(await readLogs(s, r.id));
      assert.ok(out.includes('started') && !out.includes('never'), `${label}: ${JSON.stringify(out)}`);
    }
    assert.ok(stdoutOf(await readLogs(s, r2.id)).includes('stopping'), 'the override run got SIGTERM first');
  });

  // ---------------------------------------------------------------------------------------------- 7. logs API

  describe('logs API', () => {
    test('follow streams lines as they are written and ends by itself; since; no-newline last line; streams labelled', async () => {
      const job = await createJob(
        s,
        'ticks.sh',
        'for i in 1 2 3 4 5 6 7 8 9 10; do echo "tick $i"; sleep 0.1; done\necho "to stderr" >&2\nprintf "no newline"\n',
      );
      const run = await startRun(s, job);
      const got: { rec: LogRecord; at: number }[] = [];
      const signal = AbortSignal.timeout(20_000);
      for await (const rec of s.api.logs(run.id, { follow: true, signal })) got.push({ rec, at: Date.now() });
      // The stream ended on its own: the run is over.
      const after = await s.api.getJobRun(run.id);
      assert.equal(after.lifecycleState, 'SUCCEEDED', `when the follow stream ended: ${after.lifecycleState} ${after.lifecycleDetails}`);

      const recs = got.map((g) => g.rec);
      assert.deepEqual(stdoutOf(recs), [...Array.from({ length: 10 }, (_, i) => `tick ${i + 1}`), 'no newline']);
      assert.deepEqual(stderrOf(recs), ['to stderr']);
      assert.deepEqual(recs.map((r) => r.seq), Array.from({ length: recs.length }, (_, i) => i + 1));
      for (const r of recs) assert.ok(!Number.isNaN(Date.parse(r.time)), `record time ${r.time}`);
      const t1 = got.find((g) => g.rec.message === 'tick 1')!.at;
      const t10 = got.find((g) => g.rec.message === 'tick 10')!.at;
      assert.ok(t10 - t1 >= 500, `lines must arrive as written (tick 1 -> tick 10 took ${t10 - t1} ms, written ~900 ms apart)`);

      const all = await readLogs(s, run.id);
      assert.deepEqual(all, recs, 'a plain read after the end returns what the follower got');
      for (const since of [0, 1, 3, all.length - 1, all.length, all.length + 100]) {
        assert.deepEqual(await readLogs(s, run.id, since), all.filter((r) => r.seq > since), `since=${since}`);
      }
      // follow on an ended run returns the rest and ends at once
      const rest: LogRecord[] = [];
      for await (const r of s.api.logs(run.id, { follow: true, since: 5, signal: AbortSignal.timeout(5000) })) rest.push(r);
      assert.deepEqual(rest, all.filter((r) => r.seq > 5));
    });

    test('lines over 64 KiB are split into records without losing bytes, also inside multi-byte characters', async () => {
      const job = await createJob(
        s,
        'long.py',
        'import sys\nsys.stdout.write("\\u20ac" * 70000 + "\\n")\nsys.stdout.write("a" * 65535 + "\\u20ac\\n")\nsys.stdout.write("end\\n")\n',
      );
      const { run, logs } = await runToEnd(s, job);
      assert.equal(run.lifecycleState, 'SUCCEEDED', run.lifecycleDetails ?? '');
      const out = stdoutOf(logs);
      assert.ok(out.length >= 6, `the two long lines are split: ${out.length} records`);
      const bad = out.findIndex((m) => m.includes('\ufffd'));
      assert.equal(bad, -1, bad >= 0 ? `record ${bad + 1} (${Buffer.byteLength(out[bad])} bytes) has U+FFFD: a character was cut and its bytes lost` : '');
      assert.ok(out.join('') === '\u20ac'.repeat(70000) + 'a'.repeat(65535) + '\u20ac' + 'end', 'the records put together are the lines');
      for (const m of out) assert.ok(Buffer.byteLength(m) <= 64 * 1024, `a record of ${Buffer.byteLength(m)} bytes`);
    });

    test('a follower that disconnects and resumes with since=lastSeq gets the rest, no duplicates, no gaps', async () => {
      const flag = path.join(tmpDir(), 'go');
      const job = await createJob(
        s,
        'resume.sh',
        [
          'for i in $(seq 1 5); do echo "line $i"; done',
          'n=0; while [ ! -e "$1" ]; do sleep 0.05; n=$((n+1)); [ $n -gt 400 ] && exit 9; done',
          'for i in $(seq 6 30); do echo "line $i"; sleep 0.02; done',
          'echo "err" >&2',
        ].join('\n'),
      );
      const run = await startRun(s, job, { args: `'${flag}'` });
      const first: LogRecord[] = [];
      for await (const r of s.api.logs(run.id, { follow: true, signal: AbortSignal.timeout(15_000) })) {
        first.push(r);
        if (first.length === 3) break; // disconnect mid-way
      }
      const lastSeq = first[first.length - 1].seq;
      assert.equal(lastSeq, 3);
      assert.equal((await s.api.getJobRun(run.id)).lifecycleState, 'IN_PROGRESS', 'the resume happens while the run still runs');
      const second: LogRecord[] = [];
      let released = false;
      for await (const r of s.api.logs(run.id, { follow: true, since: lastSeq, signal: AbortSignal.timeout(20_000) })) {
        second.push(r);
        if (!released && r.message === 'line 5') {
          released = true;
          writeFileSync(flag, '');
        }
      }
      assert.ok(released, `the resumed stream delivered 'line 5': ${JSON.stringify(second.map((r) => r.message))}`);
      const combined = [...first, ...second];
      assert.deepEqual(combined.map((r) => r.seq), Array.from({ length: 31 }, (_, i) => i + 1), 'contiguous seqs, no duplicates');
      assert.deepEqual(stdoutOf(combined), Array.from({ length: 30 }, (_, i) => `line ${i + 1}`));
      assert.deepEqual(stderrOf(combined), ['err']);
      assert.deepEqual(combined, await readLogs(s, run.id));
      assert.equal((await s.api.getJobRun(run.id)).lifecycleState, 'SUCCEEDED');
    });
  });

  // ---------------------------------------------------------------------------------------------- 8. large logs

  test('~50 MB of output: every line exactly once and in order; the server keeps serving meanwhile', async () => {
    const N = 500_000;
    const flag = path.join(tmpDir(), 'go');
    const job = await createJob(
      s,
      'big.py',
      [
        'import os, sys, time',
        'sys.stderr.write("err start\\n"); sys.stderr.flush()',
        'pad = "x" * 88',
        'w = sys.stdout.write',
        `for i in range(${N}):`,
        '    w("%08d %s\\n" % (i, pad))',
        `    if i == ${N / 2}:`,
        '        sys.stderr.write("err middle\\n"); sys.stderr.flush()',
        'sys.stdout.flush()',
        'sys.stderr.write("err end\\n"); sys.stderr.flush()',
        'n = 0',
        'while not os.path.exists(sys.argv[1]) and n < 600:',
        '    time.sleep(0.05); n += 1',
      ].join('\n'),
    );
    const tiny = await createJob(s, 'tiny.sh', 'echo tiny\n');
    const big = await startRun(s, job, { args: `'${flag}'` });
    try {
      await waitForRun(s.api, big.id, (r) => r.lifecycleState === 'IN_PROGRESS', 15_000);
      // Wait for the first line (without re-reading a growing 50 MB log in a loop).
      for await (const r of s.api.logs(big.id, { follow: true, signal: AbortSignal.timeout(15_000) })) {
        assert.ok(r.seq === 1);
        break;
      }
      // The output is being ingested now: a tiny run must still go through promptly.
      const t0 = Date.now();
      const t = await startRun(s, tiny);
      const td = await waitForRun(s.api, t.id, undefined, 15_000);
      const took = Date.now() - t0;
      assert.equal(td.lifecycleState, 'SUCCEEDED');
      assert.deepEqual(stdoutOf(await readLogs(s, t.id)), ['tiny']);
      assert.ok(took < 5000, `a tiny run took ${took} ms while a large log was ingested`);

      // While the big run is still running (waiting on the flag), ?since= seeks inside the live log.
      const probe = async (since: number, count: number) => {
        const out: LogRecord[] = [];
        for await (const r of s.api.logs(big.id, { since })) {
          out.push(r);
          if (out.length === count) break;
        }
        return out;
      };
      const startWait = Date.now();
      let tail: LogRecord[] = [];
      while (Date.now() - startWait < 30_000) {
        tail = await probe(N - 10, 100);
        if (tail.some((r) => r.message.startsWith(`${String(N - 1).padStart(8, '0')} `))) break;
        await sleep(100);
      }
      assert.ok(tail.length > 0, 'the log reached the end of the output');
      assert.deepEqual(tail.map((r) => r.seq), Array.from({ length: tail.length }, (_, i) => N - 10 + 1 + i));
      const mid = await probe(123_456, 5);
      assert.deepEqual(mid.map((r) => r.seq), [123_457, 123_458, 123_459, 123_460, 123_461]);
      assert.equal((await s.api.getJobRun(big.id)).lifecycleState, 'IN_PROGRESS');

      writeFileSync(flag, '');
      const done = await waitForRun(s.api, big.id, undefined, 30_000);
      assert.equal(done.lifecycleState, 'SUCCEEDED', done.lifecycleDetails ?? '');

      const all = await readLogs(s, big.id);
      assert.deepEqual(all.map((r) => r.seq).filter((seq, i) => seq !== i + 1).slice(0, 5), [], 'seqs are 1..n');
      const pad = 'x'.repeat(88);
      const out = stdoutOf(all);
      assert.equal(out.length, N, `stdout line count: ${out.length}`);
      let bad = -1;
      for (let i = 0; i < N; i++) {
        if (out[i] !== `${String(i).padStart(8, '0')} ${pad}`) {
          bad = i;
          break;
        }
      }
      assert.equal(bad, -1, bad >= 0 ? `stdout line ${bad} is ${JSON.stringify(out[bad])}` : '');
      assert.deepEqual(stderrOf(all), ['err start', 'err middle', 'err end']);
      assert.deepEqual(tail, all.slice(N - 10, N - 10 + tail.length), 'the live ?since= read matches the final log');
      assert.deepEqual(mid, all.slice(123_456, 123_461));
    } finally {
      writeFileSync(flag, '');
    }
  });
});

// ------------------------------------------------------------------------------------------------ 6. queueing

describe('capacity queueing (DSJOBS_CAPACITY_CPUS=0.5: two Local.Light runs at a time)', () => {
  let s: TestServer;
  let dir: string;
  // Each run waits for its own flag file (its first argument); the test releases them one by one.
  const WAIT_SH = 'n=0\nwhile [ ! -e "$1" ]; do sleep 0.05; n=$((n+1)); [ $n -gt 600 ] && exit 9; done\necho "released $1"\n';
  before(async () => {
    s = await startServer({ env: { ...HOST_FILES, DSJOBS_CAPACITY_CPUS: '0.5', DSJOBS_GRACE_PERIOD_MS: String(GRACE_MS) } });
    dir = tmpDir();
  });
  after(async () => {
    await s?.close();
  });
  const flag = (name: string) => path.join(dir, name);
  const release = (name: string) => writeFileSync(flag(name), '');

  test('at most 2 run at once; waiting runs say so with their queue position; FIFO start order', async () => {
    const job = await createJob(s, 'wait.sh', WAIT_SH);
    const runs: JobRun[] = [];
    for (let i = 1; i <= 4; i++) runs.push(await startRun(s, job, { args: `'${flag(`q${i}`)}'`, displayName: `q${i}` }));
    const [r1, r2, r3, r4] = runs;

    let maxInProgress = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const page = await s.api.listJobRuns({ compartmentId: s.compartmentId, jobId: job.id, limit: 100 });
        const n = page.items.filter((r) => r.lifecycleState === 'IN_PROGRESS' || r.lifecycleState === 'CANCELING').length;
        maxInProgress = Math.max(maxInProgress, n);
        await sleep(20);
      }
    })();

    try {
      await waitForRun(s.api, r1.id, (r) => r.lifecycleState === 'IN_PROGRESS');
      await waitForRun(s.api, r2.id, (r) => r.lifecycleState === 'IN_PROGRESS');
      const w3 = await s.api.getJobRun(r3.id);
      const w4 = await s.api.getJobRun(r4.id);
      assert.equal(w3.lifecycleState, 'ACCEPTED');
      assert.equal(w4.lifecycleState, 'ACCEPTED');
      assert.match(w3.lifecycleDetails ?? '', /Waiting for capacity/);
      assert.match(w3.lifecycleDetails ?? '', /Position 1 of 2 in the queue/);
      assert.match(w4.lifecycleDetails ?? '', /Waiting for capacity/);
      assert.match(w4.lifecycleDetails ?? '', /Position 2 of 2 in the queue/);
      // The list shows the same details.
      const listed = (await s.api.listJobRuns({ compartmentId: s.compartmentId, jobId: job.id, limit: 100 })).items;
      assert.equal(listed.find((r) => r.id === r4.id)?.lifecycleDetails, w4.lifecycleDetails);

      // Free one slot by ending the SECOND run: the head of the queue (r3) gets it, not r4.
      release('q2');
      await waitForRun(s.api, r2.id);
      await waitForRun(s.api, r3.id, (r) => r.lifecycleState === 'IN_PROGRESS');
      const w4b = await s.api.getJobRun(r4.id);
      assert.equal(w4b.lifecycleState, 'ACCEPTED', 'r4 waits: only one slot was freed');
      assert.match(w4b.lifecycleDetails ?? '', /Position 1 of 1 in the queue/);

      release('q1');
      await waitForRun(s.api, r4.id, (r) => r.lifecycleState === 'IN_PROGRESS');
      release('q3');
      release('q4');
      const done = [];
      for (const r of runs) done.push(await waitForRun(s.api, r.id));
      for (const d of done) assert.equal(d.lifecycleState, 'SUCCEEDED', `${d.displayName}: ${d.lifecycleDetails}`);

      // FIFO: waiting runs start in creation order, each only once a slot was free.
      const [d1, d2, d3, d4] = done;
      const order = [...done].sort((a, b) => ms(a.timeStarted) - ms(b.timeStarted) || ms(a.timeAccepted) - ms(b.timeAccepted));
      // q1 and q2 fit at once and start concurrently (either may spawn first); q3 and q4 waited and start in order.
      assert.deepEqual(order.map((d) => d.displayName).slice(2), ['q3', 'q4']);
      assert.deepEqual(order.map((d) => d.displayName).slice(0, 2).sort(), ['q1', 'q2']);
      assert.ok(ms(d3.timeStarted) >= ms(d2.timeFinished), 'r3 started after r2 freed its slot');
      assert.ok(ms(d4.timeStarted) >= ms(d1.timeFinished), 'r4 started after r1 freed its slot');
      assert.ok(ms(d1.timeAccepted) <= ms(d2.timeAccepted) && ms(d2.timeAccepted) <= ms(d3.timeAccepted) && ms(d3.timeAccepted) <= ms(d4.timeAccepted));
    } finally {
      polling = false;
      await poller;
      for (let i = 1; i <= 4; i++) release(`q${i}`);
    }
    assert.equal(maxInProgress, 2, `max concurrent IN_PROGRESS runs: ${maxInProgress}`);
  });

  test('cancel of a queued run: CANCELED at once, never started; the queue moves on', async () => {
    const job = await createJob(s, 'wait2.sh', WAIT_SH);
    const b1 = await startRun(s, job, { args: `'${flag('b1')}'` });
    const b2 = await startRun(s, job, { args: `'${flag('b2')}'` });
    try {
      await waitForRun(s.api, b1.id, (r) => r.lifecycleState === 'IN_PROGRESS');
      await waitForRun(s.api, b2.id, (r) => r.lifecycleState === 'IN_PROGRESS');
      const q = await startRun(s, job, { args: `'${flag('q')}'` });
      const next = await startRun(s, job, { args: `'${flag('next')}'` });
      const queued = await s.api.getJobRun(q.id);
      assert.equal(queued.lifecycleState, 'ACCEPTED');
      assert.match(queued.lifecycleDetails ?? '', /Position 1 of 2/);

      await s.api.cancelJobRun(q.id);
      const c = await s.api.getJobRun(q.id);
      assert.equal(c.lifecycleState, 'CANCELED', 'a queued run is canceled at once');
      assert.equal(c.lifecycleDetails, 'Job run canceled.');
      assert.equal(c.timeStarted ?? null, null);
      assert.ok(c.timeFinished);
      assert.match((await s.api.getJobRun(next.id)).lifecycleDetails ?? '', /Position 1 of 1/);

      release('b1');
      await waitForRun(s.api, next.id, (r) => r.lifecycleState === 'IN_PROGRESS');
      release('b2');
      release('next');
      await waitForRun(s.api, b2.id);
      assert.equal((await waitForRun(s.api, next.id)).lifecycleState, 'SUCCEEDED');
      const still = await s.api.getJobRun(q.id);
      assert.equal(still.lifecycleState, 'CANCELED');
      assert.equal(still.timeStarted ?? null, null, 'the canceled run never started');
      assert.deepEqual(await readLogs(s, q.id), []);
    } finally {
      for (const n of ['b1', 'b2', 'q', 'next']) release(n);
    }
  });
});
