// Reads a zip archive's entries one at a time (yauzl), with names and Unix modes as stored, refusing special files.

import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { MAX_ZIP_LINK_TARGET } from './limits.js';
import { ArchiveError, corrupt, entryMsg, errorText, show } from './messages.js';
import type { RawEntry } from './types.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

function specialTypeName(fmt: number): string {
  switch (fmt) {
    case 0o020000:
      return 'a character device';
    case 0o060000:
      return 'a block device';
    case 0o010000:
      return 'a FIFO';
    case 0o140000:
      return 'a socket';
    default:
      return `an unsupported file type (mode ${fmt.toString(8)})`;
  }
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(
      file,
      {
        lazyEntries: true,
        autoClose: false,
        validateEntrySizes: true,
        strictFileNames: false,
        // We decode names ourselves (getFileNameLowLevel) and check them
        // ourselves; with the default (true) yauzl refuses names such as
        // '../x' with its own, less helpful error.
        decodeStrings: false,
      },
      (err, zf) => (err ? reject(err) : resolve(zf)),
    );
  });
}

function nextZipEntry(zf: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zf.off('entry', onEntry);
      zf.off('end', onEnd);
      zf.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry) => {
      cleanup();
      resolve(entry);
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    zf.on('entry', onEntry);
    zf.on('end', onEnd);
    zf.on('error', onError);
    zf.readEntry();
  });
}

async function* zipData(zf: yauzl.ZipFile, entry: yauzl.Entry, name: string): AsyncGenerator<Buffer> {
  let rs: Readable;
  try {
    rs = await zf.openReadStreamPromise(entry);
  } catch (err) {
    throw entryMsg(name, `cannot be read: ${errorText(err)}`);
  }
  try {
    for await (const chunk of rs) yield chunk as Buffer;
  } catch (err) {
    throw new ArchiveError(`archive is not a valid zip file: entry '${show(name)}': ${errorText(err)}`);
  } finally {
    rs.destroy();
  }
}

export async function* readZip(file: string): AsyncGenerator<RawEntry> {
  let zf: yauzl.ZipFile;
  try {
    zf = await openZip(file);
  } catch (err) {
    throw corrupt('zip', err);
  }
  // Errors are taken per readEntry() call; this only keeps a stray one from crashing.
  zf.on('error', () => undefined);
  try {
    for (;;) {
      let entry: yauzl.Entry | null;
      try {
        entry = await nextZipEntry(zf);
      } catch (err) {
        throw corrupt('zip', err);
      }
      if (entry === null) return;
      const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      if (name.split('/')[0] === '__MACOSX') {
        yield { kind: 'skip', name };
        continue;
      }
      const host = entry.versionMadeBy >> 8;
      const unixMode = host === 3 || host === 19 ? (entry.externalFileAttributes >>> 16) & 0xffff : 0;
      const fmt = unixMode & S_IFMT;
      const dosDirectory = !unixMode && (entry.externalFileAttributes & 0x10) !== 0 && entry.uncompressedSize === 0;
      if (name.endsWith('/') || fmt === S_IFDIR || dosDirectory) {
        yield { kind: 'directory', name };
      } else if (fmt === S_IFLNK) {
        if (entry.uncompressedSize > MAX_ZIP_LINK_TARGET) {
          throw entryMsg(name, 'is a symbolic link with an overly long target');
        }
        const parts: Buffer[] = [];
        let n = 0;
        for await (const chunk of zipData(zf, entry, name)) {
          n += chunk.length;
          if (n > MAX_ZIP_LINK_TARGET) throw entryMsg(name, 'is a symbolic link with an overly long target');
          parts.push(chunk);
        }
        yield { kind: 'symlink', name, target: Buffer.concat(parts).toString('utf8') };
      } else if (fmt === 0 || fmt === S_IFREG) {
        const e = entry;
        yield {
          kind: 'file',
          name,
          size: e.uncompressedSize,
          mode: unixMode & 0o7777,
          data: () => zipData(zf, e, name),
        };
      } else {
        throw entryMsg(name, `is ${specialTypeName(fmt)}, which is not allowed`);
      }
    }
  } finally {
    zf.close();
  }
}
