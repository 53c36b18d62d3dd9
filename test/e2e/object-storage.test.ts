/**
 * Object Storage through the official oci-objectstorage SDK (ObjectStorageClient and UploadManager), unmodified,
 * against a real server with authentication on: namespace, buckets, objects (md5, ranges, conditions, rename,
 * copy, listing with delimiter and paging over 10,000 objects), multipart uploads (also across a SIGKILL of the
 * server), pre-authenticated requests used with no other credential, and no partial object after a killed upload.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { UploadManager, type ObjectStorageClient } from 'oci-objectstorage';
import { createJob, readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';
import { expectOciError, makeIdentityClient, makeObjectStorageClient } from '../support/oci-sdk-client.js';
import { makeUser } from '../support/users.js';
import { runCli } from '../support/cli.js';

let s: TestServer;
let os: ObjectStorageClient;
let ns: string;
let close: () => void;

before(async () => {
  s = await startServer();
  const c = makeObjectStorageClient(s.url, s.configFile);
  os = c.client;
  close = c.close;
  ns = (await os.getNamespace({})).value;
});

after(async () => {
  close?.();
  await s?.close();
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');

async function readAll(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as Readable) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function bucket(name: string): Promise<string> {
  await os.createBucket({ namespaceName: ns, createBucketDetails: { name, compartmentId: s.compartmentId } });
  return name;
}

async function put(bucketName: string, objectName: string, body: Buffer | string, extra: Record<string, unknown> = {}) {
  const b = Buffer.from(body);
  return os.putObject({ namespaceName: ns, bucketName, objectName, putObjectBody: b, contentLength: b.length, ...extra });
}

async function get(bucketName: string, objectName: string, extra: Record<string, unknown> = {}) {
  const r = await os.getObject({ namespaceName: ns, bucketName, objectName, ...extra });
  return { ...r, bytes: await readAll(r.value) };
}

test('namespace and buckets: create, get with approximate count and size, head, list, update, delete only when empty', async () => {
  assert.match(ns, /^[a-z0-9]+$/);
  const created = await os.createBucket({ namespaceName: ns, createBucketDetails: { name: 'b-one', compartmentId: s.compartmentId, metadata: { team: 'ml' } } });
  assert.equal(created.bucket.name, 'b-one');
  assert.equal(created.bucket.namespace, ns);
  assert.ok(created.eTag);
  assert.ok(created.bucket.timeCreated instanceof Date || typeof created.bucket.timeCreated === 'string');
  const dup = await expectOciError(() => os.createBucket({ namespaceName: ns, createBucketDetails: { name: 'b-one', compartmentId: s.compartmentId } }));
  assert.equal(dup.statusCode, 409);
  assert.equal(dup.serviceCode, 'BucketAlreadyExists');
  const badName = await expectOciError(() => os.createBucket({ namespaceName: ns, createBucketDetails: { name: 'no spaces', compartmentId: s.compartmentId } }));
  assert.equal(badName.statusCode, 400);
  assert.match(badName.message, /^name: /);

  await put('b-one', 'a.txt', 'hello');
  await put('b-one', 'b.txt', 'world!');
  const got = await os.getBucket({ namespaceName: ns, bucketName: 'b-one', fields: ['approximateCount', 'approximateSize'] as never });
  assert.equal(got.bucket.approximateCount, 2);
  assert.equal(got.bucket.approximateSize, 11);
  assert.deepEqual(got.bucket.metadata, { team: 'ml' });
  const head = await os.headBucket({ namespaceName: ns, bucketName: 'b-one' });
  assert.equal(head.eTag, got.eTag);

  const listed = await os.listBuckets({ namespaceName: ns, compartmentId: s.compartmentId });
  assert.ok(listed.items.some((b) => b.name === 'b-one'));

  const updated = await os.updateBucket({ namespaceName: ns, bucketName: 'b-one', updateBucketDetails: { metadata: { stage: 'dev' } }, ifMatch: got.eTag });
  assert.deepEqual(updated.bucket.metadata, { team: 'ml', stage: 'dev' });
  const stale = await expectOciError(() => os.updateBucket({ namespaceName: ns, bucketName: 'b-one', updateBucketDetails: { metadata: {} }, ifMatch: got.eTag }));
  assert.equal(stale.statusCode, 412);

  const notEmpty = await expectOciError(() => os.deleteBucket({ namespaceName: ns, bucketName: 'b-one' }));
  assert.equal(notEmpty.statusCode, 409);
  assert.equal(notEmpty.serviceCode, 'BucketNotEmpty');
  await os.deleteObject({ namespaceName: ns, bucketName: 'b-one', objectName: 'a.txt' });
  await os.deleteObject({ namespaceName: ns, bucketName: 'b-one', objectName: 'b.txt' });
  await os.deleteBucket({ namespaceName: ns, bucketName: 'b-one' });
  const gone = await expectOciError(() => os.getBucket({ namespaceName: ns, bucketName: 'b-one' }));
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.serviceCode, 'BucketNotFound');
  const wrongNs = await expectOciError(() => os.listObjects({ namespaceName: 'othernamespace', bucketName: 'b-none' }));
  assert.equal(wrongNs.statusCode, 404);
});

test('objects: put returns md5 and etag, get and head answer them with metadata, ranges, md5 mismatch refused, not found', async () => {
  const b = await bucket('b-objects');
  const body = randomBytes(100_000);
  const r = await put(b, 'dir/data.bin', body, { opcMeta: { owner: 'ann' }, contentType: 'application/x-test', contentMD5: md5(body) });
  assert.equal(r.opcContentMd5, md5(body));
  assert.ok(r.eTag);

  const g = await get(b, 'dir/data.bin');
  assert.ok(g.bytes.equals(body));
  assert.equal(g.contentMd5, md5(body));
  assert.equal(g.eTag, r.eTag);
  assert.equal(g.contentType, 'application/x-test');
  assert.equal(g.contentLength, body.length);
  assert.deepEqual(g.opcMeta, { 'opc-meta-owner': 'ann' });
  const h = await os.headObject({ namespaceName: ns, bucketName: b, objectName: 'dir/data.bin' });
  assert.equal(h.contentLength, body.length);
  assert.equal(h.eTag, r.eTag);

  const mid = await get(b, 'dir/data.bin', { range: new (await import('oci-common')).Range(10, 19, null) });
  assert.ok(mid.bytes.equals(body.subarray(10, 20)));
  const suffix = await s.fetch(`${s.url}/n/${ns}/b/${b}/o/dir%2Fdata.bin`, { headers: { range: 'bytes=-5' } });
  assert.equal(suffix.status, 206);
  assert.equal(suffix.headers.get('content-range'), 'bytes 99995-99999/100000');
  assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(body.subarray(body.length - 5)));
  const beyond = await s.fetch(`${s.url}/n/${ns}/b/${b}/o/dir%2Fdata.bin`, { headers: { range: 'bytes=100000-' } });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers.get('content-range'), 'bytes */100000');

  // A wrong content-md5: refused, and nothing is stored under the name.
  const wrong = await expectOciError(() => put(b, 'bad.bin', 'abc', { contentMD5: md5(Buffer.from('abd')) }));
  assert.equal(wrong.statusCode, 400);
  assert.equal(wrong.serviceCode, 'UnmatchedContentMD5');
  const missing = await expectOciError(() => os.headObject({ namespaceName: ns, bucketName: b, objectName: 'bad.bin' }));
  assert.equal(missing.statusCode, 404);
  const missingGet = await expectOciError(() => os.getObject({ namespaceName: ns, bucketName: b, objectName: 'nothing-here' }));
  assert.equal(missingGet.serviceCode, 'ObjectNotFound');

  // Names with characters that need encoding round-trip.
  const odd = 'a b/c%d/ü?x=1#frag';
  await put(b, odd, 'odd');
  assert.equal((await get(b, odd)).bytes.toString(), 'odd');
  await os.deleteObject({ namespaceName: ns, bucketName: b, objectName: odd });
  assert.equal((await expectOciError(() => os.headObject({ namespaceName: ns, bucketName: b, objectName: odd }))).statusCode, 404);
});

