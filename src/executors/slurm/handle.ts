import path from 'node:path';
import type { ExecutorHandle } from '../executor.js';

/** The version of the handle format this executor writes and reads. */
export const SLURM_HANDLE_VERSION = 1;

/**
 * The Slurm executor's handle of a run: the Slurm job id and the cluster that gave it (ids are unique per cluster
 * only, and restart at 1 on a fresh one), and the run's directory in the shared directory.
 */
export interface SlurmHandle {
  v: typeof SLURM_HANDLE_VERSION;
  jobId: string;
  cluster: string;
  runDir: string;
}

export function encodeSlurmHandle(h: SlurmHandle): ExecutorHandle {
  return { ...h };
}

/**
 * Reads a stored handle back (data from the database or a file): its version must be this one, the job id a Slurm
 * job id, the run directory under `runsDir`. Throws, saying what is wrong, for anything else.
 */
export function decodeSlurmHandle(h: ExecutorHandle, runsDir: string): SlurmHandle {
  if (h.v !== SLURM_HANDLE_VERSION) {
    throw new Error(
      `the run's Slurm executor handle is of format version ${JSON.stringify(h.v)}, which this dsjobs does not read (it reads version ${SLURM_HANDLE_VERSION})`,
    );
  }
  if (typeof h.jobId !== 'string' || !/^[1-9][0-9]{0,9}$/.test(h.jobId)) throw new Error(`invalid Slurm executor handle: jobId is ${JSON.stringify(h.jobId)}`);
  if (typeof h.cluster !== 'string' || h.cluster === '') throw new Error(`invalid Slurm executor handle: cluster is ${JSON.stringify(h.cluster)}`);
  const dir = typeof h.runDir === 'string' ? path.resolve(h.runDir) : '';
  if (!dir.startsWith(path.resolve(runsDir) + path.sep)) {
    throw new Error(`invalid Slurm executor handle: run directory '${String(h.runDir)}' is not under ${runsDir}`);
  }
  return { v: SLURM_HANDLE_VERSION, jobId: h.jobId, cluster: h.cluster, runDir: dir };
}
