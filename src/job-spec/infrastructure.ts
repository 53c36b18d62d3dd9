import { DEFAULT_BLOCK_STORAGE_GB } from '../domain/job-config.js';
import { Fields, isPlaceholder, str } from './fields.js';
import { Ctx, asObj, describe, fail, join } from './plumbing.js';
import * as posix from './posix-path.js';

// Infrastructure pieces shared by both formats

// ADS MAXIMUM_MOUNT_COUNT; OCI allows 5 mounts per job.
export const MAX_MOUNTS = 5;
export const CPU_BASELINES = ['BASELINE_1_8', 'BASELINE_1_2', 'BASELINE_1_1'];

export interface ShapeConfig {
  ocpus?: number;
  memoryInGBs?: number;
  cpuBaseline?: string;
}

export function infrastructureDetails(
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

export function storageMounts(v: unknown, field: string, ctx: Ctx, strict: boolean): Record<string, unknown>[] {
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
    const effective = posix.join(destinationPath ?? '/mnt', destinationDirectoryName);
    const other = seen.get(effective);
    if (other) fail(f.path('dest'), `mounts at ${effective} like ${other}; each mount needs its own destination`);
    seen.set(effective, f.path('dest'));
    mounts.push(mount);
  });
  return mounts;
}

export function mountSource(src: string, field: string): Record<string, unknown> {
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

export function mountDestination(dest: string, field: string): { destinationPath?: string; destinationDirectoryName: string } {
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
