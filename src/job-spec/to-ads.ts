// A job as an ADS YAML spec (`dsjobs job get JOB --yaml`): the inverse of ads.ts, so that `dsjobs job create -f`
// of the result makes an equivalent job. The runtime is told from the variables ADS's runtimes set (reference §3.3,
// ADS's own order): GIT_URL is gitPython, JOB_RUN_NOTEBOOK notebook, otherwise python for a Python entrypoint and
// script for the rest (both read back to the same job).
import { splitShellWords } from '../domain/shell-words.js';

/** The parts of an OCI Job (wire JSON) a spec holds. */
export interface JobLike {
  displayName?: string;
  compartmentId?: string;
  projectId?: string;
  freeformTags?: Record<string, string>;
  definedTags?: Record<string, Record<string, unknown>>;
  jobConfigurationDetails?: {
    environmentVariables?: Record<string, string> | null;
    commandLineArguments?: string | null;
    maximumRuntimeInMinutes?: number | null;
  } | null;
  jobInfrastructureConfigurationDetails?: Record<string, unknown> | null;
  jobStorageMountConfigurationDetailsList?: Array<Record<string, unknown>> | null;
  /** A multi-node job's node groups (a pyTorchDistributed spec makes one group). */
  jobNodeConfigurationDetails?: {
    maximumRuntimeInMinutes?: number | null;
    jobNodeGroupConfigurationDetailsList?: Array<{
      name?: string;
      replicas?: number;
      minimumSuccessReplicas?: number;
      jobConfigurationDetails?: JobLike['jobConfigurationDetails'];
      jobInfrastructureConfigurationDetails?: Record<string, unknown> | null;
    }>;
  } | null;
}

/** Where the job's code was saved locally, when the runtime needs it (python, script, a packed notebook). */
export interface SavedArtifact {
  /** The artifact file as uploaded (python, script). */
  file?: string;
  /** The directory holding the packed code (a notebook's `code/`). */
  codeDir?: string;
}

export type AdsRuntimeType = 'gitPython' | 'notebook' | 'python' | 'script' | 'pyTorchDistributed';

const GIT_VARS: Record<string, string> = {
  GIT_URL: 'url',
  GIT_BRANCH: 'branch',
  GIT_COMMIT: 'commit',
  GIT_ENTRYPOINT: 'entrypoint',
  ENTRY_FUNCTION: 'entryFunction',
  GIT_SECRET_OCID: 'gitSecretId',
  WORKING_DIR: 'workingDir',
  OUTPUT_DIR: 'outputDir',
  OUTPUT_URI: 'outputUri',
  CODE_DIR: 'codeDir',
};
const NOTEBOOK_VARS: Record<string, string> = { NOTEBOOK_ENCODING: 'notebookEncoding', OUTPUT_URI: 'outputUri' };
const CONDA_VARS = ['CONDA_ENV_TYPE', 'CONDA_ENV_SLUG', 'CONDA_ENV_BUCKET', 'CONDA_ENV_NAMESPACE', 'CONDA_ENV_OBJECT_NAME', 'CONDA_ENV_REGION'];
// What ads.ts reads from jobInfrastructureConfigurationDetails; anything else is said to be left out.
const INFRA_KEYS = ['jobInfrastructureType', 'shapeName', 'jobShapeConfigDetails', 'blockStorageSizeInGBs', 'subnetId'];

export function adsRuntimeOf(job: JobLike): AdsRuntimeType {
  if (job.jobNodeConfigurationDetails) return 'pyTorchDistributed';
  const env = job.jobConfigurationDetails?.environmentVariables ?? {};
  if (env.GIT_URL) return 'gitPython';
  if (env.JOB_RUN_NOTEBOOK || env.JOB_RUN_ENTRYPOINT === 'driver_notebook.py') return 'notebook';
  return 'script';
}

/** ADS interpolates `$` in names and env values: `$$` keeps one. */
const dollars = (s: string) => s.replace(/\$/g, '$$$$');

