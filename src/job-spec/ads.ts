import { ShellWordsError, joinShellWords, splitShellWords } from '../domain/shell-words.js';
import { resolveArtifact } from './artifact.js';
import { ADS_CONTAINER_RUNTIME_KEYS, adsContainer } from './ads-container.js';
import { Fields, definedTagsField, duration, envName, isPlaceholder, num, ocidField, str, tagsField } from './fields.js';
import type { JobSpecResult } from './plumbing.js';
import { CPU_BASELINES, type ShapeConfig, infrastructureDetails, storageMounts } from './infrastructure.js';
import { interpolateAdsEnv, pyJsonDumps, templateSafeSubstitute } from './interpolation.js';
import { Ctx, type Obj, asObj, describe, fail, isObj, join } from './plumbing.js';
import { checkOutputDir, checkOutputUri } from './outputs.js';
import { PyFloat } from './py-float.js';
import { ADS_RUNTIME_READERS } from './runtime-readers.js';

// ADS format

export const ADS_UNSUPPORTED_RUNTIMES = ['dataFlow', 'dataFlowNotebook', 'operator'];
export const ADS_UNSUPPORTED_INFRA = ['dataFlow', 'kubernetesJob'];

export const ADS_INFRA_KEYS = [
  'blockStorageSize',
  'compartmentId',
  'displayName',
  'jobInfrastructureType',
  'jobType',
  'logGroupId',
  'logId',
  'projectId',
  'shapeConfigDetails',
  'shapeName',
  'subnetId',
  'storageMount',
  'freeformTags',
  'definedTags',
] as const;

export const ADS_COMMON_RUNTIME_KEYS = [
  'args',
  'conda',
  'entrypoint',
  'env',
  'freeformTags',
  'definedTags',
  'maximumRuntimeInMinutes',
  'scriptPathURI',
];
// The python runtime's own keys. outputDir/outputUri become OUTPUT_DIR/OUTPUT_URI (the server copies the directory
// to the bucket when a run ends); the rest are read by ADS's Python driver, which dsjobs does not ship: accepted
// with a warning.
export const ADS_PYTHON_ONLY_KEYS = ['outputDir', 'outputUri', 'pythonPath', 'workingDir', 'entryFunction'];
const ADS_PYTHON_OUTPUT_KEYS = ['outputDir', 'outputUri'];

