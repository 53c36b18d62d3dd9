import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { DsError } from '../domain/errors.js';
import type { ObjectStorageService } from './object-storage.js';

/** A mount's source as the plan stores it for a bucket of this server's Object Storage: staged at the run's start. */
const SCHEME = 'objectstorage:';

export const bucketMountSource = (bucket: string, prefix: string) => `${SCHEME}${JSON.stringify({ bucket, prefix })}`;

const parseSource = (source: string): { bucket: string; prefix: string } | null =>
  source.startsWith(SCHEME) ? (JSON.parse(source.slice(SCHEME.length)) as { bucket: string; prefix: string }) : null;

interface ManifestEntry {
  size: number;
  mtimeMs: number;
  etag: string;
}

/** What a run's staged mounts held at its start, kept beside them so a restarted server can still sync them back. */
interface Manifest {
  mounts: { bucket: string; prefix: string; dir: string; files: Record<string, ManifestEntry> }[];
}

export interface SyncReport {
  bucket: string;
  prefix: string;
  written: number;
  deleted: number;
  bytes: number;
  /** Files that could not be written back (name: why). */
  failed: string[];
}

/** Object names a staged file may not have: they would escape or shadow the mount's directory. */
const unsafe = (rel: string) => rel === '' || rel.endsWith('/') || rel.split('/').some((c) => c === '' || c === '.' || c === '..');

async function* walk(dir: string, rel = ''): AsyncGenerator<string> {
  for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) yield* walk(dir, r);
    else if (e.isFile()) yield r;
  }
}

/**
 * Bucket storage mounts (storageType OBJECT_STORAGE) of this server's own Object Storage: at the run's start the
 * objects under the prefix are copied into a directory the run sees at its destination; when the run ends (before
 * its final state is written, so whatever follows its success reads its results) new and changed files are put
 * back as objects and files the run deleted are deleted. docs/object-storage.md#bucket-mounts says what a run can
 * expect.
 */
export class BucketMounts {
  constructor(
    private readonly objects: ObjectStorageService,
    /** Where staged mounts live: one folder per run. */
    private readonly root: string,
  ) {}

  /** Whether `bucket`@`namespace` is a bucket here (the storage catalog asks, for buckets not declared in config). */
  exists(namespace: string, bucket: string): boolean {
    return namespace === this.objects.namespace && this.objects.knowsBucket(bucket);
  }

  /** An object's file (read-only: blobs never change) and its etag: a published conda pack in a bucket. */
  async objectFile(bucket: string, name: string): Promise<{ path: string; id: string }> {
    const o = await this.objects.headObject(bucket, name);
    return { path: this.objects.blobs.pathOf(o.blob), id: o.etag };
  }

  /**
   * The plan's mounts with this server's buckets staged into directories (others unchanged): under `stagingDir`
   * where given (a directory the run's host sees: a cluster's shared disk), else under the server's own root. The
   * manifest stays under the root either way, so collect() finds it.
   */
  async stage(runId: string, mounts: { source: string; destination: string }[], stagingDir: string | null = null): Promise<{ source: string; destination: string }[]> {
    if (!mounts.some((m) => parseSource(m.source))) return mounts;
    const runDir = path.join(this.root, runId);
    await fsp.mkdir(runDir, { recursive: true });
    const manifest: Manifest = { mounts: [] };
    const out = [];
    for (const [i, m] of mounts.entries()) {
      const b = parseSource(m.source);
      if (!b) {
        out.push(m);
        continue;
      }
      const dir = path.join(stagingDir ?? runDir, String(i));
      await fsp.mkdir(dir, { recursive: true });
      const files: Record<string, ManifestEntry> = {};
      let start: string | undefined;
      do {
        const page = await this.objects.listObjects(b.bucket, { prefix: b.prefix, start, limit: 1000 });
        for (const o of page.objects) {
          const rel = o.name.slice(b.prefix.length);
          if (unsafe(rel)) continue;
          const dest = path.join(dir, rel);
          await fsp.mkdir(path.dirname(dest), { recursive: true });
          const { object, file } = await this.objects.openObject(b.bucket, o.name);
          try {
            // A copy, never a link: the run may change the file, and an object's bytes never change.
            await fsp.writeFile(dest, file.createReadStream({ highWaterMark: 1 << 20, autoClose: false }));
          } finally {
            await file.close();
          }
          const st = await fsp.stat(dest);
          files[rel] = { size: st.size, mtimeMs: st.mtimeMs, etag: object.etag };
        }
        start = page.nextStartWith;
      } while (start);
      manifest.mounts.push({ bucket: b.bucket, prefix: b.prefix, dir, files });
      out.push({ source: dir, destination: m.destination });
    }
    await fsp.writeFile(path.join(runDir, 'manifest.json'), JSON.stringify(manifest));
    return out;
  }

  /** Writes the run's staged mounts back (once: the staging is removed after); [] for a run with none. */
  async collect(runId: string): Promise<SyncReport[]> {
    const runDir = path.join(this.root, runId);
    // Most runs have none: answered without any I/O that would delay the run's end.
    if (!existsSync(runDir)) return [];
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await fsp.readFile(path.join(runDir, 'manifest.json'), 'utf8')) as Manifest;
    } catch {
      return [];
    }
    const reports: SyncReport[] = [];
    for (const m of manifest.mounts) {
      const r: SyncReport = { bucket: m.bucket, prefix: m.prefix, written: 0, deleted: 0, bytes: 0, failed: [] };
      const seen = new Set<string>();
      for await (const rel of walk(m.dir)) {
        seen.add(rel);
        const st = await fsp.stat(path.join(m.dir, rel));
        const before = m.files[rel];
        if (before && before.size === st.size && before.mtimeMs === st.mtimeMs) continue;
        try {
          await this.objects.putObject(m.bucket, m.prefix + rel, createReadStream(path.join(m.dir, rel), { highWaterMark: 1 << 20 }), {
            expectedSize: st.size,
            headers: { contentType: 'application/octet-stream', contentLanguage: null, contentEncoding: null, contentDisposition: null, cacheControl: null, metadata: {} },
          });
          r.written++;
          r.bytes += st.size;
        } catch (e) {
          r.failed.push(`${rel}: ${(e as Error).message}`);
        }
      }
      for (const [rel, before] of Object.entries(m.files)) {
        if (seen.has(rel)) continue;
        // Deleted by the run: the object goes too, unless someone replaced it meanwhile (then theirs stays).
        await this.objects.deleteObject(m.bucket, m.prefix + rel, before.etag).then(
          () => r.deleted++,
          (e) => {
            if (!(e instanceof DsError && (e.code === 'ObjectNotFound' || e.code === 'IfMatchFailed'))) r.failed.push(`${rel}: ${(e as Error).message}`);
          },
        );
      }
      reports.push(r);
      // A mount staged outside the root (on a cluster's shared disk) goes too.
      if (!m.dir.startsWith(runDir + path.sep)) await fsp.rm(m.dir, { recursive: true, force: true });
    }
    await fsp.rm(runDir, { recursive: true, force: true });
    return reports;
  }
}
