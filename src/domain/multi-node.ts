import { invalid } from './errors.js';
import {
  checkInfrastructure,
  checkJobConfiguration,
  checkMaxRuntime,
  commandLineWords,
  DEFAULT_BLOCK_STORAGE_GB,
  type JobConfigurationDetails,
  type JobInfrastructureConfigurationDetails,
} from './job-config.js';
import type { Resources } from './resources.js';

/** OCI's JobNodeGroupConfigurationDetails, as the SDK sends it. */
export interface NodeGroupConfiguration {
  name: string;
  replicas?: number;
  minimumSuccessReplicas?: number;
  jobInfrastructureConfigurationDetails?: JobInfrastructureConfigurationDetails;
  jobConfigurationDetails?: JobConfigurationDetails;
  jobEnvironmentConfigurationDetails?: Record<string, unknown> | null;
}

/** OCI's MultiNodeJobNodeConfigurationDetails (jobNodeConfigurationDetails of a job, jobNodeType MULTI_NODE). */
export interface MultiNodeConfiguration {
  jobNodeType: 'MULTI_NODE';
  startupOrder?: 'IN_PARALLEL' | 'IN_ORDER';
  maximumRuntimeInMinutes?: number;
  jobNetworkConfiguration?: Record<string, unknown> | null;
  jobNodeGroupConfigurationDetailsList: NodeGroupConfiguration[];
}

/** One node group of a run's plan: every value final (each replica is one process on a node of its own). */
export interface NodeGroupPlan {
  name: string;
  replicas: number;
  minimumSuccessReplicas: number;
  shapeName: string;
  /** One replica's resources (one node's share). */
  resources: Resources;
  /** The group's variables: the job's, the group's, the run's override on top. */
  env: Record<string, string>;
  args: string[];
}

export interface MultiNodePlan {
  startupOrder: 'IN_PARALLEL' | 'IN_ORDER';
  groups: NodeGroupPlan[];
}

/** At most this many node groups, and replicas in all: a bound on the processes one run starts (one node each). */
export const MAX_NODE_GROUPS = 16;
export const MAX_REPLICAS = 64;
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * What only the server knows about a multi-node job: each group's shape as resources (refusing unknown shapes), and
 * whether the server can run the groups' shapes as one allocation across nodes (a Slurm cluster's partition): the
 * check throws a field-named error when it cannot (no cluster configured, a shape that stays local, two partitions).
 */
