// Turns a YAML job spec into the CreateJobDetails body the CLI sends, plus the local artifact to upload.
//
// Two formats are read:
//  * ADS YAML (`kind: job` or `kind: runtime`), as written by oracle-ads `Job.to_yaml()` and `ads opctl init`
//    (reference/oci-ads-reference.md §4.2; examples in test/fixtures/ads/). Only the `dataScienceJob`
//    infrastructure with the `python` and `script` runtimes is supported; the rest fail with "not supported yet".
//  * The native short YAML (no `kind`, or `kind: dsjobs/job`), documented on NATIVE_KEYS below.
//
// The ADS format is read the way ADS reads it: YAML 1.1 scalars as PyYAML resolves them (`yes` is a boolean),
// env values interpolated like ADS's ConfigParser-based `env_var_parser.parse`, the job name substituted like
// `string.Template.safe_substitute`, args joined like `shlex.quote`. Where ADS needs OCI to resolve something
// (an IP to a mount target OCID, a log to its log group) the value is passed through or listed as ignored.
//
// Artifact convention: for a directory artifact JOB_RUN_ENTRYPOINT is relative to the directory itself, so the
// CLI must zip the directory's *contents* (no top-level folder). ADS writes entrypoints either relative to the
// directory or prefixed with its name; both are accepted and normalised to the former.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Scalar, parse as parseYaml, type ScalarTag, type Tags } from 'yaml';

import { ShellWordsError, joinShellWords, splitShellWords } from '../domain/shell-words.js';
import { DurationError, parseDuration as parseDomainDuration } from '../domain/duration.js';
import { envNameProblem } from '../domain/env-policy.js';
import { isOcid } from '../domain/ocid.js';
import { DEFAULT_BLOCK_STORAGE_GB } from '../domain/job-config.js';

export interface JobSpecResult {
  /** OCI CreateJobDetails wire JSON (camelCase). projectId/compartmentId only when the spec gives real OCIDs. */
  createJobDetails: Record<string, unknown>;
  /** Absolute path of the local file or directory to upload (a directory is zipped by the CLI), or null. */
  artifactPath: string | null;
  /** For directories and archives: the JOB_RUN_ENTRYPOINT value (also placed into the env). */
  artifactEntrypoint: string | null;
  /** Fields accepted but meaningless here, as human messages naming the field. */
  ignored: string[];
  warnings: string[];
}

export class JobSpecError extends Error {
  constructor(
    message: string,
    /** Path of the offending field, e.g. `spec.runtime.type`; absent for whole-document problems. */
    public readonly field?: string,
  ) {
    super(message);
    this.name = 'JobSpecError';
  }
}

export interface ParseJobSpecOptions {
  /** Directory of the spec file; relative artifact paths are resolved against it. */
  specDir: string;
  /** Environment of the calling process; only HOME is read, to expand `~/` in artifact paths. */
  env?: Record<string, string>;
}

export function parseJobSpec(text: string, opts: ParseJobSpecOptions): JobSpecResult {
  const ctx = new Ctx(path.resolve(opts.specDir), opts.env?.HOME || os.homedir());
  const probe = loadYaml(text, false);
  if (probe === null || probe === undefined) throw new JobSpecError('the job spec is empty');
  if (!isObj(probe)) throw new JobSpecError(`the job spec must be a YAML mapping, got ${describe(probe)}`);

  const kind = probe.kind;
  if (kind === undefined || kind === null || kind === 'dsjobs/job') {
    if (kind == null && isObj(probe.spec) && ('runtime' in probe.spec || 'infrastructure' in probe.spec)) {
      ctx.warnings.push("kind: missing; read as an ADS 'kind: job' spec");
      return parseAds(loadAdsYaml(text, 'job'), 'job', ctx);
    }
    return parseNative(probe, ctx);
  }
  if (typeof kind !== 'string') fail('kind', `expected a string, got ${describe(kind)}`);
  if (kind === 'job' || kind === 'runtime') return parseAds(loadAdsYaml(text, kind), kind, ctx);
  if (kind === 'jobRun') {
    fail('kind', "'jobRun' describes a job run, not a job; give a 'kind: job' spec (ADS Job.to_yaml()) instead");
  }
  if (kind === 'infrastructure') {
    fail('kind', "'infrastructure' describes only the infrastructure; a job spec needs a runtime too ('kind: job')");
  }
  fail('kind', `unknown kind '${kind}' (expected job or runtime for ADS specs, or dsjobs/job)`);
}

