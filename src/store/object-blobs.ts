import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DsError } from '../domain/errors.js';

/** What a write stored: the blob's name, its length and its MD5 (base64, as OCI's content-md5). */
export interface WrittenBlob {
  blob: string;
  size: number;
  md5: string;
}

export interface WriteChecks {
  /** content-md5 (base64) the client sent: a body that hashes otherwise is refused and nothing is kept. */
  expectedMd5?: string;
  /** content-length the client sent: a body that ends early (a dropped connection) is refused. */
  expectedSize?: number;
}

const newName = () => randomBytes(16).toString('hex');

/**
 * Bodies up to this many bytes (by content-length) are read whole and written with one writeFile, without a write
 * stream and a per-chunk generator set up for each: for a 1 KB put those cost more than its bytes. 256 KiB is at most
 * 4 socket reads held in memory per request.
 */
const SMALL_BODY = 256 * 1024;

/**
 * The bytes of Object Storage: one immutable file per object version (a "blob") under <root>/blobs/<2 hex>/, parts
 * of multipart uploads under <root>/parts/<uploadId>/<partNum>, and writes in progress under <root>/tmp. Every
 * file is written under tmp and renamed into place only once complete, and an object's row names its blob only
 * after that rename, so no reader ever sees a partial object, also after the server was killed mid-write: what a
 * kill leaves is a file in tmp (removed at the next start) or a blob no row names (removed by `sweep`).
 *
 * Writes are not fsynced: a kill of the server loses nothing that was answered, a power cut may lose the last
 * seconds, as the database's own synchronous=NORMAL does.
 *
 * Several server replicas (on one PostgreSQL database) may share the root, on a shared file system: each process
 * writes under a tmp folder of its own (`tmp/<random>`), a rename within one file system is atomic between processes
 * as within one, and what the start of one replica removes (`init`, `sweep`) is only what is older than `staleMs`,
 * never another replica's write in progress or a blob whose row it is about to commit.
 */
export class ObjectBlobs {
  private readonly blobs: string;
  private readonly parts: string;
  private readonly tmpRoot: string;
  private readonly tmp: string;

  /**
   * `staleMs`: a file in tmp, or a blob or part folder no row names, this old is what a killed write left (0: any,
   * where one server alone uses the root).
   */
  constructor(
    readonly root: string,
    private readonly staleMs = 0,
  ) {
    this.blobs = path.join(root, 'blobs');
    this.parts = path.join(root, 'parts');
    this.tmpRoot = path.join(root, 'tmp');
    this.tmp = path.join(this.tmpRoot, newName());
  }

  async init(): Promise<void> {
    // Writes killed servers left in the middle: never visible, now removed.
    await fsp.mkdir(this.tmpRoot, { recursive: true });
    for (const t of await fsp.readdir(this.tmpRoot)) {
      const f = path.join(this.tmpRoot, t);
      if (await this.stale(f)) await fsp.rm(f, { recursive: true, force: true });
    }
    for (const d of [this.blobs, this.parts, this.tmp]) await fsp.mkdir(d, { recursive: true });
    // Every shard directory made once here, so a put does not pay a mkdir (a file system round trip) each time.
    for (let i = 0; i < 256; i++) await fsp.mkdir(path.join(this.blobs, i.toString(16).padStart(2, '0')), { recursive: true });
  }

  /** Whether `f` was last changed at least staleMs ago (a file already gone is not). */
  private async stale(f: string): Promise<boolean> {
    if (this.staleMs === 0) return true;
    const st = await fsp.stat(f).catch(() => null);
    return st !== null && Date.now() - st.mtimeMs >= this.staleMs;
  }

  pathOf(blob: string): string {
    return path.join(this.blobs, blob.slice(0, 2), blob);
  }

  partPath(uploadId: string, partNum: number): string {
    return path.join(this.parts, uploadId, String(partNum));
  }

  /** Streams `body` into a new blob, hashing it on the way; refused (and nothing kept) when a check fails. */
  async write(body: AsyncIterable<Buffer> | Readable, checks: WriteChecks = {}): Promise<WrittenBlob> {
    const blob = newName();
    const written = await this.writeTo(this.pathOf(blob), body, checks);
    return { blob, ...written };
  }

  /** A part of a multipart upload, replacing an earlier upload of the same part number whole. */
  async writePart(uploadId: string, partNum: number, body: Readable, checks: WriteChecks): Promise<{ size: number; md5: string }> {
    const dest = this.partPath(uploadId, partNum);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    return this.writeTo(dest, body, checks);
  }

