// Safe unpacking of untrusted job artifacts (.zip, .tar.gz/.tgz, .tar).
//
// Both inspectArchive and extractArchive run the same validation logic
// (Unpacker) over a "tree": a virtual in-memory one for inspection, the real
// file system under destDir for extraction. Every file system operation is
// done on a path that is built from the real destination root plus components
// that we verified are real directories (never symbolic links), so the OS
// never follows a link the archive planted, except where we resolved and
// checked that link ourselves first.
//
// The pieces: limits.ts (caps and the meter), entry-names.ts (safe path components), trees.ts (where entries go),
// unpacker.ts (validation and placement), zip-reader.ts and tar-reader.ts (the formats), messages.ts (errors).

import * as fsp from 'node:fs/promises';
import { type ArchiveLimits, defaultArchiveLimits, Meter } from './limits.js';
import { ArchiveError } from './messages.js';
import { readTar } from './tar-reader.js';
import { emptyDir, FsTree, type Tree, VirtualTree } from './trees.js';
import type { ArchiveEntryInfo, ArchiveKind, RawEntry } from './types.js';
import { Unpacker } from './unpacker.js';
import { readZip } from './zip-reader.js';

export { type ArchiveLimits, defaultArchiveLimits } from './limits.js';
export { ArchiveError } from './messages.js';
export type { ArchiveEntryInfo, ArchiveKind } from './types.js';

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