// ---------------------------------------------------------------------------------------------------------------
// Durations

/** The domain's duration reading (one rule for the CLI's flags and the specs), failing with a JobSpecError. */
export function parseDuration(text: string | number): number {
  try {
    return parseDomainDuration(text);
  } catch (e) {
    if (e instanceof DurationError) throw new JobSpecError(e.message);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Shared plumbing

type Obj = Record<string, unknown>;

class Ctx {
  readonly warnings: string[] = [];
  readonly ignored: string[] = [];
  constructor(
    readonly specDir: string,
    readonly home: string,
  ) {}
}

function fail(field: string, message: string): never {
  throw new JobSpecError(field ? `${field}: ${message}` : message, field || undefined);
}

function join(at: string, key: string | number): string {
  if (typeof key === 'number') return `${at}[${key}]`;
  return at ? `${at}.${key}` : key;
}

function isObj(v: unknown): v is Obj {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    !(v instanceof Date) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof PyFloat)
  );
}

function asObj(v: unknown, field: string): Obj {
  if (!isObj(v)) fail(field, `expected a mapping, got ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isObj(v)) return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (v instanceof PyFloat) return `number ${v.toString()}`;
  return `${typeof v} ${String(v)}`;
}

// PyYAML (what ADS uses) resolves YAML 1.1 scalars, but not exactly as the `yaml` package's 1.1 schema does:
// only yes/no/true/false/on/off are booleans (not y/n), decimal ints have no leading zero (`08` is a string),
// floats need a dot and a signed exponent (`1e3` is a string), and timestamps are left as strings here
// because ADS would str() them back anyway. Floats come back as PyFloat so that env values and args can be
// printed the way Python prints them (`1.0`, not `1`); see loadAdsYaml.
const PY_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PY_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
const PY_INT = /^[-+]?(?:0|[1-9][0-9_]*)$/;
const PY_FLOAT_EXP = /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*[eE][-+][0-9]+$/;

/** A YAML float, kept apart from ints while the ADS document is read. */
class PyFloat {
  constructor(readonly value: number) {}
  /** Python's str()/repr() of a float. */
  toString(): string {
    const x = this.value;
    if (Number.isNaN(x)) return 'nan';
    if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
    if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
    const [mantissa, expText] = x.toExponential().split('e');
    const exp = Number(expText);
    if (exp >= -4 && exp < 16) {
      const fixed = String(x);
      return fixed.includes('.') ? fixed : `${fixed}.0`;
    }
    return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
}

function pyYamlTags(tags: Tags): Tags {
  const out: Tags = [];
  for (const t of tags) {
    if (typeof t !== 'object') {
      out.push(t);
      continue;
    }
    if (t.tag === 'tag:yaml.org,2002:bool' || t.tag === 'tag:yaml.org,2002:timestamp') continue;
    const scalar = t as ScalarTag;
    if (scalar.tag === 'tag:yaml.org,2002:int' && scalar.format === undefined && scalar.test?.source === '^[-+]?[0-9][0-9_]*$') {
      out.push({ ...scalar, test: PY_INT });
      continue;
    }
    if (scalar.tag === 'tag:yaml.org,2002:float') {
      const resolve = scalar.resolve;
      out.push({
        ...scalar,
        test: scalar.format === 'EXP' ? PY_FLOAT_EXP : scalar.test,
        resolve: (...args: Parameters<ScalarTag['resolve']>) => {
          const r = resolve(...args);
          return new PyFloat(Number(r instanceof Scalar ? r.value : r));
        },
      });
      continue;
    }
    out.push(t);
  }
  const boolTag = (value: boolean, test: RegExp): ScalarTag => ({
    identify: (v) => v === value,
    default: true,
    tag: 'tag:yaml.org,2002:bool',
    test,
    resolve: () => value,
    stringify: () => String(value),
  });
  out.push(boolTag(true, PY_TRUE), boolTag(false, PY_FALSE));
  return out;
}

function loadYaml(text: string, pyyaml: boolean): unknown {
  try {
    return pyyaml ? parseYaml(text, { version: '1.1', customTags: pyYamlTags }) : parseYaml(text);
  } catch (err) {
    throw new JobSpecError(`invalid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Reads an ADS document with PyYAML's scalar rules. Floats stay PyFloat only inside the runtime's `env` and
 * `args`, which ADS turns into strings with Python's rules; everywhere else they are plain numbers.
 */
function loadAdsYaml(text: string, kind: 'job' | 'runtime'): Obj {
  const doc = asObj(loadYaml(text, true), '');
  const norm = (k: string) => k.replace(/_/g, '').toLowerCase();
  const pick = (o: unknown, key: string): unknown =>
    isObj(o) ? Object.entries(o).find(([k]) => norm(k) === norm(key))?.[1] : undefined;
  const runtimeSpec = kind === 'runtime' ? pick(doc, 'spec') : pick(pick(pick(doc, 'spec'), 'runtime'), 'spec');
  const keep = new Set<unknown>([pick(runtimeSpec, 'env'), pick(runtimeSpec, 'args')].filter((v) => v !== null && typeof v === 'object'));
  const unwrap = (v: unknown): unknown => {
    if (v instanceof PyFloat) return v.value;
    if (keep.has(v)) return v;
    if (Array.isArray(v)) return v.map(unwrap);
    if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
    return v;
  };
  return unwrap(doc) as Obj;
}

/** Keys of one mapping, matched against the known ones. */
class Fields {
  private constructor(
    readonly at: string,
    private readonly found: Map<string, { key: string; value: unknown }>,
  ) {}

  /**
   * ADS mode: keys match case-insensitively and ignoring `_` (ADS accepts snake_case aliases and `outputURI`);
   * unknown keys become warnings.
   */
  static ads(obj: Obj, at: string, known: readonly string[], ctx: Ctx, silent: readonly string[] = []): Fields {
    const norm = (k: string) => k.replace(/_/g, '').toLowerCase();
    const byNorm = new Map(known.map((k) => [norm(k), k]));
    const found = new Map<string, { key: string; value: unknown }>();
    for (const [key, value] of Object.entries(obj)) {
      const canon = byNorm.get(norm(key));
      if (!canon) {
        if (!silent.includes(key)) ctx.warnings.push(`${join(at, key)}: unknown key, ignored`);
        continue;
      }
      const prev = found.get(canon);
      if (prev) {
        ctx.warnings.push(`${join(at, key)}: same key as ${join(at, prev.key)}, ignored`);
        continue;
      }
      found.set(canon, { key, value });
    }
    return new Fields(at, found);
  }

  /** Native mode: exact keys; an unknown key is an error. */
  static strict(obj: Obj, at: string, known: readonly string[]): Fields {
    const found = new Map<string, { key: string; value: unknown }>();
    for (const [key, value] of Object.entries(obj)) {
      if (!known.includes(key)) {
        const hint = suggest(key, known);
        fail(join(at, key), `unknown key${hint ? ` (did you mean '${hint}'?)` : ''}; known keys: ${known.join(', ')}`);
      }
      found.set(key, { key, value });
    }
    return new Fields(at, found);
  }

  /** The value, with null treated as absent. */
  get(canon: string): unknown {
    const v = this.found.get(canon)?.value;
    return v === null ? undefined : v;
  }

  has(canon: string): boolean {
    return this.get(canon) !== undefined;
  }

  /** Field path for messages, spelled as the spec spells the key. */
  path(canon: string): string {
    return join(this.at, this.found.get(canon)?.key ?? canon);
  }
}

function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : levenshtein(k.toLowerCase(), key.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = k;
    }
  }
  return bestDist <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function str(v: unknown, field: string, opts: { allowEmpty?: boolean } = {}): string {
  if (typeof v !== 'string') fail(field, `expected a string, got ${describe(v)}`);
  if (!opts.allowEmpty && v.trim() === '') fail(field, 'must not be empty');
  return v;
}

/** A number; with `lenient`, numeric strings too (the OCI CLI sample sends blockStorageSizeInGBs as "100"). */
function num(v: unknown, field: string, opts: { integer?: boolean; lenient?: boolean } = {}): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (opts.lenient && typeof v === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(v)) n = Number(v);
  else fail(field, `expected a ${opts.integer ? 'whole number' : 'number'}, got ${describe(v)}`);
  if (!Number.isFinite(n) || n <= 0) fail(field, `must be greater than zero, got ${n}`);
  if (opts.integer && !Number.isInteger(n)) fail(field, `expected a whole number, got ${n}`);
  return n;
}

