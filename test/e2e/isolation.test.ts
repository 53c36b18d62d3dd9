/**
 * End-to-end tests of runs as real workloads on this host: the bubblewrap sandbox (escape attempts, networking
 * NONE), cgroup memory limits, killing whole process trees (setsid, double fork) on cancel and maximum runtime with
 * and without the sandbox or cgroups, loop-mounted block storage volumes, storage mounts, checkpoint resume through
 * a mount, conda environments (service and published), resource metrics and Prometheus /metrics, GPU shapes on a
 * GPU-less server.
 *
 * Nothing is mocked: real server processes, real bwrap, cgroups, loop devices. The jobs report what they saw as
 * log lines (often one JSON line), and the test checks the host side (files, processes, mounts) itself. Processes
 * of runs are found on the host by unique markers in their argv: pids reported from inside a sandbox are the pid
 * namespace's, not the host's.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitForRun, readLogs, ROOT, type TestServer } from '../support/server.js';
import { processArgv } from '../support/procs.js';
import type { DsJobsError, Job, JobRun, LogRecord } from '../../src/sdk/client.js';
import { DEFAULT_SHAPES } from '../../src/domain/shapes.js';

// ------------------------------------------------------------------------------------------------ fixtures

const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-iso-test-'));
const dirs = {
  fs: path.join(tmpRoot, 'fs-export'), // a declared file system export
  bucket: path.join(tmpRoot, 'bucket'), // a declared bucket
  other: path.join(tmpRoot, 'other-bucket'), // a second declared bucket
  packs: path.join(tmpRoot, 'packs'), // a bucket holding published conda packs
  venv: path.join(tmpRoot, 'venv'), // a service conda environment (a venv)
};
const NS = 'testns';
const STORAGE = {
  fileSystems: [
    { mountTargetId: 'ocid1.mounttarget.oc1..mt1', exportId: 'ocid1.export.oc1..data', ipAddress: '10.0.0.5', exportPath: '/export/data', path: dirs.fs },
  ],
  buckets: [
    { namespace: NS, bucket: 'data', path: dirs.bucket },
    { namespace: NS, bucket: 'other', path: dirs.other },
    { namespace: NS, bucket: 'packs', path: dirs.packs },
  ],
};
const FS_DATA = { storageType: 'FILE_STORAGE' as const, mountTargetId: 'ocid1.mounttarget.oc1..mt1', exportId: 'ocid1.export.oc1..data' };
const BUCKET = (bucket: string, prefix?: string) => ({ storageType: 'OBJECT_STORAGE' as const, namespace: NS, bucket, ...(prefix ? { prefix } : {}) });

/** A GPU shape small enough in CPU and memory that only its GPU can make it unrunnable here. */
// Local.Light's flex form (0.25 OCPU, 0.5 GB by default: a fixed shape's size must be whole) with a GPU.
const SMALL_GPU_SHAPE = { ...DEFAULT_SHAPES.find((x) => x.name === 'Local.Light')!, name: 'Test.GPU.Small', series: 'NVIDIA_GPU', gpus: 1 };

const GRACE_MS = 1000;
const SERVER_ENV = { DSJOBS_METRICS_INTERVAL_MS: '200', DSJOBS_GRACE_PERIOD_MS: String(GRACE_MS) };

const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

/** Every marker a test put in a job's argv: leftovers are killed at the end whatever happened. */
const markers: string[] = [];
function newMarker(label: string): string {
  const m = `dsjobs-iso-${label}-${randomUUID().slice(0, 12)}`;
  markers.push(m);
  return m;
}

/** Host processes whose command line contains `marker` (zombies have an empty cmdline and are not listed). */
function procsWith(marker: string): { pid: number; cmd: string }[] {
  return processArgv()
    .map((p) => ({ pid: p.pid, cmd: p.argv.join(' ') }))
    .filter((p) => p.cmd.includes(marker));
}

function killMarked(marker: string): void {
  for (const p of procsWith(marker)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 15_000, everyMs = 50): Promise<NonNullable<T>> {
  const start = Date.now();
  let last: T | undefined;
  while (Date.now() - start < timeoutMs) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const stdoutOf = (logs: LogRecord[]) => logs.filter((l) => l.stream === 'stdout').map((l) => l.message);
const allOf = (logs: LogRecord[]) => logs.map((l) => `${l.stream}: ${l.message}`).join('\n');

/** Polls the run's log until a record satisfies `pred`; fails with the run's state and log otherwise. */
async function waitForLog(s: TestServer, runId: string, pred: (r: LogRecord) => boolean, timeoutMs = 20_000): Promise<LogRecord> {
  const start = Date.now();
  let last: LogRecord[] = [];
  while (Date.now() - start < timeoutMs) {
    last = await readLogs(s, runId);
    const hit = last.find(pred);
    if (hit) return hit;
    const r = await s.api.getJobRun(runId);
    if (['SUCCEEDED', 'FAILED', 'CANCELED'].includes(r.lifecycleState)) {
      last = await readLogs(s, runId);
      const late = last.find(pred);
      if (late) return late;
      throw new Error(`run ended ${r.lifecycleState} (${r.lifecycleDetails}) before the expected log line; log:\n${allOf(last)}`);
    }
    await sleep(50);
  }
  const run = await s.api.getJobRun(runId);
  throw new Error(`log line not seen in ${timeoutMs} ms; run ${run.lifecycleState} ${run.lifecycleDetails}; log:\n${allOf(last)}`);
}

/** The one JSON line a probe job prints. */
function jsonLine(logs: LogRecord[]): Record<string, any> {
  const line = stdoutOf(logs).find((m) => m.startsWith('{'));
  assert.ok(line, `no JSON line in the run's log:\n${allOf(logs)}`);
  return JSON.parse(line);
}

type Mount = Record<string, unknown> & { storageType: 'FILE_STORAGE' | 'OBJECT_STORAGE'; destinationDirectoryName: string };

interface JobOpts {
  env?: Record<string, string>;
  args?: string;
  maxRuntimeMinutes?: number;
  shape?: string;
  ocpus?: number;
  memoryInGBs?: number;
  blockStorageSizeInGBs?: number;
  networking?: 'DEFAULT' | 'NONE';
  mounts?: Mount[];
}

const projects = new Map<string, Promise<string>>();
function projectOf(s: TestServer): Promise<string> {
  let p = projects.get(s.url);
  if (!p) {
    p = s.api.createProject({ compartmentId: s.compartmentId, displayName: 'isolation' }).then((x) => x.id);
    projects.set(s.url, p);
  }
  return p;
}

/** Creates a job (VM.Standard.E4.Flex, 1 OCPU, 1 GB by default) and uploads its artifact. */
async function makeJob(s: TestServer, fileName: string, content: string | Buffer, o: JobOpts = {}): Promise<Job> {
  const shape = o.shape ?? 'VM.Standard.E4.Flex';
  const flex = shape.includes('.Flex');
  const job = await s.api.createJob({
    projectId: await projectOf(s),
    compartmentId: s.compartmentId,
    displayName: fileName,
    jobConfigurationDetails: {
      jobType: 'DEFAULT',
      environmentVariables: o.env,
      commandLineArguments: o.args,
      maximumRuntimeInMinutes: o.maxRuntimeMinutes,
    },
    jobInfrastructureConfigurationDetails: {
      jobInfrastructureType: 'ME_STANDALONE',
      shapeName: shape,
      blockStorageSizeInGBs: o.blockStorageSizeInGBs ?? 50,
      jobShapeConfigDetails: flex ? { ocpus: o.ocpus ?? 1, memoryInGBs: o.memoryInGBs ?? 1 } : undefined,
      networking: o.networking,
    },
    jobStorageMountConfigurationDetailsList: o.mounts,
  });
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  await s.api.uploadArtifact(job.id, fileName, buf, buf.length);
  return s.api.getJob(job.id);
}

interface RunOpts {
  env?: Record<string, string>;
  args?: string;
  maxRuntimeMinutes?: number;
  mounts?: Mount[];
}

function runJob(s: TestServer, job: Job, o: RunOpts = {}): Promise<JobRun> {
  const hasOverride = o.env !== undefined || o.args !== undefined || o.maxRuntimeMinutes !== undefined;
  return s.api.createJobRun({
    projectId: job.projectId,
    compartmentId: s.compartmentId,
    jobId: job.id,
    jobConfigurationOverrideDetails: hasOverride
      ? { jobType: 'DEFAULT', environmentVariables: o.env, commandLineArguments: o.args, maximumRuntimeInMinutes: o.maxRuntimeMinutes }
      : undefined,
    jobStorageMountConfigurationOverrideDetailsList: o.mounts,
  });
}

async function runToEnd(s: TestServer, job: Job, o: RunOpts = {}, timeoutMs = 45_000): Promise<{ run: JobRun; logs: LogRecord[] }> {
  const started = await runJob(s, job, o);
  const run = await waitForRun(s.api, started.id, undefined, timeoutMs);
  return { run, logs: await readLogs(s, run.id) };
}

/** Asserts a 400 InvalidParameter whose message names `field`. */
async function assertInvalid(p: Promise<unknown>, field: string, reason?: RegExp): Promise<void> {
  await assert.rejects(p, (e: DsJobsError) => {
    assert.equal(e.status, 400, `${e.code}: ${e.message}`);
    assert.equal(e.code, 'InvalidParameter', e.message);
    assert.ok(e.message.includes(field), `message should name ${field}: ${e.message}`);
    if (reason) assert.match(e.message, reason);
    return true;
  });
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await s.fetch(url);
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* text */
  }
  return { status: res.status, body };
}

/** Builds a .tar.gz of a directory's given entries with the system tar. */
function tarGz(dir: string, entries: string[], out: string): void {
  execFileSync('tar', ['-czf', out, '-C', dir, ...entries]);
}

/** What is mounted at `mountPoint` in this process's mount table (the topmost mount), or null. */
function mountAt(mountPoint: string): { fstype: string; source: string } | null {
  let found: { fstype: string; source: string } | null = null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] !== mountPoint) continue;
    const sep = f.indexOf('-', 6);
    found = { fstype: f[sep + 1], source: f[sep + 2] };
  }
  return found;
}