export interface MultiNodeContext {
  resolveShape(infra: JobInfrastructureConfigurationDetails, field: string): Resources;
  checkMultiNodeShapes(shapes: { shapeName: string; field: string }[], field: string): void;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a job's jobNodeConfigurationDetails, each rule a 400 naming the field, and returns it with OCI's defaults
 * written in (replicas 1, minimumSuccessReplicas = replicas, startupOrder IN_PARALLEL, block storage 50 GB), as it is
 * stored and returned.
 */
export function checkMultiNodeConfiguration(d: unknown, field: string, ctx: MultiNodeContext): MultiNodeConfiguration {
  if (!isObject(d)) throw invalid(field, 'must be an object');
  if (d.jobNodeType !== 'MULTI_NODE') throw invalid(`${field}.jobNodeType`, `must be MULTI_NODE, got ${JSON.stringify(d.jobNodeType)}`);
  const order = d.startupOrder ?? 'IN_PARALLEL';
  if (order !== 'IN_PARALLEL' && order !== 'IN_ORDER') {
    throw invalid(`${field}.startupOrder`, `must be IN_PARALLEL or IN_ORDER, got ${JSON.stringify(d.startupOrder)}`);
  }
  checkMaxRuntime(d.maximumRuntimeInMinutes as number | undefined, `${field}.maximumRuntimeInMinutes`);
  if (d.jobNetworkConfiguration != null && !isObject(d.jobNetworkConfiguration)) throw invalid(`${field}.jobNetworkConfiguration`, 'must be an object');
  const listField = `${field}.jobNodeGroupConfigurationDetailsList`;
  const list = d.jobNodeGroupConfigurationDetailsList;
  if (!Array.isArray(list) || list.length === 0) throw invalid(listField, 'must list at least one node group');
  if (list.length > MAX_NODE_GROUPS) throw invalid(listField, `may list at most ${MAX_NODE_GROUPS} node groups, got ${list.length}`);
  const names = new Set<string>();
  let total = 0;
  const shapes: { shapeName: string; field: string }[] = [];
  const groups = list.map((g: unknown, i): NodeGroupConfiguration => {
    const gf = `${listField}[${i}]`;
    if (!isObject(g)) throw invalid(gf, 'must be an object');
    if (typeof g.name !== 'string' || !GROUP_NAME.test(g.name)) {
      throw invalid(`${gf}.name`, 'is required: 1-63 letters, digits, _ . - (starting with a letter or digit)');
    }
    if (names.has(g.name)) throw invalid(`${gf}.name`, `'${g.name}' names two node groups`);
    names.add(g.name);
    const replicas = g.replicas ?? 1;
    if (!Number.isInteger(replicas) || (replicas as number) < 1) throw invalid(`${gf}.replicas`, `must be a whole number of at least 1, got ${JSON.stringify(g.replicas)}`);
    total += replicas as number;
    if (total > MAX_REPLICAS) throw invalid(`${gf}.replicas`, `the node groups have more than ${MAX_REPLICAS} replicas in all`);
    const min = g.minimumSuccessReplicas ?? replicas;
    if (!Number.isInteger(min) || (min as number) < 1 || (min as number) > (replicas as number)) {
      throw invalid(`${gf}.minimumSuccessReplicas`, `must be a whole number from 1 to replicas (${replicas}), got ${JSON.stringify(g.minimumSuccessReplicas)}`);
    }
    if (g.jobEnvironmentConfigurationDetails != null) {
      throw invalid(`${gf}.jobEnvironmentConfigurationDetails`, 'container images are not supported in multi-node jobs yet: the groups run the job artifact');
    }
    const infraField = `${gf}.jobInfrastructureConfigurationDetails`;
    if (!isObject(g.jobInfrastructureConfigurationDetails)) throw invalid(infraField, 'is required: each node group names its shape');
    const infra = { blockStorageSizeInGBs: DEFAULT_BLOCK_STORAGE_GB, ...g.jobInfrastructureConfigurationDetails } as JobInfrastructureConfigurationDetails;
    checkInfrastructure(infra, infraField, { multiNode: true });
    ctx.resolveShape(infra, infraField);
    shapes.push({ shapeName: infra.shapeName!, field: `${infraField}.shapeName` });
    let config: JobConfigurationDetails | undefined;
    if (g.jobConfigurationDetails != null) {
      if (!isObject(g.jobConfigurationDetails)) throw invalid(`${gf}.jobConfigurationDetails`, 'must be an object');
      config = g.jobConfigurationDetails as unknown as JobConfigurationDetails;
      checkJobConfiguration(config, `${gf}.jobConfigurationDetails`, { allowEmpty: true });
    }
    return {
      name: g.name,
      replicas: replicas as number,
      minimumSuccessReplicas: min as number,
      jobInfrastructureConfigurationDetails: infra,
      ...(config ? { jobConfigurationDetails: config } : {}),
    };
  });
  ctx.checkMultiNodeShapes(shapes, field);
  return {
    jobNodeType: 'MULTI_NODE',
    startupOrder: order,
    ...(d.maximumRuntimeInMinutes != null ? { maximumRuntimeInMinutes: d.maximumRuntimeInMinutes as number } : {}),
    ...(d.jobNetworkConfiguration != null ? { jobNetworkConfiguration: d.jobNetworkConfiguration as Record<string, unknown> } : {}),
    jobNodeGroupConfigurationDetailsList: groups,
  };
}

/**
 * A run's jobNodeConfigurationOverrideDetails applied to its job's (stored, checked) node configuration: the
 * override's startupOrder and maximumRuntimeInMinutes replace the job's; each group it lists must be one of the
 * job's (by name; groups it does not list stay as they are) and may set its replicas, minimumSuccessReplicas
 * (default: the job group's, or all replicas when the override sets replicas), shape
 * (jobInfrastructureConfigurationDetails) and jobConfigurationDetails (variables over the group's, arguments
 * instead of the group's). The result is checked by the job's own rules (the groups the override names under its
 * field names first), so a run cannot get what a job could not have (another partition, more replicas than 64).
 */
export function applyNodeOverride(job: MultiNodeConfiguration, o: unknown, field: string, ctx: MultiNodeContext): MultiNodeConfiguration {
  if (!isObject(o)) throw invalid(field, 'must be an object');
  if (o.jobNodeType !== 'MULTI_NODE') throw invalid(`${field}.jobNodeType`, `must be MULTI_NODE, got ${JSON.stringify(o.jobNodeType)}`);
  if (o.jobNetworkConfiguration != null) throw invalid(`${field}.jobNetworkConfiguration`, "a run cannot override its job's network");
  const listField = `${field}.jobNodeGroupConfigurationDetailsList`;
  const list = o.jobNodeGroupConfigurationDetailsList ?? [];
  if (!Array.isArray(list)) throw invalid(listField, 'must be a list of node groups');
  const jobGroups = job.jobNodeGroupConfigurationDetailsList;
  const byName = new Map(jobGroups.map((g) => [g.name, g]));
  const merged = new Map<string, Record<string, unknown>>();
  list.forEach((g: unknown, i) => {
    const gf = `${listField}[${i}]`;
    if (!isObject(g)) throw invalid(gf, 'must be an object');
    const base = typeof g.name === 'string' ? byName.get(g.name) : undefined;
    if (!base) throw invalid(`${gf}.name`, `must name a node group of the job (${[...byName.keys()].join(', ')}), got ${JSON.stringify(g.name)}`);
    if (merged.has(base.name)) throw invalid(`${gf}.name`, `'${base.name}' is overridden twice`);
    const config = g.jobConfigurationDetails;
    if (config != null && !isObject(config)) throw invalid(`${gf}.jobConfigurationDetails`, 'must be an object');
    const baseConfig = base.jobConfigurationDetails;
    merged.set(base.name, {
      name: base.name,
      replicas: g.replicas ?? base.replicas,
      minimumSuccessReplicas: g.minimumSuccessReplicas ?? (g.replicas != null ? g.replicas : base.minimumSuccessReplicas),
      jobInfrastructureConfigurationDetails: g.jobInfrastructureConfigurationDetails ?? base.jobInfrastructureConfigurationDetails,
      ...(g.jobEnvironmentConfigurationDetails != null ? { jobEnvironmentConfigurationDetails: g.jobEnvironmentConfigurationDetails } : {}),
      ...(config || baseConfig
        ? {
            jobConfigurationDetails: {
              ...(baseConfig ?? {}),
              ...(config ?? {}),
              jobType: (config?.jobType as string | undefined) ?? baseConfig?.jobType ?? 'DEFAULT',
              environmentVariables: { ...(baseConfig?.environmentVariables ?? {}), ...((config?.environmentVariables as Record<string, string> | undefined) ?? {}) },
            },
          }
        : {}),
    });
  });
  const top = {
    jobNodeType: 'MULTI_NODE',
    startupOrder: o.startupOrder ?? job.startupOrder,
    maximumRuntimeInMinutes: o.maximumRuntimeInMinutes ?? job.maximumRuntimeInMinutes,
  };
  // The overridden groups alone, so an error names the override's own field (its list's index).
  if (merged.size > 0) checkMultiNodeConfiguration({ ...top, jobNodeGroupConfigurationDetailsList: [...merged.values()] }, field, ctx);
  return checkMultiNodeConfiguration(
    { ...top, jobNetworkConfiguration: job.jobNetworkConfiguration, jobNodeGroupConfigurationDetailsList: jobGroups.map((g) => merged.get(g.name) ?? g) },
    field,
    ctx,
  );
}

/**
 * A run's node groups from its job's stored configuration: each group's variables are the job's, the group's, then
 * the run's override's (the run wins, as for a single-node job); its arguments the run's override's, else the
 * group's, else the job's.
 */
export function compileMultiNode(
  d: MultiNodeConfiguration,
  job: JobConfigurationDetails | null | undefined,
  run: JobConfigurationDetails | null,
  runWords: string[] | null,
  resolveShape: MultiNodeContext['resolveShape'],
  field: string,
): MultiNodePlan {
  const jobWords = commandLineWords(job?.commandLineArguments, 'jobConfigurationDetails.commandLineArguments');
  return {
    startupOrder: d.startupOrder ?? 'IN_PARALLEL',
    groups: d.jobNodeGroupConfigurationDetailsList.map((g, i) => {
      const gf = `${field}.jobNodeGroupConfigurationDetailsList[${i}]`;
      const infra = g.jobInfrastructureConfigurationDetails!;
      const groupWords = commandLineWords(g.jobConfigurationDetails?.commandLineArguments, `${gf}.jobConfigurationDetails.commandLineArguments`);
      return {
        name: g.name,
        replicas: g.replicas ?? 1,
        minimumSuccessReplicas: g.minimumSuccessReplicas ?? g.replicas ?? 1,
        shapeName: infra.shapeName!,
        resources: resolveShape(infra, `${gf}.jobInfrastructureConfigurationDetails`),
        env: { ...(job?.environmentVariables ?? {}), ...(g.jobConfigurationDetails?.environmentVariables ?? {}), ...(run?.environmentVariables ?? {}) },
        args: runWords ?? groupWords ?? jobWords ?? [],
      };
    }),
  };
}
