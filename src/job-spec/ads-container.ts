import { isPlaceholder, str } from './fields.js';
import type { Fields } from './fields.js';
import { Ctx, describe, fail, join } from './plumbing.js';

/**
 * ADS's ContainerRuntime (`runtime: {type: container}`): its image and command become OCI's
 * jobEnvironmentConfigurationDetails (OCIR_CONTAINER); env, args and the optional scriptPathURI artifact are read as
 * for the other runtimes (ads.ts). `entrypoint` and `cmd` are lists, or strings that ADS splits on commas
 * (`"-c,echo Hello"` is ["-c", "echo Hello"]).
 */
export const ADS_CONTAINER_RUNTIME_KEYS = [
  'image',
  'cmd',
  'entrypoint',
  'env',
  'args',
  'scriptPathURI',
  'freeformTags',
  'definedTags',
  'maximumRuntimeInMinutes',
  'imageDigest',
  'imageSignatureId',
];

function words(v: unknown, field: string, ctx: Ctx): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    if (isPlaceholder(v)) {
      ctx.warnings.push(`${field}: '${v}' is a template placeholder, ignored (the image's own applies)`);
      return undefined;
    }
    // ADS: a string is split on commas, each part kept as it is.
    return v === '' ? [] : v.split(',');
  }
  if (!Array.isArray(v)) fail(field, `expected a list of strings or a comma-separated string, got ${describe(v)}`);
  return v.map((w, i) => (typeof w === 'number' ? String(w) : str(w, join(field, i), { allowEmpty: true })));
}

/** The container of an ADS container runtime; a placeholder image is left out with a warning (the CLI's --image gives it). */
export function adsContainer(rs: Fields, ctx: Ctx): Record<string, unknown> {
  const out: Record<string, unknown> = { jobEnvironmentType: 'OCIR_CONTAINER' };
  if (!rs.has('image')) fail(rs.path('image'), 'required: the image the container runs');
  const image = str(rs.get('image'), rs.path('image')).trim();
  if (isPlaceholder(image)) ctx.warnings.push(`${rs.path('image')}: '${image}' is a template placeholder; give the image (dsjobs job create --image)`);
  else out.image = image;
  const entrypoint = words(rs.get('entrypoint'), rs.path('entrypoint'), ctx);
  if (entrypoint !== undefined) out.entrypoint = entrypoint;
  const cmd = words(rs.get('cmd'), rs.path('cmd'), ctx);
  if (cmd !== undefined) out.cmd = cmd;
  for (const key of ['imageDigest', 'imageSignatureId']) if (rs.has(key)) out[key] = str(rs.get(key), rs.path(key));
  return out;
}
