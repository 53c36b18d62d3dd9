import type { JobRunSummary } from '../../src/sdk/client';
import type { LiveStatus } from './live';
import { useTicker } from './live-list';
import { Link } from './router';
import { ACTIVE_RUN_STATES, fmtDuration, fmtTime, StateBadge } from './ui';

/** Whether a live view is following the server's events, in words. */
export function LiveNote({ status }: { status: LiveStatus }) {
  const text: Record<LiveStatus, string> = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Connection lost, resuming…' };
  return (
    <span className={`muted live-note live-${status}`} data-testid="live-status" role="status">
      {text[status]}
    </span>
  );
}

/** Runs as a table: the runs page, and a job's runs on its page. */
export function RunsTable({ runs, showJob, loaded, jobNames }: { runs: JobRunSummary[]; showJob: boolean; loaded: boolean; jobNames?: Record<string, string> }) {
  // Durations of running runs grow by the second; nothing is fetched for that.
  useTicker(runs.some((r) => ACTIVE_RUN_STATES.has(r.lifecycleState)));
  return (
    <table className="runs-table">
      <caption className="sr-only">Job runs</caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          {showJob && <th scope="col">Job</th>}
          <th scope="col">State</th>
          <th scope="col">Accepted</th>
          <th scope="col">Duration</th>
          <th scope="col">Exit code</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => {
          const end = r.timeFinished ? Date.parse(r.timeFinished) : Date.now();
          return (
            <tr key={r.id} data-run-id={r.id}>
              <td>
                <Link to={`/runs/${encodeURIComponent(r.id)}`}>{r.displayName}</Link>
              </td>
              {showJob && (
                <td>
                  <Link to={`/jobs/${encodeURIComponent(r.jobId)}`}>{jobNames?.[r.jobId] ?? 'job'}</Link>
                </td>
              )}
              <td>
                <StateBadge state={r.lifecycleState} />
              </td>
              <td>{fmtTime(r.timeAccepted)}</td>
              <td>{r.timeStarted ? fmtDuration(end - Date.parse(r.timeStarted)) : '—'}</td>
              <td>{r.exitCode ?? '—'}</td>
            </tr>
          );
        })}
        {loaded && runs.length === 0 && (
          <tr>
            <td colSpan={showJob ? 6 : 5}>No runs.</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
