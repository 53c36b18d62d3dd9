import { Type } from '@sinclair/typebox';
import type { Readable } from 'node:stream';
import type { App } from '../app.js';
import type { ImagesService } from '../../service/images.js';

const ContainerImageSummary = Type.Object({
  id: Type.String({ description: "the engine's image id (sha256:...): what imageDigest may name" }),
  repoTags: Type.Array(Type.String()),
  sizeInBytes: Type.Integer(),
  timeCreated: Type.String(),
});

/** dsjobs' own: the container images of the server's engine (docs/containers.md). */
export async function imageRoutes(app: App, images: ImagesService): Promise<void> {
  app.get(
    '/containerImages',
    {
      schema: {
        tags: ['containers'],
        operationId: 'ListContainerImages',
        description: "dsjobs: the images on this server's container engine (what a container job's image can name without a pull)",
        response: { 200: Type.Array(ContainerImageSummary) },
      },
    },
    async () => images.list(),
  );
  // The body is a `docker save` tarball, raw bytes: this scope reads the request stream itself.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    raw.post(
      '/containerImages/actions/load',
      {
        schema: {
          tags: ['containers'],
          operationId: 'LoadContainerImage',
          description: 'dsjobs: loads the images of a `docker save` tarball (the body) into the container engine, for hosts with no registry',
          response: { 200: Type.Object({ loaded: Type.Array(Type.String()) }) },
        },
      },
      async (req) => ({ loaded: await images.load(req.raw as unknown as Readable) }),
    );
  });
}
