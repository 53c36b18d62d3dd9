import { useEffect, useState, type DragEvent, type FormEvent } from 'react';
import type { CreateJobDetails, Project } from '../../../src/sdk/client';
import { client, compartmentId, controlFor, serverInfo, showFormError, splitError } from '../api';
import { Link, navigate } from '../router';
import {
  EnvEditor,
  ErrorBanner,
  Field,
  fieldProps,
  fmtBytes,
  MountsEditor,
  rowsToEnv,
  rowsToMounts,
  shapeConfig,
  ShapeFields,
  Tabs,
  useShapes,
  useTitle,
  type EnvRow,
  type MountRow,
  type ShapeValue,
} from '../ui';
import type { SpecFiles } from '../../../src/job-spec/spec-files';

/** API field path -> form control of the create-job form. */
const FIELD_MAP: Record<string, string> = {
  displayName: 'job-name',
  description: 'job-description',
  jobInfrastructureConfigurationDetails: 'job-shape',
  'jobInfrastructureConfigurationDetails.shapeName': 'job-shape',
  'jobInfrastructureConfigurationDetails.jobShapeConfigDetails': 'job-ocpus',
  'jobInfrastructureConfigurationDetails.jobShapeConfigDetails.ocpus': 'job-ocpus',
  'jobInfrastructureConfigurationDetails.jobShapeConfigDetails.memoryInGBs': 'job-memory',
  'jobInfrastructureConfigurationDetails.blockStorageSizeInGBs': 'job-block-storage',
  'jobConfigurationDetails.environmentVariables': 'job-env',
  'jobConfigurationDetails.commandLineArguments': 'job-args',
  'jobConfigurationDetails.maximumRuntimeInMinutes': 'job-max-runtime',
  jobStorageMountConfigurationDetailsList: 'job-mounts',
  'content-disposition': 'job-artifact',
  artifact: 'job-artifact',
  body: 'job-artifact',
};

/** The artifact chooser: a file input inside a drop zone (the input is what keyboard users reach). */
function ArtifactPicker(p: { id: string; file: File | null; onFile: (f: File | null) => void; error?: string | null; label?: string }) {
  const [over, setOver] = useState(false);
  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const f = e.dataTransfer.files?.[0];
    if (f) p.onFile(f);
  };
  return (
    <Field id={p.id} label={p.label ?? 'Artifact'} error={p.error} hint=".py or .sh file, or a .zip / .tar.gz / .tgz archive with JOB_RUN_ENTRYPOINT set">
      <div
        className={`dropzone${over ? ' dropzone-over' : ''}`}
        data-testid={`${p.id}-dropzone`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <input type="file" {...fieldProps(p.id, p.error)} onChange={(e) => p.onFile(e.target.files?.[0] ?? null)} />
        <span className="muted">{p.file ? `${p.file.name} (${fmtBytes(p.file.size)})` : 'or drop a file here'}</span>
      </div>
    </Field>
  );
}

async function uploadOrUndo(jobId: string, file: File): Promise<void> {
  try {
    await client.uploadArtifact(jobId, file.name, new Uint8Array(await file.arrayBuffer()));
  } catch (e) {
    // A job without its artifact can never run: remove it so the form can simply be sent again.
    await client.deleteJob(jobId).catch(() => undefined);
    throw e;
  }
}

export function CreateJobPage({ projectId }: { projectId: string }) {
  useTitle('Create job');
  const [project, setProject] = useState<Project | null>(null);
  useEffect(() => {
    client.getProject(projectId).then(setProject, () => undefined);
  }, [projectId]);
  const [mode, setMode] = useState<'form' | 'yaml'>('form');
  return (
    <section>
      <p className="crumbs">
        <Link to="/projects">Projects</Link> / <Link to={`/projects/${encodeURIComponent(projectId)}`}>{project?.displayName ?? 'project'}</Link> / new job
      </p>
      <h1>Create a job</h1>
      <Tabs
        label="How to describe the job"
        tabs={[
          { id: 'form', label: 'Form' },
          { id: 'yaml', label: 'YAML spec' },
        ]}
        selected={mode}
        onSelect={(m) => setMode(m as 'form' | 'yaml')}
      />
      <div role="tabpanel" id={`panel-${mode}`} aria-labelledby={`tab-${mode}`}>
        {mode === 'form' ? <JobForm projectId={projectId} /> : <YamlForm projectId={projectId} />}
      </div>
    </section>
  );
}

