import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { invalid } from '../domain/errors.js';
import { bucketMountSource } from './bucket-mounts.js';

/** OCI's limit (ADS MAXIMUM_MOUNT_COUNT). */
export const MAX_STORAGE_MOUNTS = 5;

export interface FileSystemDecl {
  mountTargetId: string;
  exportId: string;
  ipAddress?: string;
  exportPath?: string;
  path: string;
}

export interface BucketDecl {
  namespace: string;
  bucket: string;
  path: string;
}

export interface ResolvedMount {
  /** Host directory. */
  source: string;
  /** Where the run sees it: destinationPath/destinationDirectoryName, /mnt/<name> by default (as OCI). */
  destination: string;
}

/** Paths a mount may not cover: the sandbox's own, and the system's. */
const RESERVED = ['/proc', '/dev', '/sys', '/tmp', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/usr', '/etc', '/boot', '/run', '/var'];

const under = (p: string, dir: string) => p === dir || p.startsWith(dir + '/');

/**
 * The storage administrators declared in the server config, and the one check of a job's or run's
 * jobStorageMountConfigurationDetailsList: at most 5 mounts, each of declared storage, each at its own
 * destination. A mount names its storage by OCI's ids (mountTargetId + exportId, namespace + bucket); file
 * systems are also found by ADS's `<ip>:<export path>` form, which the CLI passes through as the two ids.
 */
export class StorageCatalog {
  /**
   * Buckets of this server's own Object Storage: a bucket not declared in the config is mounted from there when it
   * exists (staged at the run's start by BucketMounts, written back when it ends).
   */
  embedded: { exists(namespace: string, bucket: string): boolean } | null = null;

  constructor(
    private readonly decl: { fileSystems: FileSystemDecl[]; buckets: BucketDecl[] },
    /** Directories a mount destination may not lie in (the server's data directory). */
    private readonly forbidden: string[] = [],
  ) {}

  describe(): { fileSystems: FileSystemDecl[]; buckets: BucketDecl[] } {
    return this.decl;
  }

  /** Throws InvalidParameter naming the field; returns the host directories to bind. */
  resolve(list: Record<string, unknown>[] | null | undefined, field: string, opts: { createPrefixes?: boolean } = {}): ResolvedMount[] {
    if (list == null) return [];
    if (list.length > MAX_STORAGE_MOUNTS) {
      throw invalid(field, `at most ${MAX_STORAGE_MOUNTS} storage mounts are allowed, got ${list.length}`);
    }
    const seen = new Map<string, string>();
    return list.map((m, i) => {
      const f = `${field}[${i}]`;
      const type = m.storageType;
      if (type !== 'FILE_STORAGE' && type !== 'OBJECT_STORAGE') {
        throw invalid(`${f}.storageType`, `must be FILE_STORAGE or OBJECT_STORAGE, got ${JSON.stringify(type)}`);
      }
      const name = m.destinationDirectoryName;
      if (typeof name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') {
        throw invalid(`${f}.destinationDirectoryName`, 'is required: a directory name (letters, digits, . _ -)');
      }
      const given = m.destinationPath;
      if (given != null && (typeof given !== 'string' || !given.startsWith('/') || given.split('/').includes('..'))) {
        throw invalid(`${f}.destinationPath`, `must be an absolute path without '..', got ${JSON.stringify(given)}`);
      }
      const destination = path.posix.join(typeof given === 'string' && given ? given : '/mnt', name);
      for (const r of RESERVED) {
        if (under(destination, r)) throw invalid(`${f}.destinationPath`, `${destination} lies in ${r}, which a mount cannot cover`);
      }
      for (const r of this.forbidden) {
        if (under(destination, r) || under(r, destination)) throw invalid(`${f}.destinationPath`, `${destination} would cover the server's own files`);
      }
      // Nested destinations collide too: one mount would hide part of the other.
      for (const [other, otherField] of seen) {
        if (under(destination, other) || under(other, destination)) {
          throw invalid(`${f}.destinationDirectoryName`, `mount destination ${destination} collides with ${other} (${otherField})`);
        }
      }
      seen.set(destination, f);
      const required = type === 'FILE_STORAGE' ? ['mountTargetId', 'exportId'] : ['namespace', 'bucket'];
      for (const k of required) if (typeof m[k] !== 'string' || !m[k]) throw invalid(`${f}.${k}`, `is required for ${type}`);
      const source = type === 'FILE_STORAGE' ? this.fileSystem(m, f) : this.bucket(m, f, opts.createPrefixes ?? false);
      return { source, destination };
    });
  }

  private fileSystem(m: Record<string, unknown>, f: string): string {
    const target = m.mountTargetId as string;
    const exp = m.exportId as string;
    const fs = this.decl.fileSystems.find(
      (d) => (d.mountTargetId === target || d.ipAddress === target) && (d.exportId === exp || d.exportPath === exp),
    );
    if (!fs) {
      const known = this.decl.fileSystems.map((d) => `${d.mountTargetId}:${d.exportId}`).join(', ') || 'none';
      throw invalid(`${f}.exportId`, `no file system export ${target}:${exp} is declared on this server (declared: ${known})`);
    }
    return this.existingDir(fs.path, `${f}.exportId`);
  }

  private bucket(m: Record<string, unknown>, f: string, createPrefix: boolean): string {
    const b = this.decl.buckets.find((d) => d.namespace === m.namespace && d.bucket === m.bucket);
    if (!b && this.embedded?.exists(m.namespace as string, m.bucket as string)) {
      const given = typeof m.prefix === 'string' ? m.prefix.replace(/^\/+|\/+$/g, '') : '';
      if (given.split('/').some((c) => c === '..' || c === '.')) throw invalid(`${f}.prefix`, `must not contain '.' or '..' components`);
      return bucketMountSource(m.bucket as string, given ? `${given}/` : '');
    }
    if (!b) {
      const known = this.decl.buckets.map((d) => `${d.bucket}@${d.namespace}`).join(', ') || 'none';
      throw invalid(`${f}.bucket`, `no bucket ${String(m.bucket)}@${String(m.namespace)} is declared on this server (declared: ${known}) nor is a bucket of its Object Storage`);
    }
    const root = this.existingDir(b.path, `${f}.bucket`);
    const prefix = typeof m.prefix === 'string' ? m.prefix.replace(/^\/+|\/+$/g, '') : '';
    if (!prefix) return root;
    if (prefix.split('/').some((c) => c === '..' || c === '.')) throw invalid(`${f}.prefix`, `must not contain '.' or '..' components`);
    const dir = path.join(root, prefix);
    // Object storage has no folders: a prefix nobody wrote under yet is still a valid place to write.
    if (createPrefix && !existsSync(dir)) mkdirSync(dir, { recursive: true });
    return dir;
  }

  private existingDir(p: string, field: string): string {
    let ok = false;
    try {
      ok = statSync(p).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) throw invalid(field, `the storage is declared but its directory ${p} does not exist on this server`);
    return p;
  }
}
