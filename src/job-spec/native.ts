import { ShellWordsError, joinShellWords, splitShellWords } from '../domain/shell-words.js';
import { checkedCommandLine } from './ads.js';
import { resolveArtifact } from './artifact.js';
import { Fields, definedTagsField, duration, envName, num, ocidField, str, tagsField } from './fields.js';
import type { JobSpecResult } from './plumbing.js';
import { type ShapeConfig, infrastructureDetails, storageMounts } from './infrastructure.js';
import { Ctx, type Obj, asObj, describe, fail, isObj, join } from './plumbing.js';

// Native format
//
//   kind: dsjobs/job            # optional
//   name: train
//   description: nightly training
//   artifact: ./train.py        # .py/.sh file, .zip/.tar.gz/.tgz archive, or directory (relative to the spec)
//   entrypoint: src/main.py     # for directories / archives
//   shape: VM.Standard.E4.Flex
//   ocpus: 2
//   memoryInGBs: 16
//   blockStorageInGBs: 50
//   env: {LR: "0.1"}            # mapping (values used verbatim, no substitution)
//   args: "--epochs 3"          # string, or a list of words
//   maxRuntime: 30m             # minutes, or s/m/h/d units
//   tags: {team: ml}            # freeform tags
//   definedTags: {ns: {k: v}}
//   mounts: [{src: "oci://bucket@namespace/prefix", dest: /data/in}]
//   networking: none            # no network for the run (loopback only); default: the host's network
//   compartmentId: ocid1...     # optional, otherwise the CLI's default
//   projectId: ocid1...

export const NATIVE_KEYS = [
  'kind',
  'name',
  'description',
  'artifact',
  'entrypoint',
  'shape',
  'ocpus',
  'memoryInGBs',
  'blockStorageInGBs',
  'env',
  'args',
  'maxRuntime',
  'tags',
  'definedTags',
  'mounts',
  'networking',
  'compartmentId',
  'projectId',
];

export function parseNative(doc: Obj, ctx: Ctx): JobSpecResult {
  const f = Fields.strict(doc, '', NATIVE_KEYS);
  const details: Record<string, unknown> = {};

  const projectId = ocidField(f.get('projectId'), f.path('projectId'), ctx);
  const compartmentId = ocidField(f.get('compartmentId'), f.path('compartmentId'), ctx);
  if (projectId) details.projectId = projectId;
  if (compartmentId) details.compartmentId = compartmentId;
  if (f.has('name')) details.displayName = str(f.get('name'), f.path('name')).trim();
  if (f.has('description')) details.description = str(f.get('description'), f.path('description'), { allowEmpty: true });

  const env = f.has('env') ? nativeEnv(f.get('env'), f.path('env')) : {};
  let entryValue = f.get('entrypoint');
  let entryField = f.path('entrypoint');
  if (entryValue === undefined && env.JOB_RUN_ENTRYPOINT !== undefined) {
    entryValue = env.JOB_RUN_ENTRYPOINT;
    entryField = `${f.path('env')}.JOB_RUN_ENTRYPOINT`;
  }
  const artifact = resolveArtifact(f.get('artifact'), f.path('artifact'), entryValue, entryField, undefined, ctx);
  if (artifact.entrypoint !== null) env.JOB_RUN_ENTRYPOINT = artifact.entrypoint;

  const config: Record<string, unknown> = { jobType: 'DEFAULT' };
  if (Object.keys(env).length > 0) config.environmentVariables = env;
  if (f.has('args')) {
    const args = nativeArgs(f.get('args'), f.path('args'));
    if (args !== undefined) config.commandLineArguments = args;
  }
  if (f.has('maxRuntime')) config.maximumRuntimeInMinutes = duration(f.get('maxRuntime'), f.path('maxRuntime'));
  details.jobConfigurationDetails = config;

  const shapeName = f.has('shape') ? str(f.get('shape'), f.path('shape')).trim() : undefined;
  const shape: ShapeConfig = {};
  if (f.has('ocpus')) shape.ocpus = num(f.get('ocpus'), f.path('ocpus'));
  if (f.has('memoryInGBs')) shape.memoryInGBs = num(f.get('memoryInGBs'), f.path('memoryInGBs'));
  const blockStorage = f.has('blockStorageInGBs') ? num(f.get('blockStorageInGBs'), f.path('blockStorageInGBs'), { integer: true }) : undefined;
  const shapeConfigField = f.has('ocpus') ? f.path('ocpus') : f.path('memoryInGBs');
  const infra = infrastructureDetails('ME_STANDALONE', shapeName, blockStorage, shape, shapeConfigField, f.path('shape'), ctx);
  if (f.has('networking')) {
    const n = str(f.get('networking'), f.path('networking')).trim().toLowerCase();
    if (n !== 'none' && n !== 'default') fail(f.path('networking'), `must be 'none' (no network) or 'default', got '${n}'`);
    if (n === 'none') infra.networking = 'NONE';
  }
  details.jobInfrastructureConfigurationDetails = infra;

  if (f.has('mounts')) {
    const mounts = storageMounts(f.get('mounts'), f.path('mounts'), ctx, true);
    if (mounts.length > 0) details.jobStorageMountConfigurationDetailsList = mounts;
  }
  if (f.has('tags')) {
    const tags = tagsField(f.get('tags'), f.path('tags'));
    if (Object.keys(tags).length > 0) details.freeformTags = tags;
  }
  if (f.has('definedTags')) {
    const tags = definedTagsField(f.get('definedTags'), f.path('definedTags'));
    if (Object.keys(tags).length > 0) details.definedTags = tags;
  }

  return {
    createJobDetails: details,
    artifactPath: artifact.artifactPath,
    artifactUri: artifact.artifactUri,
    artifactEntrypoint: artifact.entrypoint,
    ignored: ctx.ignored,
    warnings: ctx.warnings,
  };
}

export function nativeEnv(v: unknown, field: string): Record<string, string> {
  const entries: Array<[string, unknown, string]> = [];
  if (isObj(v)) {
    for (const [k, value] of Object.entries(v)) entries.push([envName(k, join(field, k)), value, join(field, k)]);
  } else if (Array.isArray(v)) {
    v.forEach((item, i) => {
      const at = join(field, i);
      const f = Fields.strict(asObj(item, at), at, ['name', 'value']);
      if (!f.has('name')) fail(f.path('name'), 'required');
      entries.push([envName(f.get('name'), f.path('name')), f.get('value'), f.path('value')]);
    });
  } else {
    fail(field, `expected a mapping of NAME: value, got ${describe(v)}`);
  }
  const out: Record<string, string> = {};
  for (const [name, value, at] of entries) {
    if (value === undefined || value === null) out[name] = '';
    else if (typeof value === 'string') out[name] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') out[name] = String(value);
    else fail(at, `expected a string, number or boolean, got ${describe(value)}`);
  }
  return out;
}

export function nativeArgs(v: unknown, field: string): string | undefined {
  if (typeof v === 'string') return checkedCommandLine(v, field);
  if (!Array.isArray(v)) fail(field, `expected a string or a list of words, got ${describe(v)}`);
  if (v.length === 0) return undefined;
  return joinShellWords(
    v.map((a, i) => {
      if (typeof a === 'string') return a;
      if (typeof a === 'number' || typeof a === 'boolean') return String(a);
      fail(join(field, i), `expected a string, got ${describe(a)}`);
    }),
  );
}
