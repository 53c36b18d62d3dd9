import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { accessSync, chmodSync, constants as fsc, constants as fsConstants, copyFileSync, existsSync, mkdirSync, promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Resources } from '../../domain/resources.js';
import type { ExecutorHandle, ExitStatus, Executor, LaunchRequest, LaunchResult, Recovered } from '../executor.js';
import { archiveKindOf, extractArchive, type ArchiveLimits } from './archive.js';
import { isAlive, isRunSessionLeader, isSameProcessAlive, killGroup } from './proc.js';
import type { SpawnRequest } from './spawner-main.js';
import { which } from './which.js';

export interface LocalExecutorOptions {
  runsDir: string;
  capacity: Resources;
  pythonCommand: string;
  bashCommand: string;
  javaCommand: string;
  archiveLimits: ArchiveLimits;
  keepWorkDirs: boolean;
  supervisor?: 'native' | 'sh';
  /** How often a re-attached run (one this process did not spawn) is checked for exit. */
  recoverPollMs?: number;
}

interface LocalHandle {
  runDir: string;
  /** The supervisor shell: its pid and start time identify it across restarts. */
  pid: number;
  startTime: number;
}

/**
 * The supervisor: a POSIX shell that starts the run in a new session (setsid, so the run's process group is its
 * own and can be signalled as a whole), records the child's pid, waits, and writes the exit status. The server
 * can die at any moment: the supervisor outlives it and the status file tells a restarted server how the run
 * ended. Arguments reach the run as argv through "$@": no shell ever evaluates them. dash's `wait` reports a
 * signal death as 128+N, as every POSIX shell does.
 */
const SUPERVISOR = [
  'd=$1; shift',
  '"$SETSID_BIN" "$@" &',
  'c=$!',
  'echo "$c" > "$d/child.pid"',
  'wait "$c"',
  'echo "$?" > "$d/exit.status"',
].join('\n');

const EXIT_FILE = 'exit.status';

/**
 * What a process expects from its host and gets on an OCI job too: a PATH, a HOME, a locale, a temp dir. Taken
 * from the server's own environment (nothing else of it leaks into runs); the job's and run's variables win.
 */
const BASE_ENV: Record<string, string> = Object.fromEntries(
  ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']
    .map((k) => [k, process.env[k]] as const)
    .filter((e): e is readonly [string, string] => typeof e[1] === 'string'),
);
const CHILD_PID_FILE = 'child.pid';
const HANDLE_FILE = 'handle.json';

export class LocalExecutor implements Executor {
  readonly name = 'local';
  private readonly commands: {
    python: string | null;
    bash: string | null;
    java: string | null;
    setsid: string;
    sh: string;
    /** The native supervisor (supervisor.c, built by npm run build); null: the sh supervisor is used. */
    supervisor: string | null;
  };
  private closed = false;

  constructor(private readonly opts: LocalExecutorOptions) {
    const setsid = which('setsid');
    const sh = which('sh') ?? '/bin/sh';
    if (!setsid) throw new Error('setsid (util-linux) is required to run local jobs and was not found on PATH');
    this.commands = {
      python: which(opts.pythonCommand),
      bash: which(opts.bashCommand),
      java: which(opts.javaCommand),
      setsid,
      sh,
      supervisor: opts.supervisor === 'sh' ? null : nativeSupervisor(),
    };
  }

  capacity(): Resources {
    return this.opts.capacity;
  }

  runDir(runId: string): string {
    return path.join(this.opts.runsDir, runId);
  }

  logFiles(handle: ExecutorHandle): { stdout: string; stderr: string } {
    const dir = this.checked(handle).runDir;
    return { stdout: path.join(dir, 'stdout.log'), stderr: path.join(dir, 'stderr.log') };
  }

  private interpreter(kind: 'python' | 'bash' | 'java'): string {
    const cmd = this.commands[kind];
    if (!cmd) {
      const configured = { python: this.opts.pythonCommand, bash: this.opts.bashCommand, java: this.opts.javaCommand }[kind];
      throw new Error(`the ${kind} interpreter '${configured}' was not found on the server's PATH`);
    }
    return cmd;
  }

  /** argv for a file by its extension: .py with python, .sh with bash, .jar with java -jar, else run it directly. */
  private argvFor(file: string): string[] {
    const lower = file.toLowerCase();
    if (lower.endsWith('.py')) return [this.interpreter('python'), file];
    if (lower.endsWith('.sh')) return [this.interpreter('bash'), file];
    if (lower.endsWith('.jar')) return [this.interpreter('java'), '-jar', file];
    return [file];
  }

