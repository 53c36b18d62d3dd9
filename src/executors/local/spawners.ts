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
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SpawnRequest } from './spawner-main.js';

export type SupervisorLaunch = Omit<SpawnRequest, 't' | 'id'>;

type Pending = { resolve: (v: { pid: number; startTime: number }) => void; reject: (e: Error) => void };

export abstract class SpawnerClient {
  private proc: ChildProcess | null = null;
  private nextId = 1;
  private readonly requests = new Map<number, Pending>();
  /** Supervisors the current spawner started and has not yet seen exit, with who waits for them. */
  private readonly live = new Map<number, (() => void)[]>();

  protected abstract launch(): ChildProcess;
  protected abstract send(proc: ChildProcess, id: number, m: SupervisorLaunch): void;
  protected abstract stop(proc: ChildProcess): void;

  spawn(m: SupervisorLaunch): Promise<{ pid: number; startTime: number }> {
    const proc = this.ensure();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.requests.set(id, { resolve, reject });
      try {
        this.send(proc, id, m);
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
    this.live.set(pid, []);
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
    // The handle as JSON without its closing brace: the spawner appends the supervisor's pid and start time.
    const { pid: _pid, startTime: _start, ...handle } = m.handle;
    const json = JSON.stringify(handle);
    const env = Object.entries(m.env).map(([k, v]) => `${k}=${v}`);
    const fields = [String(id), m.cwd, m.stdout, m.stderr, m.handleFile, json.slice(0, -1), String(m.args.length), ...m.args, String(env.length), ...env];
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
