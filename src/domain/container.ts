import { invalid } from './errors.js';

/**
 * A container run's image and command, compiled from OCI's `jobEnvironmentConfigurationDetails` (type
 * OCIR_CONTAINER), a run's `jobEnvironmentConfigurationOverrideDetails`, or the legacy CONTAINER_* variables.
 * `entrypoint` and `cmd` null: the image's own (Docker's rule: an entrypoint given replaces the image's CMD too).
 */
export interface ContainerPlan {
  image: string;
  entrypoint: string[] | null;
  cmd: string[] | null;
  /** `sha256:<64 hex>`: the image the engine has must have this id or repo digest, or the run fails saying so. */
  imageDigest: string | null;
}

/** OCI: "The combined size of CMD and ENTRYPOINT must be less than 2048 bytes." */
export const MAX_COMMAND_BYTES = 2048;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** A Docker image reference: [registry[:port]/]path[:tag][@sha256:digest], no spaces or control characters. */
const IMAGE = /^[a-z0-9][a-z0-9._\-/:]*(@sha256:[0-9a-f]{64})?$/i;
const IMAGE_MAX = 512;

/** The fields OCI's OcirContainerJobEnvironmentConfigurationDetails has (the SDK's model is the contract). */
const FIELDS = new Set(['jobEnvironmentType', 'image', 'cmd', 'entrypoint', 'imageDigest', 'imageSignatureId']);

function words(v: unknown, field: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((w) => typeof w !== 'string')) throw invalid(field, 'must be a list of strings');
  if (v.some((w: string) => w.includes('\0'))) throw invalid(field, 'must not contain NUL characters');
  return v as string[];
}

function commandBytes(c: { entrypoint: string[] | null; cmd: string[] | null }): number {
  return [...(c.entrypoint ?? []), ...(c.cmd ?? [])].reduce((n, w) => n + Buffer.byteLength(w) + 1, 0);
}

function checkImage(image: unknown, field: string): string {
  if (typeof image !== 'string' || image.length === 0) throw invalid(field, 'is required: the image to run, e.g. iad.ocir.io/ns/repo:tag');
  if (image.length > IMAGE_MAX || !IMAGE.test(image)) throw invalid(field, `'${image.slice(0, 100)}' is not an image reference ([registry/]repository[:tag][@sha256:digest])`);
  return image;
}

/** Checks OCI's environment configuration (a job's, or a run's override): a 400 naming the field otherwise. */
export function checkContainerDetails(details: unknown, field: string): ContainerPlan {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) throw invalid(field, 'must be an object');
  const d = details as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!FIELDS.has(k)) throw invalid(`${field}.${k}`, 'is not a field of OCIR_CONTAINER environment configuration');
  if (d.jobEnvironmentType !== 'OCIR_CONTAINER') {
    throw invalid(`${field}.jobEnvironmentType`, `must be OCIR_CONTAINER (got ${JSON.stringify(d.jobEnvironmentType ?? null)})`);
  }
  const image = checkImage(d.image, `${field}.image`);
  const plan: ContainerPlan = {
    image,
    entrypoint: words(d.entrypoint, `${field}.entrypoint`),
    cmd: words(d.cmd, `${field}.cmd`),
    imageDigest: null,
  };
  if (commandBytes(plan) >= MAX_COMMAND_BYTES) throw invalid(`${field}.cmd`, `cmd and entrypoint together must be less than ${MAX_COMMAND_BYTES} bytes`);
  if (d.imageDigest !== undefined && d.imageDigest !== null) {
    if (typeof d.imageDigest !== 'string' || !DIGEST.test(d.imageDigest)) throw invalid(`${field}.imageDigest`, 'must be sha256: and 64 lower-case hex digits');
    plan.imageDigest = d.imageDigest;
  }
  if (d.imageSignatureId !== undefined && d.imageSignatureId !== null && typeof d.imageSignatureId !== 'string') {
    throw invalid(`${field}.imageSignatureId`, 'must be a string (the OCID of the image signature)');
  }
  return plan;
}

/**
 * Splits a legacy CONTAINER_ENTRYPOINT / CONTAINER_CMD value: a comma-separated list of double-quoted words
 * (`"ls", "-l"`), as OCI's BYOC samples write it; unquoted words are taken trimmed (ADS's `-c,echo Hello`).
 */
export function splitLegacyList(value: string, field: string): string[] {
  const out: string[] = [];
  let i = 0;
  const s = value;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    let word = '';
    if (s[i] === '"') {
      i++;
      let closed = false;
      while (i < s.length) {
        const c = s[i]!;
        if (c === '\\' && i + 1 < s.length) {
          word += s[i + 1];
          i += 2;
        } else if (c === '"') {
          closed = true;
          i++;
          break;
        } else {
          word += c;
          i++;
        }
      }
      if (!closed) throw invalid(field, `unterminated quote in ${JSON.stringify(value)}`);
      while (i < s.length && /\s/.test(s[i]!)) i++;
      if (i < s.length && s[i] !== ',') throw invalid(field, `expected a comma after a quoted word in ${JSON.stringify(value)}`);
    } else {
      const end = s.indexOf(',', i);
      word = (end < 0 ? s.slice(i) : s.slice(i, end)).trim();
      i = end < 0 ? s.length : end;
    }
    out.push(word);
    if (s[i] === ',') i++;
  }
  return out;
}

/** The container of a run: the run's override, else the job's configuration, else the legacy variables; null: none. */
export function resolveContainer(
  job: unknown,
  override: unknown,
  env: Record<string, string>,
  envField: string,
): ContainerPlan | null {
  if (override) return checkContainerDetails(override, 'jobEnvironmentConfigurationOverrideDetails');
  if (job) return checkContainerDetails(job, 'jobEnvironmentConfigurationDetails');
  return legacyContainer(env, envField);
}

/** The legacy BYOC variables (CONTAINER_CUSTOM_IMAGE, CONTAINER_ENTRYPOINT, CONTAINER_CMD); null when no image is named. */
export function legacyContainer(env: Record<string, string> | null | undefined, field: string): ContainerPlan | null {
  const image = env?.CONTAINER_CUSTOM_IMAGE;
  if (image === undefined || image === '') {
    for (const k of ['CONTAINER_ENTRYPOINT', 'CONTAINER_CMD']) {
      if (env?.[k] !== undefined) throw invalid(`${field}.${k}`, 'needs CONTAINER_CUSTOM_IMAGE (the image to run)');
    }
    return null;
  }
  const plan: ContainerPlan = {
    image: checkImage(image, `${field}.CONTAINER_CUSTOM_IMAGE`),
    entrypoint: env!.CONTAINER_ENTRYPOINT !== undefined ? splitLegacyList(env!.CONTAINER_ENTRYPOINT, `${field}.CONTAINER_ENTRYPOINT`) : null,
    cmd: env!.CONTAINER_CMD !== undefined ? splitLegacyList(env!.CONTAINER_CMD, `${field}.CONTAINER_CMD`) : null,
    imageDigest: null,
  };
  if (commandBytes(plan) >= MAX_COMMAND_BYTES) throw invalid(`${field}.CONTAINER_CMD`, `CONTAINER_CMD and CONTAINER_ENTRYPOINT together must be less than ${MAX_COMMAND_BYTES} bytes`);
  return plan;
}
