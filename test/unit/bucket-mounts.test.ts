/**
 * Bucket mounts and the storage under them, on a real SQLite store and real files (no server): staging copies the
 * objects under the prefix, writing back puts new and changed files and deletes removed ones (unless replaced
 * meanwhile); multipart uploads older than the configured days are aborted; ListObjects' delimiter paging.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Store } from '../../src/store/store.js';
import { ObjectBlobs } from '../../src/store/object-blobs.js';
import { ObjectStorageService } from '../../src/service/object-storage.js';
import { BucketMounts } from '../../src/service/bucket-mounts.js';
import { StorageCatalog } from '../../src/service/storage.js';
import { nextListing } from '../../src/domain/object-listing.js';
import { CondaEnvironments } from '../../src/service/conda.js';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const identity = { region: 'local', tenancyId: 'ocid1.tenancy.oc1..t', defaultCompartmentId: 'ocid1.compartment.oc1..c', userId: 'ocid1.user.oc1..u' };
let dir: string;
let store: Store;
let now = Date.parse('2026-01-01T00:00:00Z');
let os_: ObjectStorageService;
let mounts: BucketMounts;
const headers = { contentType: 'text/plain', contentLanguage: null, contentEncoding: null, contentDisposition: null, cacheControl: null, metadata: {} };
const put = (bucket: string, name: string, text: string) => os_.putObject(bucket, name, Readable.from([Buffer.from(text)]), { headers });
const text = async (bucket: string, name: string) => {
  const { file } = await os_.openObject(bucket, name);
  try {
    return (await file.readFile()).toString();
  } finally {
    await file.close();
  }
};

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-os-unit-'));
  store = await Store.openSqlite(path.join(dir, 'dsjobs.sqlite'));
  os_ = new ObjectStorageService(store, new ObjectBlobs(path.join(dir, 'objectstorage')), 'nsx', identity, { now: () => now }, { abandonedUploadDays: 7 });
  await os_.start();
  mounts = new BucketMounts(os_, path.join(dir, 'objectstorage', 'mounts'));
  await os_.createBucket({ name: 'data', compartmentId: identity.defaultCompartmentId }, undefined);
});

after(async () => {
  os_.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the storage catalog mounts a bucket of the server when none is declared; unknown buckets are refused', () => {
  const catalog = new StorageCatalog({ fileSystems: [], buckets: [] });
  catalog.embedded = mounts;
  const [m] = catalog.resolve([{ storageType: 'OBJECT_STORAGE', namespace: 'nsx', bucket: 'data', prefix: '/in/', destinationDirectoryName: 'd' }], 'f');
  assert.equal(m.destination, '/mnt/d');
  assert.match(m.source, /^objectstorage:/);
  assert.throws(() => catalog.resolve([{ storageType: 'OBJECT_STORAGE', namespace: 'nsx', bucket: 'nope', destinationDirectoryName: 'd' }], 'f'), /f\[0\]\.bucket: no bucket nope@nsx/);
  assert.throws(() => catalog.resolve([{ storageType: 'OBJECT_STORAGE', namespace: 'other', bucket: 'data', destinationDirectoryName: 'd' }], 'f'), /no bucket data@other/);
});

test('staging copies the prefix; writing back puts new and changed files, deletes removed ones, keeps replaced ones', async () => {
  await put('data', 'in/a.txt', 'A');
  await put('data', 'in/sub/b.txt', 'B');
  await put('data', 'in/del.txt', 'gone soon');
  await put('data', 'in/replaced.txt', 'old');
  await put('data', 'other.txt', 'not under the prefix');
  const catalog = new StorageCatalog({ fileSystems: [], buckets: [] });
  catalog.embedded = mounts;
  const planned = catalog.resolve([{ storageType: 'OBJECT_STORAGE', namespace: 'nsx', bucket: 'data', prefix: 'in', destinationDirectoryName: 'd' }], 'f');
  const [staged] = await mounts.stage('run1', planned);
  assert.equal(staged.destination, '/mnt/d');
  assert.deepEqual(readdirSync(staged.source).sort(), ['a.txt', 'del.txt', 'replaced.txt', 'sub']);
  assert.equal(readFileSync(path.join(staged.source, 'sub', 'b.txt'), 'utf8'), 'B');

  // What the run does to the files; meanwhile someone else replaces one of them through the API.
  writeFileSync(path.join(staged.source, 'a.txt'), 'A changed');
  mkdirSync(path.join(staged.source, 'new'));
  writeFileSync(path.join(staged.source, 'new', 'c.txt'), 'C');
  unlinkSync(path.join(staged.source, 'del.txt'));
  unlinkSync(path.join(staged.source, 'replaced.txt'));
  await put('data', 'in/replaced.txt', 'new from elsewhere');

  const [report] = await mounts.collect('run1');
  assert.deepEqual({ ...report, bytes: undefined }, { bucket: 'data', prefix: 'in/', written: 2, deleted: 1, bytes: undefined, failed: [] });
  assert.equal(await text('data', 'in/a.txt'), 'A changed');
  assert.equal(await text('data', 'in/new/c.txt'), 'C');
  assert.equal(await text('data', 'in/sub/b.txt'), 'B');
  assert.equal(await text('data', 'in/replaced.txt'), 'new from elsewhere');
  await assert.rejects(os_.headObject('data', 'in/del.txt'), /was not found/);
  assert.equal(await text('data', 'other.txt'), 'not under the prefix');
  assert.deepEqual(await mounts.collect('run1'), [], 'written back once');
});

test('multipart uploads older than abandonedUploadDays are aborted and their parts freed', async () => {
  const u = await os_.createUpload('data', 'big', headers, {});
  await os_.uploadPart('data', 'big', u.uploadId, 1, Readable.from([Buffer.from('part')]), {});
  now += 6 * 86_400_000;
  assert.equal(await os_.cleanupAbandonedUploads(), 0);
  now += 2 * 86_400_000;
  assert.equal(await os_.cleanupAbandonedUploads(), 1);
  await assert.rejects(os_.listParts('data', 'big', u.uploadId, 10, 0), /No multipart upload/);
  assert.deepEqual(readdirSync(path.join(dir, 'objectstorage', 'parts')), []);
});

test('listing with a delimiter: prefixes once each, objects and prefixes count toward the limit, pages resume', async () => {
  const names = ['a', 'b/1', 'b/2', 'b/3', 'c/x/1', 'd', 'e/1'];
  const scan = async (o: { from?: string; below?: string; prefix?: string; limit: number }) =>
    names.filter((n) => (o.from === undefined || n >= o.from) && (o.below === undefined || n < o.below) && n.startsWith(o.prefix ?? '')).slice(0, o.limit).map((name) => ({ name }));
  const p1 = await nextListing({ delimiter: '/', limit: 3 }, scan);
  assert.deepEqual([p1.objects.map((o) => o.name), p1.prefixes, p1.nextStartWith], [['a'], ['b/', 'c/'], 'd']);
  const p2 = await nextListing({ delimiter: '/', limit: 3, start: p1.nextStartWith }, scan);
  assert.deepEqual([p2.objects.map((o) => o.name), p2.prefixes, p2.nextStartWith], [['d'], ['e/'], undefined]);
  const under = await nextListing({ prefix: 'b/', delimiter: '/', limit: 2 }, scan);
  assert.deepEqual([under.objects.map((o) => o.name), under.nextStartWith], [['b/1', 'b/2'], 'b/3']);
});

test('a published conda pack in a bucket of the server: resolved at create, unpacked at start, again when republished', async () => {
  const pack = (marker: string) => {
    const src = mkdtempSync(path.join(dir, 'pack-'));
    mkdirSync(path.join(src, 'bin'));
    writeFileSync(path.join(src, 'bin', 'python'), `#!/bin/sh\n# ${marker}\n`, { mode: 0o755 });
    const file = path.join(dir, `${marker}.tar.gz`);
    execFileSync('tar', ['-czf', file, '-C', src, '.']);
    return readFileSync(file);
  };
  await os_.putObject('data', 'conda/env.tar.gz', Readable.from([pack('v1')]), { headers });
  const conda = new CondaEnvironments([], [], path.join(dir, 'conda'), { maxEntries: 1000, maxTotalBytes: 1 << 30, maxRatio: 1000 });
  const vars = { CONDA_ENV_TYPE: 'published', CONDA_ENV_BUCKET: 'data', CONDA_ENV_NAMESPACE: 'nsx', CONDA_ENV_OBJECT_NAME: 'conda/env.tar.gz' };
  assert.throws(() => conda.resolve(vars, 'env'), /env\.CONDA_ENV_BUCKET: no bucket data@nsx is declared/);
  conda.embedded = mounts;
  const ref = conda.resolve(vars, 'env')!;
  const first = await conda.prepare(ref);
  assert.match(readFileSync(path.join(first, 'bin', 'python'), 'utf8'), /v1/);
  assert.equal(await conda.prepare(ref), first, 'unpacked once');
  await os_.putObject('data', 'conda/env.tar.gz', Readable.from([pack('v2')]), { headers });
  const second = await conda.prepare(ref);
  assert.notEqual(second, first);
  assert.match(readFileSync(path.join(second, 'bin', 'python'), 'utf8'), /v2/);
  assert.throws(() => conda.resolve({ ...vars, CONDA_ENV_OBJECT_NAME: 'conda/env.zip' }, 'env'), /a published pack is a \.tar\.gz file/);
  await assert.rejects(conda.prepare(conda.resolve({ ...vars, CONDA_ENV_OBJECT_NAME: 'conda/missing.tar.gz' }, 'env')!), /was not found/);
  assert.ok(existsSync(first));
});
