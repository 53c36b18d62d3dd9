import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { LiveNote, RunsTable } from '../runs-table';
import type { Job, JobRunSummary } from '../../../src/sdk/client';
import { API, client, compartmentId, showFormError, splitError } from '../api';
import { isJobEvent, isRunEvent, JOB_EVENT_TYPES, jobIsNotOlder, RUN_EVENT_TYPES, runIsNotOlder } from '../live';
import { runOrder, useLivePaged } from '../live-list';
import { Link, navigate } from '../router';
import {
  ErrorBanner,
  Field,
  fieldProps,
  fmtBytes,
  fmtTime,
  md5Hex,
  mountsToRows,
  MountsEditor,
  Pager,
  rowsToMounts,
  shapeConfig,
  ShapeFields,
  StateBadge,
  useShapes,
  useTitle,
  type MountRow,
  type ShapeValue,
} from '../ui';

const RUNS_PAGE_SIZE = 20;

const EDIT_FIELDS: Record<string, string> = {
  displayName: 'edit-name',
  description: 'edit-description',
  jobInfrastructureConfigurationDetails: 'edit-shape',
  'jobInfrastructureConfigurationDetails.shapeName': 'edit-shape',
  'jobInfrastructureConfigurationDetails.jobShapeConfigDetails': 'edit-ocpus',
  'jobInfrastructureConfigurationDetails.jobShapeConfigDetails.ocpus': 'edit-ocpus',
  'jobInfrastructureConfigurationDetails.jobShapeConfigDetails.memoryInGBs': 'edit-memory',
  'jobInfrastructureConfigurationDetails.blockStorageSizeInGBs': 'edit-block-storage',
  jobStorageMountConfigurationDetailsList: 'edit-mounts',
};

