// Safe unpacking of untrusted job artifacts (.zip, .tar.gz/.tgz, .tar).
//
// Both inspectArchive and extractArchive run the same validation logic
// (Unpacker) over a "tree": a virtual in-memory one for inspection, the real
// file system under destDir for extraction. Every file system operation is
// done on a path that is built from the real destination root plus components
// that we verified are real directories (never symbolic links), so the OS
// never follows a link the archive planted, except where we resolved and
// checked that link ourselves first.

import { constants as fsConstants, createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import yauzl from 'yauzl';

export type ArchiveKind = 'zip' | 'tar.gz' | 'tar';

/** ratio = uncompressed total / archive file size */
export interface ArchiveLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxRatio: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const defaultArchiveLimits: ArchiveLimits = Object.freeze({
  maxEntries: 100_000,
  maxTotalBytes: 8 * GiB,
  maxRatio: 200,
});

/** The ratio cap only applies once the unpacked total is above this. */
const RATIO_MIN_BYTES = 10 * MiB;
/** Longest symbolic link target we accept from a zip entry body. */
const MAX_ZIP_LINK_TARGET = 4 * KiB;
/** Like the kernel's ELOOP limit. */
const MAX_SYMLINK_HOPS = 40;

export interface ArchiveEntryInfo {
  path: string;
  /** 'symlink' is only reported for symbolic links (which point inside the archive root). */
  type: 'file' | 'directory' | 'symlink';
  size: number;
  mode: number;
  /** For symlinks: the link target, as stored in the archive. */
  linkTarget?: string;
}

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

export function archiveKindOf(fileName: string): ArchiveKind | null {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.zip')) return 'zip';
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'tar.gz';
  if (lower.endsWith('.tar')) return 'tar';
  return null;
}

/**
 * Reads the whole archive without writing anything, validates every entry
 * and returns the entries (normalized relative posix paths). Duplicate paths
 * are reported once, with the data of the last one.
 */
export async function inspectArchive(
  file: string,
  kind: ArchiveKind,
  limits: ArchiveLimits = defaultArchiveLimits,
): Promise<ArchiveEntryInfo[]> {
  const unpacker = await unpack(file, kind, new VirtualTree(), limits);
  return [...unpacker.infos.values()];
}

/**
 * Extracts into destDir, which must exist and be empty. Validates as it goes;
 * on any violation throws (ArchiveError for problems with the archive) and
 * removes everything it wrote under destDir.
 */
export async function extractArchive(
  file: string,
  kind: ArchiveKind,
  destDir: string,
  limits: ArchiveLimits = defaultArchiveLimits,
): Promise<void> {
  const root = await fsp.realpath(destDir);
  const existing = await fsp.readdir(root);
  if (existing.length > 0) {
    throw new Error(`extractArchive: destination directory '${destDir}' is not empty`);
  }
  try {
    await unpack(file, kind, new FsTree(root), limits);
  } catch (err) {
    await emptyDir(root);
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Messages and paths

function show(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function entryMsg(name: string, rest: string): ArchiveError {
  return new ArchiveError(`archive entry '${show(name)}' ${rest}`);
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function corrupt(kind: ArchiveKind, err: unknown): ArchiveError {
  if (err instanceof ArchiveError) return err;
  // tar's errors look like 'TAR_ENTRY_INVALID: checksum failure'; keep the readable part.
  const detail = errorText(err).replace(/^TAR_[A-Z_]+: /, '');
  return new ArchiveError(`archive is not a valid ${kind} file: ${detail}`);
}

function formatBytes(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} bytes`;
}

function isAbsoluteLike(p: string): boolean {
  return p.startsWith('/') || p.startsWith('\\') || /^[a-zA-Z]:/.test(p);
}

/**
 * Normalizes an entry name to path components. Rejects NUL bytes, absolute
 * paths (posix, Windows drive, backslash-rooted) and `..` that climbs above
 * the root. Backslashes are treated as separators.
 */
function entryComponents(name: string): string[] {
  if (name.includes('\0')) throw entryMsg(name, 'has an invalid name (it contains a NUL byte)');
  if (isAbsoluteLike(name)) {
    throw entryMsg(name, 'has an absolute path and would be written outside the artifact directory');
  }
  const out: string[] = [];
  for (const seg of name.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) throw entryMsg(name, 'would be written outside the artifact directory');
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return out;
}

/** Components of a symlink target, for resolution (not normalized: '..' kept). */
function targetComponents(target: string): string[] {
  return target.replace(/\\/g, '/').split('/');
}

function normalizeMode(raw: number): number {
  // Keep only "executable or not"; never setuid/setgid/sticky, never odd permissions.
  return raw & 0o111 ? 0o755 : 0o644;
}

// ---------------------------------------------------------------------------
// Limits

class Meter {
  entries = 0;
  bytes = 0;

  constructor(
    readonly limits: ArchiveLimits,
    readonly archiveSize: number,
  ) {}

  entry(name: string): void {
    this.entries++;
    if (this.entries > this.limits.maxEntries) {
      throw new ArchiveError(
        `archive has more than ${this.limits.maxEntries} entries (limit reached at entry '${show(name)}')`,
      );
    }
  }

  /** Checks that `n` more bytes would fit, without counting them. */
  expect(n: number, name: string): void {
    this.check(this.bytes + n, name);
  }

  add(n: number, name: string): void {
    this.bytes += n;
    this.check(this.bytes, name);
  }

  private check(total: number, name: string): void {
    if (total > this.limits.maxTotalBytes) {
      throw entryMsg(
        name,
        `takes the unpacked size of the archive over the limit of ${formatBytes(this.limits.maxTotalBytes)}`,
      );
    }
    if (total > RATIO_MIN_BYTES && total > this.limits.maxRatio * this.archiveSize) {
      throw entryMsg(
        name,
        `takes the unpacked size of the archive to more than ${this.limits.maxRatio} times the archive's ` +
          `own size (${formatBytes(this.archiveSize)}); refusing a likely decompression bomb`,
      );
    }
  }

  /**
   * Raw tar stream bytes (after gunzip) also count, minus a generous per-entry
   * allowance for headers and padding, so that a stream of metadata or
   * ignorable blocks can't make us decompress forever.
   */
  checkStream(streamBytes: number): void {
    const overhead = 16 * MiB + (this.entries + 1) * 64 * KiB;
    const excess = streamBytes - overhead;
    if (excess > this.limits.maxTotalBytes) {
      throw new ArchiveError(
        `archive expands to more than the limit of ${formatBytes(this.limits.maxTotalBytes)}`,
      );
    }
    if (excess > RATIO_MIN_BYTES && excess > this.limits.maxRatio * this.archiveSize) {
      throw new ArchiveError(
        `archive expands to more than ${this.limits.maxRatio} times its own size; refusing a likely decompression bomb`,
      );
    }
  }
}

// ---------------------------------------------------------------------------
// Trees: where entries go.

type TreeNode =
  | { type: 'dir' }
  | { type: 'file'; size: number; mode: number }
  | { type: 'symlink'; target: string }
  | { type: 'other' };

/** All `rel` arguments are component lists that contain no symlinks (except possibly the last). */
interface Tree {
  lookup(rel: string[]): Promise<TreeNode | null>;
  mkdir(rel: string[]): Promise<void>;
  remove(rel: string[]): Promise<void>;
  /** Creates a new file (the path must not exist); calls count() before each chunk is written. */
  writeFile(rel: string[], data: AsyncIterable<Buffer>, mode: number, count: (n: number) => void): Promise<number>;
  symlink(rel: string[], target: string): Promise<void>;
  copyFile(from: string[], to: string[], node: { size: number; mode: number }): Promise<void>;
}

class VirtualTree implements Tree {
  private nodes = new Map<string, TreeNode>();

  async lookup(rel: string[]): Promise<TreeNode | null> {
    return this.nodes.get(rel.join('/')) ?? null;
  }
  async mkdir(rel: string[]): Promise<void> {
    this.nodes.set(rel.join('/'), { type: 'dir' });
  }
  async remove(rel: string[]): Promise<void> {
    this.nodes.delete(rel.join('/'));
  }
  async writeFile(rel: string[], data: AsyncIterable<Buffer>, mode: number, count: (n: number) => void) {
    let size = 0;
    for await (const chunk of data) {
      count(chunk.length);
      size += chunk.length;
    }
    this.nodes.set(rel.join('/'), { type: 'file', size, mode });
    return size;
  }
  async symlink(rel: string[], target: string): Promise<void> {
    this.nodes.set(rel.join('/'), { type: 'symlink', target });
  }
  async copyFile(_from: string[], to: string[], node: { size: number; mode: number }): Promise<void> {
    this.nodes.set(to.join('/'), { type: 'file', size: node.size, mode: node.mode });
  }
}

class FsTree implements Tree {
  constructor(private readonly root: string) {}

  private abs(rel: string[]): string {
    return path.join(this.root, ...rel);
  }

  async lookup(rel: string[]): Promise<TreeNode | null> {
    const p = this.abs(rel);
    let st;
    try {
      st = await fsp.lstat(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw err;
    }
    if (st.isSymbolicLink()) return { type: 'symlink', target: await fsp.readlink(p) };
    if (st.isDirectory()) return { type: 'dir' };
    if (st.isFile()) return { type: 'file', size: st.size, mode: st.mode & 0o777 };
    return { type: 'other' };
  }

  async mkdir(rel: string[]): Promise<void> {
    await fsp.mkdir(this.abs(rel), { mode: 0o755 });
  }

  async remove(rel: string[]): Promise<void> {
    await fsp.unlink(this.abs(rel));
  }

  async writeFile(rel: string[], data: AsyncIterable<Buffer>, mode: number, count: (n: number) => void) {
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    const fh = await fsp.open(this.abs(rel), flags, 0o600);
    let size = 0;
    try {
      for await (const chunk of data) {
        count(chunk.length);
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
          off += bytesWritten;
        }
        size += chunk.length;
      }
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
    return size;
  }

  async symlink(rel: string[], target: string): Promise<void> {
    await fsp.symlink(target, this.abs(rel));
  }

  async copyFile(from: string[], to: string[], node: { size: number; mode: number }): Promise<void> {
    await fsp.copyFile(this.abs(from), this.abs(to), fsConstants.COPYFILE_EXCL);
    await fsp.chmod(this.abs(to), node.mode);
  }
}

async function emptyDir(root: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch {
    return;
  }
  for (const name of names) {
    // rm does not follow symbolic links; it removes the link itself.
    await fsp.rm(path.join(root, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// Entries as produced by the format readers.

type RawEntry =
  | { kind: 'file'; name: string; size: number; mode: number; data: () => AsyncIterable<Buffer> }
  | { kind: 'directory'; name: string }
  | { kind: 'symlink'; name: string; target: string }
  | { kind: 'hardlink'; name: string; target: string }
  | { kind: 'skip'; name: string };

// ---------------------------------------------------------------------------
// Validation and placement, shared by inspect and extract.

class Unpacker {
  /** Keyed by normalized entry path; later duplicates overwrite. */
  readonly infos = new Map<string, ArchiveEntryInfo>();
  /** Symlinks we created, keyed by their real location; re-checked at the end. */
  private links = new Map<string, { name: string; parent: string[]; leaf: string[] }>();
  /** Real directories already seen; they are never removed or replaced while unpacking. */
  private dirs = new Set<string>();

  constructor(
    private readonly tree: Tree,
    private readonly meter: Meter,
  ) {}

  /**
   * Resolves `parts` starting from the real directory `start`, following
   * symlinks found in the tree. Throws `escape()` if resolution would leave
   * the root (via '..' or an absolute link). In 'mkdir' mode missing
   * components are created as directories and non-directories are refused; in
   * 'lexical' mode missing components are taken as they are. Returns the real
   * components (no symlinks in them).
   */
  private async walk(
    start: string[],
    parts: string[],
    name: string,
    how: 'mkdir' | 'lexical',
    escape: () => ArchiveError,
  ): Promise<string[]> {
    const real = [...start];
    const pending = [...parts];
    let hops = 0;
    while (pending.length > 0) {
      const c = pending.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (real.length === 0) throw escape();
        real.pop();
        continue;
      }
      if (c.includes('\0')) throw escape();
      const next = [...real, c];
      const nextKey = next.join('/');
      if (this.dirs.has(nextKey)) {
        real.push(c);
        continue;
      }
      const node = await this.tree.lookup(next);
      if (node === null) {
        if (how === 'mkdir') {
          await this.tree.mkdir(next);
          this.dirs.add(nextKey);
        }
        real.push(c);
      } else if (node.type === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) throw entryMsg(name, 'goes through too many levels of symbolic links');
        if (isAbsoluteLike(node.target)) throw escape();
        pending.unshift(...targetComponents(node.target));
      } else if (node.type === 'dir') {
        this.dirs.add(nextKey);
        real.push(c);
      } else if (how === 'mkdir') {
        throw entryMsg(name, `needs '${show(next.join('/'))}' to be a directory, but it is a file`);
      } else {
        real.push(c);
      }
    }
    return real;
  }

  /** Real components of the entry's parent directory, created as needed. */
  private parentOf(comps: string[], name: string): Promise<string[]> {
    return this.walk([], comps.slice(0, -1), name, 'mkdir', () =>
      entryMsg(name, 'would be written through a symbolic link to outside the artifact directory'),
    );
  }

  /** Makes room for a new non-directory at `leaf` (later duplicates win). */
  private async clearLeaf(leaf: string[], name: string): Promise<void> {
    const node = await this.tree.lookup(leaf);
    if (node === null) return;
    if (node.type === 'dir') throw entryMsg(name, 'would replace a directory of the same name');
    await this.tree.remove(leaf);
    this.links.delete(leaf.join('/'));
  }

  async handle(e: RawEntry): Promise<void> {
    this.meter.entry(e.name);
    if (e.kind === 'skip') return;
    const comps = entryComponents(e.name);
    if (comps.length === 0) {
      if (e.kind === 'directory') return; // the root itself, e.g. './'
      throw entryMsg(e.name, 'has an empty name');
    }
    const key = comps.join('/');
    try {
      switch (e.kind) {
        case 'directory': {
          await this.walk([], comps, e.name, 'mkdir', () =>
            entryMsg(e.name, 'would be written through a symbolic link to outside the artifact directory'),
          );
          this.record({ path: key, type: 'directory', size: 0, mode: 0o755 });
          return;
        }
        case 'file': {
          this.meter.expect(e.size, e.name);
          const leaf = [...(await this.parentOf(comps, e.name)), comps[comps.length - 1]];
          await this.clearLeaf(leaf, e.name);
          const mode = normalizeMode(e.mode);
          const size = await this.tree.writeFile(leaf, e.data(), mode, (n) => this.meter.add(n, e.name));
          this.record({ path: key, type: 'file', size, mode });
          return;
        }
        case 'symlink': {
          const t = e.target;
          const outside = () =>
            entryMsg(e.name, `is a symbolic link to '${show(t)}', which is outside the artifact directory`);
          if (t === '') throw entryMsg(e.name, 'is a symbolic link with an empty target');
          if (t.includes('\0')) throw entryMsg(e.name, 'is a symbolic link whose target contains a NUL byte');
          if (isAbsoluteLike(t)) throw outside();
          const parent = await this.parentOf(comps, e.name);
          const leaf = [...parent, comps[comps.length - 1]];
          await this.clearLeaf(leaf, e.name);
          // Resolve the target against what exists now; re-checked in finish().
          await this.walk(parent, targetComponents(t), e.name, 'lexical', outside);
          await this.tree.symlink(leaf, t);
          this.links.set(leaf.join('/'), { name: e.name, parent, leaf });
          this.record({ path: key, type: 'symlink', size: 0, mode: 0o777, linkTarget: t });
          return;
        }
        case 'hardlink': {
          const t = e.target;
          const outside = () =>
            entryMsg(e.name, `is a hard link to '${show(t)}', which is outside the artifact directory`);
          let targetComps: string[];
          try {
            targetComps = entryComponents(t);
          } catch {
            throw outside();
          }
          if (targetComps.length === 0) throw entryMsg(e.name, 'is a hard link with an empty target');
          const notFile = () =>
            entryMsg(e.name, `is a hard link to '${show(t)}', which is not a regular file earlier in the archive`);
          const srcParent = await this.walk([], targetComps.slice(0, -1), e.name, 'lexical', outside);
          const src = [...srcParent, targetComps[targetComps.length - 1]];
          const node = await this.tree.lookup(src);
          if (node === null || node.type !== 'file') throw notFile();
          this.meter.expect(node.size, e.name);
          const leaf = [...(await this.parentOf(comps, e.name)), comps[comps.length - 1]];
          if (leaf.join('/') !== src.join('/')) {
            await this.clearLeaf(leaf, e.name);
            this.meter.add(node.size, e.name);
            await this.tree.copyFile(src, leaf, node);
          }
          this.record({ path: key, type: 'file', size: node.size, mode: normalizeMode(node.mode) });
          return;
        }
      }
    } catch (err) {
      if (err instanceof ArchiveError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw entryMsg(e.name, `could not be unpacked: ${code ?? errorText(err)}`);
    }
  }

  private record(info: ArchiveEntryInfo): void {
    this.infos.set(info.path, info);
  }

  /**
   * Later entries can change how an earlier symlink resolves (e.g. `p -> d/l/..`
   * created before `d/l -> ..`), so every symlink is checked again at the end.
   */
  async finish(): Promise<void> {
    for (const link of this.links.values()) {
      const node = await this.tree.lookup(link.leaf);
      if (node === null || node.type !== 'symlink') continue;
      await this.walk(link.parent, targetComponents(node.target), link.name, 'lexical', () =>
        entryMsg(
          link.name,
          `is a symbolic link to '${show(node.target)}', which resolves to outside the artifact directory`,
        ),
      );
    }
  }
}

async function unpack(file: string, kind: ArchiveKind, tree: Tree, limits: ArchiveLimits): Promise<Unpacker> {
  const { size } = await fsp.stat(file);
  const meter = new Meter(limits, size);
  const unpacker = new Unpacker(tree, meter);
  let entries: AsyncGenerator<RawEntry>;
  if (kind === 'zip') entries = readZip(file);
  else if (kind === 'tar.gz' || kind === 'tar') entries = readTar(file, kind, meter);
  else throw new ArchiveError(`unsupported archive type '${String(kind)}'`);
  for await (const e of entries) {
    await unpacker.handle(e);
  }
  await unpacker.finish();
  return unpacker;
}

// ---------------------------------------------------------------------------
// zip

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

async function* readZip(file: string): AsyncGenerator<RawEntry> {
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

// ---------------------------------------------------------------------------
// tar / tar.gz

async function startsWithGzipMagic(file: string): Promise<boolean> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

function tarEntryToRaw(e: ReadEntry, data: () => AsyncIterable<Buffer>): RawEntry {
  const name = e.path;
  switch (e.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return {
        kind: 'file',
        name,
        size: e.size,
        mode: e.mode ?? 0o644,
        data,
      };
    case 'Directory':
      return { kind: 'directory', name };
    case 'SymbolicLink':
      return { kind: 'symlink', name, target: e.linkpath ?? '' };
    case 'Link':
      return { kind: 'hardlink', name, target: e.linkpath ?? '' };
    case 'CharacterDevice':
      throw entryMsg(name, 'is a character device, which is not allowed');
    case 'BlockDevice':
      throw entryMsg(name, 'is a block device, which is not allowed');
    case 'FIFO':
      throw entryMsg(name, 'is a FIFO, which is not allowed');
    default:
      throw entryMsg(name, `has an unsupported type (${e.type}), which is not allowed`);
  }
}

/**
 * Streams a tar (optionally gzip-compressed; detected by magic bytes) through
 * tar's Parser, yielding one entry at a time. The consumer must finish with an
 * entry (its data is drained afterwards if it did not read it) before the next
 * one is parsed; input is fed with back-pressure.
 */
async function* readTar(file: string, kind: 'tar' | 'tar.gz', meter: Meter): AsyncGenerator<RawEntry> {
  const gz = await startsWithGzipMagic(file);
  const rs = createReadStream(file);
  const source: Readable = gz ? pipeline(rs, zlib.createGunzip({ chunkSize: 64 * KiB }), () => undefined) : rs;
  // strict: every parser warning (bad checksum, truncation, ...) is an error.
  // We decompress ourselves; keep the parser from sniffing zstd/brotli.
  const parser = new Parser({ strict: true, brotli: false, zstd: false });

  type Item = { t: 'entry'; e: ReadEntry } | { t: 'done' };
  const queue: Item[] = [];
  let wake: (() => void) | null = null;
  let drainWaiter: (() => void) | null = null;
  let failure: Error | null = null;
  let stopped = false;
  // Pending waits that must end when the archive fails.
  const waiters = new Set<(err: Error) => void>();
  const untilFailure = <T>(p: Promise<T>): Promise<T> => {
    if (failure) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      waiters.add(reject);
      p.then(
        (v) => {
          waiters.delete(reject);
          resolve(v);
        },
        (err: unknown) => {
          waiters.delete(reject);
          reject(err);
        },
      );
    });
  };

  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    source.destroy();
    rs.destroy();
    const d = drainWaiter;
    drainWaiter = null;
    d?.();
  };
  const fail = (err: Error) => {
    if (failure) return;
    failure = err;
    stop();
    for (const w of waiters) w(err);
    waiters.clear();
    poke();
  };

  parser.on('entry', (e: ReadEntry) => {
    if (stopped) {
      e.resume();
      return;
    }
    queue.push({ t: 'entry', e });
    poke();
  });
  parser.on('ignoredEntry', (e: ReadEntry) => {
    fail(entryMsg(e.path, `has an unsupported type (${e.type}), which is not allowed`));
  });
  parser.on('error', (err: Error) => fail(corrupt(kind, err)));
  parser.on('eof', () => {
    // End-of-archive marker: ignore whatever follows it.
    queue.push({ t: 'done' });
    stop();
    poke();
  });
  parser.on('end', () => {
    queue.push({ t: 'done' });
    poke();
  });
  parser.on('drain', () => {
    const d = drainWaiter;
    drainWaiter = null;
    d?.();
  });

  const pump = async () => {
    let first = true;
    let streamBytes = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (stopped) return;
      if (first && gz && chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b) {
        throw new ArchiveError(`archive is not a valid ${kind} file: it is compressed more than once`);
      }
      first = false;
      streamBytes += chunk.length;
      meter.checkStream(streamBytes);
      if (!parser.write(chunk) && !stopped) {
        await new Promise<void>((resolve) => {
          drainWaiter = resolve;
        });
      }
      if (stopped) return;
    }
    if (!stopped) parser.end();
  };
  pump().catch((err: unknown) => {
    if (!stopped) fail(corrupt(kind, err));
  });

  const nextItem = async (): Promise<Item> => {
    for (;;) {
      if (failure) throw failure;
      const item = queue.shift();
      if (item) return item;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };

  // An entry's data, which stops with the failure if the archive turns out
  // to be broken (or a limit trips) while the entry is being read.
  async function* entryData(e: ReadEntry): AsyncGenerator<Buffer> {
    const it = (e as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    try {
      for (;;) {
        if (failure) throw failure;
        const r = await untilFailure(it.next());
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.();
    }
  }

  const drainEntry = async (e: ReadEntry) => {
    if (e.emittedEnd) return;
    const ended = new Promise<void>((resolve, reject) => {
      e.once('end', () => resolve());
      e.once('error', (err: Error) => reject(err));
    });
    e.resume();
    await untilFailure(ended);
  };

  try {
    for (;;) {
      const item = await nextItem();
      if (item.t === 'done') {
        if (failure) throw failure;
        return;
      }
      const e = item.e;
      yield tarEntryToRaw(e, () => entryData(e));
      if (failure) throw failure;
      await drainEntry(e);
    }
  } finally {
    stop();
  }
}
