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

export interface ReadyImage {
  /** What to create the container from: the image's id, so the checked digest is what runs. */
  id: string;
  labels: Record<string, string>;
}

/**
 * The image of a run, ready on the engine: inspected, pulled when missing (`pull: 'missing'`) with the credentials
 * configured for its registry, and checked against the plan's imageDigest (its id, or one of its repository
 * digests). Rejects with a message naming the image and why, which becomes the run's lifecycleDetails.
 */
export async function readyImage(
  docker: Docker,
  c: ContainerPlan,
  opts: { pull: 'missing' | 'never'; registries: RegistryCredentials[] },
): Promise<ReadyImage> {
  let info: Docker.ImageInspectInfo;
  try {
    info = await docker.getImage(c.image).inspect();
  } catch (e) {
    if (statusOf(e) !== 404) throw new Error(`image ${c.image}: the container engine could not inspect it: ${reasonOf(e)}`);
    if (opts.pull === 'never') throw new Error(`image ${c.image} is not on this host (pulling is off; load it with dsjobs image load)`);
    try {
      await pull(docker, c.image, opts.registries.find((r) => r.registry === registryOf(c.image)));
      info = await docker.getImage(c.image).inspect();
    } catch (err) {
      throw new Error(`image ${c.image} is not on this host and could not be pulled: ${reasonOf(err)}`);
    }
  }
  if (c.imageDigest) {
    const digests = [info.Id, ...(info.RepoDigests ?? []).map((d) => d.slice(d.indexOf('@') + 1))];
    if (!digests.includes(c.imageDigest)) {
      throw new Error(`image ${c.image} does not have the digest ${c.imageDigest} the job asks for (it has ${digests.join(', ')})`);
    }
  }
  return { id: info.Id, labels: info.Config?.Labels ?? {} };
}
