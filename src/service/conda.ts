import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import { DsError, invalid } from '../domain/errors.js';
import { extractArchive, type ArchiveLimits } from '../archive/archive.js';
import type { BucketDecl } from './storage.js';
import type { CondaRef } from '../domain/launch.js';

/** What a run's CONDA_ENV_* variables select, fixed at run creation (a part of its launch plan). */
export type { CondaRef };

export interface CondaEnvDecl {
  slug: string;
  path: string;
  description?: string;
}


/**
 * Python environments for .py artifacts, chosen the way OCI's job runtime chooses them:
 * - CONDA_ENV_TYPE=service, CONDA_ENV_SLUG=<slug>: an environment registered in the server config (a conda env or
 *   a venv: a directory with bin/python);
 * - CONDA_ENV_TYPE=published with CONDA_ENV_BUCKET, CONDA_ENV_NAMESPACE, CONDA_ENV_OBJECT_NAME: a packed
 *   environment (.tar.gz, as conda-pack and `odsc conda publish` make) in a declared bucket, unpacked once and
 *   cached by the pack's identity;
 * - neither: the system python, as on OCI.
 */
/** A published pack in a bucket of this server's Object Storage, as a run's plan names it (read at the run's start). */
const OBJECT_PACK = 'objectstorage:';

export class CondaEnvironments {
  private readonly unpacking = new Map<string, Promise<string>>();
  /**
   * Buckets of this server's own Object Storage, for packs in a bucket not declared in the config: the pack's file
   * and an identity that changes when the object does (its etag).
   */
  embedded: { exists(namespace: string, bucket: string): boolean; objectFile(bucket: string, name: string): Promise<{ path: string; id: string }> } | null = null;

  constructor(
    private readonly envs: CondaEnvDecl[],
    private readonly buckets: BucketDecl[],
    private readonly cacheDir: string,
    private readonly limits: ArchiveLimits,
  ) {}

  list(): CondaEnvDecl[] {
    return this.envs;
  }

  /** At run creation. Throws InvalidParameter naming the variable. */
  resolve(env: Record<string, string>, field: string): CondaRef | null {
    const type = env.CONDA_ENV_TYPE?.toLowerCase();
    const slug = env.CONDA_ENV_SLUG;
    if (!type && !slug && !env.CONDA_ENV_OBJECT_NAME) return null;
    if (type === 'published' || (!type && env.CONDA_ENV_OBJECT_NAME)) return this.published(env, field);
    if (type !== undefined && type !== 'service') {
      throw invalid(`${field}.CONDA_ENV_TYPE`, `must be service or published, got '${env.CONDA_ENV_TYPE}'`);
    }
    if (!slug) throw invalid(`${field}.CONDA_ENV_SLUG`, 'is required with CONDA_ENV_TYPE=service: it names the environment');
    const decl = this.envs.find((e) => e.slug === slug);
    if (!decl) {
      const known = this.envs.map((e) => e.slug).join(', ') || 'none';
      throw invalid(`${field}.CONDA_ENV_SLUG`, `no service conda environment '${slug}' on this server (available: ${known})`);
    }
    if (!existsSync(path.join(decl.path, 'bin', 'python'))) {
      throw invalid(`${field}.CONDA_ENV_SLUG`, `the environment '${slug}' has no bin/python under ${decl.path} on this server`);
    }
    return { kind: 'service', slug, path: decl.path };
  }

  /**
   * Why runs of a job with these variables would be refused here, and what to do about it; null when they would
   * not be. The same checks as resolve(), made when a job is shown, so that a job whose environment this server
   * lacks says so from the start instead of only at its first run (every ADS sample names a service slug).
   */
  problem(env: Record<string, string> | null | undefined, field: string): string | null {
    try {
      this.resolve(env ?? {}, field);
      return null;
    } catch (e) {
      if (!(e instanceof DsError)) throw e;
      const fix = e.field?.endsWith('.CONDA_ENV_SLUG')
        ? `register it in the server's config (condaEnvironments: [{"slug": "${env?.CONDA_ENV_SLUG ?? ''}", "path": "<a conda env or venv with bin/python>"}]) and restart the server`
        : e.field?.endsWith('.CONDA_ENV_TYPE')
          ? 'set CONDA_ENV_TYPE to service or published'
          : "declare the bucket in the server's config (storage.buckets) and put the pack in it";
      return `Runs will be refused: ${e.message}. To run it, ${fix}; or remove the CONDA_ENV_* variables (an ADS spec's runtime conda) to use the system python.`;
    }
  }

