import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { runUserOption, type RunUser } from './run-user.js';
import { which } from './which.js';

/**
 * The run's view of the machine, in bubblewrap's terms (bwrap's command line, also what the native sandbox in
 * sandbox.c takes): the system read-only, the server's data directory (the
 * database, every artifact, every other run) hidden behind an empty tmpfs, the run's own space and its storage
 * mounts the only writable places, its own /tmp, /proc and pid namespace (it sees only its own processes, and when
 * its first process ends the kernel kills every process left in the namespace), no capabilities (nothing can be
 * remounted, unmounted or reached through the hidden directories), /run (the host's sockets) an empty tmpfs. The
 * inner supervisor then runs the program as the run user under a seccomp filter (run-user.ts, supervisor.c). With
 * `network: false` it gets a network namespace holding only loopback.
 */
export interface SandboxSpec {
  /** Hidden entirely (the server's data directory). */
  hide: string[];
  /** The run's own space (host path, bound at the same path, writable): its working directory, home and tmp. */
  space: string;
  /** Bound to /tmp. */
  tmp: string;
  /** Storage mounts, host path -> path in the sandbox. */
  mounts: { source: string; destination: string; readOnly?: boolean }[];
  network: boolean;
  /**
   * Host paths the run must see at their own path even where the sandbox hides or covers them (a cached conda pack in
   * the data directory, the inner supervisor in a checkout under /tmp); bound read-only only where needed.
   */
  readOnly: string[];
  /** Device nodes to pass through (GPUs). */
  devices: string[];
}

export interface SandboxHost {
  /**
   * How runs are sandboxed: "native", the native supervisor's own set-up of bwrap's command line (`dsjobs-supervisor
   * -B`, sandbox.c: the kernel's mount API, no mountinfo parsing; needs root); "bwrap", bubblewrap; null, not at all.
   */
  engine: 'native' | 'bwrap' | null;
  /** The program that takes sandboxArgs(): the native supervisor (with -B) or bwrap; null when not sandboxed. */
  program: string | null;
  /** Not sandboxed: why. With bwrap under "auto": why not the native engine. */
  note: string | null;
  /**
   * Set where the start-up check ran (detectSandbox with checks): null, or what it found otherwise than the start-up
   * report would claim (the run user, the hidden data directory and /run, the seccomp filter). The sandbox is used
   * anyway (it still isolates more than none would); the report says what failed.
   */
  unverified?: string | null;
}

export type SandboxMode = 'auto' | 'native' | 'bwrap' | 'off';

/**
 * Picks the sandbox engine and checks that it works here (root, namespaces and the mount API may be missing in a
 * container). "auto": native where it works (root, Linux 5.12+, the native supervisor built), else bubblewrap.
 */
export function detectSandbox(mode: SandboxMode, supervisor: string | null, checks?: SandboxChecks): SandboxHost {
  if (mode === 'off') return { engine: null, program: null, note: 'the sandbox is turned off in the server config (sandbox: "off")' };
  const notes: string[] = [];
  if (mode !== 'bwrap') {
    if (!supervisor) notes.push('the native sandbox needs the native supervisor (npm run build, with a C compiler)');
    else if (process.getuid?.() !== 0) notes.push('the native sandbox needs the server to run as root');
    else {
      const err = probe(supervisor, ['-B']);
      if (!err) return { engine: 'native', program: supervisor, note: null, ...verified(supervisor, ['-B'], checks && { ...checks, supervisor, native: true }) };
      notes.push(`the native sandbox cannot be set up here (${err})`);
    }
    if (mode === 'native') return { engine: null, program: null, note: `${notes.join('; ')}: runs are not sandboxed` };
  }
  const bwrap = which('bwrap');
  if (!bwrap) return { engine: null, program: null, note: [...notes, 'bubblewrap (bwrap) is not installed: runs are not sandboxed (apt-get install bubblewrap)'].join('; ') };
  const err = probe(bwrap, []);
  if (err) return { engine: null, program: null, note: [...notes, `bubblewrap cannot create namespaces here (${err}): runs are not sandboxed`].join('; ') };
  // Why the native engine is not used, when it was considered: worth saying beside "bubblewrap".
  const note = notes.length > 0 ? notes.join('; ') : null;
  return { engine: 'bwrap', program: bwrap, note, ...verified(bwrap, [], checks && supervisor ? { ...checks, supervisor, native: false } : undefined) };
}

