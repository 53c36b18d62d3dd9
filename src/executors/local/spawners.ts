/**
 * Who forks the run supervisors for the server. fork() costs time in proportion to the forking process's resident
 * memory (1.2 ms from a 52 MB Node process, 11 ms at 159 MB, 21 ms at 473 MB, measured here) and Node's spawn()
 * blocks the event loop for all of it, so the server never forks a supervisor itself; a small long-lived child does:
 *
 * - NativeSpawner: the native supervisor in spawner mode (`dsjobs-supervisor -S`, supervisor.c). A fork of that
 *   small C process becomes the run's supervisor directly, without an exec: ~0.1 ms, against 1-2 ms for a fork +
 *   exec from the Node spawner. Frames on its stdin, reply lines on its stdout.
 * - NodeSpawner: a small Node process (spawner-main.ts) over Node IPC, for when there is no native supervisor (no C
 *   compiler: the sh supervisor is used).
 *
 * Either one reports when a supervisor it started exits; when it dies itself, the supervisors live on (they are in
 * sessions of their own) and waiters fall back to polling.
 */
import { lowerPriority, type RunPriority } from './run-priority.js';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SpawnRequest } from './spawner-main.js';

export type SupervisorLaunch = Omit<SpawnRequest, 't' | 'id'>;

type Pending = { resolve: (v: { pid: number; startTime: number }) => void; reject: (e: Error) => void };

export abstract class SpawnerClient {
  protected proc: ChildProcess | null = null;
  private nextId = 1;
  private readonly requests = new Map<number, Pending>();
  /** Supervisors the current spawner started and has not yet seen exit, with who waits for them. */
  private readonly live = new Map<number, (() => void)[]>();

  /** Lowered CPU and I/O priority for every run this spawner starts (inherited from it); null: as the server's. */
  runPriority: RunPriority | null = null;
  /** Called with what of runPriority could not be applied. */
  onPriorityProblem: (problems: string[]) => void = () => {};

  protected abstract launch(): ChildProcess;
  protected abstract send(proc: ChildProcess, id: number, m: SupervisorLaunch): void;
  protected abstract stop(proc: ChildProcess): void;

  spawn(m: SupervisorLaunch): Promise<{ pid: number; startTime: number }> {
    return this.request((proc, id) => this.send(proc, id, m));
  }

  /** Sends one request (`write` writes it with its id) and resolves with the supervisor it started. */
  protected request(write: (proc: ChildProcess, id: number) => void): Promise<{ pid: number; startTime: number }> {
    const proc = this.ensure();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.requests.set(id, { resolve, reject });
      try {
        write(proc, id);
      } catch (e) {
        this.requests.delete(id);
        reject(e as Error);
      }
    });
  }

  /** Resolves when the supervisor `pid` exits, if this spawner started it and saw it alive; else null. */
  exited(pid: number): Promise<void> | null {
    const waiters = this.live.get(pid);
    return waiters ? new Promise<void>((resolve) => waiters.push(resolve)) : null;
  }

  close(): void {
    const p = this.proc;
    this.proc = null;
    if (p) this.stop(p);
  }

  protected started(id: number, pid: number, startTime: number): void {
    const req = this.requests.get(id);
    if (!req) return;
    this.requests.delete(id);
    // A warm supervisor is started once and then handed its run: who waits for it already is still waiting.
    if (!this.live.has(pid)) this.live.set(pid, []);
    req.resolve({ pid, startTime });
  }

  protected failed(id: number, message: string): void {
    const req = this.requests.get(id);
    if (!req) return;
    this.requests.delete(id);
    req.reject(new Error(`could not start the supervisor: ${message}`));
  }

  protected supervisorExited(pid: number): void {
    const waiters = this.live.get(pid);
    this.live.delete(pid);
    for (const w of waiters ?? []) w();
  }

  private ensure(): ChildProcess {
    if (this.proc) return this.proc;
    const child = this.launch();
    if (this.runPriority && child.pid !== undefined) {
      const problems = lowerPriority(child.pid, this.runPriority);
      if (problems.length > 0) this.onPriorityProblem(problems);
    }
    child.once('exit', () => {
      if (this.proc === child) this.proc = null;
      for (const [, waiters] of this.live) for (const w of waiters) w();
      this.live.clear();
      for (const [, r] of this.requests) r.reject(new Error('the spawner process exited'));
      this.requests.clear();
    });
    child.unref();
    this.proc = child;
    return child;
  }
}

export class NativeSpawner extends SpawnerClient {
  constructor(private readonly supervisor: string) {
    super();
  }

