import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { Job, JobRun } from '../../../src/sdk/client';
import { client, runMetrics, type Metrics } from '../api';
import { MetricChart } from '../charts';
import { followEvents, isRunEvent, runIsNotOlder, type CloudEvent, type LiveStatus } from '../live';
import { useTicker } from '../live-list';
import { followLogs, logText, type FollowStatus, type LogLine } from '../logs';
import { Link } from '../router';
import { LiveNote } from '../runs-table';
import { ACTIVE_RUN_STATES, ErrorBanner, fmtDuration, fmtTime, StateBadge, useShapes, useTitle } from '../ui';
import { Definition, EnvTable } from './job';
import { NotebookPanel } from './notebook-panel';

/** Log lines kept in the page's DOM; older ones stay in memory (search, download) but are not drawn. */
const DRAWN_LINES = 5000;
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'DELETED']);

/** What each lifecycle event of a run is called on its timeline. */
const EVENT_LABELS: Record<string, string> = {
  'com.oraclecloud.datascience.createjobrun.begin': 'Accepted',
  'com.oraclecloud.datascience.createjobrun.end': 'Started',
  'com.oraclecloud.datascience.succeededjobrun': 'Succeeded',
  'com.oraclecloud.datascience.failedjobrun': 'Failed',
  'com.oraclecloud.datascience.timeoutjobrun': 'Timed out',
  'com.oraclecloud.datascience.canceljobrun.begin': 'Canceling',
  'com.oraclecloud.datascience.canceljobrun.end': 'Canceled',
  'io.dsjobs.needsattentionjobrun': 'Needs attention',
  'com.oraclecloud.datascience.updatejobrun': 'Updated',
  'com.oraclecloud.datascience.deletejobrun': 'Deleted',
};

/** The run's lifecycle events, oldest first, each with its time, the time since the run was accepted and what changed. */
function Timeline({ run, events }: { run: JobRun; events: CloudEvent[] }) {
  const accepted = Date.parse(run.timeAccepted);
  const started = run.timeStarted ? Date.parse(run.timeStarted) : null;
  const finished = run.timeFinished ? Date.parse(run.timeFinished) : null;
  const end = finished ?? Date.now();
  const total = Math.max(end - accepted, 1);
  const queued = (started ?? end) - accepted;
  const note = (e: CloudEvent): string => {
    const r = e.data as unknown as JobRun;
    const parts: string[] = [];
    if (e.type.endsWith('createjobrun.end') && started !== null) parts.push(`after ${fmtDuration(started - accepted)} in the queue`);
    if (r.exitCode !== null && r.exitCode !== undefined && !ACTIVE_RUN_STATES.has(r.lifecycleState)) parts.push(`exit code ${r.exitCode}`);
    if (r.lifecycleDetails && !ACTIVE_RUN_STATES.has(r.lifecycleState)) parts.push(r.lifecycleDetails);
    return parts.join(' · ');
  };
  return (
    <div>
      <div className="timeline-bar" aria-hidden="true">
        <span className="queued" style={{ width: `${(queued / total) * 100}%` }} />
        <span className={`running state-${run.lifecycleState.toLowerCase()}`} style={{ width: `${(1 - queued / total) * 100}%` }} />
      </div>
      <ol className="timeline" data-testid="timeline">
        {events.length === 0 && (
          // A run older than the server's event log (or history not loaded yet): what its own times say.
          <>
            <li className="done">
              <strong>Accepted</strong> <span>{fmtTime(run.timeAccepted)}</span>
            </li>
            {run.timeStarted && (
              <li className="done">
                <strong>Started</strong> <span>{fmtTime(run.timeStarted)}</span>
              </li>
            )}
            {run.timeFinished && (
              <li className="done">
                <strong>{run.lifecycleState.charAt(0) + run.lifecycleState.slice(1).toLowerCase()}</strong> <span>{fmtTime(run.timeFinished)}</span>
              </li>
            )}
          </>
        )}
        {events.map((e) => {
          const n = note(e);
          return (
            <li key={e.id} className="done" data-event-type={e.type}>
              <strong>{EVENT_LABELS[e.type] ?? e.type}</strong> <span>{fmtTime(e.time)}</span>{' '}
              <span className="muted">
                +{fmtDuration(Math.max(0, Date.parse(e.time) - accepted))}
                {n ? ` · ${n}` : ''}
              </span>
            </li>
          );
        })}
        {ACTIVE_RUN_STATES.has(run.lifecycleState) && (
          <li className="pending">
            <strong>{run.lifecycleState === 'ACCEPTED' ? 'Waiting to start' : run.lifecycleState === 'CANCELING' ? 'Stopping' : 'Running'}</strong>{' '}
            <span className="muted">for {fmtDuration(Date.now() - (started ?? accepted))}</span>
          </li>
        )}
      </ol>
    </div>
  );
}