export function jobToAds(given: JobLike, saved: SavedArtifact, artifactName: string | null): { doc: Record<string, unknown>; warnings: string[] } {
  const warnings: string[] = [];
  // A multi-node job is written as ADS writes its pyTorchDistributed runtime: its (first) node group's
  // configuration and infrastructure, with the group's replicas.
  const groups = given.jobNodeConfigurationDetails?.jobNodeGroupConfigurationDetailsList ?? [];
  const group = groups[0];
  if (groups.length > 1) warnings.push(`jobNodeConfigurationDetails: ADS specs have one node group; only '${group?.name}' is written`);
  if (group && group.minimumSuccessReplicas !== undefined && group.minimumSuccessReplicas !== group.replicas) {
    warnings.push(`jobNodeConfigurationDetails: minimumSuccessReplicas ${group.minimumSuccessReplicas} has no ADS field; left out (all replicas)`);
  }
  const job: JobLike = group
    ? {
        ...given,
        jobConfigurationDetails: {
          ...group.jobConfigurationDetails,
          maximumRuntimeInMinutes: given.jobNodeConfigurationDetails?.maximumRuntimeInMinutes ?? group.jobConfigurationDetails?.maximumRuntimeInMinutes,
        },
        // The spec's infrastructure type is left out: a pyTorchDistributed spec's becomes the group's MULTI_NODE.
        jobInfrastructureConfigurationDetails: { ...group.jobInfrastructureConfigurationDetails, jobInfrastructureType: undefined },
      }
    : given;
  const env = { ...(job.jobConfigurationDetails?.environmentVariables ?? {}) };
  let type: AdsRuntimeType = adsRuntimeOf(job);
  const rs: Record<string, unknown> = {};
  const take = (name: string) => {
    const v = env[name];
    delete env[name];
    return v;
  };

  // conda
  const condaType = take('CONDA_ENV_TYPE');
  const conda = Object.fromEntries(CONDA_VARS.map((k) => [k, take(k)]));
  if (condaType === 'published' || (!condaType && conda.CONDA_ENV_OBJECT_NAME)) {
    rs.conda = { type: 'published', uri: `oci://${conda.CONDA_ENV_BUCKET}@${conda.CONDA_ENV_NAMESPACE}/${conda.CONDA_ENV_OBJECT_NAME}` };
    if (conda.CONDA_ENV_REGION) (rs.conda as Record<string, string>).region = conda.CONDA_ENV_REGION;
  } else if (conda.CONDA_ENV_SLUG) {
    rs.conda = { type: 'service', slug: conda.CONDA_ENV_SLUG };
  }

  if (type === 'gitPython') {
    for (const [name, key] of Object.entries(GIT_VARS)) {
      const v = take(name);
      if (v !== undefined) rs[key] = v;
    }
    const pythonPath = take('PYTHON_PATH');
    if (pythonPath) rs.pythonPath = pythonPath.split(':');
    if (take('SKIP_METADATA_UPDATE')) rs.skipMetadataUpdate = true;
  } else if (type === 'pyTorchDistributed') {
    take('JOB_RUN_ENTRYPOINT');
    const command = take('OCI__LAUNCH_CMD');
    if (command !== undefined) rs.command = command;
    rs.replicas = group?.replicas ?? 1;
    if (saved.codeDir) rs.scriptPathURI = saved.codeDir;
    else warnings.push("the job's code (packed under code/ in its artifact) was not saved: give --artifact-dir to save it");
  } else if (type === 'notebook') {
    take('JOB_RUN_ENTRYPOINT');
    for (const [name, key] of Object.entries(NOTEBOOK_VARS)) {
      const v = take(name);
      if (v !== undefined) rs[key] = v;
    }
    const tags = take('NOTEBOOK_EXCLUDE_TAGS');
    if (tags) rs.excludeTags = JSON.parse(tags) as string[];
    const nb = take('JOB_RUN_NOTEBOOK') ?? '';
    if (/^https?:\/\//i.test(nb)) rs.notebookPathURI = nb;
    else if (saved.codeDir) {
      rs.source = saved.codeDir;
      rs.entrypoint = nb.replace(/^code\//, '');
    } else {
      rs.notebookPathURI = nb.replace(/^code\//, '');
      warnings.push(`the notebook is packed in the job's artifact and was not saved: notebookPathURI '${rs.notebookPathURI}' names it, relative to the spec`);
    }
  } else {
    const entry = take('JOB_RUN_ENTRYPOINT');
    if (entry !== undefined) rs.entrypoint = entry;
    const uri = saved.file ?? artifactName;
    if (/\.py$/i.test(entry ?? uri ?? '')) type = 'python';
    if (uri) rs.scriptPathURI = uri;
    // The python runtime's with_output(dir, uri): read back by ads.ts as the same two variables.
    if (type === 'python' && env.OUTPUT_DIR && /^oci:\/\//i.test(env.OUTPUT_URI ?? '')) {
      rs.outputDir = take('OUTPUT_DIR');
      rs.outputUri = take('OUTPUT_URI');
    }
    if (!saved.file) warnings.push(`the artifact was not saved: scriptPathURI '${uri ?? ''}' names it, relative to the spec`);
  }

  const names = Object.keys(env);
  if (names.length > 0) rs.env = names.map((name) => ({ name, value: dollars(env[name]) }));
  const args = job.jobConfigurationDetails?.commandLineArguments;
  if (args) rs.args = splitShellWords(args);
  const max = job.jobConfigurationDetails?.maximumRuntimeInMinutes;
  if (max) rs.maximumRuntimeInMinutes = max;

  const infra = job.jobInfrastructureConfigurationDetails ?? {};
  const is: Record<string, unknown> = {};
  if (job.compartmentId) is.compartmentId = job.compartmentId;
  if (job.projectId) is.projectId = job.projectId;
  if (infra.jobInfrastructureType) is.jobInfrastructureType = infra.jobInfrastructureType;
  is.jobType = 'DEFAULT';
  if (infra.shapeName) is.shapeName = infra.shapeName;
  const shape = infra.jobShapeConfigDetails as Record<string, unknown> | undefined;
  if (shape && Object.values(shape).some((v) => v !== undefined && v !== null)) {
    is.shapeConfigDetails = Object.fromEntries(Object.entries(shape).filter(([, v]) => v !== undefined && v !== null));
  }
  if (infra.blockStorageSizeInGBs) is.blockStorageSize = infra.blockStorageSizeInGBs;
  for (const [k, v] of Object.entries(infra)) {
    if (!INFRA_KEYS.includes(k) && v !== undefined && v !== null) {
      warnings.push(`jobInfrastructureConfigurationDetails.${k}: ADS specs have no such field; left out`);
    }
  }
  const mounts = job.jobStorageMountConfigurationDetailsList ?? [];
  if (mounts.length > 0) is.storageMount = mounts.map(mountToAds);
  if (job.freeformTags && Object.keys(job.freeformTags).length > 0) is.freeformTags = job.freeformTags;
  if (job.definedTags && Object.keys(job.definedTags).length > 0) is.definedTags = job.definedTags;

  const spec: Record<string, unknown> = {};
  if (job.displayName) spec.name = dollars(job.displayName);
  spec.infrastructure = { kind: 'infrastructure', type: 'dataScienceJob', spec: is };
  spec.runtime = { kind: 'runtime', type, spec: rs };
  return { doc: { kind: 'job', spec }, warnings };
}

function mountToAds(m: Record<string, unknown>): { src: string; dest: string } {
  const src =
    m.storageType === 'OBJECT_STORAGE'
      ? `oci://${String(m.bucket)}@${String(m.namespace)}${m.prefix ? `/${String(m.prefix)}` : ''}`
      : `${String(m.mountTargetId)}:${String(m.exportId)}`;
  const name = String(m.destinationDirectoryName);
  const dest = m.destinationPath ? `${String(m.destinationPath).replace(/\/+$/, '')}/${name}` : name;
  return { src, dest };
}