test('conditional puts and gets: if-none-match * refuses an existing object, if-match a stale etag, get answers 304 for the etag', async () => {
  const b = await bucket('b-cond');
  const first = await put(b, 'state.json', '{"v":1}', { ifNoneMatch: '*' });
  const again = await expectOciError(() => put(b, 'state.json', '{"v":2}', { ifNoneMatch: '*' }));
  assert.equal(again.statusCode, 412);
  assert.equal(again.serviceCode, 'IfNoneMatchFailed');
  const second = await put(b, 'state.json', '{"v":2}', { ifMatch: first.eTag });
  assert.notEqual(second.eTag, first.eTag);
  const stale = await expectOciError(() => put(b, 'state.json', '{"v":3}', { ifMatch: first.eTag }));
  assert.equal(stale.statusCode, 412);
  assert.equal(stale.serviceCode, 'IfMatchFailed');
  const absent = await expectOciError(() => put(b, 'other.json', 'x', { ifMatch: first.eTag }));
  assert.equal(absent.statusCode, 412);
  assert.equal((await get(b, 'state.json')).bytes.toString(), '{"v":2}');
  const notModified = await s.fetch(`${s.url}/n/${ns}/b/${b}/o/state.json`, { headers: { 'if-none-match': second.eTag } });
  assert.equal(notModified.status, 304);
  const badIfMatch = await expectOciError(() => os.getObject({ namespaceName: ns, bucketName: b, objectName: 'state.json', ifMatch: first.eTag }));
  assert.equal(badIfMatch.statusCode, 412);
  const delStale = await expectOciError(() => os.deleteObject({ namespaceName: ns, bucketName: b, objectName: 'state.json', ifMatch: first.eTag }));
  assert.equal(delStale.statusCode, 412);
});