function duration(v: unknown, field: string): number {
  if (typeof v !== 'number' && typeof v !== 'string') fail(field, `expected minutes or a duration like 30m, got ${describe(v)}`);
  try {
    return parseDuration(v);
  } catch (err) {
    if (err instanceof JobSpecError) fail(field, err.message);
    throw err;
  }
}

// `<compartment_ocid>`, `ocid1.log.oc1.iad.<unique_id>`, `{{ compartment_id }}` (Jinja), and the
// `'{Provide a compartment OCID}'` strings `ads opctl init` writes.
function isPlaceholder(s: string): boolean {
  const t = s.trim();
  return /<[^<>]*>/.test(t) || /\{\{.*\}\}/.test(t) || /^\{[^{}]*\}$/.test(t);
}

function ocidField(v: unknown, field: string, ctx: Ctx): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') fail(field, `expected an OCID, got ${describe(v)}`);
  if (isPlaceholder(v)) {
    ctx.ignored.push(`${field} ('${v}' is a template placeholder; the CLI's default is used)`);
    return undefined;
  }
  if (!isOcid(v)) fail(field, `'${v}' is not an OCID (expected ocid1.<type>.<realm>.<region>.<id>)`);
  return v;
}

/** The server's rule for variable names (src/domain/env-policy.ts), so a spec fails here, naming its field. */
function envName(v: unknown, field: string): string {
  if (typeof v !== 'string') fail(field, `expected a variable name, got ${describe(v)} (quote it in the YAML)`);
  const problem = envNameProblem(v);
  if (problem) fail(field, `'${v}' is not a valid environment variable name: ${problem}`);
  return v;
}

