/**
 * PutObject's reads of its bucket, on a real SQLite store and real files (no server): a bucket this server knows
 * is read once, in the transaction that writes the row (the route's authorization has already read it); a bucket
 * deleted behind the server's back (another replica) is still refused there, with its bytes removed; an unknown
 * bucket is refused before any byte is stored.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Store } from '../../src/store/store.js';
import { ObjectBlobs } from '../../src/store/object-blobs.js';
import { ObjectStorageService } from '../../src/service/object-storage.js';

const identity = { region: 'local', tenancyId: 'ocid1.tenancy.oc1..t', defaultCompartmentId: 'ocid1.compartment.oc1..c', userId: 'ocid1.user.oc1..u' };
const headers = { contentType: 'text/plain', contentLanguage: null, contentEncoding: null, contentDisposition: null, cacheControl: null, metadata: {} };
let dir: string;
let store: Store;
let os_: ObjectStorageService;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-os-put-'));
  store = await Store.openSqlite(path.join(dir, 'dsjobs.sqlite'));
  os_ = new ObjectStorageService(store, new ObjectBlobs(path.join(dir, 'objectstorage')), 'nsx', identity, { now: () => Date.now() }, { abandonedUploadDays: 7 });
  await os_.start();
  await os_.createBucket({ name: 'b', compartmentId: identity.defaultCompartmentId }, undefined);
});

after(async () => {
  os_.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const put = (bucket: string, name: string) => os_.putObject(bucket, name, Readable.from([Buffer.from('hello')]), { headers, expectedSize: 5 });
const blobFiles = () => readdirSync(path.join(dir, 'objectstorage', 'blobs')).reduce((n, s) => n + readdirSync(path.join(dir, 'objectstorage', 'blobs', s)).length, 0);

test('a put to a known bucket reads the bucket once (in the transaction), not once more before the bytes', async () => {
  const getBucket = os_.store.getBucket.bind(os_.store);
  let reads = 0;
  os_.store.getBucket = (...args: Parameters<typeof getBucket>) => {
    reads++;
    return getBucket(...args);
  };
  try {
    await put('b', 'x');
  } finally {
    os_.store.getBucket = getBucket;
  }
  assert.equal(reads, 1);
});

test('a bucket deleted behind the server (another replica) is refused when the row is written; its bytes are removed', async () => {
  await os_.createBucket({ name: 'gone', compartmentId: identity.defaultCompartmentId }, undefined);
  await store.transaction((tx) => os_.store.deleteBucket(tx, 'gone'));
  const before = blobFiles();
  await assert.rejects(put('gone', 'x'), { code: 'BucketNotFound' });
  assert.equal(blobFiles(), before);
});

test('an unknown bucket is refused before the body is read', async () => {
  let read = false;
  const body = new Readable({
    read() {
      read = true;
      this.push(null);
    },
  });
  await assert.rejects(os_.putObject('nope', 'x', body, { headers }), { code: 'BucketNotFound' });
  assert.equal(read, false);
});