export function parseAds(doc: Obj, kind: 'job' | 'runtime', ctx: Ctx): JobSpecResult {
  let runtimeObj: Obj;
  let runtimeAt: string;
  let infraObj: Obj | undefined;
  let infraAt = 'spec.infrastructure';
  const names: Array<{ value: unknown; field: string }> = [];
  const out: Record<string, unknown> = {};

  if (kind === 'runtime') {
    // A runtime-only document (ADS Runtime.to_yaml()): default infrastructure.
    runtimeObj = doc;
    runtimeAt = '';
    ctx.warnings.push("kind: 'runtime' spec without infrastructure; the default shape and storage apply");
  } else {
    const top = Fields.ads(doc, '', ['kind', 'apiVersion', 'spec', 'name'], ctx);
    if (!top.has('spec')) fail('spec', 'required');
    const spec = Fields.ads(asObj(top.get('spec'), 'spec'), 'spec', ['name', 'id', 'infrastructure', 'runtime'], ctx);
    if (spec.has('id')) ctx.ignored.push(`${spec.path('id')} (a new job is created)`);
    if (spec.has('name')) names.push({ value: spec.get('name'), field: spec.path('name') });
    // Real-world specs put the name outside spec (ADS example 13).
    if (top.has('name')) names.push({ value: top.get('name'), field: top.path('name') });
    if (!spec.has('runtime')) fail('spec.runtime', 'required');
    runtimeAt = spec.path('runtime');
    runtimeObj = asObj(spec.get('runtime'), runtimeAt);
    if (spec.has('infrastructure')) {
      infraAt = spec.path('infrastructure');
      infraObj = asObj(spec.get('infrastructure'), infraAt);
    } else {
      ctx.warnings.push('spec.infrastructure: not given; the default shape and storage apply');
    }
  }

  // Types first, so an unsupported runtime is reported as such rather than through one of its fields.
  const runtime = Fields.ads(runtimeObj, runtimeAt, ['kind', 'type', 'spec', 'apiVersion'], ctx);
  const runtimeType = checkAdsType(runtime, 'runtime', ['python', 'script', 'container', ...Object.keys(ADS_RUNTIME_READERS)], ADS_UNSUPPORTED_RUNTIMES, 'runtime', ctx);
  const reader = ADS_RUNTIME_READERS[runtimeType];
  let infra: Fields | undefined;
  if (infraObj) {
    infra = Fields.ads(infraObj, infraAt, ['kind', 'type', 'spec', 'apiVersion'], ctx);
    checkAdsType(infra, 'infrastructure', ['dataScienceJob'], ADS_UNSUPPORTED_INFRA, 'infrastructure', ctx);
  }

  // Runtime
  const rsAt = runtime.path('spec');
  const rs = Fields.ads(
    runtime.has('spec') ? asObj(runtime.get('spec'), rsAt) : {},
    rsAt,
    reader
      ? [...ADS_COMMON_RUNTIME_KEYS, ...reader.keys]
      : runtimeType === 'python'
        ? [...ADS_COMMON_RUNTIME_KEYS, ...ADS_PYTHON_ONLY_KEYS]
        : runtimeType === 'container'
          ? ADS_CONTAINER_RUNTIME_KEYS
          : ADS_COMMON_RUNTIME_KEYS,
    ctx,
  );
  // A container's entrypoint is its command (a list), not a file of the artifact.
  const container = runtimeType === 'container' ? adsContainer(rs, ctx) : null;
  const userEnv = rs.has('env') ? adsEnv(rs.get('env'), rs.path('env'), ctx) : {};
  const conda = rs.has('conda') ? adsConda(rs.get('conda'), rs.path('conda')) : {};

  let workingDir: string | undefined;
  const outputs: Record<string, string> = {};
  if (runtimeType === 'python') {
    Object.assign(outputs, pythonOutputs(rs, ctx));
    for (const key of ADS_PYTHON_ONLY_KEYS) {
      if (ADS_PYTHON_OUTPUT_KEYS.includes(key)) continue;
      const v = rs.get(key);
      if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
      ctx.warnings.push(`${rs.path(key)}: not supported yet, ignored`);
    }
    const wd = rs.get('workingDir');
    if (typeof wd === 'string' && wd !== '') workingDir = wd;
  }

  let entryValue = container ? undefined : rs.get('entrypoint');
  let entryField = rs.path('entrypoint');
  if (entryValue === undefined && userEnv.JOB_RUN_ENTRYPOINT !== undefined) {
    entryValue = userEnv.JOB_RUN_ENTRYPOINT;
    entryField = `${rs.path('env')}.JOB_RUN_ENTRYPOINT`;
  }
  const parts = reader?.read(rs, userEnv, ctx);
  const artifact = parts ?? resolveArtifact(rs.get('scriptPathURI'), rs.path('scriptPathURI'), entryValue, entryField, workingDir, ctx, container !== null);

  // Infrastructure
  let infraDetails: Record<string, unknown>;
  let mounts: Record<string, unknown>[] = [];
  let infraTags: Record<string, string> | undefined;
  let infraDefinedTags: Record<string, Record<string, unknown>> | undefined;
  let jobType = 'DEFAULT';
  if (infra) {
    const isAt = infra.path('spec');
    const is = Fields.ads(infra.has('spec') ? asObj(infra.get('spec'), isAt) : {}, isAt, ADS_INFRA_KEYS, ctx);
    const compartmentId = ocidField(is.get('compartmentId'), is.path('compartmentId'), ctx);
    const projectId = ocidField(is.get('projectId'), is.path('projectId'), ctx);
    if (projectId) out.projectId = projectId;
    if (compartmentId) out.compartmentId = compartmentId;
    if (is.has('subnetId')) ctx.ignored.push(`${is.path('subnetId')} (networking is local)`);
    for (const key of ['logGroupId', 'logId']) {
      if (is.has(key)) ctx.ignored.push(`${is.path(key)} (logs are kept by dsjobs)`);
    }
    if (is.has('displayName')) names.push({ value: is.get('displayName'), field: is.path('displayName') });

    if (is.has('jobType')) {
      const t = str(is.get('jobType'), is.path('jobType'));
      if (t === 'EMPTY') fail(is.path('jobType'), "job type 'EMPTY' (multi-node jobs) is not supported yet");
      if (t !== 'DEFAULT') fail(is.path('jobType'), `unknown job type '${t}' (expected DEFAULT)`);
      jobType = t;
    }

    let infraType = 'ME_STANDALONE';
    if (is.has('jobInfrastructureType')) {
      const t = str(is.get('jobInfrastructureType'), is.path('jobInfrastructureType'));
      if (['MULTI_NODE', 'EMPTY', 'MANAGED_COMPUTE_CLUSTER'].includes(t)) {
        fail(is.path('jobInfrastructureType'), `infrastructure type '${t}' is not supported yet`);
      }
      if (t !== 'ME_STANDALONE' && t !== 'STANDALONE') {
        fail(is.path('jobInfrastructureType'), `unknown infrastructure type '${t}' (expected ME_STANDALONE or STANDALONE)`);
      }
      infraType = t;
    }
    // OCI's STANDALONE needs the job's own subnetId, which a spec's subnetId cannot be here (networking is local,
    // so it is ignored above): the job is sent as ME_STANDALONE, the service's own network, which is what runs get.
    if (infraType === 'STANDALONE') {
      ctx.ignored.push(`${is.path('jobInfrastructureType')} STANDALONE (sent as ME_STANDALONE: networking is local)`);
      infraType = 'ME_STANDALONE';
    }

    let shapeName: string | undefined;
    if (is.has('shapeName')) {
      shapeName = str(is.get('shapeName'), is.path('shapeName')).trim();
      if (isPlaceholder(shapeName)) {
        ctx.warnings.push(`${is.path('shapeName')}: '${shapeName}' is a template placeholder, ignored`);
        shapeName = undefined;
      }
    }
    const blockStorage = is.has('blockStorageSize')
      ? num(is.get('blockStorageSize'), is.path('blockStorageSize'), { integer: true, lenient: true })
      : undefined;

    const shape: ShapeConfig = {};
    const scAt = is.path('shapeConfigDetails');
    if (is.has('shapeConfigDetails')) {
      const sc = Fields.ads(asObj(is.get('shapeConfigDetails'), scAt), scAt, ['ocpus', 'memoryInGBs', 'cpuBaseline'], ctx);
      if (sc.has('ocpus')) shape.ocpus = num(sc.get('ocpus'), sc.path('ocpus'), { lenient: true });
      if (sc.has('memoryInGBs')) shape.memoryInGBs = num(sc.get('memoryInGBs'), sc.path('memoryInGBs'), { lenient: true });
      if (sc.has('cpuBaseline')) {
        const b = str(sc.get('cpuBaseline'), sc.path('cpuBaseline'));
        if (!CPU_BASELINES.includes(b)) fail(sc.path('cpuBaseline'), `expected one of ${CPU_BASELINES.join(', ')}, got '${b}'`);
        shape.cpuBaseline = b;
      }
    }
    infraDetails = infrastructureDetails(infraType, shapeName, blockStorage, shape, scAt, is.path('shapeName'), ctx);
    if (is.has('storageMount')) mounts = storageMounts(is.get('storageMount'), is.path('storageMount'), ctx, false);
    if (is.has('freeformTags')) infraTags = tagsField(is.get('freeformTags'), is.path('freeformTags'));
    if (is.has('definedTags')) infraDefinedTags = definedTagsField(is.get('definedTags'), is.path('definedTags'));
  } else {
    infraDetails = infrastructureDetails('ME_STANDALONE', undefined, undefined, {}, '', '', ctx);
  }

  // Name: ADS substitutes the runtime's env into it with string.Template.safe_substitute.
  const [name, ...otherNames] = names;
  if (name) {
    for (const other of otherNames) {
      if (other.value !== name.value) ctx.warnings.push(`${other.field}: ignored, ${name.field} names the job`);
    }
    let display = typeof name.value === 'number' ? String(name.value) : str(name.value, name.field);
    if (isPlaceholder(display)) {
      ctx.warnings.push(`${name.field}: '${display}' is a template placeholder; the job gets a default name`);
    } else {
      display = templateSafeSubstitute(display, userEnv);
      out.displayName = display;
    }
  }

  // Job configuration: the user's env, then what the runtime settings become (these win, as in ADS).
  const env: Record<string, string> = { ...userEnv };
  const system: Record<string, string> = { ...conda, ...outputs, ...parts?.env };
  if (artifact.entrypoint !== null) system.JOB_RUN_ENTRYPOINT = artifact.entrypoint;
  for (const [k, v] of Object.entries(system)) {
    if (env[k] !== undefined && env[k] !== v) ctx.warnings.push(`${rs.path('env')}.${k}: replaced by the runtime's setting '${v}'`);
    env[k] = v;
  }
  const config: Record<string, unknown> = { jobType };
  if (Object.keys(env).length > 0) config.environmentVariables = env;
  if (rs.has('args')) {
    const args = adsArgs(rs.get('args'), rs.path('args'));
    if (args !== undefined) config.commandLineArguments = args;
  }
  if (rs.has('maximumRuntimeInMinutes')) {
    config.maximumRuntimeInMinutes = duration(rs.get('maximumRuntimeInMinutes'), rs.path('maximumRuntimeInMinutes'));
  }

  const details: Record<string, unknown> = { ...out };
  if (parts?.replicas !== undefined) {
    // As ADS builds it: one node group named node-group, all replicas needed, started together; the job-level
    // configuration and infrastructure are OCI's EMPTY placeholders.
    const { maximumRuntimeInMinutes, ...groupConfig } = config;
    details.jobConfigurationDetails = { jobType: 'EMPTY' };
    details.jobInfrastructureConfigurationDetails = { jobInfrastructureType: 'EMPTY' };
    details.jobNodeConfigurationDetails = {
      jobNodeType: 'MULTI_NODE',
      startupOrder: 'IN_PARALLEL',
      ...(maximumRuntimeInMinutes !== undefined ? { maximumRuntimeInMinutes } : {}),
      jobNodeGroupConfigurationDetailsList: [
        {
          name: 'node-group',
          replicas: parts.replicas,
          minimumSuccessReplicas: parts.replicas,
          jobInfrastructureConfigurationDetails: { ...infraDetails, jobInfrastructureType: 'MULTI_NODE' },
          jobConfigurationDetails: groupConfig,
        },
      ],
    };
  } else {
    details.jobConfigurationDetails = config;
    details.jobInfrastructureConfigurationDetails = infraDetails;
  }
  if (mounts.length > 0) details.jobStorageMountConfigurationDetailsList = mounts;
  if (container) details.jobEnvironmentConfigurationDetails = container;
  // ADS takes the runtime's tags over the infrastructure's; here they merge, the runtime's winning per key.
  const freeform = { ...(infraTags ?? {}), ...(rs.has('freeformTags') ? tagsField(rs.get('freeformTags'), rs.path('freeformTags')) : {}) };
  if (Object.keys(freeform).length > 0) details.freeformTags = freeform;
  const defined = mergeDefinedTags(
    infraDefinedTags,
    rs.has('definedTags') ? definedTagsField(rs.get('definedTags'), rs.path('definedTags')) : undefined,
  );
  if (Object.keys(defined).length > 0) details.definedTags = defined;

  return {
    createJobDetails: details,
    artifactPath: artifact.artifactPath,
    artifactUri: artifact.artifactUri ?? undefined,
    artifactEntrypoint: artifact.entrypoint,
    ignored: ctx.ignored,
    warnings: ctx.warnings,
    generatedFiles: parts?.generatedFiles,
  };
}

