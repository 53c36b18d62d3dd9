import { accessSync, chmodSync, constants as fsc, existsSync, mkdirSync, promises as fsp, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LaunchPlan } from '../../domain/launch.js';
import { archiveKindOf, extractArchive, type ArchiveLimits } from '../../archive/archive.js';
import type { PrivateFile } from '../executor.js';
import type { LocalHandle } from './handle.js';
import { giveToRun, giveTreeToRun, type RunUser } from './run-user.js';
import type { Volume, VolumePool } from './volume.js';
import type { WarmSandbox, WarmSandboxes } from './warm-sandboxes.js';

/**
 * A run's space: the mounted block storage volume (or a plain directory inside its run directory) holding its
 * working directory (work/, where the artifact is copied or unpacked), home/ and tmp/, and the files only the run
 * may read; taken at its start, given back (recycled, discarded or removed) after it.
 */

/** The run's space, inside runDir, where it has no volume. */
const SPACE = 'space';
/** Inside the run's space: the files only the run may read (privateFiles: its resource principal). */
const IDENTITY_DIR = 'identity';

/** The run's directories inside its space. */
export function spaceDirs(space: string): { work: string; tmp: string; home: string } {
  return { work: path.join(space, 'work'), tmp: path.join(space, 'tmp'), home: path.join(space, 'home') };
}

/**
 * Makes the run's directories in its space (a warm sandbox's were made with it), given to the run user when the run
 * is sandboxed (`user`): what it writes is its own, its volume's root included (a recycled volume's are already).
 */
export function makeSpaceDirs(space: string, user: RunUser | null, made = false): void {
  const d = spaceDirs(space);
  const dirs = [d.work, d.tmp, d.home];
  if (!made) for (const dir of dirs) mkdirIfMissing(dir);
  if (user) giveToRun(user, [space, ...dirs]);
}

/**
 * `makeSpaceDirs` through the thread pool, for a space made ahead of any run (a warm sandbox's volume): a mkdir on
 * this host's disk blocked the event loop for up to 8.6 ms (benchmark 10's burst, loaded host).
 */
export async function makeSpaceDirsAsync(space: string, user: RunUser | null): Promise<void> {
  const d = spaceDirs(space);
  const dirs = [d.work, d.tmp, d.home];
  await Promise.all(dirs.map((dir) => fsp.mkdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  })));
  if (user?.uid != null) for (const p of [space, ...dirs]) await fsp.lchown(p, user.uid, user.gid!);
}