  protected launch(): ChildProcess {
    const child = spawn(this.supervisor, ['-S'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.onLine(line);
    });
    // A write after it died: the 'exit' handler rejects what was pending.
    child.stdin!.on('error', () => {});
    for (const s of [child.stdin, child.stdout] as unknown as { unref?(): void }[]) s.unref?.();
    return child;
  }

  private onLine(line: string): void {
    const sp = line.indexOf(' ');
    const kind = line.slice(0, sp);
    const rest = line.slice(sp + 1);
    if (kind === 'X') return this.supervisorExited(Number(rest));
    const sp2 = rest.indexOf(' ');
    const id = Number(rest.slice(0, sp2));
    if (kind === 'S') {
      const [pid, startTime] = rest.slice(sp2 + 1).split(' ').map(Number);
      this.started(id, pid!, startTime!);
    } else if (kind === 'F') {
      this.failed(id, rest.slice(sp2 + 1));
    }
  }

  protected send(proc: ChildProcess, id: number, m: SupervisorLaunch): void {
    this.frame(proc, ['R', String(id), ...launchFields(m), ...argvFields(m.args, m.env)]);
  }

  /**
   * Starts a warm supervisor (`-W` among `args`): it starts its program (a sandbox) now and gets its run later
   * through use(). Its output before that goes to `stdout` and `stderr`.
   */
  warm(m: { args: string[]; cwd: string; env: Record<string, string>; stdout: string; stderr: string }): Promise<{ pid: number; startTime: number }> {
    return this.request((proc, id) => this.frame(proc, ['W', String(id), m.cwd, m.stdout, m.stderr, '', '', ...argvFields(m.args, m.env)]));
  }

  /**
   * Starts a run in the sandbox of the warm supervisor `warmPid`: its program `argv` in `cwd` with `env`, output to
   * the log files. Resolves with the warm supervisor's pid and start time (now the run's supervisor), or rejects if
   * it is gone (the caller starts the run the ordinary way).
   */
  use(warmPid: number, m: SupervisorLaunch & { runDir: string }): Promise<{ pid: number; startTime: number }> {
    return this.request((proc, id) =>
      this.frame(proc, ['U', String(id), String(warmPid), ...launchFields(m).slice(1), m.runDir, m.cwd, ...argvFields(m.args, m.env)]),
    );
  }

  /** Gives a warm sandbox up: its supervisor kills it and exits (exited() resolves). */
  giveUp(warmPid: number): void {
    if (this.proc) this.frame(this.proc, ['K', String(warmPid)]);
  }

  private frame(proc: ChildProcess, fields: string[]): void {
    for (const f of fields) {
      // exec() would cut the string there anyway; Node's own spawn() refuses the same.
      if (f.includes('\0')) throw new Error('an argument or environment variable of the run contains a NUL byte');
    }
    const payload = Buffer.from(fields.join('\0') + '\0');
    const frame = Buffer.allocUnsafe(4 + payload.length);
    frame.writeUInt32LE(payload.length, 0);
    payload.copy(frame, 4);
    proc.stdin!.write(frame);
  }

  protected stop(proc: ChildProcess): void {
    // EOF: the spawner exits; the supervisors it started live on.
    proc.stdin?.end();
  }
}

/** cwd, stdout, stderr, handle file and the handle as JSON without its closing brace (the spawner appends pid and start time). */
function launchFields(m: Omit<SupervisorLaunch, 'args' | 'env' | 'file'>): string[] {
  const { pid: _pid, startTime: _start, ...handle } = m.handle;
  return [m.cwd, m.stdout, m.stderr, m.handleFile, JSON.stringify(handle).slice(0, -1)];
}

function argvFields(args: string[], env: Record<string, string>): string[] {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return [String(args.length), ...args, String(vars.length), ...vars];
}

export class NodeSpawner extends SpawnerClient {
  protected launch(): ChildProcess {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const js = path.join(here, 'spawner-main.js');
    const entry = existsSync(js) ? js : path.join(here, 'spawner-main.ts');
    const child = fork(entry, [], {
      execArgv: entry.endsWith('.ts') ? ['--import', 'tsx'] : [],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
    });
    child.on('message', (m: { t: string; id?: number; pid?: number; startTime?: number; message?: string }) => {
      if (m.t === 'exit') this.supervisorExited(m.pid!);
      else if (m.t === 'spawned') this.started(m.id!, m.pid!, m.startTime!);
      else this.failed(m.id!, m.message ?? 'unknown error');
    });
    (child as unknown as { channel?: { unref(): void } }).channel?.unref();
    return child;
  }

  protected send(proc: ChildProcess, id: number, m: SupervisorLaunch): void {
    proc.send({ t: 'spawn', id, ...m } satisfies SpawnRequest);
  }

  protected stop(proc: ChildProcess): void {
    if (proc.connected) proc.disconnect();
  }
}
