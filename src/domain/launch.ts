import { invalid } from './errors.js';
import { checkArgs, checkEnvSize } from './env-policy.js';
import {
  checkInfrastructure,
  checkJobConfiguration,
  commandLineWords,
  mergeConfig,
  type JobConfigurationDetails,
  type JobInfrastructureConfigurationDetails,
} from './job-config.js';
import type { Resources } from './resources.js';
import { resolveContainer, type ContainerPlan } from './container.js';
import { applyNodeOverride, compileMultiNode, type MultiNodeConfiguration, type MultiNodePlan } from './multi-node.js';

/** The Python environment a run's CONDA_ENV_* variables select. */
export type CondaRef = { kind: 'service'; slug: string; path: string } | { kind: 'published'; archive: string };

/**
 * The complete plan of a run, compiled once when the run is created and stored with it; executors run exactly this.
 * Nothing in it is parsed again: the arguments are words, the environment is final, the resources are numbers.
 */
export interface LaunchPlan {
  /** The job's artifact; '' only for a container job that has none (its image carries the code). */
  artifactFileName: string;
  /** Words of commandLineArguments, split as a POSIX shell would. */
  args: string[];
  /** Effective environment: job env, run env on top, service variables on top of both. */
  env: Record<string, string>;
  entrypoint: string | null;
  resources: Resources;
  shapeName: string;
  maximumRuntimeInMinutes: number;
  /** Storage mounts resolved to host directories. */
  mounts: { source: string; destination: string }[];
  /** The run's scratch volume size; null: none. */
  blockStorageSizeInGBs: number | null;
  /** false: networking NONE. */
  network: boolean;
  /** The Python environment CONDA_ENV_* selected. */
  conda: CondaRef | null;
  /** The image to run the run in (a container engine serves it); null: a local process. */
  container: ContainerPlan | null;
  /**
   * A multi-node run's node groups (one allocation across nodes, one process per replica); null: a single-node run.
   * Its shapeName and resources are then the first group's.
   */
  multiNode: MultiNodePlan | null;
}

/** A stored plan made complete: runs created by earlier versions have no mounts, volume, networking or conda. */
export function completePlan(
  stored: Omit<LaunchPlan, 'mounts' | 'blockStorageSizeInGBs' | 'network' | 'conda' | 'container' | 'multiNode'> & Partial<LaunchPlan>,
): LaunchPlan {
  return {
    ...stored,
    mounts: stored.mounts ?? [],
    blockStorageSizeInGBs: stored.blockStorageSizeInGBs ?? null,
    network: stored.network ?? true,
    conda: stored.conda ?? null,
    container: stored.container ?? null,
    multiNode: stored.multiNode ?? null,
  };
}

/** The environment a run starts with: its plan's, and on top what it is given at start (its principal's). */
export function startEnvironment(plan: LaunchPlan, startEnv: Record<string, string> | undefined): Record<string, string> {
  return startEnv ? { ...plan.env, ...startEnv } : plan.env;
}

/** What of a job a run's plan comes from. */
export interface LaunchJob {
  artifactFileName: string;
  jobConfigurationDetails: JobConfigurationDetails | null | undefined;
  /** OCI's OCIR_CONTAINER environment configuration, as stored with the job. */
  jobEnvironmentConfigurationDetails?: Record<string, unknown> | null;
  jobInfrastructureConfigurationDetails: JobInfrastructureConfigurationDetails;
  jobStorageMountConfigurationDetailsList: Record<string, unknown>[] | null | undefined;
  /** A multi-node job's jobNodeConfigurationDetails, as stored (checked, defaults written in). */
  jobNodeConfigurationDetails?: Record<string, unknown> | null;
}