  async start(req: LaunchRequest): Promise<LaunchResult> {
    const runDir = this.runDir(req.runId);
    const work = path.join(runDir, 'work');
    // Synchronous on purpose: three small metadata operations take ~0.6 ms in all here, while the same through
    // the thread pool took ~5 ms of start latency (a round trip per call).
    // Two plain mkdirs: the recursive form first tries the leaf, fails, and retries (three directory syscalls).
    mkdirIfMissing(runDir);
    mkdirIfMissing(work);
    let target: string;
    const kind = archiveKindOf(req.artifactFileName);
    if (kind) {
      if (!req.entrypoint) {
        throw new Error(`JOB_RUN_ENTRYPOINT must name the file to run inside the archive ${req.artifactFileName}`);
      }
      // A leftover from an attempt that died before the supervisor started: start clean.
      await fsp.rm(work, { recursive: true, force: true });
      await fsp.mkdir(work, { recursive: true });
      await extractArchive(req.artifactPath, kind, work, this.opts.archiveLimits);
      const resolved = path.resolve(work, req.entrypoint);
      if (!resolved.startsWith(work + path.sep)) {
        throw new Error(`JOB_RUN_ENTRYPOINT '${req.entrypoint}' points outside the unpacked artifact`);
      }
      const st = await fsp.lstat(resolved).catch(() => null);
      if (!st || !st.isFile()) {
        throw new Error(`JOB_RUN_ENTRYPOINT '${req.entrypoint}' is not a file in the artifact ${req.artifactFileName}`);
      }
      target = resolved;
    } else {
      target = path.join(work, path.basename(req.artifactFileName));
      // FICLONE: a copy-on-write clone where the file system can, a plain copy elsewhere. A copy (not a link) so
      // a run that rewrites its own script cannot change the job's immutable artifact.
      copyFileSync(req.artifactPath, target, fsc.COPYFILE_FICLONE);
      chmodSync(target, 0o755);
    }
    const argv = [...this.argvFor(target), ...req.args];
    // Files, not pipes: the run never blocks on a slow or dead server, and the output survives a restart.
    const logFiles = { stdout: path.join(runDir, 'stdout.log'), stderr: path.join(runDir, 'stderr.log') };
    const native = this.commands.supervisor;
    const { pid, startTime } = await this.spawnSupervisor({
      file: native ?? this.commands.sh,
      args: native ? [runDir, ...argv] : ['-c', SUPERVISOR, 'dsjobs-supervisor', runDir, ...argv],
      cwd: work,
      env: native ? { ...BASE_ENV, ...req.env } : { ...BASE_ENV, ...req.env, SETSID_BIN: this.commands.setsid },
      stdout: logFiles.stdout,
      stderr: logFiles.stderr,
      handleFile: path.join(runDir, HANDLE_FILE),
      runDir,
    });
    const handle: LocalHandle = { runDir, pid, startTime };
    return { handle: handle as unknown as ExecutorHandle, logFiles };
  }

  // ---- the spawner process (see spawner-main.ts for why) ----
  private spawner: ChildProcess | null = null;
  private nextRequest = 1;
  private readonly requests = new Map<number, { resolve: (v: { pid: number; startTime: number }) => void; reject: (e: Error) => void }>();
  /** Supervisors the current spawner started and has not yet seen exit, with who waits for them. */
  private readonly live = new Map<number, (() => void)[]>();

  private ensureSpawner(): ChildProcess {
    if (this.spawner) return this.spawner;
    const here = path.dirname(fileURLToPath(import.meta.url));
    const js = path.join(here, 'spawner-main.js');
    const entry = existsSync(js) ? js : path.join(here, 'spawner-main.ts');
    const child = fork(entry, [], {
      execArgv: entry.endsWith('.ts') ? ['--import', 'tsx'] : [],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
    });
    child.on('message', (m: { t: string; id?: number; pid?: number; startTime?: number; message?: string }) => {
      if (m.t === 'exit') {
        const waiters = this.live.get(m.pid!);
        this.live.delete(m.pid!);
        for (const w of waiters ?? []) w();
        return;
      }
      const req = this.requests.get(m.id!);
      if (!req) return;
      this.requests.delete(m.id!);
      if (m.t === 'spawned') {
        this.live.set(m.pid!, []);
        req.resolve({ pid: m.pid!, startTime: m.startTime! });
      } else {
        req.reject(new Error(`could not start the supervisor: ${m.message}`));
      }
    });
    child.once('exit', () => {
      // The spawner died: its supervisors live on (reparented); waiters fall back to polling pid + start time.
      if (this.spawner === child) this.spawner = null;
      for (const [, waiters] of this.live) for (const w of waiters) w();
      this.live.clear();
      for (const [, r] of this.requests) r.reject(new Error('the spawner process exited'));
      this.requests.clear();
    });
    child.unref();
    (child as unknown as { channel?: { unref(): void } }).channel?.unref();
    this.spawner = child;
    return child;
  }

