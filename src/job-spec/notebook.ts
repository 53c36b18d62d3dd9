// ADS's notebook runtime: a notebook executed cell by cell inside the run. The notebook (a local file, a notebook
// in a local directory, or an http(s) URL fetched by the run) goes into the artifact under code/ with the driver
// (drivers/notebook-driver.ts); the spec's fields become ADS's variables (reference §3.3).
import { checkOutputUri } from './outputs.js';
import { relativeEntry } from './artifact.js';
import { NOTEBOOK_DRIVER_NAME, NOTEBOOK_DRIVER_PY } from './drivers/notebook-driver.js';
import { type Fields, isPlaceholder, str } from './fields.js';
import { type Ctx, fail, join } from './plumbing.js';
import * as posix from './posix-path.js';
import type { AdsRuntimeReader, RuntimeParts } from './runtime-reader.js';

export const NOTEBOOK_KEYS = ['notebookPathURI', 'notebookEncoding', 'source', 'excludeTags', 'outputUri'];

function given(f: Fields, key: string, ctx: Ctx): string | undefined {
  if (!f.has(key)) return undefined;
  const s = str(f.get(key), f.path(key), { allowEmpty: true }).trim();
  if (s === '') return undefined;
  if (isPlaceholder(s)) {
    ctx.warnings.push(`${f.path(key)}: '${s}' is a template placeholder, ignored`);
    return undefined;
  }
  return s;
}

/** A local path of the spec (file:// URIs and ~/ too) as an absolute one; other schemes are refused. */
function localPath(uri: string, field: string, ctx: Ctx): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri);
  let p = uri;
  if (scheme) {
    if (scheme[1].toLowerCase() !== 'file') fail(field, `'${uri}': ${scheme[1]}:// is not served here (a local path, file:// or http(s)://)`);
    p = decodeURIComponent(new URL(uri).pathname);
  } else if (p === '~' || p.startsWith('~/')) {
    p = posix.join(ctx.files.home, p.slice(1));
  }
  return posix.resolve(ctx.specDir, p);
}

export function readNotebook(rs: Fields, _userEnv: Record<string, string>, ctx: Ctx): RuntimeParts {
  if (rs.has('scriptPathURI')) ctx.warnings.push(`${rs.path('scriptPathURI')}: ignored, notebookPathURI or source names the code`);
  const env: Record<string, string> = { NOTEBOOK_ENCODING: given(rs, 'notebookEncoding', ctx) ?? 'utf-8' };
  if (rs.has('excludeTags')) {
    const v = rs.get('excludeTags');
    const list = Array.isArray(v) ? v : [v];
    const tags = list.map((t, i) => str(t, Array.isArray(v) ? join(rs.path('excludeTags'), i) : rs.path('excludeTags')));
    if (tags.length > 0) env.NOTEBOOK_EXCLUDE_TAGS = JSON.stringify(tags);
  }
  const outputUri = given(rs, 'outputUri', ctx);
  if (outputUri !== undefined) {
    checkOutputUri(outputUri, rs.path('outputUri'), true);
    env.OUTPUT_URI = outputUri;
  }
  const parts = (artifactPath: string | null): RuntimeParts => ({
    env,
    artifactPath,
    generatedFiles: [{ name: NOTEBOOK_DRIVER_NAME, content: NOTEBOOK_DRIVER_PY }],
    entrypoint: NOTEBOOK_DRIVER_NAME,
  });

  // ADS: with_notebook(path) -> notebookPathURI; with_source(dir, notebook) -> source + entrypoint.
  const nbUri = given(rs, 'notebookPathURI', ctx);
  const source = given(rs, 'source', ctx);
  const entry = given(rs, 'entrypoint', ctx);
  const from = nbUri !== undefined ? { uri: nbUri, field: rs.path('notebookPathURI') } : source !== undefined ? { uri: source, field: rs.path('source') } : null;
  if (!from) {
    ctx.warnings.push(`${rs.path('notebookPathURI')}: no notebook given; pass the notebook (.ipynb) with --artifact`);
    return parts(null);
  }
  if (/^https?:\/\//i.test(from.uri)) {
    // Fetched by the run itself (its networking permitting), as ADS's driver does.
    env.JOB_RUN_NOTEBOOK = from.uri;
    return parts(null);
  }
  const abs = localPath(from.uri, from.field, ctx);
  const kind = ctx.files.kind(abs);
  if (!kind) fail(from.field, `'${from.uri}' does not exist (looked for ${abs})`);
  if (kind === 'file') {
    if (!abs.toLowerCase().endsWith('.ipynb')) fail(from.field, `'${from.uri}' is not a notebook (.ipynb)`);
    env.JOB_RUN_NOTEBOOK = `code/${posix.basename(abs)}`;
    return parts(abs);
  }
  if (kind !== 'directory') fail(from.field, `'${from.uri}' is neither a file nor a directory`);
  if (entry === undefined) fail(rs.path('entrypoint'), `required when ${from.field} is a directory: the notebook inside it`);
  const rel = relativeEntry(entry, rs.path('entrypoint'));
  if (ctx.files.kind(posix.join(abs, rel)) !== 'file') fail(rs.path('entrypoint'), `'${entry}' is not a file inside ${abs}`);
  if (!rel.toLowerCase().endsWith('.ipynb')) fail(rs.path('entrypoint'), `'${entry}' is not a notebook (.ipynb)`);
  env.JOB_RUN_NOTEBOOK = `code/${rel}`;
  return parts(abs);
}

export const NOTEBOOK_READER: AdsRuntimeReader = { keys: NOTEBOOK_KEYS, read: readNotebook };