function highlight(text: string, q: string): ReactNode {
  if (!q) return text;
  const parts: ReactNode[] = [];
  const lower = text.toLowerCase();
  const ql = q.toLowerCase();
  let i = 0;
  let j: number;
  while ((j = lower.indexOf(ql, i)) !== -1) {
    parts.push(text.slice(i, j), <mark key={j}>{text.slice(j, j + q.length)}</mark>);
    i = j + q.length;
  }
  parts.push(text.slice(i));
  return parts;
}

function Logs({ runId, runEnded, finished }: { runId: string; runEnded: () => Promise<boolean>; finished: boolean }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [shown, setShown] = useState<LogLine[]>([]);
  const [status, setStatus] = useState<{ s: FollowStatus; detail?: string }>({ s: 'connecting' });
  const [paused, setPaused] = useState(false);
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState('');
  const [stream, setStream] = useState<'all' | 'stdout' | 'stderr'>('all');
  const [dlError, setDlError] = useState<unknown>(null);
  const box = useRef<HTMLDivElement>(null);
  const endedRef = useRef(runEnded);
  endedRef.current = runEnded;

  useEffect(() => {
    setLines([]);
    return followLogs(runId, {
      onLines: (batch) => setLines((l) => l.concat(batch)),
      onStatus: (s, detail) => setStatus({ s, detail }),
      runEnded: () => endedRef.current(),
    });
  }, [runId]);
  // Paused: what is drawn stays as it is while lines keep arriving underneath. A finished run's log grows no more:
  // nothing to pause, and all of it is shown.
  useEffect(() => {
    if (finished) setPaused(false);
  }, [finished]);
  useEffect(() => {
    if (!paused) setShown(lines);
  }, [lines, paused]);

  const filtered = useMemo(() => {
    const q = search.toLowerCase();
    return shown.filter((l) => (stream === 'all' || l.stream === stream) && (!q || l.message.toLowerCase().includes(q)));
  }, [shown, search, stream]);
  const drawn = filtered.length > DRAWN_LINES ? filtered.slice(-DRAWN_LINES) : filtered;

  useLayoutEffect(() => {
    if (follow && !paused && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [drawn, follow, paused]);

  const download = async () => {
    setDlError(null);
    try {
      const text = await logText(runId);
      const url = URL.createObjectURL(new Blob([text + '\n'], { type: 'text/plain' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${runId}.log`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setDlError(e);
    }
  };

  const statusText: Record<FollowStatus, string> = {
    connecting: 'connecting…',
    live: 'live',
    reconnecting: 'connection lost, resuming…',
    ended: 'complete',
  };
  // A finished run's log is read to its end, not followed: never "live" while the rest arrives.
  const shownStatus: FollowStatus = finished && status.s === 'live' ? 'connecting' : status.s;
  return (
    <section aria-labelledby="logs-title">
      <div className="title-row">
        <h2 id="logs-title">Logs</h2>
        <span className={`log-status log-status-${shownStatus}`} data-testid="log-status" role="status">
          {finished && shownStatus === 'connecting' ? 'loading…' : statusText[shownStatus]}
        </span>
      </div>
      <div className="log-toolbar">
        {!finished && (
          <button type="button" onClick={() => setPaused((p) => !p)} aria-pressed={paused}>
            {paused ? `Resume (${lines.length - shown.length} new)` : 'Pause'}
          </button>
        )}
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow (scroll to the end)
        </label>
        <span className="inline-field">
          <label htmlFor="log-search">Search</label>
          <input id="log-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </span>
        <span className="inline-field">
          <label htmlFor="log-stream">Stream</label>
          <select id="log-stream" value={stream} onChange={(e) => setStream(e.target.value as typeof stream)}>
            <option value="all">stdout and stderr</option>
            <option value="stdout">stdout only</option>
            <option value="stderr">stderr only</option>
          </select>
        </span>
        <button type="button" className="secondary" onClick={download}>
          Download
        </button>
        <span className="muted">
          {search || stream !== 'all' ? `${filtered.length} of ${shown.length}` : shown.length} lines
          {filtered.length > DRAWN_LINES ? `, last ${DRAWN_LINES} drawn` : ''}
        </span>
      </div>
      <ErrorBanner error={dlError} />
      <div className="log" ref={box} role="log" aria-label="Run output" tabIndex={0} data-testid="log">
        {drawn.map((l) => (
          <div key={l.seq} className={`log-line log-${l.stream}`} data-seq={l.seq}>
            <span className="log-seq">{l.seq}</span>
            <span className="log-time">{l.time.slice(11, 23)}</span>
            <span className="log-stream">{l.stream === 'stderr' ? 'err' : 'out'}</span>
            <span className="log-msg">{highlight(l.message, search)}</span>
          </div>
        ))}
        {drawn.length === 0 && <div className="muted log-empty">{status.s === 'ended' ? 'This run wrote no output.' : 'No output yet.'}</div>}
      </div>
    </section>
  );
}

function MetricsPanel({ run }: { run: JobRun }) {
  const active = ACTIVE_RUN_STATES.has(run.lifecycleState);
  // The server lists the GPU series for every run (empty without GPUs); they are drawn only for a run whose shape
  // has GPUs, or that has GPU samples.
  const gpus = useShapes().find((s) => s.name === run.jobInfrastructureConfigurationDetails.shapeName)?.gpuCount ?? 0;
  const [metrics, setMetrics] = useState<Metrics | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const m = await runMetrics(run.id);
        if (stop) return;
        setMetrics(m);
        setError(null);
        if (active && m.collected) timer = setTimeout(load, Math.max(1, m.intervalSeconds ?? 5) * 1000);
      } catch (e) {
        if (!stop) setError(e);
      }
    };
    void load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [run.id, active]);
  const drawn = (metrics?.items ?? []).filter((s) => !s.name.startsWith('Gpu') || gpus > 0 || s.datapoints.length > 0);
  return (
    <section aria-labelledby="metrics-title">
      <h2 id="metrics-title">Resources</h2>
      <ErrorBanner error={error} />
      {metrics && !metrics.collected && (
        <p className="muted" data-testid="metrics-not-collected">
          Resource metrics are not collected{metrics.reason ? `: ${metrics.reason}` : ' by this server'}.
        </p>
      )}
      {metrics?.collected && metrics.reason && <p className="muted">{metrics.reason}.</p>}
      {metrics?.collected && metrics.items.length === 0 && !metrics.reason && <p className="muted">No samples yet.</p>}
      {metrics?.collected && drawn.length > 0 && (
        <div className="charts">
          {drawn.map((s) => (
            <MetricChart key={s.name} series={s} />
          ))}
        </div>
      )}
    </section>
  );
}

/**
 * The run and its lifecycle events: the events API filtered by the run's id, followed live. The stream is opened
 * first, then the history is listed and the run read, so nothing between the two is missed; an event the history
 * already has is dropped by its id.
 */
function useLiveRun(runId: string) {
  const [run, setRun] = useState<JobRun | null>(null);
  const [events, setEvents] = useState<CloudEvent[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const addEvents = (evs: CloudEvent[]) =>
    setEvents((shown) => {
      const seen = new Set(shown.map((e) => e.id));
      const fresh = evs.filter((e) => !seen.has(e.id) && e.subject === runId);
      if (!fresh.length) return shown;
      return [...shown, ...fresh].sort((a, b) => Number(a.sequence) - Number(b.sequence));
    });
  const showRun = (r: JobRun) => setRun((shown) => (shown && shown.id === r.id && !runIsNotOlder(r, shown) ? shown : r));

  useEffect(() => {
    setRun(null);
    setEvents([]);
    setError(null);
    return followEvents({
      filter: { resourceId: runId },
      onStatus: setStatus,
      onEvents: (evs) => {
        addEvents(evs);
        const last = evs.filter((e) => e.subject === runId && isRunEvent(e)).pop();
        if (last) showRun(last.data as unknown as JobRun);
      },
      resync: async () => {
        try {
          const history: CloudEvent[] = [];
          for await (const e of client.all((page) => client.listEvents({ resourceId: runId, limit: 100, page }))) history.push(e);
          addEvents(history);
          showRun(await client.getJobRun(runId));
          setError(null);
        } catch (e) {
          setError(e);
        }
      },
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runId]);
  return { run, events, error, status, showRun };
}

export function RunPage({ runId }: { runId: string }) {
  const { run, events, error, status, showRun } = useLiveRun(runId);
  const [job, setJob] = useState<Job | null>(null);
  const [cancelError, setCancelError] = useState<unknown>(null);
  const [canceling, setCanceling] = useState(false);
  useTitle(run ? run.displayName : 'Job run');
  useEffect(() => {
    if (run && !job) client.getJob(run.jobId).then(setJob, () => undefined);
  }, [run, job]);
  // The run goes on for as long as it is active: its timeline's running step and bar grow without any request.
  useTicker(Boolean(run && ACTIVE_RUN_STATES.has(run.lifecycleState)));
  const runEnded = async () => {
    const r = await client.getJobRun(runId);
    if (TERMINAL.has(r.lifecycleState)) showRun(r);
    return TERMINAL.has(r.lifecycleState);
  };
  if (!run) return <section>{error ? <ErrorBanner error={error} /> : <p>Loading…</p>}</section>;

  const cancel = async () => {
    setCanceling(true);
    setCancelError(null);
    try {
      await client.cancelJobRun(run.id);
      // The CANCELING event follows on the stream; the answer is shown at once.
      showRun(await client.getJobRun(run.id));
    } catch (e) {
      setCancelError(e);
    } finally {
      setCanceling(false);
    }
  };
  const override = run.jobConfigurationOverrideDetails ?? { jobType: 'DEFAULT' };
  const jobCfg = job?.jobConfigurationDetails;
  const env = { ...(jobCfg?.environmentVariables ?? {}), ...(override.environmentVariables ?? {}) };
  const infra = run.jobInfrastructureConfigurationDetails;
  const cancellable = ['ACCEPTED', 'IN_PROGRESS', 'NEEDS_ATTENTION'].includes(run.lifecycleState);
  return (
    <section>
      <p className="crumbs">
        <Link to="/">Job runs</Link> / <Link to={`/jobs/${encodeURIComponent(run.jobId)}`}>{job?.displayName ?? 'job'}</Link> / {run.displayName}
      </p>
      <div className="title-row">
        <h1>{run.displayName}</h1>
        <span data-testid="run-state">
          <StateBadge state={run.lifecycleState} />
        </span>
        <span className="spacer" />
        {cancellable && (
          <button type="button" className="danger" onClick={cancel} disabled={canceling}>
            Cancel run
          </button>
        )}
      </div>
      {run.lifecycleDetails && (
        <p className="details" data-testid="run-details">
          {run.lifecycleDetails}
        </p>
      )}
      <ErrorBanner error={cancelError} />
      <div className="grid2">
        <section aria-labelledby="timeline-title">
          <div className="title-row">
            <h2 id="timeline-title">Timeline</h2>
            {!TERMINAL.has(run.lifecycleState) && <LiveNote status={status} />}
          </div>
          <Timeline run={run} events={events} />
        </section>
        <section aria-labelledby="config-title">
          <h2 id="config-title">Effective configuration</h2>
          <Definition
            rows={[
              ['OCID', <span className="mono">{run.id}</span>],
              ['Shape', infra.shapeName],
              ['Shape config', infra.jobShapeConfigDetails ? `${infra.jobShapeConfigDetails.ocpus ?? '—'} OCPU, ${infra.jobShapeConfigDetails.memoryInGBs ?? '—'} GB` : ''],
              ['Block storage', infra.blockStorageSizeInGBs ? `${infra.blockStorageSizeInGBs} GB` : ''],
              [
                'Arguments',
                <span className="mono">{override.commandLineArguments ?? jobCfg?.commandLineArguments ?? ''}</span>,
              ],
              ['Maximum runtime', `${override.maximumRuntimeInMinutes ?? jobCfg?.maximumRuntimeInMinutes ?? '30 days'}${(override.maximumRuntimeInMinutes ?? jobCfg?.maximumRuntimeInMinutes) ? ' min' : ''}`],
              ['Exit code', run.exitCode ?? ''],
            ]}
          />
          <EnvTable env={env} caption="Environment variables (the job's, with the run's on top)" />
        </section>
      </div>
      <Logs runId={run.id} runEnded={runEnded} finished={TERMINAL.has(run.lifecycleState)} />
      {env.JOB_RUN_NOTEBOOK !== undefined && TERMINAL.has(run.lifecycleState) && run.lifecycleState !== 'DELETED' && <NotebookPanel runId={run.id} />}
      <MetricsPanel run={run} />
    </section>
  );
}
