/**
 * Warm sandboxes (src/executors/local/warm-sandboxes.ts): sandboxes set up ahead of runs on free pooled volumes,
 * each handed one run. End to end on a real server with real bwrap, cgroups and loop-mounted volumes: a run that
 * starts in one gets its own shape's limits (not the placeholder ones the sandbox waited with), the same isolation
 * as a sandbox made for it, its arguments, environment, working directory, exit code and both log streams; a
 * cancel reaches it; a run that needs a different sandbox (a storage mount) makes its own and the warm one on its
 * volume is given up; and a server that stops, gracefully or by SIGKILL, leaves no warm sandbox behind.
 *
 * Which sandbox a run got is seen from inside: /proc/self/cgroup names the run's cgroup, `warm-...` for a warm
 * sandbox and the run's id for one made at its start. A sandbox's waiting inner supervisor (one per warm sandbox with
 * either engine) is found on the host by its working directory: its volume's work/, under the server's data dir.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, createJob, startRun, waitForRun, readLogs, type TestServer } from '../support/server.js';
import { processArgv } from '../support/procs.js';
import { until as pollUntil } from '../support/until.js';

const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-warm-test-'));
const bucketDir = path.join(tmpRoot, 'bucket');
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

/**
 * A server's warm sandboxes, by their inner supervisors (one each): pid -> command line. bwrap executes it
 * (`dsjobs-supervisor -w`); the native engine runs it in the sandbox's first process without an exec, so it keeps the
 * spawner's command line and is told apart by its cgroup, the sandbox's `warm-...` one.
 */
function warmProcesses(dataDir: string): { pid: number; cmd: string }[] {
  const cwd = (pid: number) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      return '';
    }
  };
  const inWarmCgroup = (pid: number) => {
    try {
      const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => /^\d+:memory:/.test(l)) ?? '';
      return path.basename(line.split(':')[2] ?? '').startsWith('warm-');
    } catch {
      return false;
    }
  };
  return processArgv()
    .filter(({ pid, argv }) => argv[0]?.endsWith('dsjobs-supervisor') && cwd(pid).startsWith(dataDir + '/') && (argv.at(-1) === '-w' || inWarmCgroup(pid)))
    .map(({ pid, argv }) => ({ pid, cmd: argv.join(' ') }));
}

/** This file's bound and polling interval for the shared until(). */
const until = <T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 10_000) =>
  pollUntil(what, fn, ms, 20);

/** What a run reports about where it runs, one `key=value` per line. */
const PROBE = String.raw`#!/bin/bash
cg=$(grep -E '^[0-9]+:memory:' /proc/self/cgroup | cut -d: -f3)
pcg=$(grep -E '^[0-9]+:pids:' /proc/self/cgroup | cut -d: -f3)
echo "cgroup=$(basename "$cg")"
echo "memlimit=$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")"
echo "pidsmax=$(cat "/sys/fs/cgroup/pids$pcg/pids.max")"
echo "pid=$$"
echo "hostname=$(hostname)"
echo "cwd=$PWD"
echo "args=$*"
echo "var=$MY_VAR"
echo "runid=$JOB_RUN_OCID"
echo "tmpdir=$TMPDIR"
if [ -e "$DATA_DIR/dsjobs.db" ]; then echo "db=visible"; else echo "db=hidden"; fi
if touch /usr/dsjobs-warm-probe 2>/dev/null; then echo "system=writable"; else echo "system=read-only"; fi
# The script's open fds (bash keeps the script itself on 255): nothing of its supervisors' leaks in.
ls /proc/$$/fd > "$TMPDIR/fds"; echo "fds=$(tr '\n' ' ' < "$TMPDIR/fds")"
echo "to stderr" >&2
exit $((EXIT_CODE + 0))
`;

function report(logs: { stream: string; message: string }[]): Record<string, string> {
  return Object.fromEntries(
    logs
      .filter((l) => l.stream === 'stdout' && l.message.includes('='))
      .map((l) => [l.message.slice(0, l.message.indexOf('=')), l.message.slice(l.message.indexOf('=') + 1)]),
  );
}

