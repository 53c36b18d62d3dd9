import { isPlaceholder, str } from './fields.js';
import { Ctx, fail } from './plumbing.js';
import * as posix from './posix-path.js';
import type { SpecFiles } from './spec-files.js';

export const SINGLE_FILE_EXTS = ['.py', '.sh'];
export const ARCHIVE_EXTS = ['.zip', '.tar.gz', '.tgz'];

export interface Artifact {
  artifactPath: string | null;
  /** `oci://bucket@namespace/object`: fetched from Object Storage by whoever uploads the artifact. */
  artifactUri?: string;
  entrypoint: string | null;
}

/** `oci://bucket@namespace/object` -> its parts (the object name may contain `/`). */
export function parseOciUri(uri: string): { bucket: string; namespace: string; object: string } | null {
  const m = /^oci:\/\/([^@/]+)@([^/]+)\/(.*)$/.exec(uri);
  return m ? { bucket: m[1], namespace: m[2], object: m[3] } : null;
}

export function resolveArtifact(
  srcValue: unknown,
  srcField: string,
  entryValue: unknown,
  entryField: string,
  workingDir: string | undefined,
  ctx: Ctx,
  /** A container job: the artifact is only unpacked into its working directory, no file of it is run. */
  container = false,
): Artifact {
  let entry: string | undefined;
  if (entryValue !== undefined) {
    entry = str(entryValue, entryField);
    if (isPlaceholder(entry)) {
      ctx.warnings.push(`${entryField}: '${entry}' is a template placeholder, ignored`);
      entry = undefined;
    }
  }

  let src: string | undefined;
  if (srcValue !== undefined) {
    src = str(srcValue, srcField);
    if (isPlaceholder(src)) {
      ctx.warnings.push(`${srcField}: '${src}' is a template placeholder; no artifact will be uploaded`);
      src = undefined;
    }
  }
  if (src === undefined) {
    if (srcValue === undefined && !container) ctx.warnings.push(`${srcField}: not given; upload an artifact before starting runs`);
    return { artifactPath: null, entrypoint: entry !== undefined ? relativeEntry(entry, entryField) : null };
  }

  let local = src;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(src);
  if (scheme && scheme[1].toLowerCase() === 'oci') {
    const o = parseOciUri(src);
    if (!o || !o.object || o.object.endsWith('/')) fail(srcField, `'${src}' is not an object URI (expected oci://bucket@namespace/object_name)`);
    const lower = o.object.toLowerCase();
    if (ARCHIVE_EXTS.some((e) => lower.endsWith(e))) return { artifactPath: null, artifactUri: src, entrypoint: entry !== undefined ? relativeEntry(entry, entryField) : null };
    if (SINGLE_FILE_EXTS.some((e) => lower.endsWith(e))) return { artifactPath: null, artifactUri: src, entrypoint: null };
    fail(srcField, `unsupported artifact '${posix.basename(o.object)}' (expected a .py or .sh file, or a .zip, .tar.gz or .tgz archive)`);
  }
  if (scheme) {
    if (scheme[1].toLowerCase() !== 'file') {
      fail(srcField, `'${src}': only local paths are supported (${scheme[1]}:// URIs are not supported yet)`);
    }
    try {
      const url = new URL(src);
      if (url.host !== '' && url.host !== 'localhost') throw new Error(`File URL host must be "localhost" or empty`);
      if (/%2f/i.test(url.pathname)) throw new Error('File URL path must not include encoded / characters');
      local = decodeURIComponent(url.pathname);
    } catch (err) {
      fail(srcField, `'${src}' is not a valid file URI: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else if (local === '~' || local.startsWith('~/')) {
    local = posix.join(ctx.files.home, local.slice(1));
  }
  const abs = posix.resolve(ctx.specDir, local);
  const kind = ctx.files.kind(abs);
  if (!kind) fail(srcField, `'${src}' does not exist (looked for ${abs})`);

  if (kind === 'directory') {
    if (container) return { artifactPath: abs, entrypoint: null };
    if (entry === undefined) fail(entryField, `required when the artifact is a directory (${abs})`);
    return { artifactPath: abs, entrypoint: directoryEntry(abs, entry, entryField, workingDir, ctx.files) };
  }
  if (kind !== 'file') fail(srcField, `'${src}' is neither a file nor a directory`);

  const base = posix.basename(abs);
  const lower = base.toLowerCase();
  if (ARCHIVE_EXTS.some((e) => lower.endsWith(e))) {
    if (entry === undefined) {
      ctx.warnings.push(`${entryField}: not given for archive ${base}; runs fail unless JOB_RUN_ENTRYPOINT is set`);
      return { artifactPath: abs, entrypoint: null };
    }
    return { artifactPath: abs, entrypoint: relativeEntry(entry, entryField) };
  }
  if (SINGLE_FILE_EXTS.some((e) => lower.endsWith(e))) {
    if (entry !== undefined && posix.basename(entry) !== base) {
      ctx.warnings.push(`${entryField}: ignored, a single-file artifact (${base}) is itself the entrypoint`);
    }
    return { artifactPath: abs, entrypoint: null };
  }
  fail(srcField, `unsupported artifact '${base}' (expected a .py or .sh file, a .zip, .tar.gz or .tgz archive, or a directory)`);
}

/** A relative path inside the artifact, normalised; absolute paths and `..` escapes are refused. */
export function relativeEntry(entry: string, field: string): string {
  const e = entry.replace(/\\/g, '/');
  if (e.startsWith('/')) fail(field, `'${entry}' must be relative to the artifact`);
  const n = posix.normalize(e);
  if (n === '..' || n.startsWith('../') || n === '.') fail(field, `'${entry}' points outside the artifact`);
  return n;
}

export function directoryEntry(dir: string, entry: string, field: string, workingDir: string | undefined, files: SpecFiles): string {
  const rel = relativeEntry(entry, field);
  const base = posix.basename(dir);
  const candidates = [rel];
  // ADS zips a directory under its own name, so its entrypoints are often written as "<dirname>/...".
  if (rel.startsWith(base + '/')) candidates.push(rel.slice(base.length + 1));
  // ADS PythonRuntime: entrypoint is relative to workingDir, which is relative to the directory's parent.
  if (workingDir !== undefined && !isPlaceholder(workingDir)) {
    const joined = posix.normalize(posix.join(workingDir.replace(/\\/g, '/'), rel));
    if (!joined.startsWith('../') && !joined.startsWith('/')) {
      candidates.push(joined);
      if (joined.startsWith(base + '/')) candidates.push(joined.slice(base.length + 1));
    }
  }
  for (const c of candidates) {
    if (files.kind(posix.join(dir, c)) === 'file') return c;
  }
  fail(field, `'${entry}' is not a file inside ${dir}`);
}
