import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fsBatch, fsError } from '../../src/executors/local/fs-thread.js';

test('a batch runs in order, stops at the first failure with its error, and goes on past failures when asked', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-fs-thread-'));
  try {
    const a = path.join(dir, 'a');
    assert.deepEqual(await fsBatch([{ op: 'mkdir', path: a }, { op: 'write', path: path.join(a, 'f'), data: 'x' }, { op: 'write', path: path.join(a, 'f'), data: 'y', flag: 'a' }]), [{ ok: true }, { ok: true }, { ok: true }]);
    assert.equal(readFileSync(path.join(a, 'f'), 'utf8'), 'xy');
    // An existing directory: made, when `exists` allows it; otherwise the batch stops there.
    assert.deepEqual(await fsBatch([{ op: 'mkdir', path: a, exists: true }]), [{ ok: true }]);
    const stopped = await fsBatch([{ op: 'mkdir', path: a }, { op: 'mkdir', path: path.join(dir, 'never') }]);
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0]!.code, 'EEXIST');
    assert.equal(fsError(stopped[0]!).code, 'EEXIST');
    assert.match(fsError(stopped[0]!).message, /EEXIST/);
    assert.equal(existsSync(path.join(dir, 'never')), false);
    // r+ never creates a file.
    assert.equal((await fsBatch([{ op: 'write', path: path.join(dir, 'none'), data: '1', flag: 'r+' }]))[0]!.code, 'ENOENT');
    const removed = await fsBatch([{ op: 'rmdir', path: path.join(dir, 'gone') }, { op: 'rmdir', path: a }, { op: 'rmdir', path: path.join(dir, 'b') }], { keepGoing: true });
    assert.deepEqual(removed.map((r) => r.code ?? 'ok'), ['ENOENT', 'ENOTEMPTY', 'ENOENT']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