/** The start-up check's outcome, as SandboxHost's `unverified` (nothing without checks). */
function verified(program: string, pre: string[], checks: (SandboxChecks & { supervisor: string; native: boolean }) | undefined): { unverified?: string | null } {
  return checks ? { unverified: probe(program, pre, checks) } : {};
}

/** What the start-up probe checks beyond a working sandbox, so that the start-up report says only what was seen. */
export interface SandboxChecks {
  /** Hidden as a run's sandbox hides it: the probe checks it sees nothing of it. */
  dataDir: string;
  runUser: RunUser;
}

/**
 * Runs `true` in the sandbox; with checks (and the native supervisor, whose inner half runs inside as for a run), a
 * shell as the run user that checks its uid, that the data directory looks empty, that /run is empty and that the
 * seccomp filter is on. null, or what went wrong.
 */
function probe(program: string, pre: string[], checks?: SandboxChecks & { supervisor: string; native: boolean }): string | null {
  let command = ['true'];
  let extra: string[] = [];
  if (checks) {
    const uid = checks.runUser.uid ?? process.getuid?.() ?? 0;
    const script = [
      '[ "$(id -u)" = "$1" ] || { echo "the probe ran as uid $(id -u), not the run user $1" >&2; exit 1; }',
      '[ -z "$(ls -A "$2")" ] || { echo "the data directory $2 is visible in the sandbox" >&2; exit 1; }',
      '[ -z "$(ls -A /run)" ] || { echo "/run is visible in the sandbox" >&2; exit 1; }',
      'grep -q "^Seccomp:[[:space:]]*2" /proc/self/status || { echo "the seccomp filter is not on" >&2; exit 1; }',
    ].join('\n');
    command = [checks.supervisor, '-r', '63', ...runUserOption(checks.runUser), '/bin/sh', '-c', script, 'probe', String(uid), checks.dataDir];
    extra = ['--tmpfs', checks.dataDir, ...runUserCapabilities(checks.native), ...(checks.native ? [] : bwrapProcCoverArgs())];
  }
  try {
    execFileSync(program, [...pre, ...baseArgs(), '--unshare-net', ...extra, '--', ...command], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    return null;
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? '').trim();
    return stderr || (e as Error).message;
  }
}

/**
 * bwrap makes the missing parents of a mount point inside a tmpfs with mode 0700: the run's space bound at
 * <dataDir>/volumes/vol-x/ sat behind a root-only <dataDir>/volumes, out of the run user's reach. Each such parent is
 * made first, 0755 (the native engine makes them so itself).
 */
function withSearchableParents(args: string[]): string[] {
  const out: string[] = [];
  const tmpfs: string[] = [];
  const made = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--tmpfs') tmpfs.push(args[i + 1]);
    if ((a === '--bind' || a === '--ro-bind' || a === '--dev-bind') && i + 2 < args.length) {
      const dest = args[i + 2];
      const root = tmpfs.filter((t) => dest.startsWith(t === '/' ? '/' : t + '/')).sort((x, y) => y.length - x.length)[0];
      if (root !== undefined) {
        const parents: string[] = [];
        for (let d = path.dirname(dest); d !== root && d.length > root.length; d = path.dirname(d)) parents.unshift(d);
        for (const d of parents) {
          if (made.has(d)) continue;
          made.add(d);
          out.push('--perms', '0755', '--dir', d);
        }
      }
    }
    out.push(a);
  }
  return out;
}

/**
 * bubblewrap as root: the capabilities the inner supervisor needs to make the run's process the run user (and empty
 * its bounding set); it clears them all in that process. The native sandbox keeps them itself (sandbox.c).
 */
function runUserCapabilities(native: boolean): string[] {
  if (native || process.getuid?.() !== 0) return [];
  return ['--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP'];
}

/**
 * The command line that runs `command` in the sandbox `args` describe, in `cwd`, and the native supervisor's options
 * for it (-N: it sets the sandbox up itself rather than executing `dsjobs-supervisor -B`).
 */
export function sandboxCommand(host: SandboxHost, args: string[], cwd: string, command: string[]): { argv: string[]; supervisorOptions: string[] } {
  if (!host.program) throw new Error('runs are not sandboxed here');
  const native = host.engine === 'native';
  return {
    argv: [host.program, ...(native ? ['-B'] : []), ...(native ? args : withSearchableParents(args)), ...(native ? [] : [...bwrapProcCoverArgs(), ...runUserCapabilities(false)]), '--chdir', cwd, '--', ...command],
    supervisorOptions: native ? ['-N'] : [],
  };
}

