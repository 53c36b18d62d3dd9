import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExitStatus } from '../executor.js';
import { readUsage, type RunCgroups } from './cgroups.js';
import { spaceUsage } from './volume.js';

/**
 * What a run leaves in its directory about how it ended: the supervisor's child.pid (the run's process group) and
 * exit.status, and the mark of a kill for the open files of all runs; and from those, with its cgroup and volume,
 * the exit status the lifecycle decides the outcome from.
 */

const EXIT_FILE = 'exit.status';
const CHILD_PID_FILE = 'child.pid';
/** Written in a run's directory before it is killed for the open files of all runs: its outcome then says why. */
const OPEN_FILES_KILL_FILE = 'killed.open-files';
/** A run that failed with less than this left on its volume ran out of block storage. */
const VOLUME_FULL_BYTES = 1024 * 1024;

const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([name, n]) => [n as number, name]));

/** "N\n" (exit code) or "signal N\n"; anything else, or a status cut short before its newline, is unknown. */
export function parseExitStatus(text: string): ExitStatus {
  if (!text.endsWith('\n')) return { exitCode: null, signal: null };
  const m = /^(?:(\d+)|signal (\d+))\n$/.exec(text);
  if (!m) return { exitCode: null, signal: null };
  if (m[1] !== undefined) return { exitCode: Number(m[1]), signal: null };
  const n = Number(m[2]);
  return { exitCode: null, signal: SIGNAL_NAMES.get(n) ?? `signal ${n}` };
}

/** The run's process group id, once its supervisor has recorded it. */
export function readChildPid(runDir: string): number | null {
  try {
    const n = Number(readFileSync(path.join(runDir, CHILD_PID_FILE), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Marks the run as killed for holding the most open files (`detail`: its count against the ceiling). */
export function markOpenFilesKill(runDir: string, detail: string): void {
  writeFileSync(path.join(runDir, OPEN_FILES_KILL_FILE), `${detail}\n`);
}

/** The recorded exit status, and whether the run ran out of memory, open files or block storage on the way. */
export function exitStatusOf(run: { runDir: string; cgroups: RunCgroups | null; volumeMountPoint: string | null }): ExitStatus {
  let status: ExitStatus;
  try {
    status = parseExitStatus(readFileSync(path.join(run.runDir, EXIT_FILE), 'utf8'));
  } catch {
    status = { exitCode: null, signal: null };
  }
  if (status.exitCode === 0) return status;
  if (run.cgroups && readUsage(run.cgroups).oomKills > 0) return { ...status, exhausted: 'memory' };
  if (existsSync(path.join(run.runDir, OPEN_FILES_KILL_FILE))) return { ...status, exhausted: 'openFiles' };
  if (run.volumeMountPoint) {
    const u = spaceUsage(run.volumeMountPoint);
    if (u && u.availableBytes < VOLUME_FULL_BYTES) return { ...status, exhausted: 'blockStorage' };
  }
  return status;
}
