/** Runs the real `dsjobs` CLI (node bin/dsjobs.js, the compiled dist/) as a child process and collects its output. */
import { spawn } from 'node:child_process';
import { BIN, ROOT } from './server.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock time from spawn to close. */
  ms: number;
}

/** `dsjobs ...args` with DSJOBS_ENDPOINT set to `endpoint` (when given) and no DSJOBS_COMPARTMENT_ID from outside. */
export function runCli(
  args: string[],
  opts: { endpoint?: string; env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  delete env.DSJOBS_COMPARTMENT_ID;
  if (opts.endpoint) env.DSJOBS_ENDPOINT = opts.endpoint;
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dsjobs ${args.join(' ')} did not end in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}
