// ADS's pyTorchDistributed runtime: the same code on `replicas` nodes of one multi-node job (OCI's
// jobNodeConfigurationDetails, one node group as ADS builds it), each node running the spec's `command` (e.g.
// `torchrun train.py`) through the driver (drivers/pytorch-driver.ts). ads.ts turns `replicas` into the node group.
import { PYTORCH_DRIVER_NAME, PYTORCH_DRIVER_SH } from './drivers/pytorch-driver.js';
import { type Fields, isPlaceholder, num, str } from './fields.js';
import { type Ctx, fail } from './plumbing.js';
import * as posix from './posix-path.js';
import type { AdsRuntimeReader, RuntimeParts } from './runtime-reader.js';
import { joinShellWords } from '../domain/shell-words.js';

export const PYTORCH_KEYS = ['command', 'replicas', 'deepspeed', 'git', 'inputs', 'dependencies', 'entryFunction', 'pythonPath', 'workingDir', 'outputDir', 'outputUri'];
// ADS features this runtime does not bring yet: refused by name rather than silently left out.
const NOT_YET = ['git', 'inputs', 'dependencies', 'entryFunction', 'pythonPath', 'workingDir', 'outputDir', 'outputUri'];

export function readPyTorchDistributed(rs: Fields, _userEnv: Record<string, string>, ctx: Ctx): RuntimeParts {
  for (const key of NOT_YET) if (rs.has(key)) fail(rs.path(key), 'not supported yet in the pyTorchDistributed runtime');
  if (rs.has('deepspeed') && rs.get('deepspeed') !== false) fail(rs.path('deepspeed'), 'DeepSpeed launches are not supported yet');
  const replicas = rs.has('replicas') ? num(rs.get('replicas'), rs.path('replicas'), { integer: true, lenient: true }) : 1;
  let command: string | undefined;
  if (rs.has('command')) command = str(rs.get('command'), rs.path('command')).trim();
  const entry = rs.has('entrypoint') ? str(rs.get('entrypoint'), rs.path('entrypoint')).trim() : undefined;
  if (!command) {
    if (!entry) fail(rs.path('command'), 'required (e.g. torchrun train.py), or an entrypoint to run with python3');
    command = joinShellWords(['python3', entry]);
  }
  let artifactPath: string | null = null;
  if (rs.has('scriptPathURI')) {
    const src = str(rs.get('scriptPathURI'), rs.path('scriptPathURI'));
    if (isPlaceholder(src)) ctx.warnings.push(`${rs.path('scriptPathURI')}: '${src}' is a template placeholder; no code is packed`);
    else {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) fail(rs.path('scriptPathURI'), `'${src}': only local files and directories are supported for pyTorchDistributed`);
      const abs = posix.resolve(ctx.specDir, src.startsWith('~/') ? posix.join(ctx.files.home, src.slice(1)) : src);
      const kind = ctx.files.kind(abs);
      if (kind !== 'file' && kind !== 'directory') fail(rs.path('scriptPathURI'), `'${src}' is not a file or directory (looked for ${abs})`);
      artifactPath = abs;
    }
  }
  return {
    env: { OCI__LAUNCH_CMD: command },
    artifactPath,
    generatedFiles: [{ name: PYTORCH_DRIVER_NAME, content: PYTORCH_DRIVER_SH }],
    entrypoint: PYTORCH_DRIVER_NAME,
    replicas,
  };
}

export const PYTORCH_READER: AdsRuntimeReader = { keys: PYTORCH_KEYS, read: readPyTorchDistributed };
