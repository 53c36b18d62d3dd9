/**
 * The Node spawner: a small child process of the server that starts run supervisors on its behalf when there is no
 * native supervisor (no C compiler at build time, or `supervisor: "sh"`); with one, `dsjobs-supervisor -S` does this
 * job (see spawners.ts).
 *
 * Why: fork() costs time in proportion to the parent's resident memory (measured here: 1.2 ms from a 52 MB Node
 * process, 11 ms at 159 MB, 21 ms at 473 MB), and Node's spawn() blocks the event loop for all of it. The server
 * holds fastify, ajv, Kysely and every cached page; this process holds nothing, so its forks stay cheap, and they
 * happen on the other core instead of the server's event loop.
 *
 * Protocol (IPC, JSON): {t:'spawn', id, file, args, cwd, env, stdout, stderr, handleFile, handle} is answered with
 * {t:'spawned', id, pid, startTime} or {t:'error', id, message}; {t:'exit', pid} reports a supervisor that ended.
 * When the server goes away (disconnect), the spawner exits and the supervisors live on: they are detached and
 * record their runs' exit status themselves.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { processStartTime } from './proc.js';

export interface SpawnRequest {
  t: 'spawn';
  id: number;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdout: string;
  stderr: string;
  handleFile: string;
  /** The run's handle; the spawned pid and its start time are filled in before it is written to handleFile. */
  handle: Record<string, unknown>;
}

function handle(m: SpawnRequest): void {
  let out: number | null = null;
  let err: number | null = null;
  try {
    out = openSync(m.stdout, 'a');
    err = openSync(m.stderr, 'a');
    const child = spawn(m.file, m.args, { cwd: m.cwd, env: m.env, detached: true, stdio: ['ignore', out, err] });
    const pid = child.pid;
    if (pid === undefined) {
      child.once('error', (e) => process.send!({ t: 'error', id: m.id, message: e.message }));
      return;
    }
    const startTime = processStartTime(pid) ?? -1;
    // Before the server hears of it: if the server dies before it stores the handle, a restart finds it here.
    writeFileSync(m.handleFile, JSON.stringify({ ...m.handle, pid, startTime }));
    child.once('exit', () => process.send!({ t: 'exit', pid }));
    process.send!({ t: 'spawned', id: m.id, pid, startTime });
  } catch (e) {
    process.send!({ t: 'error', id: m.id, message: (e as Error).message });
  } finally {
    if (out !== null) closeSync(out);
    if (err !== null) closeSync(err);
  }
}

process.on('message', (m: SpawnRequest) => {
  if (m?.t === 'spawn') handle(m);
});
process.on('disconnect', () => process.exit(0));