test('rename and copy: the new name has the bytes, conditions apply, the copy is independent of its source', async () => {
  const b = await bucket('b-rename');
  const dest = await bucket('b-copy-dest');
  const r = await put(b, 'old', 'payload');
  await os.renameObject({ namespaceName: ns, bucketName: b, renameObjectDetails: { sourceName: 'old', newName: 'new', srcObjIfMatchETag: r.eTag } });
  assert.equal((await expectOciError(() => os.headObject({ namespaceName: ns, bucketName: b, objectName: 'old' }))).statusCode, 404);
  assert.equal((await get(b, 'new')).bytes.toString(), 'payload');
  await put(b, 'taken', 'x');
  const refused = await expectOciError(() => os.renameObject({ namespaceName: ns, bucketName: b, renameObjectDetails: { sourceName: 'new', newName: 'taken', newObjIfNoneMatchETag: '*' } }));
  assert.equal(refused.statusCode, 412);

  const c = await os.copyObject({
    namespaceName: ns,
    bucketName: b,
    copyObjectDetails: { sourceObjectName: 'new', destinationRegion: 'local', destinationNamespace: ns, destinationBucket: dest, destinationObjectName: 'copied' },
  });
  assert.ok(c.opcWorkRequestId);
  // The work request it names is followed with the SDK's own GetWorkRequest (Object Storage's /workRequests/{id}).
  const w = (await os.getWorkRequest({ workRequestId: c.opcWorkRequestId })).workRequest;
  assert.equal(w.operationType, 'COPY_OBJECT');
  assert.equal(w.status, 'COMPLETED');
  assert.equal(w.percentComplete, 100);
  assert.equal(w.compartmentId, s.compartmentId);
  assert.deepEqual(
    w.resources?.map((x) => [x.actionType, x.metadata?.BUCKET, x.metadata?.OBJECT]),
    [
      ['RELATED', b, 'new'],
      ['WRITTEN', dest, 'copied'],
    ],
  );
  const done = await os.createWaiters().forWorkRequest({ workRequestId: c.opcWorkRequestId });
  assert.equal(done?.workRequest.status, 'COMPLETED');
  const copied = await get(dest, 'copied');
  assert.equal(copied.bytes.toString(), 'payload');
  await put(b, 'new', 'changed');
  assert.equal((await get(dest, 'copied')).bytes.toString(), 'payload');
});

test('list objects: prefix, start, end, delimiter, fields and paging', async () => {
  const b = await bucket('b-list');
  for (const n of ['a/1', 'a/2', 'a/b/3', 'b/1', 'c', 'd']) await put(b, n, n);
  const all = await os.listObjects({ namespaceName: ns, bucketName: b });
  assert.deepEqual(all.listObjects.objects.map((o) => o.name), ['a/1', 'a/2', 'a/b/3', 'b/1', 'c', 'd']);
  assert.equal(all.listObjects.objects[0].size, undefined, 'only the name without fields');
  const top = await os.listObjects({ namespaceName: ns, bucketName: b, delimiter: '/', fields: 'name,size,md5,etag,timeCreated' });
  assert.deepEqual(top.listObjects.prefixes, ['a/', 'b/']);
  assert.deepEqual(top.listObjects.objects.map((o) => [o.name, o.size, o.md5]), [
    ['c', 1, md5(Buffer.from('c'))],
    ['d', 1, md5(Buffer.from('d'))],
  ]);
  const underA = await os.listObjects({ namespaceName: ns, bucketName: b, prefix: 'a/', delimiter: '/' });
  assert.deepEqual(underA.listObjects.objects.map((o) => o.name), ['a/1', 'a/2']);
  assert.deepEqual(underA.listObjects.prefixes, ['a/b/']);
  const range = await os.listObjects({ namespaceName: ns, bucketName: b, start: 'a/2', end: 'c' });
  assert.deepEqual(range.listObjects.objects.map((o) => o.name), ['a/2', 'a/b/3', 'b/1']);
  const page1 = await os.listObjects({ namespaceName: ns, bucketName: b, limit: 4 });
  assert.equal(page1.listObjects.objects.length, 4);
  assert.equal(page1.listObjects.nextStartWith, 'c');
  const page2 = await os.listObjects({ namespaceName: ns, bucketName: b, limit: 4, start: page1.listObjects.nextStartWith });
  assert.deepEqual(page2.listObjects.objects.map((o) => o.name), ['c', 'd']);
  assert.equal(page2.listObjects.nextStartWith, undefined);
  const badDelimiter = await expectOciError(() => os.listObjects({ namespaceName: ns, bucketName: b, delimiter: ',' }));
  assert.equal(badDelimiter.statusCode, 400);
  assert.match(badDelimiter.message, /^delimiter: /);
});

