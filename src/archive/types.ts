// The shapes shared by the archive room's readers, its unpacker and its callers.

export type ArchiveKind = 'zip' | 'tar.gz' | 'tar';

export interface ArchiveEntryInfo {
  path: string;
  /** 'symlink' is only reported for symbolic links (which point inside the archive root). */
  type: 'file' | 'directory' | 'symlink';
  size: number;
  mode: number;
  /** For symlinks: the link target, as stored in the archive. */
  linkTarget?: string;
}

/** An entry as a format reader (zip-reader.ts, tar-reader.ts) produces it, before validation. */
export type RawEntry =
  | { kind: 'file'; name: string; size: number; mode: number; data: () => AsyncIterable<Buffer> }
  | { kind: 'directory'; name: string }
  | { kind: 'symlink'; name: string; target: string }
  | { kind: 'hardlink'; name: string; target: string }
  | { kind: 'skip'; name: string };
