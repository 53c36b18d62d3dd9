import { useEffect, useState } from 'react';
import type { JobRunSummary, JobSummary, Project } from '../../../src/sdk/client';
import { client, compartmentId } from '../api';
import { isJobEvent, isRunEvent, JOB_EVENT_TYPES, jobIsNotOlder, RUN_EVENT_TYPES, runIsNotOlder } from '../live';
import { jobOrder, runOrder, useLivePaged } from '../live-list';
import { Link } from '../router';
import { LiveNote } from '../runs-table';
import { ErrorBanner, fmtTime, Pager, StateBadge, useTitle } from '../ui';

const PAGE_SIZE = 25;

/**
 * The latest run of each listed job: one `limit=1` list call per job on the page (25 at most) when the page is
 * loaded, then the job's run events (`latest`, from the page's event stream).
 */
/** The later of two views of a job's last run: the same run further along, or a run accepted later. */
function later(a: JobRunSummary | null | undefined, b: JobRunSummary | null | undefined): JobRunSummary | null | undefined {
  if (!a) return b ?? a;
  if (!b) return a;
  if (a.id === b.id) return runIsNotOlder(b, a) ? b : a;
  return runOrder(b, a) < 0 ? b : a;
}

function LastRun({ jobId, refresh, latest }: { jobId: string; refresh: number; latest?: JobRunSummary }) {
  const [run, setRun] = useState<JobRunSummary | null | undefined>(undefined);
  useEffect(() => {
    if (!latest) return;
    // The same run moving on, or a newer one; never an older one (an event older than the list call's answer).
    setRun((shown) => later(shown, latest));
  }, [latest]);
  useEffect(() => {
    let stop = false;
    void (async () => {
      try {
        const p = await client.listJobRuns({ compartmentId: await compartmentId(), jobId, limit: 1 });
        // An event may have brought a later run (or state) while this call was on its way.
        if (!stop) setRun((shown) => later(p.items[0] ?? null, shown));
      } catch {
        if (!stop) setRun(null);
      }
    })();
    return () => {
      stop = true;
    };
  }, [jobId, refresh]);
  if (run === undefined) return <span className="muted">…</span>;
  if (run === null) return <span className="muted">no runs</span>;
  return (
    <span>
      <StateBadge state={run.lifecycleState} /> <Link to={`/runs/${encodeURIComponent(run.id)}`}>{run.displayName}</Link>
      <span className="muted"> {fmtTime(run.timeAccepted)}</span>
    </span>
  );
}

export function ProjectPage({ projectId }: { projectId: string }) {
  const [project, setProject] = useState<Project | null>(null);
  const [error, setError] = useState<unknown>(null);
  useTitle(project ? project.displayName : 'Project');
  useEffect(() => {
    client.getProject(projectId).then(setProject, setError);
  }, [projectId]);
  // Run events of this project's jobs, newest per job: what the Last run column shows once the page is loaded.
  const [latest, setLatest] = useState<Record<string, JobRunSummary>>({});
  const [loads, setLoads] = useState(0);
  const jobs = useLivePaged<JobSummary>({
    fetchPage: async (page) => client.listJobs({ compartmentId: await compartmentId(), projectId, limit: PAGE_SIZE, page }),
    key: projectId,
    pageSize: PAGE_SIZE,
    filter: async () => ({ projectId, types: [...JOB_EVENT_TYPES, ...RUN_EVENT_TYPES] }),
    itemOf: (e) => (isJobEvent(e) ? (e.data as unknown as JobSummary) : null),
    matches: (j) => j.projectId === projectId,
    newer: jobIsNotOlder,
    order: jobOrder,
    onEvents: (events) => {
      const runs = events.filter(isRunEvent).map((e) => e.data as unknown as JobRunSummary);
      if (runs.length) setLatest((m) => ({ ...m, ...Object.fromEntries(runs.map((r) => [r.jobId, r])) }));
    },
    // Each load of the page asks each job's last run again (a reconnection without a resume point may have missed some).
    onLoaded: () => setLoads((n) => n + 1),
  });
  return (
    <section>
      <p className="crumbs">
        <Link to="/projects">Projects</Link> / {project?.displayName ?? projectId}
      </p>
      <div className="title-row">
        <h1>{project?.displayName ?? 'Project'}</h1>
        <Link className="button" to={`/projects/${encodeURIComponent(projectId)}/jobs/new`}>
          Create job
        </Link>
      </div>
      {project?.description && <p>{project.description}</p>}
      <ErrorBanner error={error ?? jobs.error} />
      <div className="title-row">
        <h2>Jobs</h2>
        <LiveNote status={jobs.status} />
      </div>
      <table>
        <caption className="sr-only">Jobs of this project</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">State</th>
            <th scope="col">Shape</th>
            <th scope="col">Created</th>
            <th scope="col">Last run</th>
          </tr>
        </thead>
        <tbody>
          {jobs.items.map((j) => (
            <tr key={j.id}>
              <td>
                <Link to={`/jobs/${encodeURIComponent(j.id)}`}>{j.displayName}</Link>
              </td>
              <td>
                <StateBadge state={j.lifecycleState} />
              </td>
              <td>{j.jobInfrastructureConfigurationDetails.shapeName ?? '—'}</td>
              <td>{fmtTime(j.timeCreated)}</td>
              <td>
                <LastRun jobId={j.id} refresh={loads} latest={latest[j.id]} />
              </td>
            </tr>
          ))}
          {jobs.loaded && jobs.items.length === 0 && (
            <tr>
              <td colSpan={5}>No jobs in this project yet.</td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager label="Jobs" pageNo={jobs.pageNo} hasPrev={jobs.hasPrev} hasNext={jobs.hasNext} onPrev={jobs.prev} onNext={jobs.next} />
    </section>
  );
}