describe('warm sandboxes', () => {
  let s: TestServer;
  before(async () => {
    mkdirSync(bucketDir, { recursive: true });
    const configFile = path.join(tmpRoot, 'config.json');
    writeFileSync(configFile, JSON.stringify({ capacity: { cpus: 8, memoryInGBs: 16 }, storage: { fileSystems: [], buckets: [{ namespace: 'ns', bucket: 'data', path: bucketDir }] } }));
    s = await startServer({ config: configFile, env: { DSJOBS_WARM_SANDBOXES: '2', DSJOBS_BLOCK_STORAGE_POOL_SIZE: '2' } });
  });
  after(async () => {
    await s?.close();
    rmSync(tmpRoot, { recursive: true, force: true });
  });

  test('a run starts in a warm sandbox with its own limits, isolation, arguments, environment and exit code', async (t) => {
    const info = await s.api.serverInfo();
    const enforced = info.protections.enforced.join('\n');
    if (!/^sandbox: /m.test(enforced) || !/^block storage: /m.test(enforced) || !/^CPU, memory/m.test(enforced)) {
      t.skip(`this host lacks a sandbox, cgroups or loop volumes: ${info.protections.off.join('; ')}`);
      return;
    }
    assert.match(enforced, /^warm sandboxes: up to 2/m);
    const job = await createJob(s, 'probe.sh', PROBE, { env: { MY_VAR: 'from job', DATA_DIR: s.dataDir } });
    // The first run takes the pool's first volume; the pool refills and each free volume gets a sandbox.
    const first = await startRun(s, job);
    await waitForRun(s.api, first.id);
    await until('two warm sandboxes', () => warmProcesses(s.dataDir).length >= 2);
    // A waiting inner supervisor holds stdin, stdout, stderr and its two channels (the run request and the report),
    // nothing of the processes that made it (the native engine runs it without the exec that would close those).
    for (const p of warmProcesses(s.dataDir)) {
      assert.deepEqual(readdirSync(`/proc/${p.pid}/fd`).map(Number).sort((a, b) => a - b), [0, 1, 2, 62, 63], p.cmd);
    }

    const run = await startRun(s, job, { env: { MY_VAR: 'from run', EXIT_CODE: '3' }, args: `one "two words"` });
    const done = await waitForRun(s.api, run.id);
    const logs = await readLogs(s, run.id);
    const r = report(logs);
    assert.match(r.cgroup ?? '', /^warm-/, `the run started in a warm sandbox: ${JSON.stringify(r)}`);
    // Local.Light's memory and processes (its fraction of a CPU gets the floor, 256), not the limits the sandbox
    // waited with (256 MiB, 64).
    assert.equal(r.memlimit, String(0.5 * 1024 ** 3));
    assert.equal(r.pidsmax, '256');
    assert.equal(done.lifecycleState, 'FAILED');
    assert.match(done.lifecycleDetails ?? '', /exit code 3/);
    assert.equal(r.args, 'one two words');
    assert.equal(r.fds?.trim(), '0 1 2 255');
    assert.equal(r.var, 'from run');
    assert.equal(r.runid, run.id);
    assert.equal(r.tmpdir, '/tmp');
    assert.equal(r.db, 'hidden');
    assert.equal(r['system'], 'read-only');
    assert.equal(r.hostname, 'dsjobs-run');
    // The pid namespace: the inner supervisor is 1 and the script 2 (bwrap: its init 1, the inner supervisor 2, the
    // script 3).
    assert.ok(Number(r.pid) < 10, `pid ${r.pid}`);
    assert.ok((r.cwd ?? '').startsWith(s.dataDir + '/') && r.cwd!.endsWith('/work'), r.cwd);
    assert.deepEqual(
      logs.filter((l) => l.stream === 'stderr').map((l) => l.message),
      ['to stderr'],
    );
    assert.equal(done.isolationDetails?.sandbox, process.getuid?.() === 0 ? 'NATIVE' : 'BUBBLEWRAP');
    assert.equal(done.isolationDetails?.memoryLimit, 'ENFORCED');
    assert.equal(done.isolationDetails?.blockStorage, 'VOLUME');
    // Its volume came back to the pool and got a sandbox again.
    await until('two warm sandboxes again', () => warmProcesses(s.dataDir).length >= 2);
  });

  test('a fresh server sets the default size volumes and their sandboxes up before any run: the first run starts warm', async (t) => {
    const info = await s.api.serverInfo();
    if (!info.protections.enforced.some((l) => l.startsWith('warm sandboxes'))) return t.skip('no warm sandboxes on this host');
    const dataDir = mkdtempSync(path.join(tmpRoot, 'data-'));
    const fresh = await startServer({ dataDir, env: { DSJOBS_WARM_SANDBOXES: '2', DSJOBS_BLOCK_STORAGE_POOL_SIZE: '2' } });
    try {
      // No run yet: the 50 GB pool (OCI's default size) and a sandbox on each of its volumes.
      await until('two warm sandboxes before any run', () => warmProcesses(dataDir).length >= 2);
      assert.equal(readdirSync(path.join(dataDir, 'volumes')).filter((n) => n.endsWith('.free')).length, 2);
      const job = await createJob(fresh, 'first.sh', `#!/bin/bash\ngrep -E '^[0-9]+:memory:' /proc/self/cgroup | sed 's|.*/|cgroup=|'\n`);
      const run = await startRun(fresh, job);
      const done = await waitForRun(fresh.api, run.id);
      const logs = await readLogs(fresh, run.id);
      assert.equal(done.lifecycleState, 'SUCCEEDED', JSON.stringify(logs));
      assert.match(logs.find((l) => l.message.startsWith('cgroup='))?.message ?? '', /^cgroup=warm-/, 'the first run started in a warm sandbox');
    } finally {
      await fresh.close();
    }
    // A stop right after a start (the pool still being made) leaves nothing mounted either.
    const quick = await startServer({ dataDir, env: { DSJOBS_WARM_SANDBOXES: '2', DSJOBS_BLOCK_STORAGE_POOL_SIZE: '2' } });
    await quick.kill('SIGTERM');
    const left = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dataDir + '/'));
    assert.deepEqual(left, [], 'a mount is left under the data dir');
    assert.deepEqual(warmProcesses(dataDir), []);
  });

  test('a cancel reaches a run in a warm sandbox: SIGTERM, its trap runs, CANCELED, nothing left', async (t) => {
    const info = await s.api.serverInfo();
    if (!info.protections.enforced.some((l) => l.startsWith('warm sandboxes'))) return t.skip('no warm sandboxes on this host');
    const job = await createJob(
      s,
      'trap.sh',
      `#!/bin/bash\ngrep -E '^[0-9]+:memory:' /proc/self/cgroup | sed 's|.*/|cgroup=|'\ntrap 'echo got TERM; exit 0' TERM\necho ready\nwhile true; do sleep 0.05; done\n`,
    );
    await until('a warm sandbox', () => warmProcesses(s.dataDir).length >= 1);
    const run = await startRun(s, job);
    const start = Date.now();
    let logs: { stream: string; message: string }[] = [];
    while (Date.now() - start < 10_000) {
      logs = await readLogs(s, run.id);
      if (logs.some((l) => l.message === 'ready')) break;
      await sleep(20);
    }
    assert.match(logs.find((l) => l.message.startsWith('cgroup='))?.message ?? '', /^cgroup=warm-/);
    await s.api.cancelJobRun(run.id);
    const done = await waitForRun(s.api, run.id);
    assert.equal(done.lifecycleState, 'CANCELED');
    const after = await readLogs(s, run.id);
    assert.ok(after.some((l) => l.message === 'got TERM'), JSON.stringify(after));
  });

  test('a run with a storage mount makes its own sandbox; the warm one on its volume is given up', async (t) => {
    const info = await s.api.serverInfo();
    if (!info.protections.enforced.some((l) => l.startsWith('warm sandboxes'))) return t.skip('no warm sandboxes on this host');
    writeFileSync(path.join(bucketDir, 'hello.txt'), 'hello from the bucket\n');
    const job = await createJob(s, 'mount.sh', `#!/bin/bash\ngrep -E '^[0-9]+:memory:' /proc/self/cgroup | sed 's|.*/|cgroup=|'\ncat /mnt/data/hello.txt\n`);
    await s.api.updateJob(job.id, {
      jobStorageMountConfigurationDetailsList: [{ storageType: 'OBJECT_STORAGE', namespace: 'ns', bucket: 'data', destinationDirectoryName: 'data' }],
    });
    await until('two warm sandboxes', () => warmProcesses(s.dataDir).length >= 2);
    const run = await startRun(s, job);
    const done = await waitForRun(s.api, run.id);
    const logs = await readLogs(s, run.id);
    assert.equal(done.lifecycleState, 'SUCCEEDED', JSON.stringify(logs));
    const r = report(logs);
    assert.equal(r.cgroup, run.id, 'a sandbox made for the run, in cgroups named after it');
    assert.ok(logs.some((l) => l.message === 'hello from the bucket'));
    // Never more than the configured number at once, the given-up one included.
    assert.ok(warmProcesses(s.dataDir).length <= 2, `${warmProcesses(s.dataDir).length} warm sandboxes`);
  });

  test('a server that stops leaves no warm sandbox: SIGTERM gives them up; after SIGKILL they go with the spawner', async (t) => {
    const info = await s.api.serverInfo();
    if (!info.protections.enforced.some((l) => l.startsWith('warm sandboxes'))) return t.skip('no warm sandboxes on this host');
    const dataDir = mkdtempSync(path.join(tmpRoot, 'data-'));
    let other = await startServer({ dataDir, env: { DSJOBS_WARM_SANDBOXES: '2' } });
    try {
      const job = await createJob(other, 'ok.sh', 'exit 0\n');
      await waitForRun(other.api, (await startRun(other, job)).id);
      await until('two warm sandboxes', () => warmProcesses(dataDir).length >= 2);
      // Their cgroups, to check they are removed too.
      const cgroupsOf = () => {
        const names = new Set<string>();
        for (const p of warmProcesses(dataDir)) {
          try {
            const line = readFileSync(`/proc/${p.pid}/cgroup`, 'utf8').split('\n').find((l) => /^\d+:memory:/.test(l));
            if (line) names.add(path.join('/sys/fs/cgroup/memory', line.split(':')[2]!));
          } catch {
            /* gone meanwhile */
          }
        }
        return [...names];
      };
      const cgs = cgroupsOf();
      assert.ok(cgs.length >= 1 && cgs.every((c) => path.basename(c).startsWith('warm-')), cgs.join(', '));
      await other.kill('SIGTERM');
      assert.deepEqual(warmProcesses(dataDir), []);
      for (const c of cgs) assert.ok(!existsSync(c), `${c} was removed`);

      other = await startServer({ dataDir, env: { DSJOBS_WARM_SANDBOXES: '2' } });
      await waitForRun(other.api, (await startRun(other, job)).id);
      await until('two warm sandboxes after the restart', () => warmProcesses(dataDir).length >= 2);
      const cgs2 = cgroupsOf();
      await other.kill('SIGKILL');
      // The spawner sees EOF, exits, and each warm supervisor sees EOF on its channel and kills its sandbox.
      await until('no warm sandbox', () => warmProcesses(dataDir).length === 0);
      // A restarted server removes the empty cgroups they left.
      other = await startServer({ dataDir, env: { DSJOBS_WARM_SANDBOXES: '2' } });
      await until('the cgroups they left removed', () => cgs2.every((c) => !existsSync(c)), 10_000);
    } finally {
      await other.close();
    }
  });
});
