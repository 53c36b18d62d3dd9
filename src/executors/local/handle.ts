import path from 'node:path';
import type { ExecutorHandle } from '../executor.js';
import type { RunCgroups } from './cgroups.js';

/**
 * The version of the handle format this executor writes. It reads this version and handles without `v`: those were
 * written before handles had versions and have this version's fields.
 */
export const LOCAL_HANDLE_VERSION = 1;

/** The local executor's handle of a run (stored with the run and in its directory's handle.json). */
export interface LocalHandle {
  v: typeof LOCAL_HANDLE_VERSION;
  runDir: string;
  /** The supervisor: its pid and start time identify it across restarts. */
  pid: number;
  startTime: number;
  /** The run's space: work/, home/, tmp/ (absent in handles written before spaces existed: runDir/work). */
  space?: string;
  sandboxed?: boolean;
  cgroups?: RunCgroups | null;
  /** The loop-mounted block storage volume, if the run has one. */
  volume?: { image: string; mountPoint: string } | null;
  gpus?: string[];
}

/** The handle as the service stores it. */
export function encodeLocalHandle(h: LocalHandle): ExecutorHandle {
  return h as unknown as ExecutorHandle;
}

const isCount = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Reads a stored handle back. It is data from the database or a file: its version must be one this executor knows,
 * its run directory under `runsDir` (the only place it ever acts on), and each field of the type it has. Throws,
 * saying what is wrong, for anything else.
 */
export function decodeLocalHandle(h: ExecutorHandle, runsDir: string): LocalHandle {
  if (h.v !== undefined && h.v !== LOCAL_HANDLE_VERSION) {
    throw new Error(
      `the run's local executor handle is of format version ${JSON.stringify(h.v)}, which this dsjobs does not read (it reads version ${LOCAL_HANDLE_VERSION}; a newer dsjobs wrote it?)`,
    );
  }
  const dir = typeof h.runDir === 'string' ? path.resolve(h.runDir) : '';
  if (!dir.startsWith(path.resolve(runsDir) + path.sep)) {
    throw new Error(`invalid local executor handle: run directory '${String(h.runDir)}' is not under ${runsDir}`);
  }
  const wrong = (field: string) => new Error(`invalid local executor handle: ${field} is ${JSON.stringify(h[field]) ?? 'missing'}`);
  if (!isCount(h.pid)) throw wrong('pid');
  if (!isCount(h.startTime)) throw wrong('startTime');
  if (h.space !== undefined && typeof h.space !== 'string') throw wrong('space');
  if (h.sandboxed !== undefined && typeof h.sandboxed !== 'boolean') throw wrong('sandboxed');
  if (h.cgroups != null && !(isObject(h.cgroups) && isObject(h.cgroups.dirs))) throw wrong('cgroups');
  const v = h.volume;
  if (v != null && !(isObject(v) && typeof v.image === 'string' && typeof v.mountPoint === 'string')) throw wrong('volume');
  if (h.gpus !== undefined && !(Array.isArray(h.gpus) && h.gpus.every((g) => typeof g === 'string'))) throw wrong('gpus');
  return { ...(h as unknown as LocalHandle), v: LOCAL_HANDLE_VERSION };
}
