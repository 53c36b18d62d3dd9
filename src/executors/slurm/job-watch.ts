import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ExitStatus } from '../executor.js';
import { parseExitStatus } from '../local/exit-status.js';
import { LIVE_STATES, parseQueue, type QueueEntry } from './batch-request.js';
import type { SlurmCli } from './slurm-cli.js';
import type { SlurmHandle } from './handle.js';

interface Watched {
  h: SlurmHandle;
  runId: string;
  started: boolean;
  onStarted: ((ran: boolean) => void)[];
  waiting: ((details: string) => void) | null;
  lastDetails: string | null;
  exited: { resolve: (s: ExitStatus) => void; reject: (e: Error) => void }[];
  /** Rounds of squeue in which the job was no longer live while no exit status was on disk. */
  goneRounds: number;
}

/**
 * Watches the Slurm jobs of this server's runs with one loop: every `pollMs` it looks for what each run's node-side
 * supervisor wrote on the shared disk (`started`, `exit.status`: a file check each, no process), and every
 * `queueEveryMs` asks squeue, once for all jobs, for the pending ones' reasons and for jobs that ended without
 * their supervisor recording anything (it never ran: a refused output path, a node failure, a cancel while pending).
 * Such a job ends with its outcome unknown, never guessed: the rejection says what Slurm knows of it.
 */
export class JobWatch {
  private readonly jobs = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;
  private lastQueueAt = 0;
  private polling = false;
  private closed = false;

  constructor(
    private readonly cli: SlurmCli,
    private readonly opts: { pollMs: number; queueEveryMs: number },
  ) {}

  private entry(h: SlurmHandle, runId: string): Watched {
    let w = this.jobs.get(h.jobId);
    if (!w) {
      w = { h, runId, started: false, onStarted: [], waiting: null, lastDetails: null, exited: [], goneRounds: 0 };
      this.jobs.set(h.jobId, w);
      this.arm();
    }
    return w;
  }

  /**
   * Resolves once the run's process runs on a node (true) or the job ended without it ever running (false: canceled
   * while pending, refused by the node); `waiting` hears Slurm's pending reason meanwhile.
   */
  started(h: SlurmHandle, runId: string, waiting: (details: string) => void): Promise<boolean> {
    const w = this.entry(h, runId);
    if (w.started || existsSync(path.join(h.runDir, 'started'))) {
      w.started = true;
      return Promise.resolve(true);
    }
    w.waiting = waiting;
    return new Promise((resolve) => w.onStarted.push(resolve));
  }

  /** Resolves with how the run's main process ended; rejects when the job ended with no exit status recorded. */
  exited(h: SlurmHandle, runId: string): Promise<ExitStatus> {
    const w = this.entry(h, runId);
    return new Promise((resolve, reject) => w.exited.push({ resolve, reject }));
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.poll().finally(() => {
        if (this.jobs.size > 0) this.arm();
      });
    }, this.opts.pollMs);
  }

  private markStarted(w: Watched): void {
    if (w.started) return;
    w.started = true;
    const ran = existsSync(path.join(w.h.runDir, 'started'));
    for (const f of w.onStarted.splice(0)) f(ran);
  }

  private end(w: Watched, status: ExitStatus | Error): void {
    this.jobs.delete(w.h.jobId);
    this.markStarted(w);
    for (const e of w.exited.splice(0)) {
      if (status instanceof Error) e.reject(status);
      else e.resolve(status);
    }
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      for (const w of this.jobs.values()) {
        if (!w.started && existsSync(path.join(w.h.runDir, 'started'))) this.markStarted(w);
        const status = readStatus(w.h.runDir);
        // Only a waiter's run ends here: a run watched for its start alone is still the caller's to wait for.
        if (status && w.exited.length > 0) this.end(w, status);
      }
      const now = Date.now();
      if (this.jobs.size > 0 && now - this.lastQueueAt >= this.opts.queueEveryMs) {
        this.lastQueueAt = now;
        await this.askQueue();
      }
    } finally {
      this.polling = false;
    }
  }

  private async askQueue(): Promise<void> {
    const ids = [...this.jobs.keys()];
    const r = await this.cli.run('squeue', ['-h', '-t', 'all', '-o', '%i|%T|%r|%j', '-j', ids.join(',')]);
    // squeue answers "Invalid job id" (exit 1) when none of the ids is known any more: all of them ended.
    if (r.code !== 0 && !/Invalid job id/i.test(r.stderr)) return; // the controller is away: wait, never guess
    const byId = new Map<string, QueueEntry>(parseQueue(r.code === 0 ? r.stdout : '').map((e) => [e.jobId, e]));
    for (const id of ids) {
      const w = this.jobs.get(id);
      if (!w) continue;
      const q = byId.get(id);
      if (q && q.name !== w.runId) {
        // The id names another job (a fresh cluster restarts ids at 1): this run's job is gone.
        w.goneRounds = 2;
      } else if (q && LIVE_STATES.has(q.state)) {
        w.goneRounds = 0;
        if (q.state === 'PENDING' && w.waiting && !w.started) {
          const details = `Queued on Slurm cluster ${w.h.cluster} as job ${id}: ${q.state} (${q.reason || 'None'}).`;
          if (details !== w.lastDetails) {
            w.lastDetails = details;
            w.waiting(details);
          }
        }
        continue;
      } else {
        w.goneRounds++;
      }
      // The supervisor writes its status before the job ends: a job gone with none on disk after one more look
      // never recorded one.
      const status = readStatus(w.h.runDir);
      if (status) {
        if (w.exited.length > 0) this.end(w, status);
        else this.markStarted(w);
      } else if (w.goneRounds >= 2) {
        const what = q ? `${q.state}` : 'no longer known to squeue';
        const info = await this.jobInfo(id);
        this.end(w, new Error(`Slurm job ${id} ended (${info ?? what}) without its node-side supervisor recording how the run ended`));
      }
    }
  }

  /** "FAILED, ExitCode 0:53" from scontrol while the controller still holds the finished job (MinJobAge). */
  private async jobInfo(id: string): Promise<string | null> {
    const r = await this.cli.run('scontrol', ['show', 'job', '-o', id]);
    if (r.code !== 0) return null;
    const state = /JobState=(\S+)/.exec(r.stdout)?.[1];
    const code = /\bExitCode=(\S+)/.exec(r.stdout)?.[1];
    const reason = /\bReason=(\S+)/.exec(r.stdout)?.[1];
    return state ? `${state}, ExitCode ${code ?? '?'}${reason && reason !== 'None' ? `, reason ${reason}` : ''}` : null;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The exit status the run's supervisor recorded (and whether it ran out of memory), or null while there is none. */
export function readStatus(runDir: string): ExitStatus | null {
  let text: string;
  try {
    text = readFileSync(path.join(runDir, 'exit.status'), 'utf8');
  } catch {
    return null;
  }
  const status = parseExitStatus(text);
  // The supervisor marks a run whose job's memory cgroup saw an out-of-memory kill, or that it stopped for writing
  // past its block storage size.
  if (status.exitCode === 0) return status;
  let exhausted: string;
  try {
    exhausted = readFileSync(path.join(runDir, 'exhausted'), 'utf8').trim();
  } catch {
    return status;
  }
  return { ...status, exhausted: exhausted === 'blockStorage' ? 'blockStorage' : 'memory' };
}