function JobForm({ projectId }: { projectId: string }) {
  const shapes = useShapes();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [shape, setShape] = useState<ShapeValue>({ shapeName: '', ocpus: '', memoryInGBs: '' });
  const [blockStorage, setBlockStorage] = useState('50');
  const [env, setEnv] = useState<EnvRow[]>([]);
  const [args, setArgs] = useState('');
  const [maxRuntime, setMaxRuntime] = useState('');
  const [mounts, setMounts] = useState<MountRow[]>([]);
  const [file, setFile] = useState<File | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // The server's default shape, the one the CLI uses when none is named.
    if (!shape.shapeName && shapes.length) setShape((s) => ({ ...s, shapeName: (shapes.find((x) => x.isDefault) ?? shapes[0]).name }));
  }, [shapes, shape.shapeName]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setErrors({});
    setFormError(null);
    if (!file) {
      setErrors({ 'job-artifact': 'Artifact: choose the file to run' });
      document.getElementById('job-artifact')?.focus();
      return;
    }
    setBusy(true);
    const isFlex = Boolean(shapes.find((s) => s.name === shape.shapeName)?.isFlex);
    const details: CreateJobDetails = {
      projectId,
      compartmentId: await compartmentId(),
      displayName: name || undefined,
      description: description || undefined,
      jobConfigurationDetails: {
        jobType: 'DEFAULT',
        environmentVariables: rowsToEnv(env),
        commandLineArguments: args || undefined,
        maximumRuntimeInMinutes: maxRuntime === '' ? undefined : Number(maxRuntime),
      },
      jobInfrastructureConfigurationDetails: {
        jobInfrastructureType: 'ME_STANDALONE',
        shapeName: shape.shapeName,
        blockStorageSizeInGBs: Number(blockStorage),
        jobShapeConfigDetails: shapeConfig(shape, isFlex),
      },
      jobStorageMountConfigurationDetailsList: mounts.length ? rowsToMounts(mounts) : undefined,
    };
    try {
      const job = await client.createJob(details);
      await uploadOrUndo(job.id, file);
      navigate(`/jobs/${encodeURIComponent(job.id)}`);
    } catch (err) {
      showFormError(err, FIELD_MAP, setErrors, setFormError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} className="card" noValidate>
      <ErrorBanner error={formError} />
      <div className="grid2">
        <Field id="job-name" label="Name" error={errors['job-name']}>
          <input {...fieldProps('job-name', errors['job-name'])} value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id="job-description" label="Description" error={errors['job-description']}>
          <input {...fieldProps('job-description', errors['job-description'])} value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <div>
          <ShapeFields idPrefix="job-" value={shape} onChange={setShape} errors={{ shape: errors['job-shape'], ocpus: errors['job-ocpus'], memory: errors['job-memory'] }} />
        </div>
        <Field id="job-block-storage" label="Block storage (GB)" error={errors['job-block-storage']}>
          <input type="number" min="50" step="1" {...fieldProps('job-block-storage', errors['job-block-storage'])} value={blockStorage} onChange={(e) => setBlockStorage(e.target.value)} />
        </Field>
        <Field id="job-args" label="Command line arguments" error={errors['job-args']} hint="Split into words as a POSIX shell would; never run by a shell.">
          <input {...fieldProps('job-args', errors['job-args'])} value={args} onChange={(e) => setArgs(e.target.value)} />
        </Field>
        <Field id="job-max-runtime" label="Maximum runtime (minutes)" error={errors['job-max-runtime']} hint="Empty: 30 days.">
          <input type="number" min="0" step="any" {...fieldProps('job-max-runtime', errors['job-max-runtime'])} value={maxRuntime} onChange={(e) => setMaxRuntime(e.target.value)} />
        </Field>
      </div>
      <EnvEditor id="job-env" label="Environment variables" rows={env} onChange={setEnv} error={errors['job-env']} />
      <MountsEditor id="job-mounts" rows={mounts} onChange={setMounts} error={errors['job-mounts']} />
      <ArtifactPicker id="job-artifact" file={file} onFile={setFile} error={errors['job-artifact']} />
      <button type="submit" disabled={busy}>
        {busy ? 'Creating…' : 'Create job'}
      </button>
    </form>
  );
}