test('10,000 objects listed with a delimiter and paging: every name once, prefixes rolled up once', async () => {
  const b = await bucket('b-many');
  const names: string[] = [];
  for (let d = 0; d < 10; d++) for (let i = 0; i < 999; i++) names.push(`dir${d}/obj${String(i).padStart(4, '0')}`);
  for (let i = 0; i < 10; i++) names.push(`top${i}`);
  assert.equal(names.length, 10_000);
  // 16 clients at once, as a job fanning out results would.
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < names.length) {
        const n = names[next++];
        await put(b, n, n);
      }
    }),
  );
  const usage = await os.getBucket({ namespaceName: ns, bucketName: b, fields: ['approximateCount'] as never });
  assert.equal(usage.bucket.approximateCount, 10_000);

  // Flat, in pages of 1000 (the SDK's default): every name once, in order.
  const flat: string[] = [];
  let start: string | undefined;
  do {
    const r = await os.listObjects({ namespaceName: ns, bucketName: b, start, limit: 1000 });
    flat.push(...r.listObjects.objects.map((o) => o.name));
    start = r.listObjects.nextStartWith;
  } while (start);
  assert.deepEqual(flat, [...names].sort());

  // With the delimiter, pages of 3: ten prefixes and ten objects, each once.
  const prefixes: string[] = [];
  const objects: string[] = [];
  start = undefined;
  let pages = 0;
  do {
    const r = await os.listObjects({ namespaceName: ns, bucketName: b, delimiter: '/', start, limit: 3 });
    prefixes.push(...(r.listObjects.prefixes ?? []));
    objects.push(...r.listObjects.objects.map((o) => o.name));
    start = r.listObjects.nextStartWith;
    pages++;
  } while (start);
  assert.deepEqual(prefixes, Array.from({ length: 10 }, (_, d) => `dir${d}/`));
  assert.deepEqual(objects, Array.from({ length: 10 }, (_, i) => `top${i}`));
  assert.equal(pages, 7);
  const inDir = await os.listObjects({ namespaceName: ns, bucketName: b, prefix: 'dir7/', delimiter: '/', limit: 1000 });
  assert.equal(inDir.listObjects.objects.length, 999);
});

test('UploadManager: a 50 MB file in parts becomes one object with a multipart md5; the bytes read back equal', async () => {
  const b = await bucket('b-upload');
  const file = path.join(s.dataDir, 'fifty.bin');
  const data = randomBytes(50 * 1024 * 1024);
  writeFileSync(file, data);
  const manager = new UploadManager(os, { partSize: 8 * 1024 * 1024, maxConcurrentUploads: 4, enforceMD5: true });
  const r = await manager.upload({ content: { filePath: file }, requestDetails: { namespaceName: ns, bucketName: b, objectName: 'big/fifty.bin' } });
  assert.match((r as { multipartMd5?: string }).multipartMd5 ?? '', /-7$/);
  const h = await os.headObject({ namespaceName: ns, bucketName: b, objectName: 'big/fifty.bin' });
  assert.equal(h.contentLength, data.length);
  assert.equal(h.opcMultipartMd5, (r as { multipartMd5?: string }).multipartMd5);
  const got = await os.getObject({ namespaceName: ns, bucketName: b, objectName: 'big/fifty.bin' });
  const hash = createHash('md5');
  for await (const c of got.value as Readable) hash.update(c);
  assert.equal(hash.digest('base64'), md5(data));
  const uploads = await os.listMultipartUploads({ namespaceName: ns, bucketName: b });
  assert.equal(uploads.items.length, 0, 'the committed upload is gone');
});

