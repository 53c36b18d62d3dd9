import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, ftruncateSync, rmSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { which } from './which.js';

const run = promisify(execFile);

/**
 * Block storage: each run's space is an ext4 file system of the run's blockStorageSizeInGBs, in a sparse image
 * file mounted through a loop device. Writing past it fails inside the job with ENOSPC ("No space left on
 * device") and nothing spills onto the server's disk. Sparse: a 50 GB volume costs what the run writes, and
 * formatting one took ~30 ms here (lazy inode tables, no journal: the volume is scratch space that does not outlive
 * the run, like OCI's). Needs root (mount) and the loop driver; elsewhere the space is a plain directory and the
 * size is not enforced, which the server says at start.
 */
export interface VolumeHost {
  available: boolean;
  note: string | null;
}

interface Tools {
  mkfs: string;
  mount: string;
  umount: string;
}

let tools: Tools | null = null;

function findTools(): Tools | null {
  const env = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;
  const mkfs = which('mkfs.ext4', env);
  const mount = which('mount', env);
  const umount = which('umount', env);
  return mkfs && mount && umount ? { mkfs, mount, umount } : null;
}

/** Tries the whole cycle once on a tiny image: format, mount, unmount. */
export async function detectVolumes(enabled: boolean, scratchDir: string): Promise<VolumeHost> {
  if (!enabled) return { available: false, note: 'block storage volumes are turned off in the server config (blockStorage: "directory")' };
  tools = findTools();
  if (!tools) return { available: false, note: 'mkfs.ext4 or mount was not found: block storage sizes are not enforced' };
  mkdirSync(scratchDir, { recursive: true });
  const dir = mkdtempSync(path.join(scratchDir, 'volume-probe-'));
  const img = path.join(dir, 'probe.img');
  const mnt = path.join(dir, 'mnt');
  try {
    await createVolume(img, mnt, 16 * 1024 * 1024);
    await removeVolume(img, mnt);
    return { available: true, note: null };
  } catch (e) {
    return { available: false, note: `loop-mounted volumes cannot be made here (${firstLine(e)}): block storage sizes are not enforced` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function firstLine(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return String(err.stderr || err.message || e).trim().split('\n')[0];
}

/** Makes a sparse image of `bytes`, formats it and mounts it at `mountPoint` (created if missing). */
export async function createVolume(img: string, mountPoint: string, bytes: number): Promise<void> {
  const t = tools ?? (tools = findTools());
  if (!t) throw new Error('mkfs.ext4 or mount was not found');
  const fd = openSync(img, 'w', 0o600);
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
  mkdirSync(mountPoint, { recursive: true });
  try {
    await run(t.mkfs, ['-q', '-F', '-m', '0', '-O', '^has_journal', '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard', img]);
    await run(t.mount, ['-o', 'loop,nosuid,nodev', img, mountPoint]);
  } catch (e) {
    rmSync(img, { force: true });
    throw new Error(`could not create the run's block storage volume: ${firstLine(e)}`);
  }
}

/**
 * Unmounts (lazily if something still holds it) and deletes the image unless asked to keep it. Never throws for
 * what is already gone.
 */
export async function removeVolume(img: string, mountPoint: string, opts: { keepImage?: boolean } = {}): Promise<void> {
  const t = tools ?? (tools = findTools());
  if (t) {
    try {
      await run(t.umount, [mountPoint]);
    } catch (e) {
      const msg = firstLine(e);
      if (!/not mounted|no mount point|not found/i.test(msg)) {
        await run(t.umount, ['-l', mountPoint]).catch(() => {});
      }
    }
  }
  if (!opts.keepImage) rmSync(img, { force: true });
}

export interface SpaceUsage {
  totalBytes: number;
  usedBytes: number;
  availableBytes: number;
}

export function spaceUsage(dir: string): SpaceUsage | null {
  try {
    const s = statfsSync(dir);
    const total = s.blocks * s.bsize;
    return { totalBytes: total, usedBytes: (s.blocks - s.bfree) * s.bsize, availableBytes: s.bavail * s.bsize };
  } catch {
    return null;
  }
}
