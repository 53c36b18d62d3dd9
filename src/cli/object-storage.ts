import type { Command } from 'commander';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DurationError, parseDuration } from '../domain/duration.js';
import { parseOciUri } from '../job-spec/artifact.js';
import { ObjectStorage, type Progress } from '../sdk/object-storage.js';
import { compartment, client, signer, DEFAULT_ENDPOINT, type Globals } from './context.js';
import { details, err, fitTable, out, shortTime, terminalWidth } from './output.js';
import { UsageError } from './parse.js';

/** Transfers at least this large show a progress bar (on a terminal); smaller ones finish before one would help. */
const PROGRESS_FROM_BYTES = 8 * 1024 * 1024;

function storage(cmd: Command): { os: ObjectStorage; g: Globals } {
  const g = cmd.optsWithGlobals() as Globals;
  return { os: new ObjectStorage({ endpoint: g.endpoint ?? process.env.DSJOBS_ENDPOINT ?? DEFAULT_ENDPOINT, signer: signer(g) }), g };
}

const mb = (n: number) => (n / 1024 / 1024).toFixed(1);

/** A one-line bar on stderr, redrawn at most 10 times a second; none when stderr is not a terminal. */
function progressBar(label: string, total: number | undefined): { update: Progress; end(bytes: number): void } {
  const started = Date.now();
  const tty = process.stderr.isTTY && (total === undefined || total >= PROGRESS_FROM_BYTES);
  let last = 0;
  const draw = (done: number) => {
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    const rate = `${mb(done / secs)} MB/s`;
    if (total) {
      const width = 30;
      const filled = Math.round((done / total) * width);
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((done / total) * 100).toFixed(0).padStart(3)}% ${mb(done)}/${mb(total)} MB ${rate}  `);
    } else process.stderr.write(`\r${label} ${mb(done)} MB ${rate}  `);
  };
  return {
    update(done) {
      if (!tty || Date.now() - last < 100) return;
      last = Date.now();
      draw(done);
    },
    end(bytes) {
      if (tty) {
        draw(bytes);
        process.stderr.write('\n');
      }
    },
  };
}

/**
 * Fetches `oci://bucket@namespace/object` from the server's Object Storage into `dir` (an ADS spec's
 * scriptPathURI): the file keeps the object's base name, which decides how the artifact runs.
 */
export async function downloadOciUri(cmd: Command, uri: string, dir: string): Promise<string> {
  const o = parseOciUri(uri);
  if (!o) throw new UsageError(`${uri}: not an object URI (oci://bucket@namespace/object)`);
  const { os: s } = storage(cmd);
  const ns = await s.namespace();
  if (o.namespace !== ns) throw new UsageError(`${uri}: namespace ${o.namespace} is not this server's (${ns}); objects are read from the server's own Object Storage`);
  const res = await s.getObject(o.bucket, o.object);
  const dest = path.join(dir, path.posix.basename(o.object));
  await pipeline(Readable.fromWeb(res.body as never), createWriteStream(dest));
  return dest;
}

/**
 * What `job create -f` says about a spec's oci:// outputUri before any run ends: a namespace other than the server's
 * or a bucket that does not exist means runs will copy nothing there (the server checks when each run ends).
 */
export async function outputUriWarning(cmd: Command, uri: string): Promise<string | null> {
  const m = /^oci:\/\/([^/@]+)@([^/]+)/i.exec(uri);
  if (!m) return null;
  const { os: s } = storage(cmd);
  const ns = await s.namespace();
  if (m[2] !== ns) return `outputUri ${uri}: namespace ${m[2]} is not this server's (${ns}): runs will not copy their outputs there`;
  const exists = await s.getBucket(m[1]!).then(
    () => true,
    () => false,
  );
  return exists ? null : `outputUri ${uri}: bucket ${m[1]} does not exist yet: create it (dsjobs os bucket create ${m[1]}) before runs end, or their outputs are not copied`;
}

/** `dsjobs os ...`: buckets, objects and pre-authenticated requests of the server's Object Storage (docs/object-storage.md). */
export function addObjectStorageCommands(program: Command): void {
  const os = program.command('os').description("the server's Object Storage: buckets, objects, pre-authenticated requests (docs/object-storage.md)");

  os.command('namespace')
    .description("the server's Object Storage namespace (the one in oci://bucket@namespace/... URIs)")
    .action(async (_o, cmd) => {
      const { os: s, g } = storage(cmd);
      const ns = await s.namespace();
      out(g.json ? JSON.stringify({ namespace: ns }) : ns);
    });

  const bucket = os.command('bucket').description('buckets of the compartment');
  bucket
    .command('create <name>')
    .description('create a bucket in the compartment')
    .action(async (name: string, _o, cmd) => {
      const { os: s, g } = storage(cmd);
      const b = await s.createBucket(name, await compartment(client(cmd).api, g));
      out(g.json ? JSON.stringify(b, null, 2) : details(b as unknown as Record<string, unknown>));
    });
  bucket
    .command('list')
    .description("the compartment's buckets")
    .action(async (_o, cmd) => {
      const { os: s, g } = storage(cmd);
      const items = await s.listBuckets(await compartment(client(cmd).api, g));
      if (g.json) return void out(JSON.stringify(items, null, 2));
      if (items.length === 0) return void out('(none)');
      const rows = items.map((b) => ({ name: b.name, timeCreated: g.wide ? b.timeCreated : shortTime(b.timeCreated) }));
      out(fitTable(rows, [{ key: 'name', header: 'NAME', min: 12 }, { key: 'timeCreated', header: 'CREATED' }], g.wide ? null : terminalWidth()));
    });
  bucket
    .command('delete <name>')
    .description('delete an empty bucket')
    .action(async (name: string, _o, cmd) => {
      const { os: s } = storage(cmd);
      await s.deleteBucket(name);
      out(`deleted bucket ${name}`);
    });

  const object = os.command('object').description('objects of a bucket');
  object
    .command('put <bucket> <file>')
    .description('upload a file (- for standard input) as an object, streamed; a progress bar for large files')
    .option('--name <object>', 'the object name (default: the file name)')
    .option('--content-type <type>', 'content type (default application/octet-stream)')
    .action(async (bucketName: string, file: string, o: { name?: string; contentType?: string }, cmd) => {
      const { os: s, g } = storage(cmd);
      const name = o.name ?? (file === '-' ? undefined : path.basename(file));
      if (!name) throw new UsageError('give --name for an object read from standard input');
      let size: number;
      let body: ReadableStream<Uint8Array> | Uint8Array;
      if (file === '-') {
        // Standard input has no length ahead: it is read whole first (the server needs content-length).
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        body = Buffer.concat(chunks);
        size = body.length;
      } else {
        size = statSync(file).size;
        body = Readable.toWeb(createReadStream(file, { highWaterMark: 1 << 20 })) as ReadableStream<Uint8Array>;
      }
      const bar = progressBar(`put ${name}`, size);
      const r = await s.putObject(bucketName, name, body, size, { contentType: o.contentType, progress: bar.update });
      bar.end(size);
      out(g.json ? JSON.stringify({ bucket: bucketName, name, size, ...r }, null, 2) : `put ${bucketName}/${name} (${size} bytes, md5 ${r.md5})`);
    });
  object
    .command('get <bucket> <object> [file]')
    .description('download an object to a file (default: its base name; - for standard output); a progress bar for large ones')
    .action(async (bucketName: string, name: string, file: string | undefined, _o, cmd) => {
      const { os: s } = storage(cmd);
      const res = await s.getObject(bucketName, name);
      const total = Number(res.headers.get('content-length') ?? NaN);
      const dest = file ?? path.basename(name);
      const bar = progressBar(`get ${name}`, Number.isNaN(total) ? undefined : total);
      let done = 0;
      const counted = Readable.fromWeb(res.body as never).on('data', (c: Buffer) => bar.update((done += c.length), total));
      await pipeline(counted, dest === '-' ? (process.stdout as Writable) : createWriteStream(dest));
      bar.end(done);
      if (dest !== '-') err(`got ${bucketName}/${name} -> ${dest} (${done} bytes)`);
    });
  object
    .command('list <bucket>')
    .description("a bucket's objects (every page), optionally under a prefix; with --delimiter /, one level")
    .option('--prefix <prefix>', 'only names starting with this')
    .option('--delimiter <d>', "'/' to list one level: the names below it are shown as prefixes")
    .action(async (bucketName: string, o: { prefix?: string; delimiter?: string }, cmd) => {
      const { os: s, g } = storage(cmd);
      const objects: Record<string, unknown>[] = [];
      const prefixes: string[] = [];
      let start: string | undefined;
      do {
        const page = await s.listObjects(bucketName, { prefix: o.prefix, delimiter: o.delimiter, start, limit: 1000 });
        objects.push(...(page.objects as unknown as Record<string, unknown>[]));
        prefixes.push(...(page.prefixes ?? []));
        start = page.nextStartWith;
      } while (start);
      if (g.json) return void out(JSON.stringify({ objects, prefixes }, null, 2));
      const rows = [
        ...prefixes.map((p) => ({ name: p, size: '(prefix)' })),
        ...objects.map((x) => ({ name: x.name, size: x.size, timeModified: g.wide ? x.timeModified : shortTime(x.timeModified as string), md5: x.md5 })),
      ];
      if (rows.length === 0) return void out('(none)');
      out(
        fitTable(
          rows,
          [
            { key: 'name', header: 'NAME', min: 12 },
            { key: 'size', header: 'SIZE' },
            { key: 'timeModified', header: 'MODIFIED' },
            { key: 'md5', header: 'MD5' },
          ],
          g.wide ? null : terminalWidth(),
        ),
      );
    });
  object
    .command('delete <bucket> <object>')
    .description('delete an object')
    .action(async (bucketName: string, name: string, _o, cmd) => {
      const { os: s } = storage(cmd);
      await s.deleteObject(bucketName, name);
      out(`deleted ${bucketName}/${name}`);
    });

  const par = os.command('par').description('pre-authenticated requests: URLs that need no credential');
  par
    .command('create <bucket>')
    .description('a URL that reads (or writes) one object, or any object of the bucket, until it expires; printed once')
    .option('--object <name>', 'the object (required for Object* access types)')
    .option('--access-type <type>', 'ObjectRead, ObjectWrite, ObjectReadWrite, AnyObjectRead, AnyObjectWrite or AnyObjectReadWrite', 'ObjectRead')
    .option('--expires <duration>', 'how long it is good for: 30m, 12h, 7d, ...', '1d')
    .option('--name <name>', 'a name for it (default: par-<time>)')
    .option('--list', 'with an AnyObject access type: the URL also lists the bucket')
    .action(async (bucketName: string, o: { object?: string; accessType: string; expires: string; name?: string; list?: boolean }, cmd) => {
      const { os: s, g } = storage(cmd);
      let minutes: number;
      try {
        minutes = parseDuration(o.expires);
      } catch (e) {
        if (e instanceof DurationError) throw new UsageError(`--expires: ${e.message}`);
        throw e;
      }
      const p = await s.createPar(bucketName, {
        name: o.name ?? `par-${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}`,
        accessType: o.accessType,
        objectName: o.object,
        timeExpires: new Date(Date.now() + minutes * 60_000).toISOString(),
        bucketListingAction: o.list ? 'ListObjects' : undefined,
      });
      const url = p.fullPath ?? `${s.endpoint}${p.accessUri}`;
      out(g.json ? JSON.stringify({ ...p, url }, null, 2) : `${url}\n(${p.accessType}${p.objectName ? ` of ${p.objectName}` : ''}, until ${p.timeExpires}; shown once)`);
    });
}