test('multipart by hand: parts listed, commit with etags (a stale etag refused), abort; across a SIGKILL of the server', async () => {
  const b = await bucket('b-multi');
  const start = async (object: string) =>
    (await os.createMultipartUpload({ namespaceName: ns, bucketName: b, createMultipartUploadDetails: { object, contentType: 'text/plain' } })).multipartUpload.uploadId;
  const part = async (object: string, uploadId: string, n: number, body: Buffer) =>
    (await os.uploadPart({ namespaceName: ns, bucketName: b, objectName: object, uploadId, uploadPartNum: n, uploadPartBody: body, contentLength: body.length })).eTag;

  const p1 = Buffer.alloc(1000, 'a');
  const p2 = Buffer.alloc(500, 'b');
  const keep = await start('kept.txt');
  const e1 = await part('kept.txt', keep, 1, p1);
  const e2old = await part('kept.txt', keep, 2, Buffer.from('replaced'));
  const e2 = await part('kept.txt', keep, 2, p2);
  assert.notEqual(e2, e2old);
  const parts = await os.listMultipartUploadParts({ namespaceName: ns, bucketName: b, objectName: 'kept.txt', uploadId: keep });
  assert.deepEqual(parts.items.map((p) => [p.partNumber, p.size, p.md5]), [
    [1, 1000, md5(p1)],
    [2, 500, md5(p2)],
  ]);
  const dropped = await start('dropped.txt');
  await part('dropped.txt', dropped, 1, Buffer.from('x'));
  const listed = await os.listMultipartUploads({ namespaceName: ns, bucketName: b });
  assert.deepEqual(listed.items.map((u) => u.object).sort(), ['dropped.txt', 'kept.txt']);

  // The server is killed with both uploads open: after the restart one is committed, the other aborted.
  s = await s.restart();
  close();
  const c = makeObjectStorageClient(s.url, s.configFile);
  os = c.client;
  close = c.close;

  const stale = await expectOciError(() =>
    os.commitMultipartUpload({ namespaceName: ns, bucketName: b, objectName: 'kept.txt', uploadId: keep, commitMultipartUploadDetails: { partsToCommit: [{ partNum: 1, etag: e1 }, { partNum: 2, etag: e2old }] } }),
  );
  assert.equal(stale.statusCode, 400);
  assert.match(stale.message, /partsToCommit\[1\]\.etag/);
  const committed = await os.commitMultipartUpload({
    namespaceName: ns,
    bucketName: b,
    objectName: 'kept.txt',
    uploadId: keep,
    commitMultipartUploadDetails: { partsToCommit: [{ partNum: 2, etag: e2 }, { partNum: 1, etag: e1 }] },
  });
  assert.match(committed.opcMultipartMd5, /-2$/);
  const got = await get(b, 'kept.txt');
  assert.ok(got.bytes.equals(Buffer.concat([p1, p2])));
  assert.equal(got.contentType, 'text/plain');

  await os.abortMultipartUpload({ namespaceName: ns, bucketName: b, objectName: 'dropped.txt', uploadId: dropped });
  const after = await os.listMultipartUploads({ namespaceName: ns, bucketName: b });
  assert.equal(after.items.length, 0);
  const again = await expectOciError(() => os.abortMultipartUpload({ namespaceName: ns, bucketName: b, objectName: 'dropped.txt', uploadId: dropped }));
  assert.equal(again.statusCode, 404);
  assert.equal(again.serviceCode, 'NoSuchUpload');
  assert.deepEqual(readdirSync(path.join(s.dataDir, 'objectstorage', 'parts')), [], 'parts of finished uploads are freed');
});