function tagsField(v: unknown, field: string): Record<string, string> {
  const obj = asObj(v, field);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj)) {
    if (typeof val === 'string') out[k] = val;
    else if (typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
    else if (val === null) out[k] = '';
    else fail(join(field, k), `tag values must be strings, got ${describe(val)}`);
  }
  return out;
}

function definedTagsField(v: unknown, field: string): Record<string, Record<string, unknown>> {
  const obj = asObj(v, field);
  const out: Record<string, Record<string, unknown>> = {};
  for (const [ns, keys] of Object.entries(obj)) {
    out[ns] = { ...asObj(keys, join(field, ns)) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Infrastructure pieces shared by both formats

// ADS MAXIMUM_MOUNT_COUNT; OCI allows 5 mounts per job.
const MAX_MOUNTS = 5;
const CPU_BASELINES = ['BASELINE_1_8', 'BASELINE_1_2', 'BASELINE_1_1'];

interface ShapeConfig {
  ocpus?: number;
  memoryInGBs?: number;
  cpuBaseline?: string;
}

function infrastructureDetails(
  type: string,
  shapeName: string | undefined,
  blockStorage: number | undefined,
  shape: ShapeConfig,
  shapeConfigField: string,
  shapeField: string,
  ctx: Ctx,
): Record<string, unknown> {
  const details: Record<string, unknown> = { jobInfrastructureType: type };
  if (shapeName !== undefined) details.shapeName = shapeName;
  else if (shapeField) ctx.warnings.push(`${shapeField}: not given; the CLI's or server's default shape applies`);
  details.blockStorageSizeInGBs = blockStorage ?? DEFAULT_BLOCK_STORAGE_GB;
  const config: Record<string, unknown> = {};
  if (shape.ocpus !== undefined) config.ocpus = shape.ocpus;
  if (shape.memoryInGBs !== undefined) config.memoryInGBs = shape.memoryInGBs;
  if (shape.cpuBaseline !== undefined) config.cpuBaseline = shape.cpuBaseline;
  if (Object.keys(config).length > 0) {
    // Same rule as OCI and ADS ("Shape config is not required for non flex shape from user end.").
    if (shapeName !== undefined && !shapeName.endsWith('Flex')) {
      fail(shapeConfigField, `ocpus/memory can only be set for Flex shapes, and '${shapeName}' is not one`);
    }
    details.jobShapeConfigDetails = config;
  }
  return details;
}

function storageMounts(v: unknown, field: string, ctx: Ctx, strict: boolean): Record<string, unknown>[] {
  if (!Array.isArray(v)) fail(field, `expected a list of {src, dest}, got ${describe(v)}`);
  if (v.length > MAX_MOUNTS) fail(field, `at most ${MAX_MOUNTS} storage mounts are allowed per job, got ${v.length}`);
  const seen = new Map<string, string>();
  const mounts: Record<string, unknown>[] = [];
  v.forEach((item, i) => {
    const at = join(field, i);
    const obj = asObj(item, at);
    const f = strict ? Fields.strict(obj, at, ['src', 'dest']) : Fields.ads(obj, at, ['src', 'dest'], ctx);
    if (!f.has('src')) fail(f.path('src'), 'required');
    if (!f.has('dest')) fail(f.path('dest'), 'required');
    const src = str(f.get('src'), f.path('src')).trim();
    const dest = str(f.get('dest'), f.path('dest')).trim();
    // A template placeholder names no real storage: the mount is left out, like placeholder ids.
    if (isPlaceholder(src) || isPlaceholder(dest)) {
      ctx.ignored.push(`${at} ('${src}' -> '${dest}' is a template placeholder)`);
      return;
    }

    const mount: Record<string, unknown> = mountSource(src, f.path('src'));
    const { destinationPath, destinationDirectoryName } = mountDestination(dest, f.path('dest'));
    if (destinationPath !== undefined) mount.destinationPath = destinationPath;
    mount.destinationDirectoryName = destinationDirectoryName;

    // Without destinationPath OCI mounts under /mnt.
    const effective = path.posix.join(destinationPath ?? '/mnt', destinationDirectoryName);
    const other = seen.get(effective);
    if (other) fail(f.path('dest'), `mounts at ${effective} like ${other}; each mount needs its own destination`);
    seen.set(effective, f.path('dest'));
    mounts.push(mount);
  });
  return mounts;
}

function mountSource(src: string, field: string): Record<string, unknown> {
  if (src.startsWith('oci://')) {
    // Split the way ADS does: bucket before '@', then namespace up to the first '/', the rest is the prefix
    // with surrounding slashes removed.
    const rest = src.slice('oci://'.length);
    const at = rest.indexOf('@');
    const bucket = at > 0 ? rest.slice(0, at) : '';
    const after = at > 0 ? rest.slice(at + 1).replace(/^\/+|\/+$/g, '') : '';
    const slash = after.indexOf('/');
    const namespace = slash < 0 ? after : after.slice(0, slash);
    const prefix = slash < 0 ? '' : after.slice(slash + 1);
    if (!bucket || !namespace) fail(field, `'${src}' is not a valid object storage source (expected oci://bucket@namespace/prefix)`);
    const mount: Record<string, unknown> = { storageType: 'OBJECT_STORAGE', namespace, bucket };
    if (prefix) mount.prefix = prefix;
    return mount;
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(src);
  if (scheme) fail(field, `'${src}': ${scheme[1]}:// sources are not supported (expected oci://bucket@namespace/prefix or <mountTarget>:<export>)`);
  // ADS code splits file storage sources on ':'; the ADS docs show '<ip>@<export_path>'. Both are read.
  let sep = src.indexOf(':');
  if (sep <= 0) sep = src.indexOf('@');
  const host = sep > 0 ? src.slice(0, sep) : '';
  const exportPart = sep > 0 ? src.slice(sep + 1) : '';
  if (!host || !exportPart) {
    fail(field, `'${src}' is not a valid source (expected oci://bucket@namespace/prefix or <mountTargetIpOrOcid>:<exportPathOrOcid>)`);
  }
  return { storageType: 'FILE_STORAGE', mountTargetId: host, exportId: exportPart };
}

function mountDestination(dest: string, field: string): { destinationPath?: string; destinationDirectoryName: string } {
  const d = dest.length > 1 ? dest.replace(/\/+$/, '') : dest;
  const slash = d.lastIndexOf('/');
  const name = d.slice(slash + 1);
  if (!name || name === '.' || name === '..') fail(field, `'${dest}' does not name a directory`);
  if (slash < 0) return { destinationDirectoryName: name };
  const dir = slash === 0 ? '/' : d.slice(0, slash);
  if (!dir.startsWith('/') && !isPlaceholder(dir)) {
    fail(field, `'${dest}' must be an absolute path or a single directory name (mounted under /mnt)`);
  }
  return { destinationPath: dir, destinationDirectoryName: name };
}

// ---------------------------------------------------------------------------------------------------------------
// Artifacts

const SINGLE_FILE_EXTS = ['.py', '.sh'];
const ARCHIVE_EXTS = ['.zip', '.tar.gz', '.tgz'];

interface Artifact {
  artifactPath: string | null;
  entrypoint: string | null;
}

function resolveArtifact(
  srcValue: unknown,
  srcField: string,
  entryValue: unknown,
  entryField: string,
  workingDir: string | undefined,
  ctx: Ctx,
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
    if (srcValue === undefined) ctx.warnings.push(`${srcField}: not given; upload an artifact before starting runs`);
    return { artifactPath: null, entrypoint: entry !== undefined ? relativeEntry(entry, entryField) : null };
  }

  let local = src;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(src);
  if (scheme) {
    if (scheme[1].toLowerCase() !== 'file') {
      fail(srcField, `'${src}': only local paths are supported (${scheme[1]}:// URIs are not supported yet)`);
    }
    try {
      local = fileURLToPath(src);
    } catch (err) {
      fail(srcField, `'${src}' is not a valid file URI: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else if (local === '~' || local.startsWith('~/')) {
    local = path.join(ctx.home, local.slice(1));
  }
  const abs = path.resolve(ctx.specDir, local);
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  if (!st) fail(srcField, `'${src}' does not exist (looked for ${abs})`);

  if (st.isDirectory()) {
    if (entry === undefined) fail(entryField, `required when the artifact is a directory (${abs})`);
    return { artifactPath: abs, entrypoint: directoryEntry(abs, entry, entryField, workingDir) };
  }
  if (!st.isFile()) fail(srcField, `'${src}' is neither a file nor a directory`);

  const base = path.basename(abs);
  const lower = base.toLowerCase();
  if (ARCHIVE_EXTS.some((e) => lower.endsWith(e))) {
    if (entry === undefined) {
      ctx.warnings.push(`${entryField}: not given for archive ${base}; runs fail unless JOB_RUN_ENTRYPOINT is set`);
      return { artifactPath: abs, entrypoint: null };
    }
    return { artifactPath: abs, entrypoint: relativeEntry(entry, entryField) };
  }
  if (SINGLE_FILE_EXTS.some((e) => lower.endsWith(e))) {
    if (entry !== undefined && path.posix.basename(entry) !== base) {
      ctx.warnings.push(`${entryField}: ignored, a single-file artifact (${base}) is itself the entrypoint`);
    }
    return { artifactPath: abs, entrypoint: null };
  }
  fail(srcField, `unsupported artifact '${base}' (expected a .py or .sh file, a .zip, .tar.gz or .tgz archive, or a directory)`);
}

/** A relative path inside the artifact, normalised; absolute paths and `..` escapes are refused. */
function relativeEntry(entry: string, field: string): string {
  const e = entry.replace(/\\/g, '/');
  if (e.startsWith('/')) fail(field, `'${entry}' must be relative to the artifact`);
  const n = path.posix.normalize(e);
  if (n === '..' || n.startsWith('../') || n === '.') fail(field, `'${entry}' points outside the artifact`);
  return n;
}

function directoryEntry(dir: string, entry: string, field: string, workingDir: string | undefined): string {
  const rel = relativeEntry(entry, field);
  const base = path.basename(dir);
  const candidates = [rel];
  // ADS zips a directory under its own name, so its entrypoints are often written as "<dirname>/...".
  if (rel.startsWith(base + '/')) candidates.push(rel.slice(base.length + 1));
  // ADS PythonRuntime: entrypoint is relative to workingDir, which is relative to the directory's parent.
  if (workingDir !== undefined && !isPlaceholder(workingDir)) {
    const joined = path.posix.normalize(path.posix.join(workingDir.replace(/\\/g, '/'), rel));
    if (!joined.startsWith('../') && !joined.startsWith('/')) {
      candidates.push(joined);
      if (joined.startsWith(base + '/')) candidates.push(joined.slice(base.length + 1));
    }
  }
  for (const c of candidates) {
    if (fs.statSync(path.join(dir, c), { throwIfNoEntry: false })?.isFile()) return c;
  }
  fail(field, `'${entry}' is not a file inside ${dir}`);
}

// ---------------------------------------------------------------------------------------------------------------
// ADS format

const ADS_UNSUPPORTED_RUNTIMES = ['container', 'gitPython', 'notebook', 'pyTorchDistributed', 'dataFlow', 'dataFlowNotebook', 'operator'];
const ADS_UNSUPPORTED_INFRA = ['dataFlow', 'kubernetesJob'];

const ADS_INFRA_KEYS = [
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

const ADS_COMMON_RUNTIME_KEYS = [
  'args',
  'conda',
  'entrypoint',
  'env',
  'freeformTags',
  'definedTags',
  'maximumRuntimeInMinutes',
  'scriptPathURI',
];
// Read by ADS's Python driver, which dsjobs does not ship; accepted with a warning.
const ADS_PYTHON_ONLY_KEYS = ['outputDir', 'outputUri', 'pythonPath', 'workingDir', 'entryFunction'];

function parseAds(doc: Obj, kind: 'job' | 'runtime', ctx: Ctx): JobSpecResult {
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
  const runtimeType = checkAdsType(runtime, 'runtime', ['python', 'script'], ADS_UNSUPPORTED_RUNTIMES, 'runtime', ctx);
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
    runtimeType === 'python' ? [...ADS_COMMON_RUNTIME_KEYS, ...ADS_PYTHON_ONLY_KEYS] : ADS_COMMON_RUNTIME_KEYS,
    ctx,
  );
  const userEnv = rs.has('env') ? adsEnv(rs.get('env'), rs.path('env'), ctx) : {};
  const conda = rs.has('conda') ? adsConda(rs.get('conda'), rs.path('conda')) : {};

  let workingDir: string | undefined;
  if (runtimeType === 'python') {
    for (const key of ADS_PYTHON_ONLY_KEYS) {
      const v = rs.get(key);
      if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
      ctx.warnings.push(`${rs.path(key)}: not supported yet, ignored`);
    }
    const wd = rs.get('workingDir');
    if (typeof wd === 'string' && wd !== '') workingDir = wd;
  }

  let entryValue = rs.get('entrypoint');
  let entryField = rs.path('entrypoint');
  if (entryValue === undefined && userEnv.JOB_RUN_ENTRYPOINT !== undefined) {
    entryValue = userEnv.JOB_RUN_ENTRYPOINT;
    entryField = `${rs.path('env')}.JOB_RUN_ENTRYPOINT`;
  }
  const artifact = resolveArtifact(rs.get('scriptPathURI'), rs.path('scriptPathURI'), entryValue, entryField, workingDir, ctx);

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
  const system: Record<string, string> = { ...conda };
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
  details.jobConfigurationDetails = config;
  details.jobInfrastructureConfigurationDetails = infraDetails;
  if (mounts.length > 0) details.jobStorageMountConfigurationDetailsList = mounts;
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
    artifactEntrypoint: artifact.entrypoint,
    ignored: ctx.ignored,
    warnings: ctx.warnings,
  };
}

function checkAdsType(
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

function mergeDefinedTags(
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
function adsEnv(v: unknown, field: string, ctx: Ctx): Record<string, string> {
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
function adsEnvValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return pyJsonDumps(v);
}

// Python's configparser.MAX_INTERPOLATION_DEPTH.
const MAX_INTERPOLATION_DEPTH = 10;

/**
 * ADS's EnvVarInterpolation (ExtendedInterpolation with errors ignored): `$$` is `$`, `${NAME}` and
 * `${envs:NAME}` are other entries (recursively), an undefined reference is left as written together with
 * everything after it (ADS appends the raw rest and stops), and any other `$` is literal.
 */
function interpolateAdsEnv(name: string, raw: Map<string, string>, field: string): string {
  const accum: string[] = [];
  const walk = (rest: string, depth: number) => {
    if (depth > MAX_INTERPOLATION_DEPTH) fail(field, `references nest more than ${MAX_INTERPOLATION_DEPTH} deep (is a variable referring to itself?)`);
    while (rest) {
      const p = rest.indexOf('$');
      if (p < 0) {
        accum.push(rest);
        return;
      }
      if (p > 0) {
        accum.push(rest.slice(0, p));
        rest = rest.slice(p);
      }
      const c = rest.slice(1, 2);
      if (c === '$') {
        accum.push('$');
        rest = rest.slice(2);
      } else if (c === '{') {
        const m = /^\$\{([^}]+)\}/.exec(rest);
        if (!m) fail(field, `bad variable reference '${rest}' (write $$ for a literal $)`);
        const parts = m[1].split(':');
        let v: string | undefined;
        if (parts.length === 1) v = raw.get(parts[0]);
        else if (parts.length === 2) v = parts[0] === 'envs' ? raw.get(parts[1]) : undefined;
        else fail(field, `bad variable reference '${m[0]}': more than one ':'`);
        if (v === undefined) {
          accum.push(rest);
          return;
        }
        rest = rest.slice(m[0].length);
        if (v.includes('$')) walk(v, depth + 1);
        else accum.push(v);
      } else {
        accum.push('$');
        rest = rest.slice(1);
      }
    }
  };
  walk(raw.get(name) ?? '', 1);
  return accum.join('');
}

/** Python's string.Template(s).safe_substitute(vars). */
function templateSafeSubstitute(s: string, vars: Record<string, string>): string {
  return s.replace(/\$(?:(\$)|([_a-zA-Z][_a-zA-Z0-9]*)|\{([_a-zA-Z][_a-zA-Z0-9]*)\})/g, (m, esc, named, braced) => {
    if (esc) return '$';
    const k = (named ?? braced) as string;
    return Object.prototype.hasOwnProperty.call(vars, k) ? vars[k] : m;
  });
}

/** Python json.dumps with its defaults: ", " and ": " separators, ensure_ascii. */
function pyJsonDumps(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof PyFloat) {
    if (Number.isNaN(v.value)) return 'NaN';
    if (!Number.isFinite(v.value)) return v.value > 0 ? 'Infinity' : '-Infinity';
    return v.toString();
  }
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return Number.isInteger(v) ? String(v) : new PyFloat(v).toString();
  }
  if (typeof v === 'string') return pyJsonString(v);
  if (Array.isArray(v)) return '[' + v.map(pyJsonDumps).join(', ') + ']';
  if (v instanceof Set) return pyJsonDumps([...v]);
  if (v instanceof Map) return pyJsonDumps(Object.fromEntries(v));
  if (isObj(v)) return '{' + Object.entries(v).map(([k, x]) => `${pyJsonString(k)}: ${pyJsonDumps(x)}`).join(', ') + '}';
  return pyJsonString(String(v));
}

function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    const code = s.charCodeAt(i);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else if (code < 0x20 || code > 0x7e) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += c;
  }
  return out + '"';
}

function adsConda(v: unknown, field: string): Record<string, string> {
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
function adsArgs(v: unknown, field: string): string | undefined {
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

function checkedCommandLine(s: string, field: string): string | undefined {
  try {
    splitShellWords(s);
  } catch (err) {
    if (err instanceof ShellWordsError) fail(field, err.message);
    throw err;
  }
  return s.trim() === '' ? undefined : s;
}

// ---------------------------------------------------------------------------------------------------------------
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

const NATIVE_KEYS = [
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

function parseNative(doc: Obj, ctx: Ctx): JobSpecResult {
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
    artifactEntrypoint: artifact.entrypoint,
    ignored: ctx.ignored,
    warnings: ctx.warnings,
  };
}

function nativeEnv(v: unknown, field: string): Record<string, string> {
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

function nativeArgs(v: unknown, field: string): string | undefined {
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
