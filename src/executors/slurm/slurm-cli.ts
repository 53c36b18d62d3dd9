import { execFile } from 'node:child_process';
import path from 'node:path';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Slurm's own command-line tools (sbatch, squeue, scancel, scontrol), run as child processes. Chosen over
 * slurmrestd: every Slurm installation has the CLIs and munge authentication on the submit host, while slurmrestd
 * is a separate daemon with its own (JWT) authentication that most clusters do not run; the CLIs' text formats
 * (`--parsable`, `squeue -o`) are stable across releases. A call costs ~10-20 ms of a process start, against a
 * scheduler that starts jobs at most once a second.
 */
export class SlurmCli {
  private readonly env: NodeJS.ProcessEnv;

  /**
   * `path`: the PATH the tools run with, and so the one a batch job starts with (sbatch passes its environment on):
   * the nodes' PATH, and nothing else of the server's environment reaches a job. Not `--export=NONE`, which made
   * slurmd build a login environment for each job: ~1.3 s more from submit to start on the test cluster.
   */
  constructor(private readonly opts: { slurmConf: string | null; binDir: string | null; path: string; timeoutMs?: number }) {
    this.env = { PATH: opts.path, ...(opts.slurmConf ? { SLURM_CONF: opts.slurmConf } : {}) };
  }

  /** Runs one tool; resolves with its exit code and output whatever the code (the caller decides what a code means). */
  run(tool: 'sbatch' | 'squeue' | 'scancel' | 'scontrol', args: string[]): Promise<CliResult> {
    const file = this.opts.binDir ? path.join(this.opts.binDir, tool) : tool;
    return new Promise((resolve) => {
      execFile(file, args, { env: this.env, timeout: this.opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        const code = e ? (typeof e.code === 'number' ? e.code : -1) : 0;
        const why = e && typeof e.code === 'string' ? `${tool}: ${e.message}` : '';
        resolve({ code, stdout: String(stdout), stderr: `${String(stderr)}${why}` });
      });
    });
  }
}

/** The one-line message of a failed tool (Slurm's `sbatch: error: ...` lines), for a user to read. */
export function toolMessage(r: CliResult): string {
  const lines = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.length > 0 ? lines.join(' ') : `exit status ${r.code}`;
}