/**
 * bwrap makes /proc/sys, /proc/sysrq-trigger, /proc/irq and /proc/bus read-only only where its access(W_OK) check
 * says they are writable, and as real root it checks after dropping its capabilities: the directories say EACCES,
 * and it leaves them writable (a run could write /proc/sys/kernel/core_pattern and have a program run as host
 * root). Bound read-only explicitly, after --proc, they are read-only in every case. The native sandbox covers them
 * itself.
 */
const BWRAP_PROC_COVER_PATHS = ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus'];
let bwrapProcCover: string[] | null = null;
function bwrapProcCoverArgs(): string[] {
  bwrapProcCover ??= BWRAP_PROC_COVER_PATHS.filter((p) => existsSync(p)).flatMap((p) => ['--ro-bind', p, p]);
  return bwrapProcCover;
}

function baseArgs(rootEntries?: string[]): string[] {
  return [
    '--die-with-parent',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--hostname',
    'dsjobs-run',
    '--cap-drop',
    'ALL',
    // The host's root read-only; or, when a mount needs a new top-level directory, bwrap's own tmpfs root with
    // each host top-level entry bound back in read-only.
    ...(rootEntries ?? ['--ro-bind', '/', '/']),
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    // The host's sockets (munge, docker.sock, D-Bus, systemd, ...) live there: a read-only bind does not stop a
    // connect() on a socket file, an empty tmpfs does.
    ...socketDirs().flatMap((d) => ['--tmpfs', d]),
    // Those elsewhere (a database's under /var/lib): /dev/null over each, which a connect() is refused on.
    ...hostSocketFiles().flatMap((f) => ['--ro-bind', '/dev/null', f]),
  ];
}

/**
 * The Unix sockets bound in the host's file system when the server started (the kernel's list, /proc/net/unix)
 * outside the directories every sandbox replaces (/run, /tmp, /dev, /proc), as they are now: each sandbox covers
 * those still there. One removed since (a service stopped or restarted, a test's socket cleaned up) is left out, or
 * covering it would fail every later run ("Can't create a mount point": the host's tree is read-only in the
 * sandbox); checking costs one lstat per socket per run. A socket made after the start is not in the list:
 * docs/isolation.md says so.
 */
let socketFileList: string[] | null = null;
export function hostSocketFiles(): string[] {
  socketFileList ??= socketsAtStart();
  return socketFileList.filter(isSocketNow);
}

function isSocketNow(p: string): boolean {
  try {
    return lstatSync(p).isSocket();
  } catch {
    return false;
  }
}

/** The path with its directory's links resolved (the file itself is a socket, not a link); as given if gone. */
function realParent(p: string): string {
  try {
    return path.join(realpathSync(path.dirname(p)), path.basename(p));
  } catch {
    return p;
  }
}

function socketsAtStart(): string[] {
  const replaced = [...socketDirs(), '/tmp', '/dev', '/proc'];
  const found = new Set<string>();
  let text = '';
  try {
    text = readFileSync('/proc/net/unix', 'utf8');
  } catch {
    /* no procfs: none known */
  }
  for (const line of text.split('\n').slice(1)) {
    // "Num RefCount Protocol Flags Type St Inode Path": the path is the 8th field, '@' for abstract sockets.
    const f = line.trim().split(/\s+/);
    const named = f.slice(7).join(' ');
    if (!named.startsWith('/')) continue;
    // The path as bound may pass through a link (dockerd binds /var/run/docker.sock, and /var/run is a link to
    // /run): what counts is where it really is. Covering it at the linked path failed every sandbox ("Can't create a
    // mount point at /var/run/docker.sock": the link's target is already an empty tmpfs), so runs went unsandboxed.
    const p = realParent(named);
    if (replaced.some((d) => isUnder(p, d))) continue;
    if (isSocketNow(p)) found.add(p);
  }
  return [...found].sort();
}

/** What seccomp.c refuses, for the start-up report (docs/isolation.md has the whole list). */
export const SECCOMP_SUMMARY =
  'EPERM for new namespaces (unshare, setns, clone with CLONE_NEW*; clone3 ENOSYS), io_uring, the kernel keyring, mounting, ' +
  'module loading, kexec, bpf, perf_event_open, reboot, swap, clock and host name changes; other architectures killed';

