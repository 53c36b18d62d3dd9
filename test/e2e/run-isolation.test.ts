/**
 * End-to-end tests of what a run is, inside its sandbox, since issue 23's attacks from inside runs: it is not root
 * (cannot read /etc/shadow), cannot reach the host's Unix sockets under /run with default networking or NONE, cannot
 * make user namespaces, use io_uring or the kernel keyring (seccomp), cannot ptrace or stop its supervisor, and still
 * writes its work directory, home, /tmp, volume and storage mounts; its process and open-file limits follow its shape
 * and all runs together have a ceiling below the host's; a data directory reached through a symbolic link still
 * works and stays hidden.
 *
 * Real servers, real runs (native sandbox as root; bubblewrap too where it is installed), real sockets on the host.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitForRun, readLogs, type TestServer } from '../support/server.js';
import { which } from '../../src/executors/local/which.js';
import type { Job, JobRun, LogRecord } from '../../src/sdk/client.js';

const isRoot = process.getuid?.() === 0;
const bwrap = which('bwrap');
const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-runiso-test-'));
const bucketDir = path.join(tmpRoot, 'bucket');
const NS = 'testns';
const STORAGE = { fileSystems: [], buckets: [{ namespace: NS, bucket: 'data', path: bucketDir }] };

/** A host service on a Unix socket under /run, as munge, Docker and D-Bus have theirs: it records who reached it. */
const socketDir = path.join('/run', `dsjobs-test-${randomUUID().slice(0, 8)}`);
const socketPath = path.join(socketDir, 'service.sock');
/** One elsewhere (as a database's under /var/lib), also world-writable. */
const otherSocketDir = path.join('/var/tmp', `dsjobs-test-${randomUUID().slice(0, 8)}`);
const otherSocketPath = path.join(otherSocketDir, 'db.sock');
/**
 * The path the /run service binds by: through /var/run where that is the usual link to /run, as dockerd binds
 * /var/run/docker.sock (the kernel then lists the socket by the linked path; a sandbox that took that path for the
 * socket's own could not come up at all, and every run went unsandboxed on a host with Docker).
 */
