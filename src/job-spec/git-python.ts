// ADS's gitPython runtime: code cloned from a git repository inside the run. The spec's fields become ADS's
// variables (reference §3.3) and the artifact is the driver (drivers/git-driver.ts) that reads them.
import { checkOutputDir, checkOutputUri } from './outputs.js';
import { GIT_DRIVER_NAME, GIT_DRIVER_PY } from './drivers/git-driver.js';
import { type Fields, isPlaceholder, str } from './fields.js';
import { type Ctx, describe, fail } from './plumbing.js';
import type { AdsRuntimeReader, RuntimeParts } from './runtime-reader.js';

export const GIT_PYTHON_KEYS = [
  'url',
  'branch',
  'commit',
  'gitSecretId',
  'entryFunction',
  'pythonPath',
  'workingDir',
  'outputDir',
  'outputUri',
  'skipMetadataUpdate',
  'codeDir',
];

// Git accepts these transports; ssh's scp-like form (user@host:path) too.
const URL_FORMS = /^(https?|git|ssh|file):\/\/|^[^/\s:@]+@[^/\s:]+:/;

function optional(f: Fields, key: string, ctx: Ctx): string | undefined {
  if (!f.has(key)) return undefined;
  const v = f.get(key);
  if (typeof v === 'number') return String(v);
  const s = str(v, f.path(key), { allowEmpty: true }).trim();
  if (s === '') return undefined;
  if (isPlaceholder(s)) {
    ctx.warnings.push(`${f.path(key)}: '${s}' is a template placeholder, ignored`);
    return undefined;
  }
  return s;
}

export function readGitPython(rs: Fields, _userEnv: Record<string, string>, ctx: Ctx): RuntimeParts {
  if (rs.has('scriptPathURI')) ctx.warnings.push(`${rs.path('scriptPathURI')}: ignored, the repository is the code`);
  const url = optional(rs, 'url', ctx);
  if (!url) fail(rs.path('url'), 'required: the git repository to clone (https://, git://, ssh://, file:// or user@host:path)');
  if (!URL_FORMS.test(url)) fail(rs.path('url'), `'${url}' is not a git URL (expected https://, git://, ssh://, file:// or user@host:path)`);
  const entry = optional(rs, 'entrypoint', ctx);
  if (!entry) fail(rs.path('entrypoint'), "required: a .py file in the repository, or module:function");
  const env: Record<string, string> = { GIT_URL: url, GIT_ENTRYPOINT: entry };
  const commit = optional(rs, 'commit', ctx);
  if (commit !== undefined && !/^[0-9a-f]{4,64}$/i.test(commit)) fail(rs.path('commit'), `'${commit}' is not a commit id (hexadecimal)`);
  const set = (name: string, v: string | undefined) => {
    if (v !== undefined) env[name] = v;
  };
  set('GIT_BRANCH', optional(rs, 'branch', ctx));
  set('GIT_COMMIT', commit);
  set('ENTRY_FUNCTION', optional(rs, 'entryFunction', ctx));
  set('GIT_SECRET_OCID', optional(rs, 'gitSecretId', ctx));
  set('WORKING_DIR', optional(rs, 'workingDir', ctx));
  const outputDir = optional(rs, 'outputDir', ctx);
  set('OUTPUT_DIR', outputDir);
  set('CODE_DIR', optional(rs, 'codeDir', ctx));
  const outputUri = optional(rs, 'outputUri', ctx);
  if (outputUri !== undefined) {
    checkOutputUri(outputUri, rs.path('outputUri'), true);
    if (outputDir !== undefined && /^oci:\/\//i.test(outputUri)) checkOutputDir(outputDir, rs.path('outputDir'));
    env.OUTPUT_URI = outputUri;
  }
  if (rs.has('pythonPath')) {
    const v = rs.get('pythonPath');
    const list = Array.isArray(v) ? v : [v];
    const paths = list.map((p, i) => str(p, Array.isArray(v) ? `${rs.path('pythonPath')}[${i}]` : rs.path('pythonPath')));
    if (paths.length > 0) env.PYTHON_PATH = paths.join(':');
  }
  if (rs.has('skipMetadataUpdate')) {
    const v = rs.get('skipMetadataUpdate');
    if (typeof v !== 'boolean') fail(rs.path('skipMetadataUpdate'), `expected true or false, got ${describe(v)}`);
    if (v) env.SKIP_METADATA_UPDATE = '1';
  }
  return { env, artifactPath: null, generatedFiles: [{ name: GIT_DRIVER_NAME, content: GIT_DRIVER_PY }], entrypoint: null };
}

export const GIT_PYTHON_READER: AdsRuntimeReader = { keys: GIT_PYTHON_KEYS, read: readGitPython };