  private spawnSupervisor(m: Omit<SpawnRequest, 't' | 'id'>): Promise<{ pid: number; startTime: number }> {
    const spawner = this.ensureSpawner();
    const id = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.requests.set(id, { resolve, reject });
      spawner.send({ t: 'spawn', id, ...m } satisfies SpawnRequest);
    });
  }

  private readExit(runDir: string): ExitStatus {
    try {
      return parseExitStatus(readFileSync(path.join(runDir, EXIT_FILE), 'utf8'));
    } catch {
      return { exitCode: null, signal: null };
    }
  }

  async wait(h: ExecutorHandle): Promise<ExitStatus> {
    const handle = h as unknown as LocalHandle;
    const waiters = this.live.get(handle.pid);
    if (waiters) await new Promise<void>((resolve) => waiters.push(resolve));
    // Not (or no longer) reported by the spawner, e.g. re-attached after a restart: poll pid + start time.
    const every = this.opts.recoverPollMs ?? 200;
    while (!this.closed && isSameProcessAlive(handle.pid, handle.startTime)) {
      await new Promise((r) => setTimeout(r, every).unref());
    }
    if (this.closed) return new Promise(() => {}); // shutting down: never settle
    return this.readExit(handle.runDir);
  }

  private childPid(handle: LocalHandle): number | null {
    try {
      const n = Number(readFileSync(path.join(handle.runDir, CHILD_PID_FILE), 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : null;
    } catch {
      return null;
    }
  }

  async signal(h: ExecutorHandle, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const handle = h as unknown as LocalHandle;
    let pgid = this.childPid(handle);
    // The supervisor writes the pid a moment after it starts the run: give it up to ~200 ms.
    for (let i = 0; pgid === null && i < 40 && isSameProcessAlive(handle.pid, handle.startTime); i++) {
      await new Promise((r) => setTimeout(r, 5));
      pgid = this.childPid(handle);
    }
    if (pgid === null) return;
    // The pid is recorded just before the child's setsid() has made its process group: for that instant the
    // group does not exist yet (ESRCH) though the process does. Retry briefly, then signal the process itself.
    for (let i = 0; i < 40; i++) {
      if (killGroup(pgid, signal)) return;
      if (!isAlive(pgid)) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    try {
      process.kill(pgid, signal);
    } catch {
      /* gone */
    }
  }

  async find(runId: string): Promise<ExecutorHandle | null> {
    try {
      return JSON.parse(readFileSync(path.join(this.runDir(runId), HANDLE_FILE), 'utf8'));
    } catch {
      return null;
    }
  }

  async recover(h: ExecutorHandle): Promise<Recovered> {
    const handle = h as unknown as LocalHandle;
    if (isSameProcessAlive(handle.pid, handle.startTime)) return { state: 'running' };
    return { state: 'exited', status: this.readExit(handle.runDir) };
  }

  async cleanup(h: ExecutorHandle, opts: { killStragglers?: boolean } = {}): Promise<void> {
    const handle = this.checked(h);
    const pgid = this.childPid(handle);
    // The main process is gone; anything left in its group (background children) goes with it. After a restart
    // the group id may have been reused: then only a group whose leader is provably the run's is killed.
    if (pgid !== null && (opts.killStragglers !== false || isRunSessionLeader(pgid, handle.startTime))) {
      killGroup(pgid, 'SIGKILL');
    }
    if (!this.opts.keepWorkDirs) await fsp.rm(path.join(handle.runDir, 'work'), { recursive: true, force: true });
  }

  /** A handle is data from the database or a file: only ever act on a run directory under runsDir. */
  private checked(h: ExecutorHandle): LocalHandle {
    const handle = h as unknown as LocalHandle;
    const dir = typeof handle.runDir === 'string' ? path.resolve(handle.runDir) : '';
    if (!dir.startsWith(path.resolve(this.opts.runsDir) + path.sep)) {
      throw new Error(`invalid local executor handle: run directory '${String(handle.runDir)}' is not under ${this.opts.runsDir}`);
    }
    return handle;
  }

  async close(): Promise<void> {
    this.closed = true;
    const sp = this.spawner;
    this.spawner = null;
    if (sp?.connected) sp.disconnect();
  }
}

const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([name, n]) => [n as number, name]));

/** "N\n" (exit code) or "signal N\n"; anything else, or a status cut short before its newline, is unknown. */
export function parseExitStatus(text: string): ExitStatus {
  if (!text.endsWith('\n')) return { exitCode: null, signal: null };
  const m = /^(?:(\d+)|signal (\d+))\n$/.exec(text);
  if (!m) return { exitCode: null, signal: null };
  if (m[1] !== undefined) return { exitCode: Number(m[1]), signal: null };
  const n = Number(m[2]);
  return { exitCode: null, signal: SIGNAL_NAMES.get(n) ?? `signal ${n}` };
}

function nativeSupervisor(): string | null {
  const p = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dsjobs-supervisor');
  try {
    accessSync(p, fsConstants.X_OK);
    return p;
  } catch {
    return null;
  }
}

function mkdirIfMissing(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}