  /** The parts, in the order given, as one new blob (its MD5 computed over the whole). */
  async concatenate(files: string[]): Promise<WrittenBlob> {
    async function* all() {
      for (const f of files) for await (const chunk of createReadStream(f, { highWaterMark: 1 << 20 })) yield chunk as Buffer;
    }
    return this.write(all());
  }

  /** A second name for the same bytes (blobs are never changed in place): a copy costs no bytes. */
  async link(blob: string): Promise<string> {
    const copy = newName();
    const dest = this.pathOf(copy);
    try {
      await fsp.link(this.pathOf(blob), dest);
    } catch {
      // A file system without hard links: copied through tmp, renamed when whole.
      const t = path.join(this.tmp, newName());
      await fsp.copyFile(this.pathOf(blob), t);
      await fsp.rename(t, dest);
    }
    return copy;
  }

  async remove(blob: string): Promise<void> {
    await fsp.rm(this.pathOf(blob), { force: true });
  }

  async removeUpload(uploadId: string): Promise<void> {
    await fsp.rm(path.join(this.parts, uploadId), { recursive: true, force: true });
  }

  /**
   * At start, before anything is written: blobs no object names (an upload killed between its rename and its row,
   * or a replaced blob whose removal was cut short) and part folders of uploads that no longer exist.
   */
  async sweep(isReferenced: (blob: string) => boolean, isUpload: (uploadId: string) => boolean): Promise<{ files: number; bytes: number }> {
    let files = 0;
    let bytes = 0;
    for (const shard of await fsp.readdir(this.blobs)) {
      for (const b of await fsp.readdir(path.join(this.blobs, shard))) {
        const f = path.join(this.blobs, shard, b);
        // A recent one may be another replica's, renamed into place and its row not yet committed.
        if (isReferenced(b) || !(await this.stale(f))) continue;
        bytes += (await fsp.stat(f).catch(() => ({ size: 0 }))).size;
        await fsp.rm(f, { force: true });
        files++;
      }
    }
    for (const u of await fsp.readdir(this.parts)) {
      if (isUpload(u) || !(await this.stale(path.join(this.parts, u)))) continue;
      await fsp.rm(path.join(this.parts, u), { recursive: true, force: true });
      files++;
    }
    return { files, bytes };
  }

  /** Writes under tmp, checks size and MD5, then renames into `dest` (whose directory exists). */
  private async writeTo(dest: string, body: AsyncIterable<Buffer> | Readable, checks: WriteChecks): Promise<{ size: number; md5: string }> {
    const t = path.join(this.tmp, newName());
    const hash = createHash('md5');
    let size = 0;
    let md5: string;
    try {
      if (checks.expectedSize !== undefined && checks.expectedSize <= SMALL_BODY) {
        const chunks: Buffer[] = [];
        for await (const chunk of body) {
          hash.update(chunk);
          size += chunk.length;
          // More than content-length said: refused below without holding more of it.
          if (size <= checks.expectedSize) chunks.push(chunk);
        }
        md5 = hash.digest('base64');
        this.check(size, md5, checks);
        await fsp.writeFile(t, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size), { flag: 'wx' });
      } else {
        await pipeline(
          body,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              hash.update(chunk);
              size += chunk.length;
              yield chunk;
            }
          },
          createWriteStream(t, { highWaterMark: 1 << 20 }),
        );
        md5 = hash.digest('base64');
        this.check(size, md5, checks);
      }
      await fsp.rename(t, dest);
      return { size, md5 };
    } catch (e) {
      await fsp.rm(t, { force: true });
      throw e;
    }
  }

  private check(size: number, md5: string, checks: WriteChecks): void {
    if (checks.expectedSize !== undefined && size !== checks.expectedSize) {
      const what = size < checks.expectedSize ? `the body ended after ${size} of ${checks.expectedSize} bytes` : `the body is longer than its ${checks.expectedSize} bytes`;
      throw new DsError('InvalidParameter', `content-length: ${what}; nothing was stored`);
    }
    if (checks.expectedMd5 !== undefined && checks.expectedMd5 !== md5) {
      throw new DsError('UnmatchedContentMD5', `content-md5: the body's MD5 is ${md5}, not ${checks.expectedMd5}; nothing was stored`);
    }
  }
}
