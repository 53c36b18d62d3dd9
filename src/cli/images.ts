import { createReadStream, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { client, print } from './context.js';
import { fitTable, out, terminalWidth, type Column } from './output.js';
import { UsageError } from './parse.js';

/** `dsjobs image load FILE.tar` and `dsjobs image list`: the server's container images, for hosts with no registry. */
export function addImageCommands(program: Command): void {
  const image = program.command('image').description("container images on the server's engine (docs/containers.md)");
  image
    .command('load')
    .description('load the images of a `docker save` tarball into the server\'s container engine')
    .argument('<file.tar>', 'a `docker save` tarball (optionally gzip-compressed)')
    .action(async (file: string, _o, cmd) => {
      const { api, g } = client(cmd);
      const st = await fsp.stat(file).catch(() => {
        throw new UsageError(`${file}: no such file`);
      });
      const r = await api.loadContainerImage(Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>, st.size);
      print(g, r, () => r.loaded.map((n) => `loaded ${n}`).join('\n'));
    });
  image
    .command('list')
    .description("the images on the server's container engine")
    .action(async (_o, cmd) => {
      const { api, g } = client(cmd);
      const list = await api.listContainerImages();
      if (g.json) return print(g, list, () => '');
      const rows = list.flatMap((i) =>
        (i.repoTags.length ? i.repoTags : ['<none>']).map((tag) => ({
          tag,
          id: i.id.replace(/^sha256:/, '').slice(0, 12),
          size: `${(i.sizeInBytes / 1e6).toFixed(1)} MB`,
          created: i.timeCreated,
        })),
      );
      const cols: Column[] = [
        { key: 'tag', header: 'IMAGE' },
        { key: 'id', header: 'ID' },
        { key: 'size', header: 'SIZE' },
        { key: 'created', header: 'CREATED' },
      ];
      out(fitTable(rows, cols, g.wide ? null : terminalWidth()));
    });
}