/**
 * The file /etc/resolv.conf resolves to, where that is under a directory the sandbox hides (systemd-resolved's
 * /run/systemd/resolve/stub-resolv.conf): bound back at its own path, read-only, so that names still resolve.
 */
let resolvConfList: string[] | null = null;
export function resolvConf(): string[] {
  if (resolvConfList === null) {
    let real: string | null = null;
    try {
      real = realpathSync('/etc/resolv.conf');
    } catch {
      /* none */
    }
    resolvConfList = real && socketDirs().some((d) => real.startsWith(d + '/')) ? [real] : [];
  }
  return resolvConfList;
}

/** /run, and /var/run where it is a directory of its own rather than the usual link to /run. */
let socketDirList: string[] | null = null;
export function socketDirs(): string[] {
  socketDirList ??= ['/run', '/var/run'].filter((d) => {
    try {
      return lstatSync(d).isDirectory();
    } catch {
      return false;
    }
  });
  return socketDirList;
}

/**
 * bwrap's arguments for a spec. bwrap cannot create a mount point inside a read-only bind, so a destination that
 * does not exist on the host (/mnt/data, /home/datascience/out) gets its missing ancestors made in a tmpfs that
 * replaces the nearest existing directory, whose own entries are bound back in read-only: the run still sees
 * everything that was there.
 */
export function sandboxArgs(spec: SandboxSpec): string[] {
  const newTopLevel = spec.mounts.some((m) => !existsSync('/' + m.destination.split('/')[1]));
  const args = baseArgs(newTopLevel ? rootEntryBinds() : undefined);
  if (!spec.network) args.push('--unshare-net');
  // /mnt is where OCI puts mounts; start it empty, as on a fresh instance.
  const shadowed = new Set<string>(['/mnt']);
  args.push('--tmpfs', '/mnt');
  // Before the rest: a data directory under /tmp is then already out of sight, and what follows lands inside.
  args.push('--bind', spec.tmp, '/tmp');
  for (const dev of spec.devices) args.push('--dev-bind', dev, dev);
  for (const m of spec.mounts) {
    shadowMissingAncestors(m.destination, shadowed, args);
    args.push(m.readOnly ? '--ro-bind' : '--bind', m.source, m.destination);
  }
  // After the mounts: a directory bound back in while shadowing an ancestor must not show the hidden data, nor a host
  // socket that was covered before its directory was shadowed.
  for (const f of hostSocketFiles()) if ([...shadowed].some((d) => d !== '/mnt' && isUnder(f, d))) args.push('--ro-bind', '/dev/null', f);
  for (const h of spec.hide) args.push('--tmpfs', h);
  // Only where the sandbox would hide it: a bind costs bwrap a pass over the whole mount table (~0.3 ms a start).
  const covering = [...spec.hide, ...shadowed, ...socketDirs(), '/tmp', '/dev', '/proc', spec.space, ...spec.mounts.map((m) => m.destination)];
  for (const r of spec.readOnly) if (covering.some((c) => isUnder(r, c))) args.push('--ro-bind', r, r);
  args.push('--bind', spec.space, spec.space);
  return args;
}

function isUnder(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : dir + '/');
}

/** For a destination whose path does not exist on the host, makes its nearest existing ancestor a writable tmpfs. */
function shadowMissingAncestors(dest: string, shadowed: Set<string>, args: string[]): void {
  // Inside a tmpfs made earlier: bwrap creates what is missing itself.
  for (const s of shadowed) if (isUnder(dest, s)) return;
  if (existsSync(dest)) return;
  let anc = path.dirname(dest);
  while (anc !== '/' && !existsSync(anc)) anc = path.dirname(anc);
  // A new top-level directory: the root is bwrap's tmpfs already (rootEntryBinds), it can be made there.
  if (anc === '/') return;
  shadowed.add(anc);
  args.push('--tmpfs', anc);
  for (const entry of readdirSync(anc)) {
    const p = path.join(anc, entry);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
    else args.push('--ro-bind', p, p);
  }
}

/** Each top-level entry of the host's root, read-only (symlinks such as /bin -> usr/bin stay symlinks). */
function rootEntryBinds(): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/')) {
    const p = '/' + entry;
    if (['proc', 'dev', 'tmp', 'mnt', 'run'].includes(entry)) continue;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) out.push('--symlink', readlinkSync(p), p);
    else if (st.isDirectory() || st.isFile()) out.push('--ro-bind', p, p);
  }
  return out;
}
