/**
 * A discarded volume's image is deleted through the thread pool: unlinking a big image frees its blocks, which took
 * tens of milliseconds on the event loop (6% of the server's CPU profile in benchmark 3').
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeVolume } from '../../src/executors/local/volume.js';
import { countingSyncCalls } from '../support/sync-calls.js';

test("removing a volume deletes its image without a synchronous file-system call (and one that was never mounted is no error)", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-volume-unit-'));
  try {
    const img = path.join(dir, 'v1.img');
    const mountPoint = path.join(dir, 'v1');
    writeFileSync(img, Buffer.alloc(64 * 1024));
    mkdirSync(mountPoint);
    const { calls } = await countingSyncCalls(() => removeVolume(img, mountPoint));
    assert.equal(existsSync(img), false);
    // Finding umount on the PATH (once per process) may stat; nothing else.
    assert.deepEqual(calls.filter((c) => c !== 'existsSync' && c !== 'statSync' && c !== 'accessSync'), [], calls.join(', '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