/** Loop devices whose backing file path contains `needle`. */
function loopDevicesBacking(needle: string): string[] {
  const out: string[] = [];
  let devs: string[] = [];
  try {
    devs = readdirSync('/sys/block').filter((d) => d.startsWith('loop'));
  } catch {
    return out;
  }
  for (const d of devs) {
    try {
      const f = readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8').trim();
      if (f.includes(needle)) out.push(`${d} -> ${f}`);
    } catch {
      /* not bound */
    }
  }
  return out;
}

/** Bytes allocated on disk (not apparent size). */
const allocated = (p: string) => statSync(p).blocks * 512;

// ------------------------------------------------------------------------------------------------ servers

/** The default server: sandbox auto (native as root, else bubblewrap), cgroups auto, volumes, storage and conda declared. */
let s: TestServer;
/** The same with the bubblewrap engine: the escape attempts run against both engines. */
let bwrapServer: TestServer;
/** sandbox off, cgroups on: runs are found and killed through their cgroup. */
let noSandbox: TestServer;
/** sandbox on, cgroups off: runs are found and killed through their pid namespace. */
let noCgroups: TestServer;

before(async () => {
  for (const d of Object.values(dirs)) if (d !== dirs.venv) mkdirSync(d, { recursive: true });
  // A service environment: a venv (fast, offline). Its interpreter is a symlink to the host's python: the system's,
  // which the run user can execute (a python under root's home, as pyenv's, it cannot).
  execFileSync(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', ['-m', 'venv', '--without-pip', dirs.venv]);
  assert.ok(existsSync(path.join(dirs.venv, 'bin', 'python')));
  const config = {
    // Admission only (cgroups still hold each run to its shape): the tests' runs never queue behind each other.
    capacity: { cpus: 8, memoryInGBs: 16 },
    shapes: [...DEFAULT_SHAPES, SMALL_GPU_SHAPE],
    storage: STORAGE,
    condaEnvironments: [{ slug: 'testenv_v1', path: dirs.venv }],
  };
  const configFile = path.join(tmpRoot, 'config.json');
  writeFileSync(configFile, JSON.stringify(config));
  [s, bwrapServer, noSandbox, noCgroups] = await Promise.all([
    startServer({ config: configFile, env: SERVER_ENV }),
    startServer({ config: configFile, env: { ...SERVER_ENV, DSJOBS_SANDBOX: 'bwrap' } }),
    startServer({ config: configFile, env: { ...SERVER_ENV, DSJOBS_SANDBOX: 'off' } }),
    startServer({ config: configFile, env: { ...SERVER_ENV, DSJOBS_CGROUPS: 'off' } }),
  ]);
});

after(async () => {
  await Promise.all([s?.close(), bwrapServer?.close(), noSandbox?.close(), noCgroups?.close()]);
  for (const m of markers) killMarked(m);
  rmSync(tmpRoot, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------------ job scripts

/**
 * The escape probe (python): tries to break out of its sandbox in every way a job could, and prints one JSON line
 * with what each attempt gave. argv: dataDir, other run's secret file, other run's id, marker, port, token,
 * a host /tmp file.
 */
const ESCAPE_PROBE = String.raw`
import json, os, socket, subprocess, sys
data_dir, other_work, other_run, marker, port, token, host_tmp = sys.argv[1:8]
own_space = os.path.dirname(os.getcwd())
r = {}
def attempt(name, fn):
    try:
        v = fn()
        r[name] = 'OK' if v is None else 'OK: ' + str(v)[:200]
    except Exception as e:
        r[name] = type(e).__name__ + ': ' + str(e)
def write(p):
    with open(p, 'w') as f:
        f.write('escaped')
attempt('write_etc', lambda: write('/etc/' + marker))
attempt('write_usr', lambda: write('/usr/' + marker))
attempt('write_usr_bin', lambda: write('/usr/bin/' + marker))
attempt('write_root', lambda: write('/root/' + marker))
attempt('write_var', lambda: write('/var/' + marker))
attempt('write_work', lambda: write(os.path.join(os.getcwd(), 'probe.txt')))
attempt('write_home', lambda: write(os.path.join(os.environ['HOME'], 'probe.txt')))
attempt('write_tmp', lambda: write('/tmp/probe.txt'))
# Opened for writing only, never written: where this succeeds, a write would set the host's core_pattern.
attempt('open_proc_sys_w', lambda: os.close(os.open('/proc/sys/kernel/core_pattern', os.O_WRONLY)))
def read(p):
    with open(p, 'rb') as f:
        return f.read(64)
attempt('read_db', lambda: read(os.path.join(data_dir, 'dsjobs.db')))
attempt('read_other_run', lambda: read(os.path.join(other_work, 'secret.txt')))
attempt('list_other_work', lambda: os.listdir(other_work))
attempt('list_other_space', lambda: os.listdir(os.path.dirname(other_work)))
attempt('read_host_tmp', lambda: read(host_tmp))
attempt('list_data_dir', lambda: sorted(os.listdir(data_dir)))
# Every file of the data directory it can see, its own space left out: there should be none.
visible = []
for root, ds, fs in os.walk(data_dir):
    if root == own_space or root.startswith(own_space + '/'):
        ds[:] = []
        continue
    visible += [os.path.join(root, f) for f in fs]
r['visible_data_files'] = visible[:50]
r['other_run_named'] = [p for p in visible if other_run in p]
procs = []
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            with open('/proc/%s/cmdline' % p, 'rb') as f:
                procs.append([int(p), f.read().replace(b'\0', b' ').decode(errors='replace').strip()])
        except Exception:
            pass
r['procs'] = procs
r['ps'] = subprocess.run(['ps', '-e', '-o', 'pid=,comm='], capture_output=True, text=True).stdout.split('\n')
with open('/proc/self/status') as f:
    r['cap_eff'] = [l.split()[1] for l in f if l.startswith('CapEff')][0]
for name, cmd in [
    ('umount_tmp', ['umount', '/tmp']),
    ('umount_data_dir', ['umount', data_dir]),
    ('umount_lazy_data_dir', ['umount', '-l', data_dir]),
    ('remount_root_rw', ['mount', '-o', 'remount,rw', '/']),
    ('remount_usr_rw', ['mount', '-o', 'remount,rw', '/usr']),
    ('mount_tmpfs', ['mount', '-t', 'tmpfs', 'none', '/mnt']),
]:
    p = subprocess.run(cmd, capture_output=True, text=True)
    r[name] = [p.returncode, p.stderr.strip()[:200]]
attempt('read_db_after_umount', lambda: read(os.path.join(data_dir, 'dsjobs.db')))
with open('/proc/net/dev') as f:
    r['net_ifaces'] = sorted(l.split(':')[0].strip() for l in f.readlines()[2:])
def connect():
    s = socket.create_connection(('127.0.0.1', int(port)), timeout=5)
    s.sendall(token.encode())
    s.close()
attempt('connect_host_loopback', connect)
print(json.dumps(r), flush=True)
`;

/**
 * A job whose processes try to outlive it: a setsid'ed child and a double-forked, setsid'ed daemon, both ignoring
 * SIGTERM and carrying the marker in their argv. It says "ready" once both run (seen from inside), then waits (its
 * main process ends on SIGTERM) or exits 0 at once.
 */
const escaperScript = (marker: string, then: 'wait' | 'exit') => `M=${marker}
setsid bash -c 'trap "" TERM; exec -a "$0" sleep 600' "$M-setsid" </dev/null >/dev/null 2>&1 &
( setsid bash -c 'trap "" TERM; exec -a "$0" sleep 600' "$M-daemon" </dev/null >/dev/null 2>&1 & )
both() { pgrep -f -- "^$M-setsid" >/dev/null && pgrep -f -- "^$M-daemon" >/dev/null; }
for i in $(seq 1 200); do both && break; sleep 0.05; done
both || { echo "the detached processes did not start"; exit 9; }
trap 'echo got TERM; exit 0' TERM
echo ready
${then === 'wait' ? 'while true; do sleep 0.1; done' : 'exit 0'}
`;

// ------------------------------------------------------------------------------------------------ tests

describe('runs as real workloads', { concurrency: 4 }, () => {
  // -------------------------------------------------------------------------------------------- 1. sandbox
  const engines = [
    // The default engine: native as root (the server needs root for it), else bubblewrap.
    { label: process.getuid?.() === 0 ? 'native' : 'bwrap', server: () => s },
    { label: 'bwrap', server: () => bwrapServer },
  ];
  for (const engine of engines) test(`sandbox (${engine.label}): escape attempts fail (system files, the database, another run, its processes, mounts, network NONE)`, async () => {
    const s = engine.server();
    // Run A: writes a secret into its work dir and stays alive with a marked process.
    const markerA = newMarker('victim');
    const secret = `secret-${randomUUID()}`;
    const jobA = await makeJob(s, 'victim.sh', `echo "${secret}" > secret.txt\necho "work $PWD"\nexec -a "${markerA}" sleep 300\n`);
    const runA = await runJob(s, jobA);
    // The sandbox shows a run its space at the space's host path: what it prints is where it is on the host.
    const workA = (await waitForLog(s, runA.id, (l) => l.message.startsWith('work /'))).message.slice('work '.length);
    assert.ok(workA.startsWith(s.dataDir + '/'), `run A works in ${workA}, outside the data dir`);
    const secretPath = path.join(workA, 'secret.txt');
    // The negative results below mean something: the secret and A's process are there, on the host.
    assert.equal(readFileSync(secretPath, 'utf8').trim(), secret);
    await waitFor(`run A's marked process on the host`, () => procsWith(markerA).length > 0);

    const received: string[] = [];
    const tcp = net.createServer((sock) => {
      sock.on('data', (d) => received.push(d.toString()));
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    const port = (tcp.address() as net.AddressInfo).port;
    const hostTmp = path.join(os.tmpdir(), `dsjobs-iso-hostfile-${randomUUID()}`);
    writeFileSync(hostTmp, 'host only');
    try {
      const probeMarker = newMarker('probe');
      const tokenNone = `none-${randomUUID()}`;
      const tokenHost = `host-${randomUUID()}`;
      const args = (token: string) => [s.dataDir, workA, runA.id, probeMarker, String(port), token, hostTmp].join(' ');
      const jobNone = await makeJob(s, 'probe.py', ESCAPE_PROBE, { networking: 'NONE', args: args(tokenNone) });
      const jobHost = await makeJob(s, 'probe.py', ESCAPE_PROBE, { args: args(tokenHost) });
      const [none, host] = await Promise.all([runToEnd(s, jobNone), runToEnd(s, jobHost)]);

      for (const [label, { run, logs }] of [['networking NONE', none], ['host network', host]] as const) {
        assert.equal(run.lifecycleState, 'SUCCEEDED', `${label}: ${run.lifecycleDetails}\n${allOf(logs)}`);
        const r = jsonLine(logs);
        const ctx = `${label}: ${JSON.stringify(r, null, 1)}`;
        // The system is read-only.
        // (Where the run user may not even look, as in root's home, permission is refused first.)
        for (const k of ['write_etc', 'write_usr', 'write_usr_bin', 'write_root', 'write_var']) {
          assert.match(r[k], /^(OSError: \[Errno 30\] Read-only file system|PermissionError)/, `${k} ${ctx}`);
        }
        for (const p of ['/etc', '/usr', '/usr/bin', '/root', '/var']) assert.ok(!existsSync(path.join(p, probeMarker)), `${p}/${probeMarker} exists on the host`);
        // The kernel's settings too (bwrap as root left /proc/sys writable until the server bound it read-only).
        assert.match(r.open_proc_sys_w, /^(OSError: \[Errno 30\] Read-only file system|PermissionError)/, `open_proc_sys_w ${ctx}`);
        // Its own space is writable.
        assert.equal(r.write_work, 'OK', ctx);
        assert.equal(r.write_home, 'OK', ctx);
        assert.equal(r.write_tmp, 'OK', ctx);
        // The server's data dir is hidden: no database, no other run; the host's /tmp is not its /tmp.
        assert.match(r.read_db, /^FileNotFoundError/, ctx);
        assert.match(r.read_other_run, /^FileNotFoundError/, ctx);
        assert.match(r.read_host_tmp, /^FileNotFoundError/, ctx);
        assert.match(r.list_other_work, /^FileNotFoundError/, ctx);
        assert.match(r.list_other_space, /^FileNotFoundError/, ctx);
        assert.doesNotMatch(r.list_data_dir, /dsjobs\.db|artifacts/, ctx);
        assert.deepEqual(r.visible_data_files, [], `files of the server's data dir are visible: ${ctx}`);
        // No capabilities: nothing can be unmounted or remounted, the hidden data stays hidden.
        assert.equal(r.cap_eff, '0000000000000000', ctx);
        for (const k of ['umount_tmp', 'umount_data_dir', 'umount_lazy_data_dir', 'remount_root_rw', 'remount_usr_rw', 'mount_tmpfs']) {
          assert.notEqual(r[k][0], 0, `${k} succeeded: ${ctx}`);
        }
        assert.match(r.read_db_after_umount, /^FileNotFoundError/, ctx);
        // Its own pid namespace: run A's process (and the host's) are not there.
        const procs = r.procs as [number, string][];
        assert.ok(!procs.some(([, c]) => c.includes(markerA)), `run A's process is visible: ${ctx}`);
        assert.ok(procs.length <= 8, `sees ${procs.length} processes: ${ctx}`);
        assert.ok(procs.every(([pid]) => pid < 100), `host pids visible: ${ctx}`);
        const ps = (r.ps as string[]).map((l) => l.trim()).filter(Boolean);
        assert.ok(ps.length <= 8 && !ps.some((l) => / sleep$/.test(l)), `ps: ${ps.join(' | ')}`);
        assert.ok(ps.some((l) => /python/.test(l)), `ps should show the probe itself: ${ps.join(' | ')}`);
      }
      // networking NONE: loopback only, and the host's 127.0.0.1 is not its 127.0.0.1.
      const rn = jsonLine(none.logs);
      assert.deepEqual(rn.net_ifaces, ['lo'], JSON.stringify(rn.net_ifaces));
      assert.match(rn.connect_host_loopback, /^(ConnectionRefusedError|OSError|TimeoutError)/, rn.connect_host_loopback);
      // Without NONE the same job reaches the host's server.
      const rh = jsonLine(host.logs);
      assert.equal(rh.connect_host_loopback, 'OK', rh.connect_host_loopback);
      await waitFor('the token of the host-network run', () => received.join('').includes(tokenHost), 5000);
      assert.ok(!received.join('').includes(tokenNone), 'the networking NONE run reached the host');

      // What each run says protected it.
      const base = { sandbox: engine.label === 'native' ? 'NATIVE' : 'BUBBLEWRAP', cpuLimit: 'ENFORCED', memoryLimit: 'ENFORCED', processTree: 'PID_NAMESPACE', blockStorage: 'VOLUME', gpus: [], warnings: [] };
      assert.deepEqual(none.run.isolationDetails, { ...base, network: 'NONE' });
      assert.deepEqual(host.run.isolationDetails, { ...base, network: 'HOST' });
      const info = await s.api.serverInfo();
      const enforced = info.protections.enforced.join('\n');
      assert.match(enforced, engine.label === 'native' ? /^sandbox: native namespaces \(dsjobs-supervisor -B\)/m : /^sandbox: bubblewrap/m, enforced);
      assert.match(enforced, /^CPU, memory and process limits: cgroups v[12]/m, enforced);
      assert.match(enforced, /^block storage: a loop-mounted ext4 volume/m, enforced);
      assert.ok(!info.protections.off.some((l) => /^(sandbox|CPU and memory|block storage)/.test(l)), info.protections.off.join('\n'));
    } finally {
      tcp.close();
      rmSync(hostTmp, { force: true });
      await s.api.cancelJobRun(runA.id).catch(() => {});
    }
    const a = await waitForRun(s.api, runA.id);
    assert.equal(a.lifecycleState, 'CANCELED');
    await waitFor('run A gone from the host', () => procsWith(markerA).length === 0, 5000);
  });

  test('sandbox or cgroups off: runs still work and their isolationDetails and warnings say what is not enforced', async () => {
    const script = 'import sys\nprint("ran with", sys.version_info[0])\n';
    const off = await makeJob(noSandbox, 'ok.py', script, { networking: 'NONE', mounts: [{ ...FS_DATA, destinationDirectoryName: 'fsdata' }] });
    const noCg = await makeJob(noCgroups, 'ok.py', script);
    const [a, b] = await Promise.all([runToEnd(noSandbox, off), runToEnd(noCgroups, noCg)]);
    assert.equal(a.run.lifecycleState, 'SUCCEEDED', allOf(a.logs));
    assert.equal(b.run.lifecycleState, 'SUCCEEDED', allOf(b.logs));
    assert.deepEqual(stdoutOf(a.logs), ['ran with 3']);
    const ia = a.run.isolationDetails!;
    assert.equal(ia.sandbox, 'NONE');
    assert.equal(ia.network, 'HOST');
    assert.equal(ia.processTree, 'CGROUP');
    assert.equal(ia.memoryLimit, 'ENFORCED');
    const wa = ia.warnings.join('\n');
    assert.match(wa, /not sandboxed: the sandbox is turned off/, wa);
    assert.match(wa, /networking NONE was asked for but cannot be enforced/, wa);
    assert.match(wa, /storage mounts need the sandbox/, wa);
    const ib = b.run.isolationDetails!;
    assert.equal(ib.sandbox, process.getuid?.() === 0 ? 'NATIVE' : 'BUBBLEWRAP');
    assert.equal(ib.processTree, 'PID_NAMESPACE');
    assert.equal(ib.cpuLimit, 'NOT_ENFORCED');
    assert.equal(ib.memoryLimit, 'NOT_ENFORCED');
    assert.match(ib.warnings.join('\n'), /CPU and memory limits are off: cgroups are turned off/);
    const offInfo = await noSandbox.api.serverInfo();
    assert.ok(offInfo.protections.off.some((l) => /^sandbox: the sandbox is turned off/.test(l)), offInfo.protections.off.join('\n'));
    const noCgInfo = await noCgroups.api.serverInfo();
    assert.ok(noCgInfo.protections.off.some((l) => /^CPU and memory limits: cgroups are turned off/.test(l)), noCgInfo.protections.off.join('\n'));
  });

  // -------------------------------------------------------------------------------------------- 2. memory
  test('memory limit: a job allocating past its shape memory is killed by the kernel and ends FAILED out of memory', async () => {
    const hog = `import sys
chunks = []
for i in range(1, 65):
    chunks.append(bytearray(b'\\x01') * (32 << 20))  # written, not just reserved
    print('allocated', i * 32, flush=True)
print('survived 2048 MB', flush=True)
`;
    // Flex shapes go down to 0.25 GB.
    const job = await makeJob(s, 'hog.py', hog, { ocpus: 1, memoryInGBs: 0.25 });
    const { run, logs } = await runToEnd(s, job);
    assert.equal(run.lifecycleState, 'FAILED', `${run.lifecycleDetails}\n${allOf(logs)}`);
    assert.match(run.lifecycleDetails ?? '', /out of memory/);
    assert.match(run.lifecycleDetails ?? '', /0\.25 GB/);
    assert.equal(run.isolationDetails?.memoryLimit, 'ENFORCED');
    const reached = Math.max(0, ...stdoutOf(logs).map((m) => Number(/^allocated (\d+)$/.exec(m)?.[1] ?? 0)));
    assert.ok(!stdoutOf(logs).some((m) => m.startsWith('survived')), allOf(logs));
    assert.ok(reached <= 256, `allocated ${reached} MB under a 256 MB limit`);
    // The same through the list API: the outcome is part of the run.
    const listed = (await s.api.listJobRuns({ compartmentId: s.compartmentId, jobId: job.id })).items;
    assert.equal(listed[0].lifecycleState, 'FAILED');
    assert.match(listed[0].lifecycleDetails ?? '', /out of memory/);
  });

  // -------------------------------------------------------------------------------------------- 3. process tree
  const TREE_CASES = [
    { label: 'sandboxed + cgroups', server: () => s, processTree: 'PID_NAMESPACE', ways: ['cancel', 'maximum runtime', 'normal exit'] },
    { label: 'sandbox off (DSJOBS_SANDBOX=off)', server: () => noSandbox, processTree: 'CGROUP', ways: ['cancel', 'maximum runtime', 'normal exit'] },
    { label: 'cgroups off (DSJOBS_CGROUPS=off)', server: () => noCgroups, processTree: 'PID_NAMESPACE', ways: ['cancel', 'normal exit'] },
  ] as const;
  for (const c of TREE_CASES) {
    for (const how of c.ways) {
      test(`process tree (${c.label}): ${how} ends setsid'ed and double-forked processes too; none survives`, async () => {
        const srv = c.server();
        const marker = newMarker('tree');
        const job = await makeJob(srv, 'escaper.sh', escaperScript(marker, how === 'normal exit' ? 'exit' : 'wait'), how === 'maximum runtime' ? { maxRuntimeMinutes: 0.1 } : {});
        const run = await runJob(srv, job);
        try {
          if (how !== 'normal exit') {
            await waitForLog(srv, run.id, (l) => l.message === 'ready');
            await waitFor('both detached processes on the host', () => {
              const cmds = procsWith(marker).map((p) => p.cmd);
              return cmds.some((x) => x.startsWith(`${marker}-setsid`)) && cmds.some((x) => x.startsWith(`${marker}-daemon`));
            });
          }
          if (how === 'cancel') await srv.api.cancelJobRun(run.id);
          const done = await waitForRun(srv.api, run.id, undefined, 30_000);
          const logs = await readLogs(srv, run.id);
          // The job saw both detached processes running before it went on.
          assert.ok(stdoutOf(logs).includes('ready'), allOf(logs));
          if (how === 'cancel') {
            assert.equal(done.lifecycleState, 'CANCELED', done.lifecycleDetails ?? '');
          } else if (how === 'maximum runtime') {
            assert.equal(done.lifecycleState, 'FAILED', done.lifecycleDetails ?? '');
            assert.match(done.lifecycleDetails ?? '', /maximum runtime/);
          } else {
            assert.equal(done.lifecycleState, 'SUCCEEDED', `${done.lifecycleDetails}\n${allOf(logs)}`);
          }
          assert.equal(done.isolationDetails?.processTree, c.processTree);
          // Ended means ended: allow the kernel a moment to reap, no more.
          const t0 = Date.now();
          while (procsWith(marker).length > 0 && Date.now() - t0 < 3000) await sleep(50);
          const left = procsWith(marker);
          assert.deepEqual(left, [], `processes of the ${done.lifecycleState} run survive ${Date.now() - t0} ms after it ended`);
        } finally {
          killMarked(marker);
        }
      });
    }
  }

  test('CPU limit: a run gets its shape\'s CPUs, however many processes it burns them with', async () => {
    // Three busy processes for 2 s of wall time; the shape gives 0.25 CPU.
    const burn = `import os, time
t_end = time.monotonic() + 2.0
pids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        while time.monotonic() < t_end:
            pass
        os._exit(0)
    pids.append(pid)
start = time.monotonic()
for p in pids:
    os.waitpid(p, 0)
wall = time.monotonic() - start
t = os.times()
print('ratio %.3f' % ((t.children_user + t.children_system) / wall), flush=True)
`;
    const job = await makeJob(s, 'cpu.py', burn, { ocpus: 0.25, memoryInGBs: 0.5 });
    const { run, logs } = await runToEnd(s, job);
    assert.equal(run.lifecycleState, 'SUCCEEDED', allOf(logs));
    assert.equal(run.isolationDetails?.cpuLimit, 'ENFORCED');
    const ratio = Number(/^ratio ([\d.]+)$/.exec(stdoutOf(logs).find((m) => m.startsWith('ratio')) ?? '')?.[1]);
    // 0.25 CPU, with a little slack for the quota period: three unlimited processes on this host get well above.
    assert.ok(ratio > 0.05 && ratio <= 0.4, `CPU seconds per wall second: ${ratio}`);
  });

  // -------------------------------------------------------------------------------------------- 4. block storage
  test('block storage: a volume reused by a later run holds nothing of the run before (files, home, tmp, modes)', async () => {
    const secret = randomUUID();
    // 63 GB: a size no other test uses, so these runs share the pool of their own size. Each run first checks
    // that its volume holds nothing of any earlier run (the secret comes in the environment, so the script file
    // itself does not hold it), then leaves the secret everywhere it can and locks its volume's root.
    const job = await makeJob(
      s,
      'reuse.sh',
      [
        'root="$(df --output=target . | tail -1)"',
        'echo "$root"',
        'if grep -rsl "$SECRET" "$root" /tmp "$HOME"; then echo FOUND; else echo clean; fi',
        'ls -A "$root" | tr "\\n" " "; echo',
        'echo "$SECRET" > secret.txt; echo "$SECRET" > "$HOME/.secret"; echo "$SECRET" > /tmp/secret',
        'mkdir -p deep/er && echo "$SECRET" > deep/er/x',
        'stat -c %a "$HOME" /tmp . | tr "\\n" " "; echo',
        // Relative paths: the space is shown at its host path, which may run through /tmp.
        '[ "$HOME" = "$(cd .. && pwd)/home" ] && chmod 000 ../home ../tmp .. .',
      ].join('\n') + '\n',
      { blockStorageSizeInGBs: 63, env: { SECRET: secret } },
    );
    // The pool hands out the volume returned last, so within a few runs one gets a volume an earlier run used.
    const used = new Set<string>();
    let reused = false;
    for (let i = 0; i < 5 && !reused; i++) {
      const run = await waitForRun(s.api, (await runJob(s, job)).id);
      const logs = await readLogs(s, run.id);
      const out = stdoutOf(logs);
      assert.equal(run.lifecycleState, 'SUCCEEDED', allOf(logs));
      assert.equal(out[1], 'clean', `run ${i} found an earlier run's files on its volume:\n${allOf(logs)}`);
      assert.doesNotMatch(out[2], /secret|deep/, allOf(logs));
      // Its home, /tmp and work directory have a new directory's mode, whatever the run before did to them.
      assert.equal(out[3], '755 755 755 ', allOf(logs));
      reused = used.has(out[0]);
      used.add(out[0]);
      // Its volume is emptied and back in the pool (or removed) before the next run starts.
      await waitFor('the volume back in the pool', () => existsSync(`${out[0]}.free`) || !existsSync(out[0]) || null);
    }
    assert.ok(reused, `no run got a used volume back: ${[...used].join(', ')}`);
  });

  test('block storage: writing past the volume fails with ENOSPC inside, the run ends FAILED block storage exhausted, nothing spills or stays mounted', async () => {
    const ctl = `ctl-${randomUUID()}`;
    const fill = `set -u
size=$(df --output=size -B1 . | tail -1 | tr -d ' ')
echo "size $size"
echo "target $(df --output=target . | tail -1)"
# Never fill a host disk: only go on inside a volume of about 50 GB.
if [ "$size" -gt $((60 * 1024 * 1024 * 1024)) ]; then echo "the work dir is not a 50 GB volume"; exit 3; fi
fallocate -l 60G big 2>&1 || echo "fallocate refused"
if head -c 4194304 /dev/zero > more.bin 2> err.txt; then echo "wrote past the volume"; exit 4; fi
cat err.txt
echo full
# Stay until the test has looked at the host side.
for i in $(seq 1 600); do [ -e /mnt/ctl/go ] && break; sleep 0.05; done
exit 1
`;
    const hostFreeBefore = statfsFree(s.dataDir);
    const job = await makeJob(s, 'fill.sh', fill, { blockStorageSizeInGBs: 50, mounts: [{ ...BUCKET('data', ctl), destinationDirectoryName: 'ctl' }] });
    const run = await runJob(s, job);
    await waitForLog(s, run.id, (l) => l.message === 'full');
    // The sandbox shows the run its space at the space's host path: where its work dir's file system is mounted.
    const target = stdoutOf(await readLogs(s, run.id)).find((m) => m.startsWith('target /'))!.slice('target '.length);
    assert.ok(target.startsWith(s.dataDir + '/'), `the run's volume is mounted at ${target}`);
    // While it is full: an ext4 volume on a loop device is mounted there; its image is sparse.
    const m = mountAt(target);
    assert.ok(m && m.fstype === 'ext4' && /^\/dev\/loop\d+$/.test(m.source), `mount at ${target}: ${JSON.stringify(m)}`);
    const img = readFileSync(`/sys/block/${path.basename(m.source)}/loop/backing_file`, 'utf8').trim();
    assert.ok(img.startsWith(s.dataDir + '/'), `volume image ${img}`);
    assert.ok(allocated(img) < 256 * 1024 ** 2, `the image holds ${allocated(img)} bytes on the host`);
    const du = Number(execFileSync('du', ['-sx', '--block-size=1', s.dataDir], { encoding: 'utf8' }).split('\t')[0]);
    assert.ok(du < 512 * 1024 ** 2, `the data dir holds ${du} bytes on the host`);
    assert.ok(hostFreeBefore - statfsFree(s.dataDir) < 2 * 1024 ** 3, 'the host disk lost more than 2 GB');
    assert.equal(loopDevicesBacking(img).length, 1, loopDevicesBacking(img).join('\n'));
    writeFileSync(path.join(dirs.bucket, ctl, 'go'), '');

    const done = await waitForRun(s.api, run.id);
    const logs = await readLogs(s, run.id);
    assert.equal(done.lifecycleState, 'FAILED', allOf(logs));
    assert.match(done.lifecycleDetails ?? '', /block storage exhausted/, done.lifecycleDetails ?? '');
    assert.match(done.lifecycleDetails ?? '', /50 GB/);
    assert.equal(done.isolationDetails?.blockStorage, 'VOLUME');
    const out = stdoutOf(logs);
    const size = Number(out.find((m) => m.startsWith('size '))?.slice(5));
    assert.ok(size > 45e9 && size < 54e9, `volume size ${size}`);
    assert.ok(out.some((m) => /No space left on device/.test(m)), allOf(logs));
    // Afterwards the volume is either gone (no mount, loop device or image) or emptied and back in the pool for the
    // next run (marked free, nothing of this run left on it, its blocks returned to the host).
    await waitFor('the volume removed or returned to the pool', () => !existsSync(img) || existsSync(`${target}.free`) || null);
    if (existsSync(img)) {
      // Only the directories every run gets (kept for the next one), empty.
      const left = readdirSync(target).filter((e) => e !== 'lost+found');
      assert.ok(left.every((e) => ['home', 'tmp', 'work'].includes(e)), `the pooled volume still holds the run's files: ${left.join(', ')}`);
      for (const d of left) assert.deepEqual(readdirSync(path.join(target, d)), [], `the pooled volume's ${d}/ still holds the run's files`);
      assert.ok(allocated(img) < 256 * 1024 ** 2, `the pooled image still holds ${allocated(img)} bytes on the host`);
    } else {
      assert.equal(mountAt(target), null, `still mounted at ${target}`);
      assert.deepEqual(loopDevicesBacking(img), []);
    }
  });

  // -------------------------------------------------------------------------------------------- 5. storage mounts
  test('storage mounts: declared file system and bucket at /mnt/<name> and a custom destinationPath; read and write through them', async () => {
    const tag = randomUUID();
    writeFileSync(path.join(dirs.fs, `input-${tag}.txt`), `from the host ${tag}`);
    const script = `import os, sys
tag = sys.argv[1]
print('read', open(f'/mnt/fsdata/input-{tag}.txt').read(), flush=True)
with open(f'/data/bk/out-{tag}.txt', 'w') as f:
    f.write('from the job ' + tag)
with open(f'/mnt/fsdata/back-{tag}.txt', 'w') as f:
    f.write('fs write ' + tag)
print('mnt', sorted(os.listdir('/mnt')), flush=True)
`;
    const job = await makeJob(s, 'mounts.py', script, {
      args: tag,
      mounts: [
        { ...FS_DATA, destinationDirectoryName: 'fsdata' },
        // A brand-new top-level directory, and a bucket prefix nobody wrote under yet.
        { ...BUCKET('data', `p-${tag}`), destinationDirectoryName: 'bk', destinationPath: '/data' },
      ],
    });
    const { run, logs } = await runToEnd(s, job);
    assert.equal(run.lifecycleState, 'SUCCEEDED', allOf(logs));
    assert.deepEqual(stdoutOf(logs), [`read from the host ${tag}`, "mnt ['fsdata']"]);
    assert.equal(readFileSync(path.join(dirs.bucket, `p-${tag}`, `out-${tag}.txt`), 'utf8'), `from the job ${tag}`);
    assert.equal(readFileSync(path.join(dirs.fs, `back-${tag}.txt`), 'utf8'), `fs write ${tag}`);
    // ADS's <ip>:<export path> form names the same export.
    const ads = await makeJob(s, 'ads.sh', `cat /mnt/fsdata/input-${tag}.txt\n`, {
      mounts: [{ storageType: 'FILE_STORAGE', mountTargetId: '10.0.0.5', exportId: '/export/data', destinationDirectoryName: 'fsdata' }],
    });
    const r2 = await runToEnd(s, ads);
    assert.equal(r2.run.lifecycleState, 'SUCCEEDED', allOf(r2.logs));
    assert.deepEqual(stdoutOf(r2.logs), [`from the host ${tag}`]);
  });

  test('storage mounts: unknown storage, a sixth mount and colliding destinations are refused with 400 naming the field', async () => {
    const F = 'jobStorageMountConfigurationDetailsList';
    const mk = (mounts: Mount[]) => makeJob(s, 'x.sh', 'true\n', { mounts });
    await assertInvalid(mk([{ ...FS_DATA, exportId: 'ocid1.export.oc1..nope', destinationDirectoryName: 'a' }]), `${F}[0].exportId`, /no file system export/);
    await assertInvalid(mk([{ ...FS_DATA, destinationDirectoryName: 'a' }, { ...BUCKET('nope'), destinationDirectoryName: 'b' }]), `${F}[1].bucket`, /no bucket nope@/);
    const five = ['a', 'b', 'c', 'd', 'e'].map((n) => ({ ...BUCKET('data'), destinationDirectoryName: n }));
    await mk(five); // five is the limit, and allowed
    await assertInvalid(mk([...five, { ...BUCKET('data'), destinationDirectoryName: 'f' }]), `${F}:`, /at most 5/);
    await assertInvalid(mk([{ ...FS_DATA, destinationDirectoryName: 'same' }, { ...BUCKET('data'), destinationDirectoryName: 'same' }]), `${F}[1].destinationDirectoryName`, /collides/);
    // Nested: /mnt/outer/inner lies inside /mnt/outer.
    await assertInvalid(
      mk([{ ...FS_DATA, destinationDirectoryName: 'outer' }, { ...BUCKET('data'), destinationDirectoryName: 'inner', destinationPath: '/mnt/outer' }]),
      `${F}[1].destinationDirectoryName`,
      /collides/,
    );
    await assertInvalid(mk([{ ...BUCKET('data'), destinationDirectoryName: 'x', destinationPath: '/etc' }]), `${F}[0].destinationPath`);
    // The same checks on a job update and on a run's override.
    const job = await mk([{ ...FS_DATA, destinationDirectoryName: 'fsdata' }]);
    await assertInvalid(s.api.updateJob(job.id, { [F]: [{ ...BUCKET('nope'), destinationDirectoryName: 'a' }] }), `${F}[0].bucket`);
    await assertInvalid(runJob(s, job, { mounts: [{ ...FS_DATA, exportId: 'nope', destinationDirectoryName: 'a' }] }), 'jobStorageMountConfigurationOverrideDetailsList[0].exportId');
    await assertInvalid(
      runJob(s, job, { mounts: [...five, { ...BUCKET('data'), destinationDirectoryName: 'f' }] }),
      'jobStorageMountConfigurationOverrideDetailsList:',
      /at most 5/,
    );
  });

  test("storage mounts: a run's override replaces the job's mounts; a job's mount edit applies to its next run", async () => {
    const tag = randomUUID();
    writeFileSync(path.join(dirs.fs, `f-${tag}`), 'fs');
    writeFileSync(path.join(dirs.other, `o-${tag}`), 'other');
    const script = `import os
for p in ['/mnt/fsdata', '/mnt/ob', '/home/dsjobs-extra/ob', '/mnt/edited']:
    print(p, sorted(x for x in os.listdir(p) if x.endswith('${tag}')) if os.path.isdir(p) else 'absent', flush=True)
`;
    const job = await makeJob(s, 'which.py', script, { mounts: [{ ...FS_DATA, destinationDirectoryName: 'fsdata' }] });
    const plain = await runToEnd(s, job);
    assert.equal(plain.run.lifecycleState, 'SUCCEEDED', allOf(plain.logs));
    assert.deepEqual(stdoutOf(plain.logs), [`/mnt/fsdata ['f-${tag}']`, '/mnt/ob absent', '/home/dsjobs-extra/ob absent', '/mnt/edited absent']);

    const over = await runToEnd(s, job, {
      mounts: [
        { ...BUCKET('other'), destinationDirectoryName: 'ob' },
        // Under an existing directory (/home) that has no such child on the host.
        { ...BUCKET('other'), destinationDirectoryName: 'ob', destinationPath: '/home/dsjobs-extra' },
      ],
    });
    assert.equal(over.run.lifecycleState, 'SUCCEEDED', allOf(over.logs));
    assert.deepEqual(stdoutOf(over.logs), ['/mnt/fsdata absent', `/mnt/ob ['o-${tag}']`, `/home/dsjobs-extra/ob ['o-${tag}']`, '/mnt/edited absent']);
    assert.equal(over.run.jobStorageMountConfigurationOverrideDetailsList?.length, 2);
    assert.ok(!existsSync('/home/dsjobs-extra'), 'the mount destination was made on the host');

    const updated = await s.api.updateJob(job.id, { jobStorageMountConfigurationDetailsList: [{ ...BUCKET('other'), destinationDirectoryName: 'edited' }] });
    assert.equal(updated.jobStorageMountConfigurationDetailsList?.[0].destinationDirectoryName, 'edited');
    const next = await runToEnd(s, job);
    assert.equal(next.run.lifecycleState, 'SUCCEEDED', allOf(next.logs));
    assert.deepEqual(stdoutOf(next.logs), ['/mnt/fsdata absent', '/mnt/ob absent', '/home/dsjobs-extra/ob absent', `/mnt/edited ['o-${tag}']`]);
  });

  // -------------------------------------------------------------------------------------------- 6. checkpoints
  test('checkpoint resume: a canceled training run (examples/checkpoint-training) resumes from its last checkpoint on a bucket mount', async () => {
    const example = path.join(ROOT, 'examples', 'checkpoint-training', 'train.py');
    assert.ok(existsSync(example), `${example} is missing`);
    const prefix = `checkpoint-training-${randomUUID()}`;
    const job = await makeJob(s, 'train.py', readFileSync(example), {
      env: { CHECKPOINT_DIR: '/mnt/checkpoints', EPOCHS: '100', EPOCH_SECONDS: '0.2' },
      mounts: [{ ...BUCKET('data', prefix), destinationDirectoryName: 'checkpoints' }],
    });
    const epochOf = (m: string) => Number(/^epoch (\d+)\b/.exec(m)?.[1] ?? NaN);
    const first = await runJob(s, job);
    await waitForLog(s, first.id, (l) => epochOf(l.message) >= 2, 30_000);
    await s.api.cancelJobRun(first.id);
    const c = await waitForRun(s.api, first.id);
    assert.equal(c.lifecycleState, 'CANCELED', c.lifecycleDetails ?? '');
    const firstLogs = stdoutOf(await readLogs(s, first.id));
    assert.ok(!firstLogs.some((m) => /^resumed from/.test(m)), firstLogs.join('\n'));
    const lastSeen = Math.max(...firstLogs.map(epochOf).filter((n) => !Number.isNaN(n)));
    // The checkpoint is an ordinary file on the host, in the bucket's directory under the prefix.
    const onHost = JSON.parse(readFileSync(path.join(dirs.bucket, prefix, 'checkpoint.json'), 'utf8'));
    assert.ok(onHost.epoch >= lastSeen, `checkpoint at epoch ${onHost.epoch}, log said ${lastSeen}`);

    const second = await runJob(s, job);
    try {
      const resumed = await waitForLog(s, second.id, (l) => /^resumed from epoch \d+/.test(l.message), 30_000);
      const from = Number(/^resumed from epoch (\d+)/.exec(resumed.message)![1]);
      assert.ok(from >= lastSeen, `resumed from epoch ${from}, but the first run had logged epoch ${lastSeen}`);
      assert.equal(from, onHost.epoch);
      // It goes on from there, not from the start.
      const next = await waitForLog(s, second.id, (l) => !Number.isNaN(epochOf(l.message)), 30_000);
      assert.equal(epochOf(next.message), from + 1, next.message);
    } finally {
      await s.api.cancelJobRun(second.id).catch(() => {});
    }
    assert.equal((await waitForRun(s.api, second.id)).lifecycleState, 'CANCELED');
  });

  // -------------------------------------------------------------------------------------------- 7. conda
  const CONDA_PROBE = `import json, os, sys
out = {'prefix': sys.prefix, 'base_prefix': sys.base_prefix, 'path0': os.environ['PATH'].split(':')[0], 'conda_prefix': os.environ.get('CONDA_PREFIX')}
try:
    import mypkg
    out['mypkg'] = mypkg.VALUE
except ImportError as e:
    out['mypkg'] = None
try:
    open(os.path.join(sys.prefix, 'written-by-job'), 'w').write('x')
    out['env_writable'] = True
except OSError:
    out['env_writable'] = False
print(json.dumps(out), flush=True)
`;

  test('conda: a service environment by slug runs .py with its interpreter; an unknown slug is refused naming CONDA_ENV_SLUG', async () => {
    const job = await makeJob(s, 'env.py', CONDA_PROBE, { env: { CONDA_ENV_TYPE: 'service', CONDA_ENV_SLUG: 'testenv_v1' } });
    const { run, logs } = await runToEnd(s, job);
    assert.equal(run.lifecycleState, 'SUCCEEDED', allOf(logs));
    const r = jsonLine(logs);
    assert.equal(r.prefix, dirs.venv);
    assert.notEqual(r.base_prefix, dirs.venv);
    assert.equal(r.path0, path.join(dirs.venv, 'bin'));
    assert.equal(r.conda_prefix, dirs.venv);
    assert.equal(r.env_writable, false, 'the job could write into its environment');
    assert.ok(!existsSync(path.join(dirs.venv, 'written-by-job')));

    await assertInvalid(runJob(s, job, { env: { CONDA_ENV_SLUG: 'no_such_env' } }), 'jobConfigurationOverrideDetails.environmentVariables.CONDA_ENV_SLUG', /no_such_env/);
    const bad = await makeJob(s, 'env.py', CONDA_PROBE, { env: { CONDA_ENV_TYPE: 'service', CONDA_ENV_SLUG: 'nope' } });
    await assertInvalid(runJob(s, bad), 'jobConfigurationDetails.environmentVariables.CONDA_ENV_SLUG', /available: testenv_v1/);

    // Without the variables: the system python.
    const plain = await makeJob(s, 'env.py', CONDA_PROBE);
    const p = await runToEnd(s, plain);
    assert.equal(p.run.lifecycleState, 'SUCCEEDED', allOf(p.logs));
    const rp = jsonLine(p.logs);
    assert.equal(rp.prefix, rp.base_prefix);
    assert.equal(rp.conda_prefix, null);
  });

  test('conda: a published pack is unpacked once into the cache and reused; a missing object is refused naming CONDA_ENV_OBJECT_NAME', async () => {
    // A pack as conda-pack makes one: a relocatable environment with bin/python at its top level.
    const build = path.join(tmpRoot, `pack-${randomUUID()}`);
    execFileSync('python3', ['-m', 'venv', '--copies', '--without-pip', build]);
    const pyDirs = readdirSync(path.join(build, 'lib')).filter((d) => d.startsWith('python3'));
    assert.equal(pyDirs.length, 1, `lib/: ${pyDirs}`);
    const pkg = path.join(build, 'lib', pyDirs[0], 'site-packages', 'mypkg');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, '__init__.py'), 'VALUE = "from the pack"\n');
    // Only what a pack needs, nothing that links outside it.
    assert.ok(statSync(path.join(build, 'bin', 'python')).isFile());
    mkdirSync(path.join(dirs.packs, 'envs'), { recursive: true });
    tarGz(build, ['pyvenv.cfg', 'bin/python', `lib/${pyDirs[0]}/site-packages/mypkg/__init__.py`], path.join(dirs.packs, 'envs', 'mypack.tar.gz'));

    const env = { CONDA_ENV_TYPE: 'published', CONDA_ENV_BUCKET: 'packs', CONDA_ENV_NAMESPACE: NS, CONDA_ENV_OBJECT_NAME: 'envs/mypack.tar.gz' };
    const job = await makeJob(s, 'env.py', CONDA_PROBE, { env });
    const first = await runToEnd(s, job);
    assert.equal(first.run.lifecycleState, 'SUCCEEDED', `${first.run.lifecycleDetails}\n${allOf(first.logs)}`);
    const r1 = jsonLine(first.logs);
    const cacheRoot = path.join(s.dataDir, 'conda');
    assert.equal(path.dirname(r1.prefix), cacheRoot, r1.prefix);
    assert.equal(r1.mypkg, 'from the pack');
    assert.equal(r1.path0, path.join(r1.prefix, 'bin'));
    assert.equal(r1.env_writable, false);
    assert.deepEqual(readdirSync(cacheRoot), [path.basename(r1.prefix)]);
    const before = statSync(r1.prefix);
    writeFileSync(path.join(r1.prefix, 'probe-left-by-test'), '');

    const second = await runToEnd(s, job);
    assert.equal(second.run.lifecycleState, 'SUCCEEDED', allOf(second.logs));
    const r2 = jsonLine(second.logs);
    assert.equal(r2.prefix, r1.prefix);
    assert.equal(r2.mypkg, 'from the pack');
    // Not unpacked again: the same directory (inode), with what the test left in it, and nothing beside it.
    assert.equal(statSync(r2.prefix).ino, before.ino);
    assert.ok(existsSync(path.join(r2.prefix, 'probe-left-by-test')), 'the pack was unpacked again');
    assert.deepEqual(readdirSync(cacheRoot), [path.basename(r1.prefix)]);

    // Two runs starting together on a pack not unpacked yet share one unpacking.
    const copy = path.join(dirs.packs, 'envs', 'mypack-copy.tar.gz');
    writeFileSync(copy, readFileSync(path.join(dirs.packs, 'envs', 'mypack.tar.gz')));
    const job2 = await makeJob(s, 'env.py', CONDA_PROBE, { env: { ...env, CONDA_ENV_OBJECT_NAME: 'envs/mypack-copy.tar.gz' } });
    const [a, b] = await Promise.all([runToEnd(s, job2), runToEnd(s, job2)]);
    assert.equal(a.run.lifecycleState, 'SUCCEEDED', allOf(a.logs));
    assert.equal(b.run.lifecycleState, 'SUCCEEDED', allOf(b.logs));
    const pa = jsonLine(a.logs).prefix;
    assert.equal(jsonLine(b.logs).prefix, pa);
    assert.notEqual(pa, r1.prefix);
    assert.deepEqual(readdirSync(cacheRoot).sort(), [path.basename(r1.prefix), path.basename(pa)].sort());

    const missing = await makeJob(s, 'env.py', CONDA_PROBE, { env: { ...env, CONDA_ENV_OBJECT_NAME: 'envs/missing.tar.gz' } });
    await assertInvalid(runJob(s, missing), 'jobConfigurationDetails.environmentVariables.CONDA_ENV_OBJECT_NAME', /no object 'envs\/missing.tar.gz'/);
    await assertInvalid(
      runJob(s, job, { env: { CONDA_ENV_BUCKET: 'nope' } }),
      'environmentVariables.CONDA_ENV_BUCKET',
      /no bucket nope@/,
    );
  });

  test("conda: a missing published pack named by a run's override is refused naming the override's CONDA_ENV_OBJECT_NAME", async () => {
    mkdirSync(path.join(dirs.packs, 'envs'), { recursive: true });
    writeFileSync(path.join(dirs.packs, 'envs', 'present.tar.gz'), '');
    const env = { CONDA_ENV_TYPE: 'published', CONDA_ENV_BUCKET: 'packs', CONDA_ENV_NAMESPACE: NS, CONDA_ENV_OBJECT_NAME: 'envs/present.tar.gz' };
    const job = await makeJob(s, 'env.py', CONDA_PROBE, { env });
    // The run's override gave the bad value: the error names the override's field, as it does for CONDA_ENV_SLUG.
    await assertInvalid(
      runJob(s, job, { env: { CONDA_ENV_OBJECT_NAME: 'envs/missing.tar.gz' } }),
      'jobConfigurationOverrideDetails.environmentVariables.CONDA_ENV_OBJECT_NAME',
      /no object 'envs\/missing.tar.gz'/,
    );
  });

  // -------------------------------------------------------------------------------------------- 8. metrics
  test('metrics: a CPU-burning run holding ~200 MB shows it in its series and in Prometheus /metrics; unknown run -> 404', async () => {
    const burn = `import time
hold = b'x' * (200 << 20)
print('holding', len(hold) >> 20, flush=True)
while True:
    pass
`;
    const job = await makeJob(s, 'burn.py', burn, { ocpus: 0.5, memoryInGBs: 1 });
    const run = await runJob(s, job);
    const url = `${s.url}/20190101/jobRuns/${run.id}/metrics`;
    try {
      await waitForLog(s, run.id, (l) => l.message === 'holding 200');
      const series = await waitFor(
        'CpuUtilization > 20 and MemoryUtilization >= 18',
        async () => {
          const { status, body } = await getJson(url);
          assert.equal(status, 200, JSON.stringify(body));
          const by = Object.fromEntries((body.items as any[]).map((i) => [i.name, i]));
          const cpu = (by.CpuUtilization?.datapoints ?? []).map((d: any) => d.value);
          const mem = (by.MemoryUtilization?.datapoints ?? []).map((d: any) => d.value);
          return cpu.some((v: number) => v > 20) && mem.some((v: number) => v >= 18) ? body : null;
        },
        20_000,
        200,
      );
      assert.equal(series.intervalSeconds, 0.2);
      assert.equal(series.collected, true);
      assert.deepEqual(
        series.items.map((i: any) => i.name),
        ['CpuUtilization', 'MemoryUtilization', 'DiskUtilization', 'GpuUtilization', 'GpuMemoryUtilization'],
      );
      for (const i of series.items) assert.equal(i.unit, 'percent');
      type Point = { timestamp: string; value: number };
      const by: Record<string, Point[]> = Object.fromEntries((series.items as any[]).map((i) => [i.name, i.datapoints as Point[]]));
      // 200 MB of a 1 GB shape, plus the interpreter: about 20 %, never near the whole shape.
      const memMax = Math.max(...by.MemoryUtilization.map((d) => d.value));
      assert.ok(memMax >= 18 && memMax < 50, `MemoryUtilization max ${memMax}`);
      assert.ok(by.CpuUtilization.every((d) => d.value >= 0 && d.value <= 150), JSON.stringify(by.CpuUtilization));
      assert.ok(by.DiskUtilization.length > 0 && by.DiskUtilization.every((d) => d.value >= 0 && d.value < 5), JSON.stringify(by.DiskUtilization));
      assert.deepEqual(by.GpuUtilization, []);
      assert.deepEqual(by.GpuMemoryUtilization, []);
      const times = by.CpuUtilization.map((d) => Date.parse(d.timestamp));
      assert.ok(times.every((t: number, i: number) => i === 0 || t > times[i - 1]), 'timestamps in order');
      const since = new Date(times[times.length - 1]).toISOString();
      const later = (await getJson(`${url}?since=${encodeURIComponent(since)}`)).body;
      assert.ok(later.items[0].datapoints.every((d: any) => Date.parse(d.timestamp) > times[times.length - 1]));

      const prom = await (await s.fetch(`${s.url}/metrics`)).text();
      for (const name of ['dsjobs_job_runs', 'dsjobs_queue_length', 'dsjobs_admission_wait_seconds', 'dsjobs_start_latency_seconds', 'dsjobs_executor_errors_total']) {
        assert.match(prom, new RegExp(`^# TYPE ${name} `, 'm'), name);
      }
      assert.match(prom, /^dsjobs_job_runs\{state="IN_PROGRESS"\} [1-9]/m);
      assert.match(prom, /^dsjobs_queue_length \d+/m);
      assert.match(prom, /^dsjobs_start_latency_seconds_count [1-9]/m);
      assert.match(prom, /^dsjobs_admission_wait_seconds_count [1-9]/m);
      const gauge = new RegExp(`^dsjobs_job_run_cpu_utilization_percent\\{job_run_id="${run.id.replace(/\./g, '\\.')}"\\} ([0-9.e+-]+)$`, 'm');
      assert.match(prom, gauge);
      assert.match(prom, new RegExp(`^dsjobs_job_run_memory_bytes\\{job_run_id="${run.id.replace(/\./g, '\\.')}"\\} \\d`, 'm'));
    } finally {
      await s.api.cancelJobRun(run.id).catch(() => {});
    }
    assert.equal((await waitForRun(s.api, run.id)).lifecycleState, 'CANCELED');
    // An ended run's gauges go; its series stays.
    await waitFor('the ended run gone from /metrics', async () => !(await (await s.fetch(`${s.url}/metrics`)).text()).includes(run.id), 5000, 100);
    const afterEnd = (await getJson(url)).body;
    assert.ok(afterEnd.items[0].datapoints.length > 0);

    const missing = await getJson(`${s.url}/20190101/jobRuns/ocid1.datasciencejobrun.local.doesnotexist/metrics`);
    assert.equal(missing.status, 404, JSON.stringify(missing.body));
    assert.equal(missing.body.code, 'NotAuthorizedOrNotFound');
  });

  // -------------------------------------------------------------------------------------------- 9. GPUs
  test('GPU shapes are refused on this GPU-less server, at job and at run creation, saying why', async () => {
    const info = await s.api.serverInfo();
    assert.equal(info.capacity.gpus, 0);
    assert.ok(info.protections.off.some((l) => /^GPUs: /.test(l)), info.protections.off.join('\n'));
    const shapes = await s.api.listJobShapes();
    assert.ok(!shapes.some((x) => (x.gpuCount ?? 0) > 0), `GPU shapes listed: ${shapes.filter((x) => x.gpuCount).map((x) => x.name)}`);
    const F = 'jobInfrastructureConfigurationDetails.shapeName';
    await assertInvalid(makeJob(s, 'g.py', 'print(1)\n', { shape: 'VM.GPU.A10.1' }), F, /VM\.GPU\.A10\.1 needs .*1 GPU.* could never run/);
    // Small in CPU and memory: only the GPU is missing, and the message says so.
    await assertInvalid(makeJob(s, 'g.py', 'print(1)\n', { shape: SMALL_GPU_SHAPE.name }), F, /Test\.GPU\.Small needs 0\.25 CPU, 0\.5 GB memory, 1 GPU but this server has [^,]+, [^,]+ memory in all, so it could never run/);
    // A run may not move a job onto a GPU shape either.
    const job = await makeJob(s, 'g.py', 'print(1)\n');
    await assertInvalid(
      s.api.createJobRun({
        projectId: job.projectId,
        compartmentId: s.compartmentId,
        jobId: job.id,
        jobInfrastructureConfigurationOverrideDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'VM.GPU.A10.1', blockStorageSizeInGBs: 50 },
      }),
      'jobInfrastructureConfigurationOverrideDetails.shapeName',
      /GPU/,
    );
    // Nor a job update.
    await assertInvalid(
      s.api.updateJob(job.id, { jobInfrastructureConfigurationDetails: { jobInfrastructureType: 'ME_STANDALONE', shapeName: SMALL_GPU_SHAPE.name } }),
      F,
      /1 GPU/,
    );
  });
});

function statfsFree(p: string): number {
  const st = statfsSync(p);
  return st.bavail * st.bsize;
}