export function checkAdsType(
  f: Fields,
  expectedKind: string,
  supported: readonly string[],
  unsupported: readonly string[],
  what: string,
  ctx: Ctx,
): string {
  const kind = f.get('kind');
  if (kind !== undefined && kind !== expectedKind) ctx.warnings.push(`${f.path('kind')}: expected '${expectedKind}', got ${describe(kind)}`);
  if (!f.has('type')) fail(f.path('type'), `required (one of ${supported.join(', ')})`);
  const type = str(f.get('type'), f.path('type'));
  if (supported.includes(type)) return type;
  if (unsupported.includes(type)) fail(f.path('type'), `${what} '${type}' is not supported yet (supported: ${supported.join(', ')})`);
  fail(f.path('type'), `unknown ${what} type '${type}' (expected ${supported.join(' or ')})`);
}

export function mergeDefinedTags(
  a: Record<string, Record<string, unknown>> | undefined,
  b: Record<string, Record<string, unknown>> | undefined,
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const src of [a, b]) {
    for (const [ns, keys] of Object.entries(src ?? {})) out[ns] = { ...(out[ns] ?? {}), ...keys };
  }
  return out;
}

/** ADS `env`: a Kubernetes-style list [{name, value}] (or a mapping), interpolated like ADS. */
export function adsEnv(v: unknown, field: string, ctx: Ctx): Record<string, string> {
  const raw = new Map<string, string>();
  const fieldOf = new Map<string, string>();
  const put = (name: string, value: unknown, at: string) => {
    if (raw.has(name)) ctx.warnings.push(`${at}: '${name}' is set again; the last value wins`);
    raw.delete(name);
    raw.set(name, adsEnvValue(value));
    fieldOf.set(name, at);
  };
  if (Array.isArray(v)) {
    v.forEach((item, i) => {
      const at = join(field, i);
      const obj = asObj(item, at);
      const f = Fields.ads(obj, at, ['name', 'value'], ctx);
      if (!f.has('name')) fail(f.path('name'), 'required');
      if (!('value' in obj)) fail(join(at, 'value'), 'required');
      put(envName(f.get('name'), f.path('name')), obj.value, join(at, 'value'));
    });
  } else if (isObj(v)) {
    for (const [k, value] of Object.entries(v)) put(envName(k, join(field, k)), value, join(field, k));
  } else {
    fail(field, `expected a list of {name, value}, got ${describe(v)}`);
  }
  const out: Record<string, string> = {};
  for (const name of raw.keys()) out[name] = interpolateAdsEnv(name, raw, fieldOf.get(name) ?? field);
  return out;
}