const bindPath = (p: string) => {
  try {
    return lstatSync('/var/run').isSymbolicLink() && realpathSync('/var/run') === '/run' ? p.replace(/^\/run\//, '/var/run/') : p;
  } catch {
    return p;
  }
};
const reached: string[] = [];
const services: net.Server[] = [];

const servers: TestServer[] = [];
let native: TestServer;
let bwrapServer: TestServer | null = null;
const configFile = path.join(tmpRoot, 'config.json');

before(async () => {
  mkdirSync(bucketDir, { recursive: true });
  // What a run of an earlier version (as root) left on the bucket: a later run, now the run user, must still write it.
  mkdirSync(path.join(bucketDir, 'checkpoints'));
  writeFileSync(path.join(bucketDir, 'checkpoints', 'epoch-1.txt'), 'from a root run\n', { mode: 0o644 });
  if (isRoot) {
    // As such services do: a world-writable socket, so only its invisibility keeps a run out.
    for (const [dir, sockPath] of [[socketDir, socketPath], [otherSocketDir, otherSocketPath]]) {
      mkdirSync(dir, { recursive: true });
      const service = net.createServer((sock) => {
        sock.on('data', (d) => reached.push(d.toString()));
        sock.on('error', () => {});
      });
      await new Promise<void>((r) => service.listen(bindPath(sockPath), () => r()));
      chmodSync(sockPath, 0o777);
      services.push(service);
    }
  }
  writeFileSync(configFile, JSON.stringify({ capacity: { cpus: 8, memoryInGBs: 16 }, storage: STORAGE }));
  native = await startServer({ config: configFile });
  servers.push(native);
  if (bwrap) {
    bwrapServer = await startServer({ config: configFile, env: { DSJOBS_SANDBOX: 'bwrap' } });
    servers.push(bwrapServer);
  }
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  for (const service of services) service.close();
  rmSync(socketDir, { recursive: true, force: true });
  rmSync(otherSocketDir, { recursive: true, force: true });
  rmSync(tmpRoot, { recursive: true, force: true });
});

const stdoutOf = (logs: LogRecord[]) => logs.filter((l) => l.stream === 'stdout').map((l) => l.message);
const allOf = (logs: LogRecord[]) => logs.map((l) => `${l.stream}: ${l.message}`).join('\n');
function jsonLineOrNull(logs: LogRecord[]): Record<string, any> | null {
  const line = stdoutOf(logs).find((m) => m.startsWith('{'));
  return line ? JSON.parse(line) : null;
}
function jsonLine(logs: LogRecord[]): Record<string, any> {
  const line = stdoutOf(logs).find((m) => m.startsWith('{'));
  assert.ok(line, `no JSON line in the run's log:\n${allOf(logs)}`);
  return JSON.parse(line);
}

const projects = new Map<string, Promise<string>>();
function projectOf(s: TestServer): Promise<string> {
  let p = projects.get(s.url);
  if (!p) {
    p = s.api.createProject({ compartmentId: s.compartmentId, displayName: 'run-isolation' }).then((x) => x.id);
    projects.set(s.url, p);
  }
  return p;
}

async function makeJob(s: TestServer, fileName: string, content: string, o: { ocpus?: number; networking?: 'DEFAULT' | 'NONE'; args?: string; mount?: boolean } = {}): Promise<Job> {
  const job = await s.api.createJob({
    projectId: await projectOf(s),
    compartmentId: s.compartmentId,
    displayName: fileName,
    jobConfigurationDetails: { jobType: 'DEFAULT', commandLineArguments: o.args },
    jobInfrastructureConfigurationDetails: {
      jobInfrastructureType: 'ME_STANDALONE',
      shapeName: 'VM.Standard.E4.Flex',
      blockStorageSizeInGBs: 50,
      jobShapeConfigDetails: { ocpus: o.ocpus ?? 1, memoryInGBs: 1 },
      networking: o.networking,
    },
    jobStorageMountConfigurationDetailsList: o.mount
      ? [{ storageType: 'OBJECT_STORAGE', namespace: NS, bucket: 'data', destinationDirectoryName: 'data' }]
      : undefined,
  });
  await s.api.uploadArtifact(job.id, fileName, Buffer.from(content), Buffer.byteLength(content));
  return s.api.getJob(job.id);
}

async function runToEnd(s: TestServer, job: Job): Promise<{ run: JobRun; logs: LogRecord[] }> {
  const started = await s.api.createJobRun({ projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id });
  const run = await waitForRun(s.api, started.id, undefined, 60_000);
  return { run, logs: await readLogs(s, run.id) };
}

/**
 * The probe (python): every attack of issue 23 from inside a run, each attempt's outcome in one JSON line.
 * argv: the host sockets' paths (under /run, elsewhere), a token to send them, the data directory.
 */
const PROBE = String.raw`
import ctypes, errno, json, os, platform, resource, signal, socket, sys, time
sock_path, other_sock_path, token, data_dir = sys.argv[1:5]
r = {'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid(), 'groups': os.getgroups()}
def attempt(name, fn):
    try:
        v = fn()
        r[name] = 'OK' if v is None else 'OK: ' + str(v)[:200]
    except Exception as e:
        r[name] = type(e).__name__ + ': ' + str(e)
def read(p):
    with open(p, 'rb') as f:
        return len(f.read(64))
def write(p):
    with open(p, 'w') as f:
        f.write('x')
attempt('read_shadow', lambda: read('/etc/shadow'))
def reach(p):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(p)
    s.sendall(token.encode())
    s.close()
attempt('connect_host_socket', lambda: reach(sock_path))
attempt('connect_other_socket', lambda: reach(other_sock_path))
attempt('list_run', lambda: sorted(os.listdir('/run')))
attempt('list_data_dir', lambda: sorted(os.listdir(data_dir)))
attempt('write_work', lambda: write(os.path.join(os.getcwd(), 'w.txt')))
attempt('write_home', lambda: write(os.path.join(os.environ['HOME'], 'h.txt')))
attempt('write_tmp', lambda: write('/tmp/t.txt'))
if os.path.isdir('/mnt/data'):
    attempt('write_mount', lambda: write('/mnt/data/m-%s.txt' % token))
    def append(p):
        with open(p, 'a') as f:
            f.write(token + '\n')
    attempt('append_old_checkpoint', lambda: append('/mnt/data/checkpoints/epoch-1.txt'))
r['user_env'] = os.environ.get('USER')
libc = ctypes.CDLL(None, use_errno=True)
def sys_call(nr, *args):
    ctypes.set_errno(0)
    v = libc.syscall(nr, *args)
    return 'OK' if v >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
arm = platform.machine() == 'aarch64'
CLONE_NEWUSER = 0x10000000
r['unshare_user'] = 'OK' if libc.unshare(CLONE_NEWUSER) == 0 else errno.errorcode[ctypes.get_errno()]
r['io_uring_setup'] = sys_call(425, 4, ctypes.create_string_buffer(120))
r['keyctl'] = sys_call(219 if arm else 250, 0, -3, 0)  # KEYCTL_GET_KEYRING_ID of the session keyring
r['add_key'] = sys_call(217 if arm else 248, b'user', b'k', b'v', 1, -3)
# The supervisor (pid 1): ptrace attach, then SIGSTOP.
PTRACE_ATTACH = 16
ctypes.set_errno(0)
r['ptrace_pid1'] = 'OK' if libc.ptrace(PTRACE_ATTACH, 1, 0, 0) == 0 else errno.errorcode[ctypes.get_errno()]
attempt('sigstop_pid1', lambda: os.kill(1, signal.SIGSTOP))
time.sleep(0.2)
with open('/proc/1/status') as f:
    r['pid1_state'] = [l.split(None, 1)[1].strip() for l in f if l.startswith('State:')][0]
r['nofile'] = list(resource.getrlimit(resource.RLIMIT_NOFILE))
# The run's pids cgroup and the one above it (all runs together), as the kernel shows them.
with open('/proc/self/cgroup') as f:
    for line in f:
        n, ctrl, p = line.rstrip('\n').split(':', 2)
        if 'pids' in ctrl.split(',') or (ctrl == '' and 'pids_path' not in r):
            base = '/sys/fs/cgroup/pids' if ctrl else '/sys/fs/cgroup'
            if os.path.exists(base + p + '/pids.max'):
                r['pids_path'] = p
                r['cgroup_name'] = os.path.basename(p)
                r['pids_max'] = open(base + p + '/pids.max').read().strip()
                r['pids_max_all'] = open(base + os.path.dirname(p) + '/pids.max').read().strip()
# Ordinary work still works: threads, a subprocess.
import subprocess, threading
t = threading.Thread(target=lambda: None); t.start(); t.join()
r['subprocess'] = subprocess.run(['sh', '-c', 'echo sub'], capture_output=True, text=True).stdout.strip()
print(json.dumps(r), flush=True)
`;

describe('what a run is and can reach', { concurrency: 2 }, () => {
  const engines = [
    { label: 'native', server: () => native },
    { label: 'bwrap', server: () => bwrapServer! },
  ];
  for (const engine of engines) {
    const skip = !isRoot ? 'needs root (a run user other than the server, sockets under /run)' : engine.label === 'bwrap' && !bwrap ? 'bubblewrap (bwrap) is not installed' : false;
    test(`${engine.label}: runs are not root, see no host socket (default networking and NONE), have seccomp, cannot stop their supervisor, and write their own places`, { skip }, async () => {
      const s = engine.server();
      // A run with a mount or networking NONE gets a sandbox made at its start; one with neither starts in a warm
      // sandbox (made ahead of it) where one is ready: both paths must give the same run.
      const variants = [
        { networking: 'DEFAULT' as const, mount: true, warm: false },
        { networking: 'NONE' as const, mount: true, warm: false },
        { networking: 'DEFAULT' as const, mount: false, warm: true },
      ];
      const results = await Promise.all(
        variants.map(async (v) => {
          const token = `${v.networking}-${v.warm ? 'warm' : 'cold'}-${randomUUID()}`;
          const job = await makeJob(s, 'probe.py', PROBE, { networking: v.networking, ocpus: 2, mount: v.mount, args: [socketPath, otherSocketPath, token, s.dataDir].join(' ') });
          let result = await runToEnd(s, job);
          // Warm sandboxes come back a moment after each run: a run that found none ready made its own; try again.
          for (let i = 0; v.warm && i < 10 && !/^warm-/.test(jsonLineOrNull(result.logs)?.cgroup_name ?? ''); i++) {
            await new Promise((r) => setTimeout(r, 500));
            result = await runToEnd(s, job);
          }
          return { ...v, token, label: `${v.networking}${v.warm ? ' (warm sandbox)' : ''}`, ...result };
        }),
      );
      for (const { label: networking, mount, warm, token, run, logs } of results) {
        // The attempt on pid 1 did not leave the run hanging: it ended by itself, as it should.
        assert.equal(run.lifecycleState, 'SUCCEEDED', `${networking}: ${run.lifecycleDetails}\n${allOf(logs)}`);
        const r = jsonLine(logs);
        const ctx = `${engine.label} ${networking}: ${JSON.stringify(r, null, 1)}`;
        assert.equal(r.uid, 65534, ctx);
        assert.equal(r.euid, 65534, ctx);
        assert.equal(r.gid, 65534, ctx);
        assert.ok(!r.groups.includes(0), ctx);
        assert.equal(r.user_env, 'nobody', ctx);
        assert.match(r.read_shadow, /^PermissionError/, ctx);
        // The host's socket directory is not there: the service cannot be reached.
        assert.match(r.connect_host_socket, /^(FileNotFoundError|PermissionError|ConnectionRefusedError)/, ctx);
        // One outside /run is covered: the path is there, the socket is not.
        assert.match(r.connect_other_socket, /^(ConnectionRefusedError|PermissionError)/, ctx);
        assert.equal(r.list_run, 'OK: []', ctx);
        // Only the way to its own space (volumes/) shows in the data directory: no database, no other run.
        assert.match(r.list_data_dir, /^OK: \[('volumes')?\]$/, ctx);
        // Its own places stay writable as the run user.
        for (const k of ['write_work', 'write_home', 'write_tmp', ...(mount ? ['write_mount', 'append_old_checkpoint'] : [])]) assert.equal(r[k], 'OK', `${k} ${ctx}`);
        if (warm) assert.match(r.cgroup_name, /^warm-/, `never started in a warm sandbox: ${ctx}`);
        else assert.equal(r.cgroup_name, run.id, ctx);
        // seccomp: EPERM, not a kill, so programs can degrade.
        assert.equal(r.unshare_user, 'EPERM', ctx);
        assert.equal(r.io_uring_setup, 'EPERM', ctx);
        assert.equal(r.keyctl, 'EPERM', ctx);
        assert.equal(r.add_key, 'EPERM', ctx);
        // The supervisor can be neither traced nor stopped.
        assert.equal(r.ptrace_pid1, 'EPERM', ctx);
        assert.match(r.sigstop_pid1, /^(PermissionError|OK)/, ctx);
        assert.doesNotMatch(r.pid1_state, /stopped|tracing/i, ctx);
        // Limits from the shape (2 OCPUs: 512 processes per CPU) and the server's config.
        assert.deepEqual(r.nofile, [16384, 16384], ctx);
        assert.equal(r.pids_max, '1024', ctx);
        const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
        assert.ok(Number(r.pids_max_all) > 0 && Number(r.pids_max_all) < pidMax, `all runs' pids ceiling ${r.pids_max_all}, host pid_max ${pidMax}: ${ctx}`);
        assert.equal(r.subprocess, 'sub', ctx);
        // The mount's file is there on the host, owned by the run user.
        if (mount) assert.equal(statSync(path.join(bucketDir, `m-${token}.txt`)).uid, 65534);
      }
      assert.deepEqual(reached, [], `a run reached the host's socket: ${reached.join(', ')}`);
      const info = await s.api.serverInfo();
      const enforced = info.protections.enforced.join('\n');
      assert.match(enforced, /^run user: uid 65534 \(nobody\), gid 65534/m, enforced);
      assert.match(enforced, /^seccomp: EPERM for new namespaces/m, enforced);
      assert.match(enforced, /\/run hidden/, enforced);
      assert.match(enforced, /open files 16384 per process; processes per run 512 per CPU/, enforced);
      assert.match(enforced, /for all runs together/, enforced);
    });
  }

  /**
   * A run on default networking reaches the host's loopback, so the server's own API: it fires requests at it, some
   * on connections it resets at once (gone from the kernel's tables before the server looks), then a plain POST and a
   * GET of serverInfo, and prints what it got.
   */
  function apiCallerScript(): string {
    return [
      'import json, socket, sys, time, urllib.parse, urllib.request, urllib.error',
      'url, compartment, name = sys.argv[1:4]',
      'u = urllib.parse.urlparse(url)',
      'body = json.dumps({"compartmentId": compartment, "displayName": name}).encode()',
      'for i in range(5):',
      '    c = socket.create_connection((u.hostname, u.port))',
      // Every other one with a reset (linger 0): its socket is gone from the kernel's tables at once.
      '    if i % 2: c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00")',
      '    c.sendall(b"POST /20190101/projects HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)',
      '    c.close()',
      'time.sleep(0.5)',
      'def call(req):',
      '    try:',
      '        with urllib.request.urlopen(req, timeout=10) as r:',
      '            return {"status": r.status}',
      '    except urllib.error.HTTPError as e:',
      '        return {"status": e.code, "body": json.loads(e.read())}',
      'post = urllib.request.Request(url + "/20190101/projects", data=body, headers={"Content-Type": "application/json"}, method="POST")',
      'print(json.dumps({"post": call(post), "info": call(url + "/20190101/serverInfo")}))',
    ].join('\n') + '\n';
  }

  async function runCallsApi(s: TestServer, name: string) {
    const job = await makeJob(s, 'api.py', apiCallerScript(), { args: `${s.url} ${s.compartmentId} ${name}` });
    const { run, logs } = await runToEnd(s, job);
    assert.equal(run.lifecycleState, 'SUCCEEDED', `${run.lifecycleDetails}\n${allOf(logs)}`);
    const r = jsonLine(logs) as { post: { status: number; body?: { code: string; message: string } }; info: { status: number; body?: { code: string; message: string } } };
    // Nothing the run sent (and ran away from) was done.
    const projects = await s.api.listProjects({ compartmentId: s.compartmentId });
    assert.ok(!projects.items.some((p) => p.displayName === name), `a run created project ${name}`);
    return r;
  }

  test("default networking, authentication on: a run's unsigned requests to the server's own API are refused with 401", { skip: !isRoot && 'needs root' }, async () => {
    const r = await runCallsApi(native, `from-a-run-${randomUUID().slice(0, 8)}`);
    assert.equal(r.post.status, 401, JSON.stringify(r));
    assert.equal(r.post.body?.code, 'NotAuthenticated', JSON.stringify(r));
    // serverInfo needs no signature, from a run as from anywhere.
    assert.equal(r.info.status, 200, JSON.stringify(r));
  });

  test("default networking, authentication off: the server refuses every loopback request from the run user with 401; the host is served", { skip: !isRoot && 'needs root' }, async () => {
    const s = await startServer({ config: configFile, env: { DSJOBS_AUTHENTICATION: 'off' } });
    try {
      const r = await runCallsApi(s, `from-a-run-${randomUUID().slice(0, 8)}`);
      for (const answer of [r.post, r.info]) {
        assert.equal(answer.status, 401, JSON.stringify(r));
        assert.equal(answer.body?.code, 'NotAuthenticated', JSON.stringify(r));
        assert.match(answer.body?.message ?? '', /job runs \(uid 65534\).*must authenticate/, JSON.stringify(r));
      }
      // The same request from the host (this test, another uid) is answered.
      const res = await fetch(`${s.url}/20190101/serverInfo`);
      assert.equal(res.status, 200);
    } finally {
      await s.close();
    }
  });

  test("an all-runs process ceiling not below the host's limit is refused at start, naming the key", async () => {
    const dataDir = mkdtempSync(path.join(tmpRoot, 'refused-'));
    await assert.rejects(startServer({ dataDir, env: { DSJOBS_PIDS_MAX_ALL_RUNS: String(2 ** 31) } }), (e: Error) => {
      assert.match(e.message, /error: pidsMaxAllRuns: 2147483648 must be below the host's limit on processes/, e.message);
      return true;
    });
  });

  test("an all-runs open-files ceiling not below the host's fs.file-max is refused at start, naming the key", async () => {
    const dataDir = mkdtempSync(path.join(tmpRoot, 'refused-files-'));
    await assert.rejects(startServer({ dataDir, env: { DSJOBS_OPEN_FILES_MAX_ALL_RUNS: String(2 ** 40) } }), (e: Error) => {
      assert.match(e.message, /error: openFilesMaxAllRuns: \d+ must be below the host's limit on open files \(fs\.file-max \d+\)/, e.message);
      return true;
    });
  });

  test('all runs together hold at most openFilesMaxAllRuns files: the run holding the most is killed, saying why; the other goes on', { skip: !isRoot && 'needs root' }, async () => {
    // Each run alone is under the ceiling (3,000) and far under its own RLIMIT_NOFILE (16,384); together they are over.
    const s = await startServer({ config: configFile, env: { DSJOBS_OPEN_FILES_MAX_ALL_RUNS: '3000', DSJOBS_METRICS_INTERVAL_MS: '300' } });
    try {
      // The start-up report follows the line startServer waits for: it may reach the test a moment later.
      for (let i = 0; i < 200 && !/open files 3000 for all runs together/.test(s.output()); i++) await new Promise((r) => setTimeout(r, 25));
      assert.match(s.output(), /open files 3000 for all runs together/);
      const script = 'import sys, time\nfiles = [open("/dev/null") for _ in range(int(sys.argv[1]))]\nprint("holding", len(files), flush=True)\ntime.sleep(300)\n';
      const start = async (n: number) => {
        const job = await makeJob(s, 'hold.py', script, { args: String(n) });
        const run = await s.api.createJobRun({ projectId: job.projectId, compartmentId: s.compartmentId, jobId: job.id });
        const end = Date.now() + 60_000;
        while (!(await readLogs(s, run.id)).some((l) => l.message.startsWith('holding'))) {
          assert.ok(Date.now() < end, 'the run did not open its files within 60 s');
          await new Promise((r) => setTimeout(r, 200));
        }
        return run.id;
      };
      const big = await start(2000);
      // Alone, it is left alone for several rounds.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await s.api.getJobRun(big)).lifecycleState, 'IN_PROGRESS');
      const small = await start(1500);
      const killed = await waitForRun(s.api, big, undefined, 30_000);
      assert.equal(killed.lifecycleState, 'FAILED');
      assert.match(killed.lifecycleDetails ?? '', /too many open files.*openFilesMaxAllRuns/);
      assert.equal((await s.api.getJobRun(small)).lifecycleState, 'IN_PROGRESS', 'the run with fewer files goes on');
      await s.api.cancelJobRun(small);
      assert.equal((await waitForRun(s.api, small, undefined, 30_000)).lifecycleState, 'CANCELED');
    } finally {
      await s.close();
    }
  });

  test('a host socket removed after the server started (a service stopped) does not break later runs', { skip: !isRoot && 'needs root' }, async () => {
    const dir = mkdtempSync(path.join('/var/tmp', 'dsjobs-gone-'));
    const sock = path.join(dir, 'gone.sock');
    const service = net.createServer();
    await new Promise<void>((r) => service.listen(sock, () => r()));
    const s = await startServer({ config: configFile });
    try {
      // Known at the start, covered in every sandbox; then the service goes away with its socket.
      await new Promise<void>((r) => service.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
      const job = await makeJob(s, 'after.sh', 'echo still-running\n');
      const { run, logs } = await runToEnd(s, job);
      assert.equal(run.lifecycleState, 'SUCCEEDED', allOf(logs));
      assert.deepEqual(stdoutOf(logs), ['still-running']);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a data directory reached through a symbolic link: runs work and it stays hidden', { skip: !isRoot && 'needs root' }, async () => {
    const real = mkdtempSync(path.join(tmpRoot, 'real-'));
    const link = path.join(tmpRoot, 'data-link');
    symlinkSync(real, link);
    const s = await startServer({ dataDir: link });
    servers.push(s);
    const job = await makeJob(s, 'look.py', `import json, os, sys\nr = {}\nfor p in sys.argv[1:]:\n    try:\n        r[p] = sorted(os.listdir(p))\n    except Exception as e:\n        r[p] = type(e).__name__\nprint(json.dumps(r))\n`, { args: `${link} ${real}` });
    const { run, logs } = await runToEnd(s, job);
    assert.equal(run.lifecycleState, 'SUCCEEDED', `${run.lifecycleDetails}\n${allOf(logs)}`);
    const r = jsonLine(logs);
    assert.ok(existsSync(path.join(real, 'dsjobs.db')), 'the database is in the real directory');
    for (const p of [link, real]) {
      assert.ok(Array.isArray(r[p]) ? !r[p].includes('dsjobs.db') && !r[p].includes('runs') : true, `${p}: ${JSON.stringify(r)}`);
    }
    const info = await s.api.serverInfo();
    assert.match(info.protections.enforced.join('\n'), /data directory, \/run hidden/);
  });
});
