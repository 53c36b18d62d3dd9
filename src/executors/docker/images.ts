import type Docker from 'dockerode';
import type { ContainerPlan } from '../../domain/container.js';

/** Credentials for one registry (the server's config: a job never carries them). */
export interface RegistryCredentials {
  /** The registry's host[:port] as image references name it, e.g. "iad.ocir.io" or "localhost:5000". */
  registry: string;
  username: string;
  password: string;
}

/** The registry an image reference names: its first component when that has a dot or port or is localhost; else Docker Hub. */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  if (image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return first;
  return 'docker.io';
}

function statusOf(e: unknown): number | undefined {
  return (e as { statusCode?: number }).statusCode;
}

/** The engine's own words: dockerode's "(HTTP code 404) unexpected - " before them says nothing to a user. */
function reasonOf(e: unknown): string {
  const json = (e as { json?: { message?: string } }).json;
  return (json?.message ?? (e as Error).message ?? String(e)).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

async function pull(docker: Docker, image: string, auth: RegistryCredentials | undefined): Promise<void> {
  const opts = auth ? { authconfig: { username: auth.username, password: auth.password, serveraddress: auth.registry } } : {};
  const stream = await docker.pull(image, opts);
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/** What an imageDigest may name: the image's id, or one of its repository (manifest) digests. */
function digestsOf(info: Docker.ImageInspectInfo): string[] {
  return [info.Id, ...(info.RepoDigests ?? []).map((d) => d.slice(d.indexOf('@') + 1))];
}

/** The reference of `image` pinned to `digest`: its repository (any tag or digest dropped) @digest. */
export function withDigest(image: string, digest: string): string {
  let repo = image.includes('@') ? image.slice(0, image.indexOf('@')) : image;
  const colon = repo.lastIndexOf(':');
  if (colon > repo.lastIndexOf('/')) repo = repo.slice(0, colon);
  return `${repo}@${digest}`;
}

export interface ReadyImage {
  /** What to create the container from: the image's id, so the checked digest is what runs. */
  id: string;
  labels: Record<string, string>;
}

/**
 * The image of a run, ready on the engine: inspected, pulled when missing (`pull: 'missing'`) with the credentials
 * configured for its registry, and checked against the plan's imageDigest (its id, or one of its repository
 * digests); an image already here whose digest differs is pulled again by that digest. Rejects with a message naming
 * the image and why, which becomes the run's lifecycleDetails.
 */
export async function readyImage(
  docker: Docker,
  c: ContainerPlan,
  opts: { pull: 'missing' | 'never'; registries: RegistryCredentials[] },
): Promise<ReadyImage> {
  let info: Docker.ImageInspectInfo;
  let pulled = false;
  try {
    info = await docker.getImage(c.image).inspect();
  } catch (e) {
    if (statusOf(e) !== 404) throw new Error(`image ${c.image}: the container engine could not inspect it: ${reasonOf(e)}`);
    if (opts.pull === 'never') throw new Error(`image ${c.image} is not on this host (pulling is off; load it with dsjobs image load)`);
    try {
      await pull(docker, c.image, opts.registries.find((r) => r.registry === registryOf(c.image)));
      info = await docker.getImage(c.image).inspect();
      pulled = true;
    } catch (err) {
      throw new Error(`image ${c.image} is not on this host and could not be pulled: ${reasonOf(err)}`);
    }
  }
  if (c.imageDigest && !digestsOf(info).includes(c.imageDigest)) {
    const here = digestsOf(info);
    if (pulled || opts.pull === 'never') {
      throw new Error(`image ${c.image} does not have the digest ${c.imageDigest} the job asks for (it has ${here.join(', ')})`);
    }
    // The tag on this host may be older than the registry's: the digest the job pins is what runs, so it is pulled by
    // that digest (the tag may meanwhile name another image in the registry too).
    const pinned = withDigest(c.image, c.imageDigest);
    try {
      await pull(docker, pinned, opts.registries.find((r) => r.registry === registryOf(c.image)));
      info = await docker.getImage(pinned).inspect();
    } catch (err) {
      throw new Error(`image ${c.image} does not have the digest ${c.imageDigest} the job asks for (it has ${here.join(', ')}), and pulling ${pinned} failed: ${reasonOf(err)}`);
    }
  }
  return { id: info.Id, labels: info.Config?.Labels ?? {} };
}