/** ADS: None becomes "", other non-strings are JSON-dumped (Python json.dumps). */
export function adsEnvValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return pyJsonDumps(v);
}

export function adsConda(v: unknown, field: string): Record<string, string> {
  const obj = asObj(v, field);
  const type = obj.type;
  if (type === undefined || type === null) fail(join(field, 'type'), 'required (service or published)');
  if (type === 'service') {
    const slug = obj.slug;
    if (typeof slug !== 'string' || slug.trim() === '') fail(join(field, 'slug'), 'required for a service conda environment');
    return { CONDA_ENV_TYPE: 'service', CONDA_ENV_SLUG: slug };
  }
  if (type === 'published') {
    const uri = str(obj.uri, join(field, 'uri'));
    const m = /^oci:\/\/([^@/]+)@([^/]+)\/+(.+)$/.exec(uri);
    if (!m) fail(join(field, 'uri'), `'${uri}' is not a valid conda pack URI (expected oci://bucket@namespace/object_name)`);
    const env: Record<string, string> = {
      CONDA_ENV_TYPE: 'published',
      CONDA_ENV_BUCKET: m[1],
      CONDA_ENV_NAMESPACE: m[2],
      CONDA_ENV_OBJECT_NAME: m[3],
    };
    // ADS falls back to the caller's OCI region; here an absent region means "same region".
    if (obj.region !== undefined && obj.region !== null && obj.region !== '') env.CONDA_ENV_REGION = str(obj.region, join(field, 'region'));
    return env;
  }
  fail(join(field, 'type'), `unknown conda type ${describe(type)} (expected service or published)`);
}