const YAML_EXAMPLE = `kind: job
spec:
  name: train
  infrastructure:
    kind: infrastructure
    type: dataScienceJob
    spec:
      shapeName: Local.Light
      blockStorageSize: 50
  runtime:
    kind: runtime
    type: python
    spec:
      scriptPathURI: train.py
      env:
        - name: LR
          value: "0.1"
`;

function YamlForm({ projectId }: { projectId: string }) {
  const [text, setText] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notes, setNotes] = useState<string[]>([]);
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setErrors({});
    setFormError(null);
    setNotes([]);
    // The YAML reader (with the yaml package, ~40% of the console's code) is loaded only when a spec is sent.
    const { parseJobSpec, JobSpecError } = await import('../../../src/job-spec/job-spec');
    let spec;
    try {
      spec = parseJobSpec(text, { specDir: '/', files: pickedFileOnly(file?.name ?? null) });
    } catch (err) {
      if (err instanceof JobSpecError) {
        // The reader's own messages; a missing artifact is the picker's business.
        const artifactField = err.message.includes('does not exist') || /artifact|scriptPathURI|sourceUri/i.test(err.field ?? '');
        setErrors({ [artifactField && !file ? 'yaml-artifact' : 'yaml-spec']: err.message });
      } else setErrors({ 'yaml-spec': (err as Error).message });
      return;
    }
    setNotes([...spec.warnings, ...spec.ignored]);
    // A gitPython spec's artifact is its driver alone, made by the reader; a notebook's is an archive of the driver
    // and the notebook, which only the CLI packs.
    const generated = spec.generatedFiles ?? [];
    let upload = file;
    if (generated.length > 0) {
      if (generated.length > 1 || spec.artifactPath || spec.artifactEntrypoint) {
        setErrors({ 'yaml-spec': 'Notebook specs are packed by the CLI: create this job with `dsjobs job create -f`' });
        return;
      }
      upload = new File([generated[0].content], generated[0].name);
    }
    if (!upload || (!spec.artifactPath && generated.length === 0)) {
      setErrors({ 'yaml-artifact': 'Artifact: the spec must name an artifact, and that file must be chosen here' });
      return;
    }
    setBusy(true);
    try {
      const details = { ...spec.createJobDetails, projectId, compartmentId: await compartmentId() } as CreateJobDetails;
      // A spec without a shape gets the server's default shape, as `dsjobs job create -f` does.
      const infra = (details.jobInfrastructureConfigurationDetails ??= { jobInfrastructureType: 'ME_STANDALONE', blockStorageSizeInGBs: 50 });
      infra.shapeName ??= (await serverInfo()).defaultShapeName;
      const job = await client.createJob(details);
      await uploadOrUndo(job.id, upload);
      navigate(`/jobs/${encodeURIComponent(job.id)}`);
    } catch (err) {
      const fe = splitError(err);
      const control = controlFor(fe.field, FIELD_MAP);
      if (control === 'job-artifact') setErrors({ 'yaml-artifact': fe.message });
      else if (fe.field) setErrors({ 'yaml-spec': fe.message });
      else setFormError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} className="card" noValidate>
      <ErrorBanner error={formError} />
      <Field
        id="yaml-spec"
        label="Job spec (ADS YAML or dsjobs native YAML)"
        error={errors['yaml-spec']}
        hint="The same formats as `dsjobs job create -f`: ADS `kind: job` with the python, script or gitPython runtime, or the short native format."
      >
        <textarea {...fieldProps('yaml-spec', errors['yaml-spec'])} rows={16} spellCheck={false} value={text} placeholder={YAML_EXAMPLE} onChange={(e) => setText(e.target.value)} />
      </Field>
      <ArtifactPicker id="yaml-artifact" label="Artifact named by the spec" file={file} onFile={setFile} error={errors['yaml-artifact']} />
      {notes.length > 0 && (
        <ul className="notes" aria-label="Notes about the spec">
          {notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Creating…' : 'Create job from spec'}
      </button>
    </form>
  );
}

/**
 * The spec reader's view of a browser, which has no file system: the artifact a pasted spec names is the file the
 * user picked, whatever directory the spec gives it (it was written for another machine's paths); nothing else
 * exists, so directory artifacts (which the CLI zips) cannot be used here. `~/` means `/`.
 */
function pickedFileOnly(name: string | null): SpecFiles {
  return {
    kind: (p) => (name !== null && p.slice(p.lastIndexOf('/') + 1) === name ? 'file' : null),
    home: '/',
  };
}