  private published(env: Record<string, string>, field: string): CondaRef {
    for (const k of ['CONDA_ENV_BUCKET', 'CONDA_ENV_NAMESPACE', 'CONDA_ENV_OBJECT_NAME']) {
      if (!env[k]) throw invalid(`${field}.${k}`, 'is required with CONDA_ENV_TYPE=published');
    }
    const b = this.buckets.find((x) => x.bucket === env.CONDA_ENV_BUCKET && x.namespace === env.CONDA_ENV_NAMESPACE);
    if (!b && this.embedded?.exists(env.CONDA_ENV_NAMESPACE, env.CONDA_ENV_BUCKET)) {
      const name = env.CONDA_ENV_OBJECT_NAME;
      if (!/\.(tar\.gz|tgz)$/i.test(name)) throw invalid(`${field}.CONDA_ENV_OBJECT_NAME`, `'${name}': a published pack is a .tar.gz file`);
      // The object itself is read at the run's start (a missing one fails the run saying so).
      return { kind: 'published', archive: `${OBJECT_PACK}${JSON.stringify({ bucket: env.CONDA_ENV_BUCKET, name })}` };
    }
    if (!b) {
      throw invalid(`${field}.CONDA_ENV_BUCKET`, `no bucket ${env.CONDA_ENV_BUCKET}@${env.CONDA_ENV_NAMESPACE} is declared on this server`);
    }
    const name = env.CONDA_ENV_OBJECT_NAME.replace(/^\/+/, '');
    const file = path.resolve(b.path, name);
    if (!file.startsWith(path.resolve(b.path) + path.sep) || name.split('/').includes('..')) {
      throw invalid(`${field}.CONDA_ENV_OBJECT_NAME`, `'${name}' is not an object name inside the bucket`);
    }
    if (!/\.(tar\.gz|tgz)$/i.test(name)) throw invalid(`${field}.CONDA_ENV_OBJECT_NAME`, `'${name}': a published pack is a .tar.gz file`);
    let isFile = false;
    try {
      isFile = statSync(file).isFile();
    } catch {
      isFile = false;
    }
    if (!isFile) {
      throw invalid(`${field}.CONDA_ENV_OBJECT_NAME`, `no object '${name}' in bucket ${env.CONDA_ENV_BUCKET}@${env.CONDA_ENV_NAMESPACE}`);
    }
    return { kind: 'published', archive: file };
  }

  /** At run start: the environment's directory; a published pack is unpacked the first time, then reused. */
  async prepare(ref: CondaRef): Promise<string> {
    if (ref.kind === 'service') return ref.path;
    if (ref.archive.startsWith(OBJECT_PACK)) {
      const o = JSON.parse(ref.archive.slice(OBJECT_PACK.length)) as { bucket: string; name: string };
      if (!this.embedded) throw new Error(`the published conda pack ${o.name} is in bucket ${o.bucket}, and this server has no Object Storage`);
      const file = await this.embedded.objectFile(o.bucket, o.name);
      // The object's etag changes with every new version of it: a republished pack is unpacked again.
      return this.unpackOnce(createHash('sha256').update(`object\0${o.bucket}\0${o.name}\0${file.id}`).digest('hex').slice(0, 24), file.path);
    }
    const st = await fsp.stat(ref.archive);
    // The pack's identity: its path, size and modification time (hashing gigabytes of pack at each start would not do).
    return this.unpackOnce(createHash('sha256').update(`${ref.archive}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 24), ref.archive);
  }

  private unpackOnce(key: string, archive: string): Promise<string> {
    const dir = path.join(this.cacheDir, key);
    let p = this.unpacking.get(key);
    if (!p) {
      p = this.unpack(archive, dir).finally(() => this.unpacking.delete(key));
      this.unpacking.set(key, p);
    }
    return p;
  }

  private async unpack(archive: string, dir: string): Promise<string> {
    if (existsSync(path.join(dir, 'bin', 'python'))) return dir;
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    await fsp.mkdir(tmp, { recursive: true });
    try {
      await extractArchive(archive, 'tar.gz', tmp, this.limits);
      if (!existsSync(path.join(tmp, 'bin', 'python'))) {
        throw new Error(`the published conda pack ${path.basename(archive)} has no bin/python at its top level`);
      }
      await fsp.rm(dir, { recursive: true, force: true });
      await fsp.rename(tmp, dir);
      return dir;
    } catch (e) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }
}
