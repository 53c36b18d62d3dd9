import { DsError } from '../domain/errors.js';

/** A container engine's images, as the Docker executor serves them. */
export interface ContainerImageStore {
  readonly state: { available: true } | { available: false; reason: string };
  loadImages(tarball: NodeJS.ReadableStream): Promise<string[]>;
  listImages(): Promise<ContainerImage[]>;
}

export interface ContainerImage {
  id: string;
  repoTags: string[];
  sizeInBytes: number;
  timeCreated: string;
}

/**
 * The host's container images, for hosts with no registry: load a `docker save` tarball, list what is there. The
 * engine is the host's, shared by every compartment, so both are decided tenancy-wide (api/authorization.ts).
 */
export class ImagesService {
  constructor(private readonly engine: ContainerImageStore) {}

  private check(): void {
    const s = this.engine.state;
    if (!s.available) throw new DsError('NotImplemented', `This server has no container engine: ${s.reason}`);
  }

  async load(tarball: NodeJS.ReadableStream): Promise<string[]> {
    this.check();
    try {
      const loaded = await this.engine.loadImages(tarball);
      if (loaded.length === 0) throw new Error('the tarball holds no image');
      return loaded;
    } catch (e) {
      if (e instanceof DsError) throw e;
      throw new DsError('InvalidParameter', `body: not a docker save tarball the engine could load: ${(e as Error).message}`, 'body');
    }
  }

  list(): Promise<ContainerImage[]> {
    this.check();
    return this.engine.listImages();
  }
}
