/**
 * The bytes of Object Storage shared by several server replicas (one root on a shared file system): the start of one
 * replica leaves another's writes in progress and its freshly renamed blobs and parts alone, and removes what killed
 * writes left once it is older than the stale age; one server alone (stale age 0) removes all of it, as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ObjectBlobs } from '../../src/store/object-blobs.js';

const HOUR = 3_600_000;

function tmpDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'dsjobs-blobs-'));
}

/** Sets a file's times `ms` into the past. */
function age(f: string, ms: number): void {
  const t = (Date.now() - ms) / 1000;
  utimesSync(f, t, t);
}

test("a replica's start leaves another replica's write in progress, recent blob and recent part alone", async () => {
  const root = tmpDir();
  try {
    const a = new ObjectBlobs(root, HOUR);
    await a.init();
    // A's write in progress: a file in its own tmp folder, still growing.
    const [own] = readdirSync(path.join(root, 'tmp'));
    const inProgress = path.join(root, 'tmp', own!, 'upload');
    writeFileSync(inProgress, 'half');
    // A blob A renamed into place whose row A has not committed yet, and a part of an upload B does not know yet.
    const { blob } = await a.write(Readable.from([Buffer.from('fresh')]));
    mkdirSync(path.dirname(a.partPath('u1', 1)), { recursive: true });
    writeFileSync(a.partPath('u1', 1), 'part');

    const b = new ObjectBlobs(root, HOUR);
    await b.init();
    const swept = await b.sweep(() => false, () => false);
    assert.equal(swept.files, 0);
    assert.ok(existsSync(inProgress), "A's write in progress is kept");
    assert.ok(existsSync(a.pathOf(blob)), "A's recent blob is kept");
    assert.ok(existsSync(a.partPath('u1', 1)), "A's recent part is kept");

    // Left an hour: what a killed replica left, removed at the next start.
    age(path.join(root, 'tmp', own!), HOUR + 1000);
    age(a.pathOf(blob), HOUR + 1000);
    age(path.join(root, 'parts', 'u1'), HOUR + 1000);
    const c = new ObjectBlobs(root, HOUR);
    await c.init();
    assert.ok(!existsSync(inProgress), 'a stale write in progress is removed');
    const later = await c.sweep(() => false, () => false);
    assert.equal(later.files, 2);
    assert.ok(!existsSync(a.pathOf(blob)));
    assert.ok(!existsSync(a.partPath('u1', 1)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('one server alone (stale age 0) removes every leftover at its start', async () => {
  const root = tmpDir();
  try {
    const a = new ObjectBlobs(root);
    await a.init();
    const [own] = readdirSync(path.join(root, 'tmp'));
    writeFileSync(path.join(root, 'tmp', own!, 'upload'), 'half');
    const { blob } = await a.write(Readable.from([Buffer.from('orphan')]));
    const b = new ObjectBlobs(root);
    await b.init();
    assert.deepEqual(readdirSync(path.join(root, 'tmp')).filter((t) => t === own), []);
    assert.equal((await b.sweep(() => false, () => false)).files, 1);
    assert.ok(!existsSync(a.pathOf(blob)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