/** ADS args: a list, each item str()-ed and shlex-quoted. A string is taken as an already-joined command line. */
export function adsArgs(v: unknown, field: string): string | undefined {
  if (typeof v === 'string') return checkedCommandLine(v, field);
  if (!Array.isArray(v)) fail(field, `expected a list of arguments, got ${describe(v)}`);
  if (v.length === 0) return undefined;
  const words = v.map((a, i) => {
    if (typeof a === 'string') return a;
    if (typeof a === 'number') return String(a);
    if (a instanceof PyFloat) return a.toString();
    // Python str(True) is "True"; ADS passes args through str().
    if (typeof a === 'boolean') return a ? 'True' : 'False';
    fail(join(field, i), `expected a string, got ${describe(a)}`);
  });
  return joinShellWords(words);
}

export function checkedCommandLine(s: string, field: string): string | undefined {
  try {
    splitShellWords(s);
  } catch (err) {
    if (err instanceof ShellWordsError) fail(field, err.message);
    throw err;
  }
  return s.trim() === '' ? undefined : s;
}

/** The python runtime's outputDir + outputUri (ADS's with_output(dir, uri)): both or neither, the URI oci://. */
function pythonOutputs(rs: Fields, ctx: Ctx): Record<string, string> {
  const get = (key: string) => {
    if (!rs.has(key)) return undefined;
    const v = str(rs.get(key), rs.path(key), { allowEmpty: true }).trim();
    if (v === '') return undefined;
    if (isPlaceholder(v)) {
      ctx.warnings.push(`${rs.path(key)}: '${v}' is a template placeholder, ignored`);
      return undefined;
    }
    return v;
  };
  const dir = get('outputDir');
  const uri = get('outputUri');
  if (uri === undefined) {
    if (dir !== undefined) ctx.warnings.push(`${rs.path('outputDir')}: ignored without outputUri (nothing to copy it to)`);
    return {};
  }
  checkOutputUri(uri, rs.path('outputUri'), false);
  if (dir === undefined) fail(rs.path('outputDir'), 'required with outputUri: the directory (relative to the working directory) copied to it when the run ends');
  checkOutputDir(dir, rs.path('outputDir'));
  return { OUTPUT_DIR: dir, OUTPUT_URI: uri };
}
