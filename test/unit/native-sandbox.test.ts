/**
 * The native sandbox (`dsjobs-supervisor -B`, src/executors/local/sandbox.c, built by `npm run build`) on its own,
 * with the command lines sandbox.ts writes: what a program inside sees and cannot do, how its exit status comes
 * out, and how a bad command line or a set-up that cannot be done is reported. Real namespaces and mounts; it
 * needs root (the server only picks this engine as root), so it is skipped otherwise. The end-to-end escape
 * attempts through a server run against both engines in test/e2e/isolation.test.ts.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { detectSandbox, sandboxArgs } from '../../src/executors/local/sandbox.js';
import { which } from '../../src/executors/local/which.js';

const supervisor = path.resolve('dist/executors/local/dsjobs-supervisor');
const root = process.getuid?.() === 0;
const skip = !root ? 'needs root' : !existsSync(supervisor) ? 'the native supervisor is not built (npm run build)' : false;

describe('native sandbox (dsjobs-supervisor -B)', { skip }, () => {
  let dir: string;
  let data: string;
  let space: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-native-sandbox-'));
    data = path.join(dir, 'data');
    space = path.join(data, 'volumes', 'vol-1');
    for (const d of ['work', 'tmp', 'home']) mkdirSync(path.join(space, d), { recursive: true });
    writeFileSync(path.join(data, 'dsjobs.db'), 'the database');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const args = (network: boolean) =>
    // The supervisor read-only at its own path, as the server does: a checkout under /tmp is hidden by the run's /tmp.
    sandboxArgs({ hide: [data], space, tmp: path.join(space, 'tmp'), mounts: [], network, readOnly: [supervisor], devices: [] });
  /** `script` run by bash in the sandbox `a` describes; `inner` puts a command (the inner supervisor) before it. */
  const run = (a: string[], script: string, inner: string[] = []) =>
    spawnSync(supervisor, ['-B', ...a, '--chdir', path.join(space, 'work'), '--', ...inner, 'bash', '-c', script], { encoding: 'utf8', timeout: 20_000 });

  test('inside: pid 1, its hostname, the system read-only, the data dir hidden, its space writable, no capabilities', () => {
    const r = run(args(true), [
      'echo "pid=$$"',
      'echo "host=$(hostname)"',
      'echo "cwd=$PWD"',
      `test -e ${data}/dsjobs.db && echo db=visible || echo db=hidden`,
      'touch /usr/dsjobs-native-probe 2>/dev/null && echo usr=writable || echo usr=read-only',
      'echo x > /proc/sys/kernel/hostname 2>/dev/null && echo procsys=writable || echo procsys=read-only',
      'touch probe && echo work=writable',
      'touch /tmp/probe && echo tmp=writable',
      'grep CapEff /proc/self/status | tr -d "\\t"',
      'grep NoNewPrivs /proc/self/status | tr -d "\\t"',
      'echo hello > /dev/null && head -c 8 /dev/urandom | wc -c | sed "s/^/urandom=/"',
      'ls /proc | grep -c "^[0-9]" | sed "s/^/procs=/"',
      'mount -t tmpfs none /mnt 2>/dev/null && echo mount=ok || echo mount=refused',
    ].join('\n'));
    assert.equal(r.status, 0, r.stderr);
    const out = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
    assert.equal(out.pid, '1');
    assert.equal(out.host, 'dsjobs-run');
    assert.equal(out.cwd, path.join(space, 'work'));
    assert.equal(out.db, 'hidden');
    assert.equal(out.usr, 'read-only');
    assert.equal(out.procsys, 'read-only');
    assert.equal(out.work, 'writable');
    assert.equal(out.tmp, 'writable');
    assert.match(r.stdout, /^CapEff:0000000000000000$/m);
    assert.match(r.stdout, /^NoNewPrivs:1$/m);
    assert.equal(out.urandom, '8');
    assert.ok(Number(out.procs) <= 4, `sees ${out.procs} processes`);
    assert.equal(out.mount, 'refused');
    // What it wrote in its space is on the host; nothing it tried elsewhere is.
    assert.ok(existsSync(path.join(space, 'work', 'probe')));
    assert.ok(existsSync(path.join(space, 'tmp', 'probe')));
    assert.ok(!existsSync('/usr/dsjobs-native-probe'));
  });

  test('--unshare-net: only loopback, and it is up', () => {
    const r = run(args(false), 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "; cat /sys/class/net/lo/flags 2>/dev/null || true');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, -1), ['lo']);
    // IFF_UP is bit 0 of the flags.
    assert.equal(Number(lines.at(-1)) & 1, 1, r.stdout);
  });

  test('exit status: the program\'s code, and 128+N for a death by signal N (as bwrap)', () => {
    assert.equal(run(args(true), 'exit 7').status, 7);
    // The program is pid 1 here, which ignores signals it has no handler for; a fault is delivered regardless.
    assert.equal(run(args(true), 'exec python3 -c "import ctypes; ctypes.string_at(0)"').status, 128 + 11);
  });

  test("the server's command line: the inner supervisor is pid 1 and reaps the run's orphans (no zombies)", () => {
    // Three orphans (their parent subshells exit at once) whose parent becomes pid 1; after they end, none is left
    // as a zombie. The inner supervisor reports on fd 2 here ("+" when up, then the exit status).
    const script = 'for i in 1 2 3; do (sleep 0.1 &); done; sleep 1; ps -e -o pid=,stat=,comm=';
    const r = run(args(true), script, [supervisor, '-r', '2']);
    assert.equal(r.status, 0, r.stderr);
    const ps = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    assert.deepEqual(ps.find(([pid]) => pid === '1')?.[2], 'dsjobs-supervis', r.stdout);
    assert.deepEqual(ps.filter(([, stat]) => stat?.startsWith('Z')), [], `zombies: ${r.stdout}`);
    assert.equal(r.stderr, '+0\n');
  });

  test('a bad command line is refused with what is wrong, exit 1', () => {
    const cases: [string[], RegExp][] = [
      [['--bogus-option', '--', 'true'], /unknown option --bogus-option/],
      [['--cap-drop', 'CAP_SYS_ADMIN', '--', 'true'], /--cap-drop takes ALL only/],
      [['--ro-bind', '/usr'], /--ro-bind needs 2 arguments/],
      [['--unshare-pid', '--'], /no command after --/],
      [['--hostname', 'x', '--', 'true'], /--hostname needs --unshare-uts/],
    ];
    for (const [a, msg] of cases) {
      const r = spawnSync(supervisor, ['-B', ...a], { encoding: 'utf8' });
      assert.equal(r.status, 1, `${a.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
  });

  test('a set-up step that fails names the step and the path, exit 1 (the supervisor tries such a sandbox again)', () => {
    const missing = path.join(dir, 'no-such-dir');
    const r = run([...args(true), '--ro-bind', missing, '/mnt/x'], 'echo should not run');
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`dsjobs sandbox: Can't find source path ${missing}: No such file or directory`));
  });
});

test('engine choice: off, native without its supervisor (says why), auto falling back to bwrap (says why not native), bwrap when asked', { skip }, () => {
  assert.deepEqual(detectSandbox('off', supervisor), { engine: null, program: null, note: 'the sandbox is turned off in the server config (sandbox: "off")' });
  const noNative = detectSandbox('native', null);
  assert.equal(noNative.engine, null);
  assert.match(noNative.note ?? '', /^the native sandbox needs the native supervisor .*: runs are not sandboxed$/);
  assert.deepEqual(detectSandbox('native', supervisor), { engine: 'native', program: supervisor, note: null });
  assert.deepEqual(detectSandbox('auto', supervisor), { engine: 'native', program: supervisor, note: null });
  const bwrap = which('bwrap');
  if (bwrap) {
    const fallback = detectSandbox('auto', null);
    assert.equal(fallback.engine, 'bwrap');
    assert.match(fallback.note ?? '', /native sandbox needs the native supervisor/);
    assert.deepEqual(detectSandbox('bwrap', supervisor), { engine: 'bwrap', program: bwrap, note: null });
  }
});

test('the start-up check sees what the report would claim: a data directory hidden by its real path passes, by a symbolic link it fails and says why', { skip }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-native-check-'));
  try {
    const real = path.join(dir, 'real');
    mkdirSync(real);
    writeFileSync(path.join(real, 'dsjobs.db'), 'the database');
    const link = path.join(dir, 'link');
    symlinkSync(real, link);
    const runUser = { uid: 65534, gid: 65534, name: 'nobody', openFilesMax: 1024 };
    assert.deepEqual(detectSandbox('native', supervisor, { dataDir: real, runUser }), { engine: 'native', program: supervisor, note: null, unverified: null });
    // The sandbox itself works (it is still used), but what the report would claim was not seen.
    const viaLink = detectSandbox('native', supervisor, { dataDir: link, runUser });
    assert.equal(viaLink.engine, 'native');
    assert.match(viaLink.unverified ?? '', /tmpfs|data directory/, String(viaLink.unverified));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