/** Whether a directory's file system takes writes (access(2) answers EROFS for a read-only one). */
function writable(dir: string): boolean {
  try {
    accessSync(dir, fsc.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** A run's space: its volume (with the warm sandbox set up on it, if any) or the plain directory in runDir. */
export interface TakenSpace {
  space: string;
  volume: Volume | null;
  warm: WarmSandbox | null;
}

/**
 * Takes a run's space: a volume of its block storage size from the pool when the host has volumes (with a warm
 * sandbox on it when the run's sandbox would be the standard one), else a directory in its run directory.
 */
export async function takeSpace(
  runDir: string,
  req: { plan: LaunchPlan; pythonEnv: string | null },
  volumes: VolumePool | null,
  warm: WarmSandboxes | null,
): Promise<TakenSpace> {
  const size = req.plan.blockStorageSizeInGBs;
  if (!size || !volumes) {
    const space = path.join(runDir, SPACE);
    mkdirIfMissing(space);
    return { space, volume: null, warm: null };
  }
  // A run whose sandbox would be the standard one takes a volume with a warm sandbox, any other run one without.
  const standard = warm !== null && req.plan.mounts.length === 0 && !req.pythonEnv && req.plan.resources.gpus <= 0 && req.plan.network;
  let volume: Volume;
  for (let tries = 1; ; tries++) {
    volume = await volumes.take(size * 1024 ** 3, warm ? (v) => warm.has(v.mountPoint) === standard : undefined);
    if (writable(volume.mountPoint)) break;
    // ext4 turns read-only after a write error, e.g. when the data disk under its sparse image filled up: such
    // a volume is never handed out again (the runs it went to failed with EROFS until a restart).
    warm?.take(volume.mountPoint, false);
    await volumes.discard(volume).catch(() => {});
    if (tries === 3) throw new Error("the run's block storage volume is read-only (is the data disk full?)");
  }
  let sandbox: WarmSandbox | null = null;
  if (warm) {
    sandbox = warm.take(volume.mountPoint, standard);
    // Another free volume takes the place of the one used.
    for (const v of volumes.freeVolumes()) warm.offer(v);
  }
  return { space: volume.mountPoint, volume, warm: sandbox };
}

/**
 * Puts the artifact in the run's working directory and answers the file to run: an archive is unpacked (its
 * entrypoint must be a file inside it), any other file copied. Owned by the run user when sandboxed (`user`).
 */
export async function placeArtifact(
  req: { plan: LaunchPlan; artifactPath: string },
  work: string,
  limits: ArchiveLimits,
  user: RunUser | null,
): Promise<string> {
  const kind = archiveKindOf(req.plan.artifactFileName);
  if (!kind) {
    const target = path.join(work, path.basename(req.plan.artifactFileName));
    // FICLONE: a copy-on-write clone where the file system can, a plain copy elsewhere. A copy (not a link) so
    // a run that rewrites its own script cannot change the job's immutable artifact.
    // Through the thread pool: the copy writes the file's data (up to 2.9 ms on the event loop, loaded host).
    await fsp.copyFile(req.artifactPath, target, fsc.COPYFILE_FICLONE);
    chmodSync(target, 0o755);
    if (user) giveToRun(user, [target]);
    return target;
  }
  if (!req.plan.entrypoint) {
    throw new Error(`JOB_RUN_ENTRYPOINT must name the file to run inside the archive ${req.plan.artifactFileName}`);
  }
  // A leftover from an attempt that died before the supervisor started: start clean.
  await fsp.rm(work, { recursive: true, force: true });
  await fsp.mkdir(work, { recursive: true });
  await extractArchive(req.artifactPath, kind, work, limits);
  if (user) giveTreeToRun(user, work);
  const resolved = path.resolve(work, req.plan.entrypoint);
  if (!resolved.startsWith(work + path.sep)) {
    throw new Error(`JOB_RUN_ENTRYPOINT '${req.plan.entrypoint}' points outside the unpacked artifact`);
  }
  const st = await fsp.lstat(resolved).catch(() => null);
  if (!st || !st.isFile()) {
    throw new Error(`JOB_RUN_ENTRYPOINT '${req.plan.entrypoint}' is not a file in the artifact ${req.plan.artifactFileName}`);
  }
  return resolved;
}

/**
 * Writes a run's private files (its resource principal's token and key) to `<space>/identity/`: a directory of mode
 * 0700 and files of mode 0600, owned by the run user when the run is sandboxed (`user`; other runs are that user too,
 * but each one's sandbox hides the data directory this lives under), else by the server's user. The space is bound
 * at its own path in the sandbox, so the paths returned (the variables naming them) hold in the run. Created
 * exclusively: a name already there (a symbolic link planted in a reused space) is removed first, never followed.
 */
export function writePrivateFiles(space: string, files: PrivateFile[], user: RunUser | null): Record<string, string> {
  const dir = path.join(space, IDENTITY_DIR);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  const env: Record<string, string> = {};
  for (const f of files) {
    if (f.name.includes('/') || f.name.startsWith('.')) throw new Error(`a private file's name must be a plain name: ${f.name}`);
    const file = path.join(dir, f.name);
    writeFileSync(file, f.content, { mode: 0o600, flag: 'wx' });
    if (user) giveToRun(user, [file]);
    env[f.env] = file;
  }
  if (user) giveToRun(user, [dir]);
  return env;
}

/**
 * Gives an ended run's space back: its credentials go at once; its volume is recycled for the next runs (or, to keep
 * work directories, unmounted with its image kept); a plain directory is removed unless work directories are kept.
 */
export async function releaseSpace(handle: LocalHandle, volumes: VolumePool, keepWorkDirs: boolean): Promise<void> {
  // The run's credentials go whatever is kept of its space (keepWorkDirs): they are worthless once it ended, but
  // nothing needs them either.
  if (handle.space) await fsp.rm(path.join(handle.space, IDENTITY_DIR), { recursive: true, force: true }).catch(() => {});
  if (handle.volume && volumes.owns(handle.volume.mountPoint)) {
    if (keepWorkDirs) {
      await volumes.discard(handle.volume, { keepImage: true });
    } else {
      // Up to 16 emptied volumes per size wait for the next runs: a burst of short runs stops formatting.
      await volumes.recycle(handle.volume, 16);
    }
  } else if (!keepWorkDirs) {
    // Only ever the run's own directory: a handle is data.
    const space = handle.space && path.resolve(handle.space).startsWith(handle.runDir + path.sep) ? handle.space : path.join(handle.runDir, 'work');
    await fsp.rm(space, { recursive: true, force: true });
    await fsp.rm(path.join(handle.runDir, SPACE), { recursive: true, force: true });
  }
}

/**
 * The run's working directory on this host, where its handle's space is one this executor gave it (its run
 * directory's, or a volume of the pool): a handle is data, so nothing else is ever read through it.
 */
export function runWorkDir(handle: LocalHandle, volumes: VolumePool): string | null {
  if (!handle.space) return path.join(handle.runDir, 'work');
  const space = path.resolve(handle.space);
  const onVolume = handle.volume != null && volumes.owns(handle.volume.mountPoint) && space === path.resolve(handle.volume.mountPoint);
  return onVolume || space.startsWith(handle.runDir + path.sep) ? spaceDirs(space).work : null;
}

/** Removes what an interrupted start may have made of a run's space in its run directory. */
export async function discardSpace(runDir: string): Promise<void> {
  await fsp.rm(path.join(runDir, SPACE), { recursive: true, force: true });
  await fsp.rm(path.join(runDir, 'work'), { recursive: true, force: true });
}

export function mkdirIfMissing(dir: string): void {
  // A recycled volume keeps its run directories: a stat is cheaper than the exception of mkdir's EEXIST.
  if (existsSync(dir)) return;
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}