/** A run's overrides, as CreateJobRun carries them (automation's rendered overrides too). */
export interface LaunchOverrides {
  jobConfigurationOverrideDetails?: Partial<JobConfigurationDetails> | null;
  jobInfrastructureConfigurationOverrideDetails?: JobInfrastructureConfigurationDetails | null;
  jobStorageMountConfigurationOverrideDetailsList?: Record<string, unknown>[] | null;
  jobEnvironmentConfigurationOverrideDetails?: Record<string, unknown> | null;
  jobNodeConfigurationOverrideDetails?: Record<string, unknown> | null;
}

/**
 * What only the server knows, each answering for the field it is given or throwing an error naming it: the shape
 * catalog and this host's capacity, the declared storage, the conda environments.
 */
export interface LaunchContext {
  resolveShape(infra: JobInfrastructureConfigurationDetails, field: string): Resources;
  resolveMounts(list: Record<string, unknown>[] | null | undefined, field: string): { source: string; destination: string }[];
  resolveConda(env: Record<string, string>, field: string): CondaRef | null;
  /** Refuses (naming `field`) a multi-node job this server cannot run as one allocation: see ShapesService. */
  checkMultiNodeShapes?(shapes: { shapeName: string; field: string }[], field: string): void;
}

export interface CompiledLaunch {
  /** The plan without the run's own identity variables (added with the run's id: withRunIdentity). */
  plan: LaunchPlan;
  /** The run's configuration override as stored and shown (jobType filled in), null: none. */
  configOverride: JobConfigurationDetails | null;
  /** The infrastructure the run gets: the job's with the run's override on top. */
  infrastructure: JobInfrastructureConfigurationDetails;
  infrastructureOverride: JobInfrastructureConfigurationDetails | null;
}

/**
 * What single-node and multi-node runs override alike: the run's configuration override, checked, and its storage
 * mounts (the override's list, else the job's), resolved.
 */
function runConfigAndMounts(job: LaunchJob, o: LaunchOverrides, ctx: LaunchContext) {
  // OCI's jobType discriminator may be left out of an override: it can only be DEFAULT here.
  const given = o.jobConfigurationOverrideDetails;
  const configOverride: JobConfigurationDetails | null = given ? { ...given, jobType: given.jobType ?? 'DEFAULT' } : null;
  const overrideWords = configOverride ? checkJobConfiguration(configOverride, 'jobConfigurationOverrideDetails') : null;
  const mounts = o.jobStorageMountConfigurationOverrideDetailsList
    ? ctx.resolveMounts(o.jobStorageMountConfigurationOverrideDetailsList, 'jobStorageMountConfigurationOverrideDetailsList')
    : ctx.resolveMounts(job.jobStorageMountConfigurationDetailsList, 'jobStorageMountConfigurationDetailsList');
  return { configOverride, overrideWords, mounts };
}

/**
 * The one place a run's plan is made: the job's configuration with the run's overrides, every rule checked once (a
 * field-named 400 otherwise) and every value in the form the executor takes. Entry points (API, CLI, console,
 * schedules, trigger rules, sweeps) all create runs through it.
 */
