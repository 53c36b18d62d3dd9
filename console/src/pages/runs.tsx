import { useEffect, useRef, useState } from 'react';
import type { JobRunSummary, JobSummary } from '../../../src/sdk/client';
import { client, compartmentId } from '../api';
import { isRunEvent, RUN_EVENT_TYPES, runIsNotOlder } from '../live';
import { runOrder, useLivePaged } from '../live-list';
import { Link, navigate } from '../router';
import { LiveNote, RunsTable } from '../runs-table';
import { ErrorBanner, Pager, RUN_STATES, useTitle } from '../ui';

const PAGE_SIZE = 50;

export function RunsPage({ query }: { query: URLSearchParams }) {
  useTitle('Job runs');
  const state = query.get('state') ?? '';
  const jobId = query.get('jobId') ?? '';
  // One page from the server, then kept current by the runs' events (filtered by the server to the job when the
  // view is filtered by job; the state filter is applied to each event's run here).
  const runs = useLivePaged<JobRunSummary>({
    fetchPage: async (page) =>
      client.listJobRuns({ compartmentId: await compartmentId(), limit: PAGE_SIZE, page, lifecycleState: state || undefined, jobId: jobId || undefined }),
    key: `${state}|${jobId}`,
    pageSize: PAGE_SIZE,
    filter: async () => ({ compartmentId: await compartmentId(), types: RUN_EVENT_TYPES, jobId: jobId || undefined }),
    itemOf: (e) => (isRunEvent(e) ? (e.data as unknown as JobRunSummary) : null),
    matches: (r) => (!state || r.lifecycleState === state) && (!jobId || r.jobId === jobId),
    newer: runIsNotOlder,
    order: runOrder,
  });
  // Names of the jobs on the page, fetched once per job id (a page of 50 runs names few distinct jobs).
  const [jobNames, setJobNames] = useState<Record<string, string>>({});
  const asked = useRef(new Set<string>());
  useEffect(() => {
    for (const r of runs.items) {
      if (asked.current.has(r.jobId)) continue;
      asked.current.add(r.jobId);
      client.getJob(r.jobId).then(
        (j) => setJobNames((m) => ({ ...m, [j.id]: j.displayName })),
        () => undefined,
      );
    }
  }, [runs.items]);
  // The job filter offers the first 100 jobs by name; a job reached from its own page is always offered.
  const [jobs, setJobs] = useState<JobSummary[]>([]);
  useEffect(() => {
    void (async () => {
      const p = await client.listJobs({ compartmentId: await compartmentId(), limit: 100, sortBy: 'displayName', sortOrder: 'ASC' });
      setJobs(p.items.filter((j) => j.lifecycleState !== 'DELETED'));
    })().catch(() => undefined);
  }, []);
  useEffect(() => {
    if (runs.loaded) performance.mark('dsjobs:runs-rendered');
  }, [runs.loaded]);

  const setFilter = (k: string, v: string) => {
    const q = new URLSearchParams(query);
    if (v) q.set(k, v);
    else q.delete(k);
    const s = q.toString();
    // The same page, / or /runs: both show this list.
    navigate(`${window.location.pathname}${s ? `?${s}` : ''}`, true);
  };

  return (
    <section>
      <h1>Job runs</h1>
      <form className="filters" role="search" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <span className="inline-field">
          <label htmlFor="filter-state">State</label>
          <select id="filter-state" value={state} onChange={(e) => setFilter('state', e.target.value)}>
            <option value="">All states</option>
            {RUN_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </span>
        <span className="inline-field">
          <label htmlFor="filter-job">Job</label>
          <select id="filter-job" value={jobId} onChange={(e) => setFilter('jobId', e.target.value)}>
            <option value="">All jobs</option>
            {jobId && !jobs.some((j) => j.id === jobId) && <option value={jobId}>{jobNames[jobId] ?? jobId}</option>}
            {jobs.map((j) => (
              <option key={j.id} value={j.id}>
                {j.displayName}
              </option>
            ))}
          </select>
        </span>
        <LiveNote status={runs.status} />
      </form>
      <ErrorBanner error={runs.error} />
      {!runs.loaded && !runs.error && <p>Loading…</p>}
      <RunsTable runs={runs.items} showJob loaded={runs.loaded} jobNames={jobNames} />
      {runs.loaded && runs.items.length === 0 && !state && !jobId && !runs.hasPrev && (
        <p data-testid="no-runs-hint">
          Jobs are made in a project: open <Link to="/projects">Projects</Link>, create a job there, then start a run from its page (or
          with <code>dsjobs job run</code>).
        </p>
      )}
      <Pager label="Runs" pageNo={runs.pageNo} hasPrev={runs.hasPrev} hasNext={runs.hasNext} onPrev={runs.prev} onNext={runs.next} />
    </section>
  );
}
