import { invalid } from './errors.js';

/** OCI's documented limits (reference §5.1). */
export const MAX_ENV_CHARS = 20_000;
export const MAX_ARGS_CHARS = 4_000;

/** Variables the service injects into every run; a job or run may not set them. */
export const INJECTED_VARS = [
  'JOB_OCID',
  'JOB_RUN_OCID',
  'PROJECT_OCID',
  'JOB_COMPARTMENT_OCID',
  'JOB_RUN_COMPARTMENT_OCID',
  'PROJECT_COMPARTMENT_OCID',
  'TENANCY_OCID',
  'JOB_ARTIFACT_FILE_NAME',
] as const;

/**
 * Names that let a run take over its own runtime (the interpreter or the dynamic loader) before its code starts.
 * PATH, PYTHONPATH and friends stay allowed: they are how users configure their code, and the interpreter itself
 * is resolved by the server with its own PATH.
 */
const FORBIDDEN_EXACT = new Set([
  'NODE_OPTIONS',
  'BASH_ENV',
  'ENV',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  'IFS',
  'CDPATH',
  'GLOBIGNORE',
  'PERL5OPT',
  'PERL5LIB',
  'RUBYOPT',
  'PYTHONSTARTUP',
  'PYTHONINSPECT',
  'PYTHONHOME',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'GCONV_PATH',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'RESOLV_HOST_CONF',
  'MALLOC_CHECK_',
  'NLSPATH',
]);
const FORBIDDEN_PREFIXES = ['LD_', 'BASH_FUNC_', 'DYLD_'];

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Why `name` cannot be an environment variable of a run, or null when it can: the one rule for jobs, runs,
 * automations' overrides and the CLI's YAML specs.
 */
export function envNameProblem(name: string): string | null {
  if (!NAME_RE.test(name)) return 'environment variable names must start with a letter or _ and contain only letters, digits, _, . and -';
  if (FORBIDDEN_EXACT.has(name) || FORBIDDEN_PREFIXES.some((p) => name.startsWith(p))) {
    return `${name} is not allowed: it would let the run take over its runtime`;
  }
  if ((INJECTED_VARS as readonly string[]).includes(name)) return `${name} is set by the service and cannot be overridden`;
  return null;
}

export function checkEnvName(name: string, field: string): void {
  const problem = envNameProblem(name);
  if (problem) throw invalid(`${field}.${name}`, problem);
}

export function checkEnv(env: Record<string, unknown> | undefined | null, field: string): void {
  if (env == null) return;
  for (const [name, value] of Object.entries(env)) {
    checkEnvName(name, field);
    if (typeof value !== 'string') throw invalid(`${field}.${name}`, 'must be a string');
    if (value.includes('\0')) throw invalid(`${field}.${name}`, 'must not contain NUL characters');
  }
}

export function envChars(env: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(env)) n += k.length + v.length;
  return n;
}

export function checkEnvSize(env: Record<string, string>, field: string): void {
  const n = envChars(env);
  if (n > MAX_ENV_CHARS) {
    throw invalid(field, `environment variables total ${n} characters (names and values); the limit is ${MAX_ENV_CHARS}`);
  }
}

export function checkArgs(args: string | null | undefined, field: string): void {
  if (args == null) return;
  if (args.length > MAX_ARGS_CHARS) {
    throw invalid(field, `command line arguments are ${args.length} characters; the limit is ${MAX_ARGS_CHARS}`);
  }
  if (args.includes('\0')) throw invalid(field, 'must not contain NUL characters');
}