export function compileLaunch(job: LaunchJob, o: LaunchOverrides, ctx: LaunchContext): CompiledLaunch {
  if (job.jobNodeConfigurationDetails) return compileMultiNodeLaunch(job, job.jobNodeConfigurationDetails as unknown as MultiNodeConfiguration, o, ctx);
  if (o.jobNodeConfigurationOverrideDetails) throw invalid('jobNodeConfigurationOverrideDetails', 'the job is not a multi-node job: it has no node groups to override');
  const { configOverride, overrideWords, mounts } = runConfigAndMounts(job, o, ctx);
  const infrastructureOverride = o.jobInfrastructureConfigurationOverrideDetails ?? null;
  const jobInfra = job.jobInfrastructureConfigurationDetails;
  // An override naming another shape brings its own shape config (or none): the job's flex settings belong to
  // the job's shape.
  const infrastructure: JobInfrastructureConfigurationDetails = infrastructureOverride
    ? {
        ...jobInfra,
        ...infrastructureOverride,
        jobShapeConfigDetails:
          infrastructureOverride.shapeName && infrastructureOverride.shapeName !== jobInfra.shapeName
            ? infrastructureOverride.jobShapeConfigDetails
            : (infrastructureOverride.jobShapeConfigDetails ?? jobInfra.jobShapeConfigDetails),
      }
    : jobInfra;
  if (infrastructureOverride) checkInfrastructure(infrastructure, 'jobInfrastructureConfigurationOverrideDetails');
  const resources = ctx.resolveShape(
    infrastructure,
    infrastructureOverride ? 'jobInfrastructureConfigurationOverrideDetails' : 'jobInfrastructureConfigurationDetails',
  );
  const effective = mergeConfig(job.jobConfigurationDetails, configOverride);
  checkEnvSize(effective.environmentVariables, 'jobConfigurationOverrideDetails.environmentVariables');
  checkArgs(effective.commandLineArguments, 'jobConfigurationOverrideDetails.commandLineArguments');
  const conda = ctx.resolveConda(
    effective.environmentVariables,
    // The field the user wrote: the run's override when it sets any of the variables, else the job's.
    Object.keys(configOverride?.environmentVariables ?? {}).some((k) => k.startsWith('CONDA_ENV_'))
      ? 'jobConfigurationOverrideDetails.environmentVariables'
      : 'jobConfigurationDetails.environmentVariables',
  );
  // The legacy variables may come from the run's override: the field named is the one the user wrote.
  const container = resolveContainer(
    job.jobEnvironmentConfigurationDetails,
    o.jobEnvironmentConfigurationOverrideDetails,
    effective.environmentVariables,
    Object.keys(configOverride?.environmentVariables ?? {}).some((k) => k.startsWith('CONTAINER_'))
      ? 'jobConfigurationOverrideDetails.environmentVariables'
      : 'jobConfigurationDetails.environmentVariables',
  );
  if (!container && !job.artifactFileName) {
    throw invalid('jobEnvironmentConfigurationOverrideDetails', 'the job has no artifact, so its runs need a container image');
  }
  // The override's words were split when it was checked; the job's were checked at its create but are split here.
  const args =
    overrideWords ?? commandLineWords(job.jobConfigurationDetails?.commandLineArguments, 'jobConfigurationDetails.commandLineArguments') ?? [];
  return {
    plan: {
      artifactFileName: job.artifactFileName,
      args,
      env: effective.environmentVariables,
      entrypoint: effective.environmentVariables.JOB_RUN_ENTRYPOINT ?? null,
      resources,
      shapeName: infrastructure.shapeName!,
      maximumRuntimeInMinutes: effective.maximumRuntimeInMinutes,
      mounts,
      blockStorageSizeInGBs: infrastructure.blockStorageSizeInGBs ?? null,
      network: infrastructure.networking !== 'NONE',
      conda,
      container,
      multiNode: null,
    },
    configOverride,
    infrastructure,
    infrastructureOverride,
  };
}

/**
 * A run of a multi-node job: the job's artifact on every replica of every node group, the groups' shapes and
 * variables, the run's configuration override on top (its variables and arguments reach every node), and the run's
 * jobNodeConfigurationOverrideDetails applied to the groups (applyNodeOverride). The run's infrastructure is the
 * job's EMPTY placeholder: the groups carry theirs.
 */