test('pre-authenticated requests: read and write with no credential, listed, deleted, refused after expiry', async () => {
  const b = await bucket('b-par');
  await put(b, 'results/model.json', '{"best":"gbm"}');
  const expires = new Date(Date.now() + 3600_000);
  const read = await os.createPreauthenticatedRequest({
    namespaceName: ns,
    bucketName: b,
    createPreauthenticatedRequestDetails: { name: 'share', accessType: 'ObjectRead' as never, objectName: 'results/model.json', timeExpires: expires },
  });
  const url = `${s.url}${read.preauthenticatedRequest.accessUri}`;
  const plain = await fetch(url);
  assert.equal(plain.status, 200);
  assert.equal(await plain.text(), '{"best":"gbm"}');
  assert.equal((await fetch(url, { method: 'PUT', body: 'x' })).status, 404, 'a read PAR does not write');
  const other = (await fetch(url.replace('model.json', 'other.json'))).status;
  assert.equal(other, 404, 'an object PAR reaches its object only');

  const write = await os.createPreauthenticatedRequest({
    namespaceName: ns,
    bucketName: b,
    createPreauthenticatedRequestDetails: { name: 'drop', accessType: 'AnyObjectWrite' as never, timeExpires: expires },
  });
  const w = await fetch(`${s.url}${write.preauthenticatedRequest.accessUri}incoming/a.txt`, { method: 'PUT', body: 'from outside' });
  assert.equal(w.status, 200);
  assert.equal((await get(b, 'incoming/a.txt')).bytes.toString(), 'from outside');

  const list = await os.listPreauthenticatedRequests({ namespaceName: ns, bucketName: b });
  assert.deepEqual(list.items.map((p) => p.name).sort(), ['drop', 'share']);
  assert.equal((list.items[0] as { accessUri?: string }).accessUri, undefined, 'the secret is shown once');
  await os.deletePreauthenticatedRequest({ namespaceName: ns, bucketName: b, parId: read.preauthenticatedRequest.id });
  assert.equal((await fetch(url)).status, 404);

  const short = await os.createPreauthenticatedRequest({
    namespaceName: ns,
    bucketName: b,
    createPreauthenticatedRequestDetails: { name: 'short', accessType: 'ObjectRead' as never, objectName: 'results/model.json', timeExpires: new Date(Date.now() + 1500) },
  });
  const shortUrl = `${s.url}${short.preauthenticatedRequest.accessUri}`;
  assert.equal((await fetch(shortUrl)).status, 200);
  const deadline = Date.now() + 30_000;
  let status = 200;
  while (status === 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    status = (await fetch(shortUrl)).status;
  }
  assert.equal(status, 404, 'refused once expired');
  const past = await expectOciError(() =>
    os.createPreauthenticatedRequest({ namespaceName: ns, bucketName: b, createPreauthenticatedRequestDetails: { name: 'p', accessType: 'ObjectRead' as never, objectName: 'x', timeExpires: new Date(Date.now() - 1000) } }),
  );
  assert.equal(past.statusCode, 400);
  assert.match(past.message, /^timeExpires: /);
});

