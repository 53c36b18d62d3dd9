import { useEffect, useState } from 'react';
import type { JobRunSummary, Project } from '../../../src/sdk/client';
import { client, compartmentId } from '../api';
import { Link } from '../router';
import { ErrorBanner, fmtTime, Pager, StateBadge, usePaged, useTitle } from '../ui';

/** The latest run of each listed job: one `limit=1` list call per job on the page (25 at most). */
function LastRun({ jobId, refresh }: { jobId: string; refresh: unknown }) {
  const [run, setRun] = useState<JobRunSummary | null | undefined>(undefined);
  useEffect(() => {
    let stop = false;
    void (async () => {
      try {
        const p = await client.listJobRuns({ compartmentId: await compartmentId(), jobId, limit: 1 });
        if (!stop) setRun(p.items[0] ?? null);
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
  const jobs = usePaged(
    async (page) => client.listJobs({ compartmentId: await compartmentId(), projectId, limit: 25, page }),
    projectId,
    5000,
  );
  return (
    <section>
      <p className="crumbs">
        <Link to="/">Projects</Link> / {project?.displayName ?? projectId}
      </p>
      <div className="title-row">
        <h1>{project?.displayName ?? 'Project'}</h1>
        <Link className="button" to={`/projects/${encodeURIComponent(projectId)}/jobs/new`}>
          Create job
        </Link>
      </div>
      {project?.description && <p>{project.description}</p>}
      <ErrorBanner error={error ?? jobs.error} />
      <h2>Jobs</h2>
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
                <LastRun jobId={j.id} refresh={jobs.items} />
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
