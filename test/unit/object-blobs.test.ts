/**
 * The bytes of Object Storage on real files (no server): a write of a small body (read whole, one writeFile) and of
 * a large one (streamed) keeps the same guarantees: the MD5 of the bytes, content-md5 and content-length checked
 * with nothing kept when they fail, nothing left under tmp; and a put makes no directory (every shard is made by
 * init, so a 1 KB put pays no mkdir).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, promises as fsp, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ObjectBlobs } from '../../src/store/object-blobs.js';

let dir: string;
let blobs: ObjectBlobs;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-blobs-'));
  blobs = new ObjectBlobs(dir);
  await blobs.init();
});
after(() => rmSync(dir, { recursive: true, force: true }));

const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');
/** The body as a socket delivers it: 64 KiB chunks. */
const chunks = (b: Buffer) => Readable.from(Array.from({ length: Math.ceil(b.length / 65536) }, (_, i) => b.subarray(i * 65536, (i + 1) * 65536)));
const blobFiles = () => readdirSync(path.join(dir, 'blobs')).reduce((n, shard) => n + readdirSync(path.join(dir, 'blobs', shard)).length, 0);

// 1 KB and 200 KB: the read-whole path; 3 MB: the streamed one.
for (const size of [1024, 200 * 1024, 3 * 1024 * 1024]) {
  test(`a ${size}-byte body: its MD5 and bytes stored; a wrong content-md5, a short or a long body refused with nothing kept`, async () => {
    const body = randomBytes(size);
    const w = await blobs.write(chunks(body), { expectedSize: size, expectedMd5: md5(body) });
    assert.deepEqual({ size: w.size, md5: w.md5 }, { size, md5: md5(body) });
    assert.ok(readFileSync(blobs.pathOf(w.blob)).equals(body));
    const stored = blobFiles();

    await assert.rejects(blobs.write(chunks(body), { expectedSize: size, expectedMd5: md5(Buffer.from('other')) }), { code: 'UnmatchedContentMD5' });
    await assert.rejects(blobs.write(chunks(body.subarray(0, size - 1)), { expectedSize: size }), (e: Error & { code: string }) => e.code === 'InvalidParameter' && /content-length/.test(e.message));
    await assert.rejects(blobs.write(chunks(Buffer.concat([body, body])), { expectedSize: size }), (e: Error & { code: string }) => e.code === 'InvalidParameter' && /content-length/.test(e.message));
    assert.equal(blobFiles(), stored, 'a refused write keeps no blob');
    // tmp holds this process's own folder (replicas sharing the root write under one each): it must be empty.
    const tmpFiles = readdirSync(path.join(dir, 'tmp')).flatMap((t) => readdirSync(path.join(dir, 'tmp', t)));
    assert.deepEqual(tmpFiles, [], 'nothing is left under tmp');
  });
}

test('init makes every shard directory; a put makes none (no mkdir per object)', async () => {
  assert.equal(readdirSync(path.join(dir, 'blobs')).length, 256);
  const mkdir = fsp.mkdir;
  let calls = 0;
  fsp.mkdir = ((...args: Parameters<typeof mkdir>) => {
    calls++;
    return mkdir(...args);
  }) as typeof mkdir;
  try {
    for (let i = 0; i < 20; i++) await blobs.write(chunks(randomBytes(1024)), { expectedSize: 1024 });
  } finally {
    fsp.mkdir = mkdir;
  }
  assert.equal(calls, 0);
});

test('a body of unknown length (no content-length) is streamed and hashed whole', async () => {
  const body = randomBytes(300 * 1024);
  const w = await blobs.write(chunks(body));
  assert.equal(w.md5, md5(body));
  assert.ok(readFileSync(blobs.pathOf(w.blob)).equals(body));
});