test('no partial object is ever visible: a SIGKILL of the server mid-upload leaves the old object whole', async () => {
  const b = await bucket('b-kill');
  const old = randomBytes(1000);
  await put(b, 'victim', old);
  // A put that sends half its body, then the server is killed while it waits for the rest.
  const u = new URL(`${s.url}/n/${ns}/b/${b}/o/victim`);
  const headers = { 'content-length': String(20 * 1024 * 1024), 'content-type': 'application/octet-stream', host: u.host, date: new Date().toUTCString() };
  Object.assign(headers, s.sign({ method: 'PUT', url: u.toString(), headers, excludeBody: true }));
  const req = http.request(u, { method: 'PUT', headers });
  req.on('error', () => undefined);
  req.write(randomBytes(10 * 1024 * 1024));
  const tmp = path.join(s.dataDir, 'objectstorage', 'tmp');
  // Each server process writes under a tmp folder of its own (tmp/<random>/).
  const writes = () => readdirSync(tmp, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
  const deadline = Date.now() + 30_000;
  while (writes().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(writes().length, 1, 'the upload is being written');
  s = await s.restart();
  req.destroy();
  close();
  const c = makeObjectStorageClient(s.url, s.configFile);
  os = c.client;
  close = c.close;
  const got = await get(b, 'victim');
  assert.ok(got.bytes.equals(old));
  assert.ok(existsSync(tmp));
  assert.deepEqual(writes(), [], 'the cut-short write is removed at start');
});

test('CLI: dsjobs os bucket create|list|delete, object put|list|get|delete, par create', async () => {
  const cli = async (...args: string[]) => {
    const r = await runCli(['--config-file', s.configFile, '--compartment-id', s.compartmentId, ...args], { endpoint: s.url });
    assert.equal(r.code, 0, `dsjobs ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  assert.equal((await cli('os', 'namespace')).trim(), ns);
  assert.match(await cli('os', 'bucket', 'create', 'cli-bucket'), /cli-bucket/);
  assert.match(await cli('os', 'bucket', 'list'), /cli-bucket/);
  const file = path.join(s.dataDir, 'cli-upload.bin');
  const data = randomBytes(12 * 1024 * 1024);
  writeFileSync(file, data);
  assert.match(await cli('os', 'object', 'put', 'cli-bucket', file, '--name', 'in/data.bin'), new RegExp(`${data.length} bytes, md5 ${md5(data).replace(/[+/]/g, '\\$&')}`));
  const listed = JSON.parse(await cli('--json', 'os', 'object', 'list', 'cli-bucket', '--delimiter', '/'));
  assert.deepEqual(listed.prefixes, ['in/']);
  const back = path.join(s.dataDir, 'cli-download.bin');
  await cli('os', 'object', 'get', 'cli-bucket', 'in/data.bin', back);
  assert.ok(readFileSync(back).equals(data));
  const url = (await cli('os', 'par', 'create', 'cli-bucket', '--object', 'in/data.bin', '--expires', '10m')).split('\n')[0];
  const viaPar = await fetch(url);
  assert.equal(viaPar.status, 200);
  assert.equal(Number(viaPar.headers.get('content-length')), data.length);
  await viaPar.body?.cancel();
  await cli('os', 'object', 'delete', 'cli-bucket', 'in/data.bin');
  await cli('os', 'bucket', 'delete', 'cli-bucket');
  assert.doesNotMatch(await cli('os', 'bucket', 'list'), /cli-bucket/);
});

test("an ADS YAML whose scriptPathURI is oci://: the CLI fetches the artifact from the bucket, the job's runs run it", async () => {
  const b = await bucket('b-code');
  await put(b, 'jobs/hello.sh', '#!/bin/sh\necho "hello from the bucket $GREETING"\n');
  const spec = path.join(s.dataDir, 'ads-oci.yaml');
  writeFileSync(
    spec,
    [
      'kind: job',
      'spec:',
      '  name: from-bucket',
      '  infrastructure:',
      '    kind: infrastructure',
      '    type: dataScienceJob',
      '    spec:',
      '      blockStorageSize: 50',
      '  runtime:',
      '    kind: runtime',
      '    type: script',
      '    spec:',
      `      scriptPathURI: oci://${b}@${ns}/jobs/hello.sh`,
      '      env:',
      '        - name: GREETING',
      '          value: world',
      '',
    ].join('\n'),
  );
  const cli = (...args: string[]) => runCli(['--config-file', s.configFile, '--compartment-id', s.compartmentId, ...args], { endpoint: s.url, timeoutMs: 120_000 });
  const created = await cli('--json', 'job', 'create', '-f', spec);
  assert.equal(created.code, 0, created.stderr);
  const job = JSON.parse(created.stdout) as { id: string; lifecycleState: string };
  assert.equal(job.lifecycleState, 'ACTIVE');
  const run = await cli('job', 'run', job.id, '--watch');
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^hello from the bucket world$/m);

  const foreign = spec.replace('.yaml', '-foreign.yaml');
  writeFileSync(foreign, readFileSync(spec, 'utf8').replace(`@${ns}/`, '@elsewhere/'));
  const refused = await cli('job', 'create', '-f', foreign);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /namespace elsewhere is not this server's/);
});

test('a bucket mount: a run with no SDK reads its inputs and writes results as files; after it ends they are objects', async (t) => {
  const b = await bucket('b-mount');
  await put(b, 'work/in.txt', 'input-data');
  await put(b, 'work/gone.txt', 'to be deleted');
  await put(b, 'elsewhere.txt', 'outside the prefix');
  const script = [
    '#!/bin/sh',
    'set -e',
    'cat /mnt/work/in.txt > /mnt/work/copy.txt',
    'mkdir -p /mnt/work/out',
    'printf "%s" "result of $(cat /mnt/work/in.txt)" > /mnt/work/out/result.txt',
    'rm /mnt/work/gone.txt',
    'test ! -e /mnt/work/elsewhere.txt',
    '',
  ].join('\n');
  const job = await createJob(s, 'mount.sh', script);
  const run = await s.api.createJobRun({
    projectId: job.projectId,
    compartmentId: s.compartmentId,
    jobId: job.id,
    jobStorageMountConfigurationOverrideDetailsList: [{ storageType: 'OBJECT_STORAGE', namespace: ns, bucket: b, prefix: 'work', destinationDirectoryName: 'work' }],
  } as never);
  const done = await waitForRun(s.api, run.id, undefined, 120_000);
  // Mounts are made by the sandbox; a host where it cannot be set up shows none (never skipped in CI).
  const sandbox = (done as never as { isolationDetails?: { sandbox?: string; warnings?: string[] } }).isolationDetails;
  if (sandbox?.sandbox === 'NONE' && process.env.CI !== 'true') {
    t.skip(`no sandbox on this host, so no mounts: ${sandbox.warnings?.[0] ?? ''}`);
    return;
  }
  assert.equal(done.lifecycleState, 'SUCCEEDED', `${done.lifecycleDetails} ${JSON.stringify((await readLogs(s, run.id)).map((l) => l.message))}`);
  assert.match(done.lifecycleDetails ?? '', /Bucket mounts written back: b-mount\/work\/: 2 written \(\d+ bytes\), 1 deleted/);
  const result = await get(b, 'work/out/result.txt');
  assert.equal(result.bytes.toString(), 'result of input-data');
  assert.equal(result.contentMd5, md5(Buffer.from('result of input-data')));
  const listed = await os.listObjects({ namespaceName: ns, bucketName: b, fields: 'name,size,md5,etag' });
  const byName = Object.fromEntries(listed.listObjects.objects.map((o) => [o.name, o]));
  assert.deepEqual(Object.keys(byName).sort(), ['elsewhere.txt', 'work/copy.txt', 'work/in.txt', 'work/out/result.txt']);
  assert.equal(byName['work/copy.txt'].size, 10);
  assert.equal(byName['work/copy.txt'].md5, md5(Buffer.from('input-data')));
  assert.equal(byName['work/copy.txt'].etag, (await os.headObject({ namespaceName: ns, bucketName: b, objectName: 'work/copy.txt' })).eTag);
  assert.deepEqual(readdirSync(path.join(s.dataDir, 'objectstorage', 'mounts')), [], 'the staged copy is removed');

  await assert.rejects(
    s.api.createJobRun({
      projectId: job.projectId,
      compartmentId: s.compartmentId,
      jobId: job.id,
      jobStorageMountConfigurationOverrideDetailsList: [{ storageType: 'OBJECT_STORAGE', namespace: ns, bucket: 'no-such-bucket', destinationDirectoryName: 'x' }],
    } as never),
    /jobStorageMountConfigurationOverrideDetailsList\[0\]\.bucket: no bucket no-such-bucket/,
  );
});

test('policies: buckets and objects are decided in the bucket\'s compartment (read objects reads, cannot put; no grant sees nothing)', async () => {
  const b = await bucket('b-policy');
  await put(b, 'report.txt', 'numbers');
  const id = makeIdentityClient(s.url, s.configFile);
  try {
    const tenancy = ((await s.api.serverInfo()) as { tenancyId: string }).tenancyId;
    const reader = await makeUser(id.client, tenancy, s.dataDir, 'os-reader');
    const nobody = await makeUser(id.client, tenancy, s.dataDir, 'os-nobody');
    await id.client.createPolicy({
      createPolicyDetails: {
        compartmentId: tenancy,
        name: 'os-readers',
        description: 'x',
        statements: ['Allow group os-reader-group to read buckets in tenancy', 'Allow group os-reader-group to read objects in tenancy'],
      },
    });
    const r = makeObjectStorageClient(s.url, reader.configFile);
    const n = makeObjectStorageClient(s.url, nobody.configFile);
    try {
      const got = await r.client.getObject({ namespaceName: ns, bucketName: b, objectName: 'report.txt' });
      assert.equal((await readAll(got.value)).toString(), 'numbers');
      const write = await expectOciError(() => r.client.putObject({ namespaceName: ns, bucketName: b, objectName: 'x', putObjectBody: Buffer.from('x'), contentLength: 1 }));
      assert.equal(write.statusCode, 404);
      assert.equal(write.serviceCode, 'NotAuthorizedOrNotFound');
      const del = await expectOciError(() => r.client.deleteBucket({ namespaceName: ns, bucketName: b }));
      assert.equal(del.statusCode, 404);
      const none = await expectOciError(() => n.client.getObject({ namespaceName: ns, bucketName: b, objectName: 'report.txt' }));
      assert.equal(none.statusCode, 404);
      const list = await n.client.listBuckets({ namespaceName: ns, compartmentId: s.compartmentId }).catch((e) => e);
      assert.ok(list instanceof Error ? (list as { statusCode?: number }).statusCode === 404 : !list.items.some((x: { name: string }) => x.name === b), 'a user with no grant lists no bucket');
    } finally {
      r.close();
      n.close();
    }
  } finally {
    id.close();
  }
});
