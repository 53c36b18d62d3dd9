/**
 * The block storage pool at shutdown: a volume whose run ended just before the server stopped is being emptied
 * (recycled) while close() unmounts the free volumes. It must not join the free list after close() went through it
 * (it stayed mounted under the data directory: seen as warm-sandboxes.test.ts failing under load, with pool volumes
 * mounted after a SIGTERM). And runs that end together: each volume counts against maxFree from the moment it is
 * chosen to be kept, not once it is emptied (18 runs ending together all kept their volumes, past the 16 kept free:
 * seen as volume-propagation.test.ts failing under load). Real loop-mounted ext4 volumes; root only (mount needs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { VolumePool } from '../../src/executors/local/volume.js';

const root = process.getuid?.() === 0;

const mountedUnder = (dir: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(`${dir}/`));

/** A run's leftovers in a volume: `dirs` directories of `files` small files under work/. */
function leaveTree(mountPoint: string, dirs: number, files: number): void {
  for (let i = 0; i < dirs; i++) {
    const d = path.join(mountPoint, 'work', `d${i}`);
    mkdirSync(d, { recursive: true });
    for (let j = 0; j < files; j++) writeFileSync(path.join(d, `f${j}`), 'x');
  }
}

/** Unmounts what is left under `volumes` (and the bind mount of `volumes` itself), then removes `dir`. */
function removeAll(dir: string, volumes: string): void {
  for (const p of [...mountedUnder(volumes).reverse(), volumes]) {
    try {
      execFileSync('umount', ['-l', p], { stdio: 'ignore' });
    } catch {
      /* not mounted */
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

test('a volume being recycled when the pool closes is unmounted, not put back', { skip: !root && !process.env.CI && 'needs root (mount)' }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-pool-'));
  const volumes = path.join(dir, 'volumes');
  const pool = new VolumePool(volumes, 0);
  try {
    await pool.clean();
    const v = await pool.take(64 * 1024 ** 2);
    // What a run left: a tree big enough that emptying it takes several turns of the event loop.
    leaveTree(v.mountPoint, 40, 25);
    const recycled = pool.recycle(v, 16);
    await pool.close();
    await recycled;
    assert.deepEqual(mountedUnder(volumes), [], 'a volume is left mounted after the pool closed');
  } finally {
    // What a failure left (the volumes directory is a bind mount of its own while the pool is open).
    removeAll(dir, volumes);
  }
});

test('volumes of runs that end together are kept up to maxFree, the rest unmounted', { skip: !root && !process.env.CI && 'needs root (mount)' }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-pool-'));
  const volumes = path.join(dir, 'volumes');
  const pool = new VolumePool(volumes, 0);
  try {
    await pool.clean();
    const taken = await Promise.all(Array.from({ length: 5 }, () => pool.take(64 * 1024 ** 2)));
    for (const v of taken) {
      // Emptying each takes several turns of the event loop: all five are being emptied at once.
      leaveTree(v.mountPoint, 10, 10);
    }
    await Promise.all(taken.map((v) => pool.recycle(v, 3)));
    assert.equal(pool.freeVolumes().length, 3, 'volumes kept free');
    const mounted = mountedUnder(volumes).filter((p) => taken.some((v) => v.mountPoint === p));
    assert.equal(mounted.length, 3, `mounted: ${mounted.join(' ')}`);
  } finally {
    await pool.close();
    removeAll(dir, volumes);
  }
});
