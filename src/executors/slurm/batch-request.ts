import type { LaunchPlan } from '../../domain/launch.js';
import type { Resources } from '../../domain/resources.js';

/** How one shape becomes a Slurm request (server config `slurm.shapes`). */
export interface SlurmShape {
  /** The catalog shape this entry sends to Slurm. */
  shape: string;
  /** The partition to submit to; absent: the cluster's default partition. */
  partition?: string;
  /** Slurm CPUs per OCPU of the shape (OCI counts an x86 OCPU as two vCPUs; this machine's CPUs are cores). */
  cpusPerOcpu: number;
  /** The generic resource the shape's GPUs are asked as (`--gres=<gres>:<n>`). */
  gres: string;
  /** Further sbatch options, word by word (e.g. ["--qos=ml", "--constraint=a100"]). */
  extraArgs: string[];
}

/**
 * The sbatch options of a run, from its plan and its shape's entry: one node, the shape's CPUs (rounded up: Slurm
 * hands out whole CPUs), memory in MB (rounded up), GPUs as gres, the partition, and a time limit. Slurm's time
 * limit is minutes; it is set one minute past the run's maximum runtime plus the grace period, so dsjobs' own
 * deadline (which says "maximum runtime" in the outcome) acts first and Slurm's is the backstop for when no server
 * is up.
 */
export function sbatchOptions(plan: LaunchPlan, shape: SlurmShape, runId: string, o: { graceMs: number; runDir: string }): string[] {
  return batchOptions(plan, shape, runId, o, 1, slurmResources(plan.resources, shape));
}

/** A share of a node as Slurm asks for it: whole CPUs and MB, both rounded up (Slurm hands out whole CPUs). */
export function slurmResources(r: Resources, shape: SlurmShape): { cpus: number; memMb: number; gpus: number } {
  return {
    cpus: Math.max(1, Math.ceil(r.cpus * shape.cpusPerOcpu - 1e-9)),
    memMb: Math.max(1, Math.ceil(r.memoryInGBs * 1024 - 1e-9)),
    gpus: r.gpus,
  };
}

/**
 * The sbatch options of a multi-node run: ONE job of as many nodes as the groups have replicas, one task per node,
 * each node as large as the largest group's shape (a job's nodes are asked alike; each replica's srun step then
 * takes its own group's share of its node). All groups' shapes go to one partition (checked at job create).
 */
export function sbatchMultiNodeOptions(
  plan: LaunchPlan,
  shape: SlurmShape,
  perNode: { cpus: number; memMb: number; gpus: number },
  runId: string,
  o: { graceMs: number; runDir: string },
): string[] {
  const nodes = plan.multiNode!.groups.reduce((n, g) => n + g.replicas, 0);
  return batchOptions(plan, shape, runId, o, nodes, perNode);
}

function batchOptions(
  plan: LaunchPlan,
  shape: SlurmShape,
  runId: string,
  o: { graceMs: number; runDir: string },
  nodes: number,
  r: { cpus: number; memMb: number; gpus: number },
): string[] {
  const minutes = Math.ceil(plan.maximumRuntimeInMinutes + o.graceMs / 60_000) + 1;
  const args = [
    '--parsable',
    `--job-name=${runId}`,
    `--nodes=${nodes}`,
    ...(nodes === 1 ? ['--ntasks=1'] : [`--ntasks=${nodes}`, '--ntasks-per-node=1']),
    `--cpus-per-task=${r.cpus}`,
    `--mem=${r.memMb}M`,
    `--time=${minutes}`,
    // The supervisor's own messages; the run's output goes to stdout.log and stderr.log beside it.
    `--output=${o.runDir}/slurm.out`,
    `--chdir=${o.runDir}`,
  ];
  if (shape.partition) args.push(`--partition=${shape.partition}`);
  if (r.gpus > 0) args.push(`--gres=${shape.gres}:${r.gpus}`);
  return [...args, ...shape.extraArgs];
}

/** Slurm's job states a job may be in while dsjobs waits for it (squeue's %T). */
export type SlurmJobState = 'PENDING' | 'CONFIGURING' | 'RUNNING' | 'COMPLETING' | 'SUSPENDED' | string;

/** One line of `squeue -h -t all -o '%i|%T|%r|%j'`. */
export interface QueueEntry {
  jobId: string;
  state: SlurmJobState;
  reason: string;
  name: string;
}

export function parseQueue(text: string): QueueEntry[] {
  const out: QueueEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\|([A-Z_]+)\|([^|]*)\|(.*)$/.exec(line.trim());
    if (m) out.push({ jobId: m[1]!, state: m[2]!, reason: m[3]!, name: m[4]! });
  }
  return out;
}

/** States in which the job has not ended (squeue -t all also lists jobs that ended a moment ago). */
export const LIVE_STATES = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'REQUEUED', 'RESIZING', 'SIGNALING', 'STAGE_OUT', 'STOPPED']);
