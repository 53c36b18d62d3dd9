import { useEffect, useState, type FormEvent } from 'react';
import type { CreateJobRunDetails, Job } from '../../../src/sdk/client';
import { client, compartmentId, showFormError } from '../api';
import { Link, navigate } from '../router';
import { EnvEditor, ErrorBanner, Field, fieldProps, rowsToEnv, shapeConfig, ShapeFields, useShapes, useTitle, type EnvRow, type ShapeValue } from '../ui';
import { EnvTable } from './job';

const RUN_FIELDS: Record<string, string> = {
  displayName: 'run-name',
  'jobConfigurationOverrideDetails.environmentVariables': 'run-env',
  'jobConfigurationOverrideDetails.commandLineArguments': 'run-args',
  'jobConfigurationOverrideDetails.maximumRuntimeInMinutes': 'run-max-runtime',
  jobConfigurationOverrideDetails: 'run-env',
  jobInfrastructureConfigurationOverrideDetails: 'run-shape',
  'jobInfrastructureConfigurationOverrideDetails.shapeName': 'run-shape',
  'jobInfrastructureConfigurationOverrideDetails.jobShapeConfigDetails': 'run-ocpus',
  'jobInfrastructureConfigurationOverrideDetails.jobShapeConfigDetails.ocpus': 'run-ocpus',
  'jobInfrastructureConfigurationOverrideDetails.jobShapeConfigDetails.memoryInGBs': 'run-memory',
};

export function StartRunPage({ jobId }: { jobId: string }) {
  useTitle('Start a run');
  const shapes = useShapes();
  const [job, setJob] = useState<Job | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [env, setEnv] = useState<EnvRow[]>([]);
  const [args, setArgs] = useState('');
  const [overrideArgs, setOverrideArgs] = useState(false);
  const [maxRuntime, setMaxRuntime] = useState('');
  const [shape, setShape] = useState<ShapeValue>({ shapeName: '', ocpus: '', memoryInGBs: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    client.getJob(jobId).then((j) => {
      setJob(j);
      setArgs(j.jobConfigurationDetails.commandLineArguments ?? '');
    }, setLoadError);
  }, [jobId]);
  if (!job) return <section>{loadError ? <ErrorBanner error={loadError} /> : <p>Loading…</p>}</section>;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(null);
    const envOverride = rowsToEnv(env);
    const config: NonNullable<CreateJobRunDetails['jobConfigurationOverrideDetails']> = {};
    if (envOverride) config.environmentVariables = envOverride;
    if (overrideArgs) config.commandLineArguments = args;
    if (maxRuntime !== '') config.maximumRuntimeInMinutes = Number(maxRuntime);
    const infra = job.jobInfrastructureConfigurationDetails;
    const isFlex = Boolean(shapes.find((s) => s.name === shape.shapeName)?.isFlex);
    try {
      const run = await client.createJobRun({
        projectId: job.projectId,
        compartmentId: await compartmentId(),
        jobId: job.id,
        displayName: name || undefined,
        jobConfigurationOverrideDetails: Object.keys(config).length ? { jobType: 'DEFAULT', ...config } : undefined,
        jobInfrastructureConfigurationOverrideDetails: shape.shapeName
          ? {
              jobInfrastructureType: infra.jobInfrastructureType,
              shapeName: shape.shapeName,
              blockStorageSizeInGBs: infra.blockStorageSizeInGBs,
              jobShapeConfigDetails: shapeConfig(shape, isFlex),
            }
          : undefined,
      });
      navigate(`/runs/${encodeURIComponent(run.id)}`);
    } catch (err) {
      showFormError(err, RUN_FIELDS, setErrors, setFormError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <p className="crumbs">
        <Link to={`/jobs/${encodeURIComponent(job.id)}`}>{job.displayName}</Link> / start a run
      </p>
      <h1>Start a run of {job.displayName}</h1>
      <form className="card" onSubmit={submit} noValidate>
        <ErrorBanner error={formError} />
        <div className="grid2">
          <Field id="run-name" label="Run name" error={errors['run-name']} hint="Empty: a generated name.">
            <input {...fieldProps('run-name', errors['run-name'])} value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
          <Field id="run-max-runtime" label="Maximum runtime (minutes)" error={errors['run-max-runtime']} hint={`Empty: the job's (${job.jobConfigurationDetails.maximumRuntimeInMinutes ?? '30 days'}).`}>
            <input type="number" min="0" step="any" {...fieldProps('run-max-runtime', errors['run-max-runtime'])} value={maxRuntime} onChange={(e) => setMaxRuntime(e.target.value)} />
          </Field>
          <div>
            <label className="check">
              <input type="checkbox" checked={overrideArgs} onChange={(e) => setOverrideArgs(e.target.checked)} /> Replace the job's arguments
            </label>
            <Field id="run-args" label="Command line arguments" error={errors['run-args']}>
              <input {...fieldProps('run-args', errors['run-args'])} value={args} disabled={!overrideArgs} onChange={(e) => setArgs(e.target.value)} />
            </Field>
          </div>
          <div>
            <ShapeFields
              idPrefix="run-"
              value={shape}
              onChange={setShape}
              allowEmpty={`The job's shape (${job.jobInfrastructureConfigurationDetails.shapeName})`}
              errors={{ shape: errors['run-shape'], ocpus: errors['run-ocpus'], memory: errors['run-memory'] }}
            />
          </div>
        </div>
        <EnvEditor id="run-env" label="Environment variables (merged over the job's)" rows={env} onChange={setEnv} error={errors['run-env']} />
        <EnvTable env={job.jobConfigurationDetails.environmentVariables} caption="The job's environment variables" />
        <button type="submit" disabled={busy}>
          {busy ? 'Starting…' : 'Start run'}
        </button>
      </form>
    </section>
  );
}
