// Following a run to its end: its log lines and state changes as they happen, and the exit status for CI.
import { DsJobsClient, DsJobsError, type Job, type JobRun } from '../sdk/client.js';
import { err, out } from './output.js';
import type { Globals } from './context.js';

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'DELETED']);

/** Exit status for CI: the run's exit code when it failed with one, 0 on success, 1 otherwise. */
export function exitStatusOf(run: JobRun): number {
  if (run.lifecycleState === 'SUCCEEDED') return 0;
  if (typeof run.exitCode === 'number' && run.exitCode > 0 && run.exitCode < 256) return run.exitCode;
  return 1;
}

/** Streams logs and state changes until the run ends; resolves with the final run. */
export async function watchRun(api: DsJobsClient, runId: string, g: Globals): Promise<JobRun> {
  let last = '';
  let stop = false;
  const showState = (r: JobRun) => {
    const line = `${r.lifecycleState}${r.lifecycleDetails ? `, ${r.lifecycleDetails}` : ''}`;
    if (line !== last && !g.json) err(`[dsjobs] ${new Date().toISOString()} - Job Run ${line}`);
    last = line;
  };
  const poller = (async () => {
    while (!stop) {
      try {
        showState(await api.getJobRun(runId));
      } catch {
        /* transient: the log stream decides when we are done */
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  let since = 0;
  // The log stream ends when the run is terminal and every line was sent; a dropped connection resumes after the
  // last line seen.
  for (;;) {
    try {
      for await (const rec of api.logs(runId, { follow: true, since })) {
        since = rec.seq;
        if (g.json) out(JSON.stringify(rec));
        else if (rec.stream === 'stderr') process.stderr.write(rec.message + '\n');
        else process.stdout.write(rec.message + '\n');
      }
      const run = await api.getJobRun(runId);
      if (TERMINAL.has(run.lifecycleState)) {
        stop = true;
        await poller;
        showState(run);
        return run;
      }
    } catch (e) {
      if (e instanceof DsJobsError && e.status === 404) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
