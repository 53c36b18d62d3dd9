import path from 'node:path';
import type { ExecutorHandle } from '../executor.js';

/** The version of the handle format the Docker executor writes (and the only one it reads). */
export const DOCKER_HANDLE_VERSION = 1;

/** The Docker executor's handle of a run, stored with the run. */
export interface DockerHandle {
  v: typeof DOCKER_HANDLE_VERSION;
  runDir: string;
  /** Docker's id of the run's container (64 hex digits). */
  containerId: string;
  /** The block storage volume holding the run's working directory and /tmp; absent: a directory in runDir. */
  volume?: { image: string; mountPoint: string };
  /** The host's GPUs (UUIDs) the run holds; absent: none (and in handles written before containers had GPUs). */
  gpus?: string[];
}

export function encodeDockerHandle(h: DockerHandle): ExecutorHandle {
  return { v: h.v, runDir: h.runDir, containerId: h.containerId, ...(h.volume ? { volume: h.volume } : {}), ...(h.gpus?.length ? { gpus: h.gpus } : {}) };
}

/**
 * Reads a stored handle back: data from the database, so its version must be this one, its run directory under
 * `runsDir` (the only place the executor writes) and its container id a Docker id. Throws saying what is wrong.
 */
export function decodeDockerHandle(h: ExecutorHandle, runsDir: string): DockerHandle {
  if (h.v !== DOCKER_HANDLE_VERSION) {
    throw new Error(
      `the run's docker executor handle is of format version ${JSON.stringify(h.v ?? null)}, which this dsjobs does not read (it reads version ${DOCKER_HANDLE_VERSION})`,
    );
  }
  const dir = typeof h.runDir === 'string' ? path.resolve(h.runDir) : '';
  if (!dir.startsWith(path.resolve(runsDir) + path.sep)) {
    throw new Error(`invalid docker executor handle: run directory '${String(h.runDir)}' is not under ${runsDir}`);
  }
  if (typeof h.containerId !== 'string' || !/^[0-9a-f]{64}$/.test(h.containerId)) {
    throw new Error(`invalid docker executor handle: containerId is ${JSON.stringify(h.containerId) ?? 'missing'}`);
  }
  const vol = h.volume as { image?: unknown; mountPoint?: unknown } | undefined;
  if (vol !== undefined && !(typeof vol === 'object' && vol !== null && typeof vol.image === 'string' && typeof vol.mountPoint === 'string')) {
    throw new Error(`invalid docker executor handle: volume is ${JSON.stringify(h.volume)}`);
  }
  if (h.gpus !== undefined && !(Array.isArray(h.gpus) && h.gpus.every((g) => typeof g === 'string' && /^[A-Za-z0-9-]+$/.test(g)))) {
    throw new Error(`invalid docker executor handle: gpus is ${JSON.stringify(h.gpus)}`);
  }
  return {
    v: DOCKER_HANDLE_VERSION,
    runDir: dir,
    containerId: h.containerId,
    ...(vol ? { volume: { image: vol.image as string, mountPoint: vol.mountPoint as string } } : {}),
    ...(Array.isArray(h.gpus) && h.gpus.length > 0 ? { gpus: h.gpus as string[] } : {}),
  };
}