function compileMultiNodeLaunch(job: LaunchJob, jobNodes: MultiNodeConfiguration, o: LaunchOverrides, ctx: LaunchContext): CompiledLaunch {
  if (o.jobInfrastructureConfigurationOverrideDetails) {
    throw invalid('jobInfrastructureConfigurationOverrideDetails', "a multi-node job's infrastructure is its node groups'; a run cannot override it yet");
  }
  if (o.jobEnvironmentConfigurationOverrideDetails) {
    throw invalid('jobEnvironmentConfigurationOverrideDetails', 'container images are not supported in multi-node jobs yet');
  }
  const given = o.jobNodeConfigurationOverrideDetails;
  const field = given ? 'jobNodeConfigurationOverrideDetails' : 'jobNodeConfigurationDetails';
  if (!ctx.checkMultiNodeShapes) throw invalid('jobNodeConfigurationDetails', 'multi-node jobs are not run by this server');
  const nodes = given
    ? applyNodeOverride(jobNodes, given, field, { resolveShape: (i, f) => ctx.resolveShape(i, f), checkMultiNodeShapes: (l, f) => ctx.checkMultiNodeShapes!(l, f) })
    : jobNodes;
  const groups = nodes.jobNodeGroupConfigurationDetailsList;
  ctx.checkMultiNodeShapes(
    groups.map((g, i) => ({ shapeName: g.jobInfrastructureConfigurationDetails!.shapeName!, field: `${field}.jobNodeGroupConfigurationDetailsList[${i}].jobInfrastructureConfigurationDetails.shapeName` })),
    field,
  );
  const { configOverride, overrideWords, mounts } = runConfigAndMounts(job, o, ctx);
  const effective = mergeConfig(job.jobConfigurationDetails, configOverride);
  checkEnvSize(effective.environmentVariables, 'jobConfigurationOverrideDetails.environmentVariables');
  const multiNode = compileMultiNode(nodes, job.jobConfigurationDetails, configOverride, overrideWords, (i, f) => ctx.resolveShape(i, f), field);
  for (const g of multiNode.groups) checkEnvSize(g.env, 'jobConfigurationOverrideDetails.environmentVariables');
  // One artifact and one Python environment for every node: the first group's variables name them (the job's,
  // the group's, the run's override; ADS puts JOB_RUN_ENTRYPOINT and CONDA_ENV_* in its one group).
  const first = multiNode.groups[0]!;
  const groupField = `${field}.jobNodeGroupConfigurationDetailsList[0].jobConfigurationDetails.environmentVariables`;
  const conda = ctx.resolveConda(first.env, groupField);
  if (!job.artifactFileName) throw invalid(field, 'a multi-node job runs its artifact on every node: upload one first');
  const infrastructure = job.jobInfrastructureConfigurationDetails;
  return {
    plan: {
      artifactFileName: job.artifactFileName,
      args: first.args,
      env: effective.environmentVariables,
      entrypoint: first.env.JOB_RUN_ENTRYPOINT ?? null,
      resources: first.resources,
      shapeName: first.shapeName,
      maximumRuntimeInMinutes: nodes.maximumRuntimeInMinutes ?? effective.maximumRuntimeInMinutes,
      mounts,
      blockStorageSizeInGBs: groups[0]!.jobInfrastructureConfigurationDetails!.blockStorageSizeInGBs ?? null,
      network: true,
      conda,
      container: null,
      multiNode,
    },
    configOverride,
    infrastructure,
    infrastructureOverride: null,
  };
}

/** The variables OCI puts in every run's environment, on top of the job's and the run's own. */
export interface RunIdentity {
  JOB_OCID: string;
  JOB_RUN_OCID: string;
  PROJECT_OCID: string;
  JOB_COMPARTMENT_OCID: string;
  JOB_RUN_COMPARTMENT_OCID: string;
  PROJECT_COMPARTMENT_OCID: string;
  TENANCY_OCID: string;
}

/** The plan of one run: the compiled plan with the run's identity variables over the job's and run's variables. */
export function withRunIdentity(plan: LaunchPlan, ids: RunIdentity): LaunchPlan {
  // A container job without an artifact has no file name to give.
  const artifact: Record<string, string> = plan.artifactFileName ? { JOB_ARTIFACT_FILE_NAME: plan.artifactFileName } : {};
  return { ...plan, env: { ...plan.env, ...ids, ...artifact } };
}
