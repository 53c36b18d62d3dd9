import { invalid } from './errors.js';
import { checkArgs, checkEnv, checkEnvSize } from './env-policy.js';
import { checkOutputVariables } from './output-uri.js';
import { ShellWordsError, splitShellWords } from './shell-words.js';

/** Wire shapes of the job's configuration (OCI DefaultJobConfigurationDetails and infrastructure details). */
export interface JobConfigurationDetails {
  jobType: 'DEFAULT' | 'EMPTY';
  environmentVariables?: Record<string, string> | null;
  commandLineArguments?: string | null;
  maximumRuntimeInMinutes?: number | null;
  startupProbeDetails?: unknown;
}

export interface JobInfrastructureConfigurationDetails {
  jobInfrastructureType: 'STANDALONE' | 'ME_STANDALONE' | 'MULTI_NODE' | 'EMPTY' | 'MANAGED_COMPUTE_CLUSTER';
  shapeName?: string;
  subnetId?: string | null;
  blockStorageSizeInGBs?: number;
  jobShapeConfigDetails?: { ocpus?: number; memoryInGBs?: number; cpuBaseline?: string } | null;
  /** dsjobs: NONE runs the job without a network (loopback only). OCI's own networking fields are unchanged. */
  networking?: 'DEFAULT' | 'NONE' | null;
}

/** 30 days: the ceiling on any run's maximum runtime, and the default when none is set. */
export const MAX_RUNTIME_MINUTES = 30 * 24 * 60;
/** OCI's default block storage size, which a job gets unless it asks for another (also its smallest). */
export const DEFAULT_BLOCK_STORAGE_GB = 50;
export const MIN_BLOCK_STORAGE_GB = 50;
export const MAX_BLOCK_STORAGE_GB = 1024;

/**
 * Checks a job's configuration or a run's override. Returns the words of its commandLineArguments (splitting them is
 * how they are checked) when it sets them, so a run's creator need not split them a second time; null when not set.
 */
export function checkJobConfiguration(c: JobConfigurationDetails | null | undefined, field: string, o: { allowEmpty?: boolean } = {}): string[] | null {
  if (c == null) return null;
  // EMPTY is OCI's placeholder of a multi-node job, whose node groups carry the configuration.
  if (c.jobType !== 'DEFAULT' && !(o.allowEmpty && c.jobType === 'EMPTY')) {
    throw invalid(
      `${field}.jobType`,
      o.allowEmpty ? `must be DEFAULT or EMPTY, got '${c.jobType}'` : `'${c.jobType}' is not supported; use DEFAULT (EMPTY is for multi-node jobs, with jobNodeConfigurationDetails)`,
    );
  }
  checkEnv(c.environmentVariables, `${field}.environmentVariables`);
  if (c.environmentVariables) checkEnvSize(c.environmentVariables, `${field}.environmentVariables`);
  checkOutputVariables(c.environmentVariables, `${field}.environmentVariables`);
  const words = commandLineWords(c.commandLineArguments, `${field}.commandLineArguments`);
  checkMaxRuntime(c.maximumRuntimeInMinutes, `${field}.maximumRuntimeInMinutes`);
  return words;
}

/** commandLineArguments (one string on the wire) as the words the artifact gets; null when not set. */
export function commandLineWords(args: string | null | undefined, field: string): string[] | null {
  if (args == null) return null;
  checkArgs(args, field);
  try {
    return splitShellWords(args);
  } catch (e) {
    if (e instanceof ShellWordsError) throw invalid(field, e.message);
    throw e;
  }
}

/**
 * OCI's field is whole minutes; dsjobs also accepts fractions (0.5 = 30 s), which OCI's SDKs never send, so short
 * limits can be tested and used for quick tasks.
 */
export function checkMaxRuntime(m: number | null | undefined, field: string): void {
  if (m == null) return;
  if (typeof m !== 'number' || !Number.isFinite(m) || m <= 0) throw invalid(field, 'must be a positive number of minutes');
  if (m > MAX_RUNTIME_MINUTES) throw invalid(field, `must be at most ${MAX_RUNTIME_MINUTES} minutes (30 days), got ${m}`);
}

/** `multiNode`: the infrastructure of a multi-node job's node group, whose type is MULTI_NODE (OCI's). */
export function checkInfrastructure(i: JobInfrastructureConfigurationDetails, field: string, o: { multiNode?: boolean } = {}): void {
  const t = i.jobInfrastructureType;
  if (o.multiNode) {
    if (t !== 'MULTI_NODE') throw invalid(`${field}.jobInfrastructureType`, `must be MULTI_NODE in a node group, got '${t}'`);
  } else if (t !== 'STANDALONE' && t !== 'ME_STANDALONE') {
    throw invalid(
      `${field}.jobInfrastructureType`,
      t === 'MULTI_NODE' || t === 'EMPTY'
        ? `'${t}' is not supported here: it belongs to multi-node jobs (jobNodeConfigurationDetails); use ME_STANDALONE or STANDALONE`
        : `'${t}' is not supported yet; use ME_STANDALONE or STANDALONE`,
    );
  }
  if (!i.shapeName) throw invalid(`${field}.shapeName`, 'is required');
  if (t === 'STANDALONE' && !i.subnetId) {
    throw invalid(`${field}.subnetId`, "is required with jobInfrastructureType STANDALONE (the job's own subnet); ME_STANDALONE uses the service's network");
  }
  const b = i.blockStorageSizeInGBs;
  if (b !== undefined && (!Number.isInteger(b) || b < MIN_BLOCK_STORAGE_GB || b > MAX_BLOCK_STORAGE_GB)) {
    throw invalid(
      `${field}.blockStorageSizeInGBs`,
      `must be a whole number between ${MIN_BLOCK_STORAGE_GB} and ${MAX_BLOCK_STORAGE_GB}, got ${b}`,
    );
  }
}

export interface EffectiveConfig {
  environmentVariables: Record<string, string>;
  commandLineArguments: string;
  maximumRuntimeInMinutes: number;
}

/** Job configuration with a run's overrides applied: env merged (the run wins), arguments and runtime replaced. */
export function mergeConfig(
  job: JobConfigurationDetails | null | undefined,
  run: JobConfigurationDetails | null | undefined,
): EffectiveConfig {
  const env = { ...(job?.environmentVariables ?? {}), ...(run?.environmentVariables ?? {}) };
  return {
    environmentVariables: env,
    commandLineArguments: run?.commandLineArguments ?? job?.commandLineArguments ?? '',
    maximumRuntimeInMinutes: run?.maximumRuntimeInMinutes ?? job?.maximumRuntimeInMinutes ?? MAX_RUNTIME_MINUTES,
  };
}