export function Definition({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="props">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v === undefined || v === null || v === '' ? '—' : v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function EnvTable({ env, caption }: { env?: Record<string, string> | null; caption: string }) {
  const entries = Object.entries(env ?? {});
  if (!entries.length) return <p className="muted">No {caption.toLowerCase()}.</p>;
  return (
    <table className="compact">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <td className="mono">{k}</td>
            <td className="mono">{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function EditJob({ job, onSaved, onCancel }: { job: Job; onSaved: (j: Job) => void; onCancel: () => void }) {
  const shapes = useShapes();
  const infra = job.jobInfrastructureConfigurationDetails;
  const [name, setName] = useState(job.displayName);
  const [description, setDescription] = useState(job.description ?? '');
  const [shape, setShape] = useState<ShapeValue>({
    shapeName: infra.shapeName ?? '',
    ocpus: infra.jobShapeConfigDetails?.ocpus?.toString() ?? '',
    memoryInGBs: infra.jobShapeConfigDetails?.memoryInGBs?.toString() ?? '',
  });
  const [blockStorage, setBlockStorage] = useState(String(infra.blockStorageSizeInGBs ?? 50));
  const [mounts, setMounts] = useState<MountRow[]>(mountsToRows(job.jobStorageMountConfigurationDetailsList as Record<string, unknown>[] | null));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(null);
    try {
      const isFlex = Boolean(shapes.find((s) => s.name === shape.shapeName)?.isFlex);
      const updated = await client.updateJob(job.id, {
        displayName: name,
        description,
        jobInfrastructureConfigurationDetails: {
          jobInfrastructureType: infra.jobInfrastructureType,
          shapeName: shape.shapeName,
          blockStorageSizeInGBs: Number(blockStorage),
          jobShapeConfigDetails: shapeConfig(shape, isFlex) ?? null,
        },
        jobStorageMountConfigurationDetailsList: rowsToMounts(mounts),
      });
      onSaved(updated);
    } catch (err) {
      showFormError(err, EDIT_FIELDS, setErrors, setFormError, false);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={save} noValidate aria-label="Edit job">
      <h2>Edit job</h2>
      <ErrorBanner error={formError} />
      <div className="grid2">
        <Field id="edit-name" label="Name" error={errors['edit-name']}>
          <input {...fieldProps('edit-name', errors['edit-name'])} value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id="edit-description" label="Description" error={errors['edit-description']}>
          <input {...fieldProps('edit-description', errors['edit-description'])} value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <div>
          <ShapeFields idPrefix="edit-" value={shape} onChange={setShape} errors={{ shape: errors['edit-shape'], ocpus: errors['edit-ocpus'], memory: errors['edit-memory'] }} />
        </div>
        <Field id="edit-block-storage" label="Block storage (GB)" error={errors['edit-block-storage']}>
          <input type="number" min="50" {...fieldProps('edit-block-storage', errors['edit-block-storage'])} value={blockStorage} onChange={(e) => setBlockStorage(e.target.value)} />
        </Field>
      </div>
      <MountsEditor id="edit-mounts" rows={mounts} onChange={setMounts} error={errors['edit-mounts']} />
      <div className="actions">
        <button type="submit" disabled={busy}>
          Save
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function UploadArtifact({ job, onDone }: { job: Job; onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [error, setError] = useState<string | null>(null);
  const upload = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return setError('Artifact: choose the file to run');
    try {
      await client.uploadArtifact(job.id, file.name, new Uint8Array(await file.arrayBuffer()));
      onDone();
    } catch (err) {
      setError(splitError(err).message);
    }
  };
  return (
    <form onSubmit={upload} className="card narrow">
      <p>This job has no artifact yet; it becomes ACTIVE once one is uploaded.</p>
      <Field id="upload-artifact" label="Artifact" error={error}>
        <input type="file" {...fieldProps('upload-artifact', error)} onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      </Field>
      <button type="submit">Upload</button>
    </form>
  );
}

function DeleteJob({ job }: { job: Job }) {
  const [open, setOpen] = useState(false);
  const [withRuns, setWithRuns] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (!open)
    return (
      <button type="button" className="danger" onClick={() => setOpen(true)}>
        Delete job…
      </button>
    );
  const del = async () => {
    try {
      await client.deleteJob(job.id, { deleteRelatedJobRuns: withRuns });
      navigate(`/projects/${encodeURIComponent(job.projectId)}`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div className="card narrow" role="group" aria-label="Delete job">
      <p>Delete job “{job.displayName}”? This cannot be undone.</p>
      <label className="check">
        <input type="checkbox" checked={withRuns} onChange={(e) => setWithRuns(e.target.checked)} /> Also cancel and delete its runs
      </label>
      <ErrorBanner error={error} />
      <div className="actions">
        <button type="button" className="danger" onClick={del}>
          Delete
        </button>
        <button type="button" className="secondary" onClick={() => setOpen(false)} autoFocus>
          Keep it
        </button>
      </div>
    </div>
  );
}

export function JobPage({ jobId }: { jobId: string }) {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);
  const [tick, setTick] = useState(0);
  const loads = useRef(0);
  const [projectName, setProjectName] = useState<string | null>(null);
  useTitle(job ? job.displayName : 'Job');
  useEffect(() => {
    client.getJob(jobId).then(setJob, setError);
  }, [jobId, tick]);
  useEffect(() => {
    if (job) client.getProject(job.projectId).then((p) => setProjectName(p.displayName), () => undefined);
  }, [job?.projectId]);
  // The job's runs, one page, kept current by the job's events (its runs' and its own, from one stream).
  const runs = useLivePaged<JobRunSummary>({
    fetchPage: async (page) => client.listJobRuns({ compartmentId: await compartmentId(), jobId, limit: RUNS_PAGE_SIZE, page }),
    key: jobId,
    pageSize: RUNS_PAGE_SIZE,
    filter: async () => ({ jobId, types: [...RUN_EVENT_TYPES, ...JOB_EVENT_TYPES] }),
    itemOf: (e) => (isRunEvent(e) ? (e.data as unknown as JobRunSummary) : null),
    matches: (r) => r.jobId === jobId,
    newer: runIsNotOlder,
    order: runOrder,
    onEvents: (events) => {
      for (const e of events) {
        if (!isJobEvent(e) || e.subject !== jobId) continue;
        const j = e.data as unknown as Job;
        setJob((shown) => (shown && !jobIsNotOlder(j, shown) ? shown : j));
      }
    },
    // A page loaded again (reconnection without a resume point, a page turn): the job itself may have changed too.
    onLoaded: () => {
      if (loads.current++ > 0) setTick((t) => t + 1);
    },
  });
  if (!job) return <section>{error ? <ErrorBanner error={error} /> : <p>Loading…</p>}</section>;
  const cfg = job.jobConfigurationDetails;
  const infra = job.jobInfrastructureConfigurationDetails;
  const mounts = job.jobStorageMountConfigurationDetailsList ?? [];
  return (
    <section>
      <p className="crumbs">
        <Link to="/projects">Projects</Link> / <Link to={`/projects/${encodeURIComponent(job.projectId)}`}>{projectName ?? 'project'}</Link> / {job.displayName}
      </p>
      <div className="title-row">
        <h1>{job.displayName}</h1>
        <StateBadge state={job.lifecycleState} />
        <span className="spacer" />
        {job.lifecycleState === 'ACTIVE' && (
          <Link className="button" to={`/jobs/${encodeURIComponent(job.id)}/run`}>
            Start a run
          </Link>
        )}
        {!editing && job.lifecycleState !== 'DELETED' && (
          <button type="button" className="secondary" onClick={() => setEditing(true)}>
            Edit
          </button>
        )}
      </div>
      {job.description && <p>{job.description}</p>}
      {job.lifecycleDetails && (
        // An ACTIVE job has details only when the server warns that its runs would be refused (a conda
        // environment it does not have); a CREATING one says it waits for its artifact.
        <p className={job.lifecycleState === 'ACTIVE' ? 'details warning' : 'details'} data-testid="job-details" role={job.lifecycleState === 'ACTIVE' ? 'alert' : undefined}>
          {job.lifecycleState === 'ACTIVE' && <strong>Warning: </strong>}
          {job.lifecycleDetails}
        </p>
      )}
      {job.lifecycleState === 'CREATING' && !job.artifactFileName && <UploadArtifact job={job} onDone={() => setTick((t) => t + 1)} />}
      {editing && (
        <EditJob
          job={job}
          onCancel={() => setEditing(false)}
          onSaved={(j) => {
            setJob(j);
            setEditing(false);
          }}
        />
      )}
      <div className="grid2">
        <div>
          <h2>Configuration</h2>
          <Definition
            rows={[
              ['OCID', <span className="mono">{job.id}</span>],
              ['Shape', infra.shapeName],
              ['Shape config', infra.jobShapeConfigDetails ? `${infra.jobShapeConfigDetails.ocpus ?? '—'} OCPU, ${infra.jobShapeConfigDetails.memoryInGBs ?? '—'} GB` : ''],
              ['Block storage', infra.blockStorageSizeInGBs ? `${infra.blockStorageSizeInGBs} GB` : ''],
              ['Arguments', cfg.commandLineArguments ? <span className="mono">{cfg.commandLineArguments}</span> : ''],
              ['Maximum runtime', cfg.maximumRuntimeInMinutes ? `${cfg.maximumRuntimeInMinutes} min` : '30 days (default)'],
              ['Created', fmtTime(job.timeCreated)],
              ['Storage mounts', mounts.length ? mounts.map((m) => `${m.destinationPath ?? '/mnt'}/${m.destinationDirectoryName} (${m.storageType})`).join(', ') : ''],
            ]}
          />
          <EnvTable env={cfg.environmentVariables} caption="Environment variables" />
        </div>
        <div>
          <h2>Artifact</h2>
          {job.artifactFileName ? (
            <Definition
              rows={[
                ['File', <span className="mono">{job.artifactFileName}</span>],
                ['Size', fmtBytes(job.artifactContentLength)],
                ['MD5', <span className="mono">{md5Hex(job.artifactContentMd5)}</span>],
                [
                  'Download',
                  <a href={`${API}/jobs/${encodeURIComponent(job.id)}/artifact/content`} download={job.artifactFileName}>
                    Download {job.artifactFileName}
                  </a>,
                ],
              ]}
            />
          ) : (
            <p className="muted">No artifact uploaded.</p>
          )}
          <h2>Danger zone</h2>
          <DeleteJob job={job} />
        </div>
      </div>
      <div className="title-row">
        <h2>Runs</h2>
        <LiveNote status={runs.status} />
      </div>
      <RunsTable runs={runs.items} showJob={false} loaded={runs.loaded} />
      <Pager label="Runs" pageNo={runs.pageNo} hasPrev={runs.hasPrev} hasNext={runs.hasNext} onPrev={runs.prev} onNext={runs.next} />
    </section>
  );
}

